"""A backward that returns its inputs' gradients in the wrong order.

agrad gradcheck examples/gradcheck_swapped.py:build
"""

import torch


class Mul(torch.autograd.Function):
    """f(x, w) = x * w, so df/dx = w and df/dw = x."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return grad * x, grad * w  # the bug: grad * w, grad * x


def build():
    x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    return Mul.apply, (x, w)
