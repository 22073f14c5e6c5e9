"""The tutorial's Jacobian-product example: out = (inp + 1).pow(2).t()."""

from __future__ import annotations

from dataclasses import dataclass

import torch

STATEMENTS = (
    "inp = torch.eye(4, 5, requires_grad=True)",
    "out = (inp + 1).pow(2).t()",
)
VECTOR = "torch.ones_like(out)"


@dataclass
class JvpTensors:
    inp: torch.Tensor
    out: torch.Tensor

    def named(self) -> dict[str, torch.Tensor]:
        return {"inp": self.inp, "out": self.out}


def build(device: str = "cpu", dtype: torch.dtype = torch.float32) -> JvpTensors:
    inp = torch.eye(4, 5, requires_grad=True, device=device, dtype=dtype)
    return JvpTensors(inp=inp, out=output(inp))


def output(inp: torch.Tensor) -> torch.Tensor:
    return (inp + 1).pow(2).t()


def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    """v·out with v = ones: the scalar whose gradient one backward(v) call computes."""
    return output(leaves["inp"]).sum()


def tangent(spec: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The t of forward mode's J·t: ones, randn (seeded with 0) or onehot:I,J."""
    if spec == "ones":
        return torch.ones(shape)
    if spec == "randn":
        generator = torch.Generator().manual_seed(0)
        return torch.randn(shape, generator=generator)
    i, j = (int(n) for n in spec.removeprefix("onehot:").split(","))
    t = torch.zeros(shape)
    t[i, j] = 1.0
    return t
