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


def build() -> JvpTensors:
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    return JvpTensors(inp=inp, out=out)
