"""What `agrad expr --jacobian` cannot batch, found on the meta device before any work.

torch.func.jacrev and jacfwd run the expression under vmap, which adds one batch
dimension to every tensor: a tensor of torch's 64 dimensions fails inside torch
there, and a Jacobian of an empty out or an empty variable has no entry to show.
Both are refused as usage errors with a caret, like any other shape problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autograd_cli.expression.grammar import MAX_DIMS
from autograd_cli.expression.validate import ExpressionError
from autograd_cli.i18n import _

if TYPE_CHECKING:
    import torch

    from autograd_cli.expression.validate import ValidExpression
    from autograd_cli.expression.variables import VariableSpec

JACOBIAN_DIMS = MAX_DIMS - 1  # vmap adds one


def too_many_dimensions(count: int) -> str:
    """Why a tensor of `count` dimensions cannot be batched by --jacobian."""
    return _(
        "--jacobian adds a batch dimension (torch.func.vmap), so a tensor "
        "may have at most {cap} dimensions; this one has {count}"
    ).format(cap=JACOBIAN_DIMS, count=count)


def check_for_jacobian(
    expression: ValidExpression,
    specs: tuple[VariableSpec, ...],
    meta: dict[str, torch.Tensor],
    no_grad: frozenset[str],
    out: torch.Tensor,
) -> None:
    """Raises ExpressionError where --jacobian has no entry to show: an empty out (its
    meta value), or an empty variable that requires grad. Tensors past JACOBIAN_DIMS
    are refused by the meta run itself (evaluate.Costing's max_dims)."""
    if out.numel() == 0:
        raise ExpressionError(
            _("--jacobian needs an out with at least one element; out has shape {shape}").format(
                shape=tuple(out.shape)
            ),
            expression.text,
            expression.tree.col_offset,
        )
    for spec in specs:
        t = meta[spec.name]
        if t.is_floating_point() and spec.name not in no_grad and t.numel() == 0:
            raise ExpressionError(
                _(
                    "--jacobian needs variables with at least one element; {name} has shape {shape}"
                ).format(name=spec.name, shape=tuple(t.shape)),
                spec.text,
                0,
                f"--var {spec.name}",
            )
