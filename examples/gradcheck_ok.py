"""A custom autograd.Function with a correct backward: `agrad gradcheck` passes.

agrad gradcheck examples/gradcheck_ok.py:build
agrad gradcheck examples/gradcheck_ok.py:MulSin --input 'x=randn(3)' --input 'w=randn(3)'
"""

import torch


class MulSin(torch.autograd.Function):
    """f(x, w) = x * w + sin(x)."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w + torch.sin(x)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return grad * (w + torch.cos(x)), grad * x


def build():
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    return MulSin.apply, (x, w)
