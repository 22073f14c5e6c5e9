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
        ctx.save_for_forward(x, w)  # for jvp: --forward checks forward mode too
        return x * w + torch.sin(x)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return grad * (w + torch.cos(x)), grad * x

    @staticmethod
    def jvp(ctx, x_tangent, w_tangent):
        x, w = ctx.saved_tensors
        return x_tangent * (w + torch.cos(x)) + x * w_tangent


def build():
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, dtype=torch.float64, requires_grad=True)
    return MulSin.apply, (x, w)
