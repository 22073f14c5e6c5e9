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


def build(seed: int, device: str = "cpu", dtype: torch.dtype = torch.float32) -> LinearTensors:
    """Exactly the tutorial's statements, in its order, after manual_seed(seed)
    (with device= and dtype= added when they are not the tutorial's CPU float32)."""
    manual_seed(seed, device)
    where = {"device": device, "dtype": dtype}
    x = torch.ones(5, **where)
    y = torch.zeros(3, **where)
    w = torch.randn(5, 3, requires_grad=True, **where)
    b = torch.randn(3, requires_grad=True, **where)
    z = logits(x, w, b)
    loss = F.binary_cross_entropy_with_logits(z, y)
    return LinearTensors(x=x, y=y, w=w, b=b, z=z, loss=loss)


# The tutorial's way to keep a non-leaf's gradient, run as shown (on the same leaves).
RETAIN_GRAD = (
    "z = torch.matmul(x, w) + b",
    "z.retain_grad()",
    "loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)",
    "loss.backward()",
)


def retained_z_grad(t: LinearTensors) -> torch.Tensor:
    """z.grad from a forward and backward with z.retain_grad(): ∂loss/∂z."""
    z = logits(t.x, t.w, t.b)
    z.retain_grad()
    F.binary_cross_entropy_with_logits(z, t.y).backward()
    assert z.grad is not None
    return z.grad


def logits(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.matmul(x, w) + b


def recompute_z(t: LinearTensors) -> torch.Tensor:
    return logits(t.x, t.w, t.b)


def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    """loss from (float64 copies of) the tensors, for --check's finite differences."""
    z = logits(leaves["x"], leaves["w"], leaves["b"])
    return F.binary_cross_entropy_with_logits(z, leaves["y"])


def closed_form(leaves: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tutorial's gradients by hand: dL/dz = (σ(z) − y)/3, outer(x, dL/dz)."""
    x, y = leaves["x"].double(), leaves["y"].double()
    z = x @ leaves["w"].double() + leaves["b"].double()
    dl_dz = (1.0 / (1.0 + torch.exp(-z)) - y) / z.numel()
    return {"w": torch.outer(x, dl_dz), "b": dl_dz}
