"""The tutorial's one-layer network: z = x·w + b, loss = BCE-with-logits(z, y)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from autograd_cli.scenarios.seeding import manual_seed

# Shown to the user exactly as run below, so the numbers can be reproduced by hand.
STATEMENTS = (
    "torch.manual_seed(seed)",
    "x = torch.ones(5)  # input tensor",
    "y = torch.zeros(3)  # expected output",
    "w = torch.randn(5, 3, requires_grad=True)",
    "b = torch.randn(3, requires_grad=True)",
    "z = torch.matmul(x, w) + b",
    "loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)",
)


@dataclass
class LinearTensors:
    x: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor
    b: torch.Tensor
    z: torch.Tensor
    loss: torch.Tensor

    def named(self) -> dict[str, torch.Tensor]:
        return {"x": self.x, "y": self.y, "w": self.w, "b": self.b, "z": self.z, "loss": self.loss}


def build(seed: int) -> LinearTensors:
    """Exactly the tutorial's statements, in its order, after manual_seed(seed)."""
    manual_seed(seed)
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = F.binary_cross_entropy_with_logits(z, y)
    return LinearTensors(x=x, y=y, w=w, b=b, z=z, loss=loss)


def recompute_z(t: LinearTensors) -> torch.Tensor:
    return torch.matmul(t.x, t.w) + t.b
