"""A model of about one million parameters for bench/inspect_cost.py: an MNIST-sized
MLP, 784 -> 1024 -> 256 -> 10 (1,068,810 parameters), on a batch of 64."""

import torch
from torch import nn


def build(batch: int = 64):
    model = nn.Sequential(
        nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    inputs = torch.randn(batch, 784)
    labels = torch.randint(0, 10, (batch,))
    return model, inputs, labels, nn.CrossEntropyLoss()
