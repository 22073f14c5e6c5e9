"""The full Jacobian of an output with respect to one leaf (--jacobian), by
torch.func.jacrev, checked against jacfwd and against an independent backward(v)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import _, group
from autograd_cli.inspection.tensors import values_of
from autograd_cli.model import JacobianFacts

MAX_JACOBIAN_ENTRIES = 250_000  # outputs x inputs, per leaf


def jacobian_facts(
    leaf: str, function: Any, leaf_tensor: torch.Tensor, out: torch.Tensor
) -> JacobianFacts:
    """J of `function` at `leaf_tensor` by jacrev, checked against jacfwd, and vᵀ·J
    (v = ones) against an independent backward(v)."""
    check_entries(leaf, out.numel(), leaf_tensor.numel())
    point = leaf_tensor.detach()
    with quiet_deprecations():
        reverse = torch.func.jacrev(function)(point)
        forward = torch.func.jacfwd(function)(point)
    matrix = reverse.reshape(out.numel(), point.numel())
    probe = point.clone().requires_grad_()
    (grad,) = torch.autograd.grad(function(probe), probe, torch.ones_like(out), allow_unused=True)
    if grad is None:  # the leaf does not reach out: J is all zeros
        grad = torch.zeros_like(point)
    vjp = torch.ones(out.numel(), dtype=matrix.dtype, device=matrix.device) @ matrix
    return JacobianFacts(
        leaf=leaf,
        output_shape=tuple(out.shape),
        input_shape=tuple(point.shape),
        matrix=values_of(matrix),
        jacfwd_max_abs_diff=float((reverse - forward).abs().max()),
        vjp_max_abs_diff=float((vjp - grad.reshape(-1)).abs().max()),
    )


def check_entries(leaf: str, outputs: int, inputs: int) -> None:
    """Refuses a Jacobian of more than MAX_JACOBIAN_ENTRIES entries."""
    entries = outputs * inputs
    if entries > MAX_JACOBIAN_ENTRIES:
        raise UsageProblem(
            _(
                "--jacobian: ∂out/∂{leaf} has {outputs} x {inputs} = {entries} entries; "
                "the cap is {cap}"
            ).format(
                leaf=leaf,
                outputs=group(outputs),
                inputs=group(inputs),
                entries=group(entries),
                cap=group(MAX_JACOBIAN_ENTRIES),
            )
        )


@contextmanager
def quiet_deprecations() -> Iterator[None]:
    """torch.func in torch 2.13 calls the deprecated torch.jit.script the first time it
    is used, and warns; a successful run writes nothing to stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import torch.func  # noqa: F401  (imported here, where its warning is silenced)

        yield
