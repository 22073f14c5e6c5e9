"""A learning rate far too high: training blows up after a few steps.

    agrad inspect examples/explode_lr.py:build --steps 200
    agrad inspect examples/explode_lr.py:build --steps 200 --anomaly --fail-on nonfinite
    agrad inspect examples/explode_lr.py:build --steps 200 --arg lr=0.05   # healthy

`build` returns (model, inputs, targets, loss_fn, optimizer): agrad runs --steps N
of zero_grad, forward, backward, record and optimizer.step() with that optimizer.
SGD at lr=0.5 overshoots on every step: the weights grow, the gradients grow faster
(exploding), then overflow to inf and the loss becomes NaN (nonfinite).
"""

from collections import OrderedDict

import torch
from torch import nn


def build(lr: float = 0.5, hidden: int = 16, batch: int = 32):
    model = nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(8, hidden),
            act=nn.Tanh(),
            out=nn.Linear(hidden, 1),
        )
    )
    inputs = torch.randn(batch, 8) * 3
    targets = torch.randn(batch, 1) * 3
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return model, inputs, targets, nn.MSELoss(), optimizer
