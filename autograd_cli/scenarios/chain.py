"""A deep graph on purpose: an RNN-like recurrence unrolled over N time steps.

h = tanh(h @ a + b), N times, from h0; loss = h.sum(). Each step adds three nodes
(MmBackward0, AddBackward0, TanhBackward0), so N = 100,000 makes a graph of
300,004 nodes: far deeper than recursive tools (torchviz) or Python's recursion
limit can follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from autograd_cli.scenarios.seeding import manual_seed


def statements(length: int, hidden: int) -> tuple[str, ...]:
    return (
        "torch.manual_seed(seed)",
        f"h0 = torch.randn(1, {hidden}, requires_grad=True)",
        f"a = (torch.randn({hidden}, {hidden}) / {hidden} ** 0.5).requires_grad_()",
        f"b = torch.randn({hidden}, requires_grad=True)",
        "h = h0",
        f"for step in range({length}):",
        "    h = torch.tanh(h @ a + b)",
        "loss = h.sum()",
    )


@dataclass
class ChainTensors:
    h0: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    h: torch.Tensor
    loss: torch.Tensor

    def named(self) -> dict[str, torch.Tensor]:
        return {"h0": self.h0, "a": self.a, "b": self.b, "h": self.h, "loss": self.loss}


def build(
    length: int,
    hidden: int,
    seed: int,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> ChainTensors:
    manual_seed(seed, device)
    where = {"device": device, "dtype": dtype}
    h0 = torch.randn(1, hidden, requires_grad=True, **where)
    # Scaled so that tanh neither saturates nor dies over many steps.
    a = (torch.randn(hidden, hidden, **where) / hidden**0.5).requires_grad_()
    b = torch.randn(hidden, requires_grad=True, **where)
    h = unroll(h0, a, b, length)
    return ChainTensors(h0=h0, a=a, b=b, h=h, loss=h.sum())


def unroll(h0: torch.Tensor, a: torch.Tensor, b: torch.Tensor, length: int) -> torch.Tensor:
    h = h0
    for _ in range(length):
        h = torch.tanh(h @ a + b)
    return h


def forward_for(length: int):
    """loss from (float64 copies of) the leaves, for --check's finite differences."""

    def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
        return unroll(leaves["h0"], leaves["a"], leaves["b"], length).sum()

    return forward
