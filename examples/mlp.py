"""A small multilayer perceptron on random regression data: healthy gradients.

    agrad inspect examples/mlp.py:build
    agrad inspect examples/mlp.py:build --arg scale=1000    # weights x1000: exploding

`build` returns (model, inputs, targets, loss_fn); agrad computes
loss_fn(model(inputs), targets) and runs backward() once.
"""

from collections import OrderedDict

import torch
from torch import nn


def build(hidden: int = 32, scale: float = 1.0, batch: int = 16):
    model = nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(10, hidden),
            act1=nn.ReLU(),
            fc2=nn.Linear(hidden, hidden),
            act2=nn.ReLU(),
            out=nn.Linear(hidden, 1),
        )
    )
    if scale != 1.0:
        with torch.no_grad():  # a bad initialisation, on purpose
            for parameter in model.parameters():
                parameter.mul_(scale)
    inputs = torch.randn(batch, 10)
    targets = torch.randn(batch, 1)
    return model, inputs, targets, nn.MSELoss()
