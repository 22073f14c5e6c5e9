"""A backward that forgets a factor: d(x²)/dx is 2x, this one returns x.

agrad gradcheck examples/gradcheck_factor.py:build
agrad gradcheck examples/gradcheck_factor.py:Square --input 'x=randn(2,3)'
"""

import torch


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # the bug: 2 * grad * x


def build():
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    return Square.apply, (x,)
