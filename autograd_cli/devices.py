"""--device: which accelerators this machine has, and which one `auto` picks."""

from __future__ import annotations

import dataclasses
from typing import Any

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import _

DEVICES = ("cpu", "cuda", "mps", "auto")


def available_devices() -> list[str]:
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str) -> str:
    """`auto`: an accelerator when there is one, else the CPU; others as asked, if present."""
    found = available_devices()
    if name == "auto":
        return next((d for d in ("cuda", "mps") if d in found), "cpu")
    if name not in found:
        raise UsageProblem(
            _("--device {name} is not available on this machine; available: {found}").format(
                name=name, found=", ".join(found)
            )
        )
    return name


def on_device(params: Any) -> Any:
    """A scenario's params with --device resolved (auto picks) and checked, before any
    other check of the command line's values and before any work."""
    if not hasattr(params, "device"):
        return params
    return dataclasses.replace(params, device=resolve_device(params.device))
