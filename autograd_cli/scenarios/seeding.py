"""Seeding the CPU generator the way `torch.manual_seed` does, without its overhead."""

from __future__ import annotations

import torch


def manual_seed(seed: int, device: str = "cpu") -> None:
    """The numbers of `torch.manual_seed(seed)` for CPU tensors.

    torch.manual_seed also queues seeding of CUDA, MPS and XPU generators, and in
    doing so formats a stack trace (~0.5 ms a call), which a 1,000-seed sweep would
    pay 1,000 times. agrad's scenarios make CPU tensors, drawn from the default
    generator: this is the very call torch.manual_seed ends with. Tests compare the
    values with torch.manual_seed's.
    """
    if device != "cpu":  # an accelerator draws from its own generator: seed them all
        torch.manual_seed(int(seed))
        return
    torch.default_generator.manual_seed(int(seed))
