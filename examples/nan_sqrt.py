"""A loss that turns NaN: the square root of a number that can be negative.
`loss` returns the loss itself; agrad names its tensors as this code does.

    agrad inspect examples/nan_sqrt.py:loss             # weight, bias: nonfinite
    agrad inspect examples/nan_sqrt.py:loss --anomaly   # SqrtBackward0, and this line
"""

import torch


def loss(batch: int = 16):
    weight = torch.randn(4, 3, requires_grad=True)
    bias = torch.zeros(3, requires_grad=True)
    inputs = torch.randn(batch, 4)
    hidden = inputs @ weight + bias
    spread = hidden.sqrt()  # NaN wherever hidden < 0: the bug
    return spread.mean()
