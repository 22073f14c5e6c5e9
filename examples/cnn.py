"""A small convolutional network on random 28x28 images, with one real-world bug:
a layer defined in __init__ that forward() forgets to use.

    agrad inspect examples/cnn.py:build          # norm.weight, norm.bias: unused

`build` returns (model, inputs, targets, loss_fn).
"""

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm2d(16)  # defined here, but forward() never calls it
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 7 * 7, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(images)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


def build(batch: int = 8):
    images = torch.randn(batch, 1, 28, 28)
    labels = torch.randint(0, 10, (batch,))
    return SmallCNN(), images, labels, nn.CrossEntropyLoss()
