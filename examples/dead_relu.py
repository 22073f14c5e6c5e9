"""A network whose second ReLU layer is dead: its bias is so negative that every unit
is off for every input, so no gradient flows through it.

    agrad inspect examples/dead_relu.py:build
    # dead: fc1.weight, fc1.bias, fc2.weight, fc2.bias (behind the dead ReLU) and
    # out.weight (its input is all zeros); out.bias still learns.

`build` returns (model, inputs, targets, loss_fn).
"""

from collections import OrderedDict

import torch
from torch import nn


def build(batch: int = 32, bias: float = -100.0):
    model = nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(8, 16),
            act1=nn.ReLU(),
            fc2=nn.Linear(16, 16),
            act2=nn.ReLU(),  # dead: fc2's outputs are all below 0
            out=nn.Linear(16, 1),
        )
    )
    with torch.no_grad():
        model.fc2.bias.fill_(bias)
    return model, torch.randn(batch, 8), torch.randn(batch, 1), nn.MSELoss()
