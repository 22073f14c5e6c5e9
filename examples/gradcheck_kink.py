"""A correct ReLU, checked at 0, where it has no derivative: not a bug.

The finite difference at 0 is (relu(eps) - relu(-eps)) / 2eps = 0.5; backward says 0
(one of the one-sided derivatives, as torch's own relu does).

    agrad gradcheck examples/gradcheck_kink.py:build
"""

import torch


class Relu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0).to(grad.dtype)


def build():
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    return Relu.apply, (x,)
