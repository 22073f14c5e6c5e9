"""Facts and values of single tensors."""

from __future__ import annotations

import torch

from autograd_cli.model import Gradient, TensorFacts, Values


def dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def values_of(t: torch.Tensor) -> Values:
    """Full-precision nested lists; rounding is the table renderer's business."""
    return t.detach().cpu().tolist()


def tensor_facts(name: str, t: torch.Tensor) -> TensorFacts:
    return TensorFacts(
        name=name,
        shape=tuple(t.shape),
        dtype=dtype_name(t),
        requires_grad=t.requires_grad,
        is_leaf=t.is_leaf,
        grad_fn=None if t.grad_fn is None else type(t.grad_fn).__name__,
        value=values_of(t),
    )


def gradient_of(name: str, t: torch.Tensor) -> Gradient:
    if t.grad is None:
        # Only reachable if a scenario forgot to call backward(); say so plainly.
        raise RuntimeError(f"{name}.grad is None: backward() has not reached it")
    return Gradient(name=name, shape=tuple(t.shape), value=values_of(t.grad))


def torch_words(message: str) -> str:
    """torch's warning as it reads, without the C++ source location it appends."""
    return message.split(" (Triggered internally at", 1)[0].strip()
