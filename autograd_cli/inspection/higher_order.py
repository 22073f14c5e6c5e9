"""Derivatives of derivatives (--order N) and the Hessian (--hessian) of a scalar out.

Every gradient here comes from torch.autograd.grad, never from backward(): the
leaves' .grad are left as they were, and retain_graph=True keeps out's graph (some
double-backward graphs run through its nodes, e.g. tanh's saved result) for the
caller's out.backward() afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from autograd_cli.expression.grammar import MAX_HESSIAN_ELEMENTS, MAX_ORDER
from autograd_cli.inspection.jacobian import quiet_deprecations
from autograd_cli.inspection.tensors import values_of
from autograd_cli.model import HessianFacts, OrderGradient


def higher_orders(
    out: torch.Tensor, leaves: dict[str, torch.Tensor], order: int
) -> tuple[tuple[OrderGradient, ...], dict[str, torch.Tensor]]:
    """Orders 1..order for every leaf (order-major: all leaves of order 1, then order 2...),
    and the last order's gradient tensors by leaf name (the caller walks their graphs: they
    show how create_graph=True records the backward pass as a new graph). A leaf that out
    does not depend on has zeros at every order, as autograd.grad(...,
    materialize_grads=True) gives them (the statements agrad prints run that)."""
    _check_scalar(out)
    assert 1 <= order <= MAX_ORDER, f"order {order} is outside 1..{MAX_ORDER}"
    names, tensors = _differentiable(leaves)
    # One call for order 1: out's backward graph is shared by every leaf.
    current: list[torch.Tensor | None] = [
        torch.zeros_like(t) if g is None else g
        for g, t in zip(_grad(out, tensors), tensors, strict=True)
    ]
    facts = [_fact(1, n, t, g) for n, t, g in zip(names, tensors, current, strict=True)]
    for k in range(2, order + 1):
        current = [_next_order(g, t) for g, t in zip(current, tensors, strict=True)]
        facts += [_fact(k, n, t, g) for n, t, g in zip(names, tensors, current, strict=True)]
    last = {n: g for n, g in zip(names, current, strict=True) if g is not None}  # every leaf
    return tuple(facts), last


def hessian_facts(
    function: Callable[..., torch.Tensor], leaves: dict[str, torch.Tensor], out: torch.Tensor
) -> HessianFacts:
    """function(*leaf_tensors) -> scalar, the expression with the leaves as its arguments
    (in `leaves` order). matrix from torch.func.hessian(function, argnums=all); checked
    against the Hessian built from `out` row by row with repeated torch.autograd.grad
    (grad of each element of the flattened first-order gradient, retain_graph=True).

    If torch.func.hessian cannot run (an op without forward-mode AD, say), matrix is the
    repeated-grad one and func_error torch's first line."""
    _check_scalar(out)
    names, tensors = _differentiable(leaves)
    total = sum(t.numel() for t in tensors)
    assert total <= MAX_HESSIAN_ELEMENTS, f"{total} elements; the cap is {MAX_HESSIAN_ELEMENTS}"
    repeated = _repeated_grad_hessian(out, tensors)
    facts = {"leaves": names, "shapes": tuple(tuple(t.shape) for t in tensors)}
    try:
        func = _func_hessian(function, tensors)
    except Exception as e:  # whatever torch.func raises, the fallback stands
        return HessianFacts(
            **facts,
            matrix=values_of(repeated),
            repeated_grad_max_abs_diff=None,
            func_error=_first_line(e),
        )
    return HessianFacts(
        **facts,
        matrix=values_of(func),
        repeated_grad_max_abs_diff=_max_abs_diff(func, repeated),
        func_error=None,
    )


def _check_scalar(out: torch.Tensor) -> None:
    # The caller refuses other results with exit 2 before it gets here.
    assert out.numel() == 1 and out.requires_grad, "out must be a scalar that requires grad"


def _differentiable(
    leaves: dict[str, torch.Tensor],
) -> tuple[tuple[str, ...], tuple[torch.Tensor, ...]]:
    frozen = [name for name, t in leaves.items() if not t.requires_grad]
    # autograd.grad refuses an input that does not require grad; the caller passes those only.
    assert not frozen, f"leaves without requires_grad=True: {frozen}"
    return tuple(leaves), tuple(leaves.values())


def _grad(
    out: torch.Tensor, inputs: Sequence[torch.Tensor], create_graph: bool = True
) -> tuple[torch.Tensor | None, ...]:
    # create_graph=True: the gradient gets a graph of its own, the next order's input.
    # retain_graph=True: out's graph (and lower orders') is walked again by the next
    # call and by the caller's backward(). allow_unused: None where out ignores an input.
    return torch.autograd.grad(
        out, inputs, create_graph=create_graph, retain_graph=True, allow_unused=True
    )


def _next_order(g: torch.Tensor | None, leaf: torch.Tensor) -> torch.Tensor | None:
    if g is None:  # out does not depend on the leaf at all
        return None
    if not g.requires_grad:  # a constant (e.g. 2 for (2*x).sum()): every later order is 0
        return torch.zeros_like(leaf)
    (nxt,) = _grad(g.sum(), (leaf,))
    # None: g has a graph, but not through this leaf (y for (x*y).sum()'s ∂/∂x).
    return torch.zeros_like(leaf) if nxt is None else nxt


def _fact(order: int, name: str, leaf: torch.Tensor, g: torch.Tensor | None) -> OrderGradient:
    return OrderGradient(
        order=order,
        name=name,
        shape=tuple(leaf.shape),
        value=None if g is None else values_of(g),
        grad_fn=None if g is None or g.grad_fn is None else type(g.grad_fn).__name__,
    )


def _flat(parts: Sequence[torch.Tensor | None], like: Sequence[torch.Tensor]) -> torch.Tensor:
    """The leaves' gradients as one row, zeros where a leaf is not reached."""
    return torch.cat(
        [
            (torch.zeros_like(t) if p is None else p).reshape(-1)
            for p, t in zip(parts, like, strict=True)
        ]
    )


def _repeated_grad_hessian(out: torch.Tensor, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    first = _grad(out, tensors)
    total = sum(t.numel() for t in tensors)
    rows = []
    for g, t in zip(first, tensors, strict=True):
        for i in range(t.numel()):
            if g is None or not g.requires_grad:  # no graph: this row of the Hessian is 0
                rows.append(torch.zeros(total, dtype=t.dtype, device=t.device))
                continue
            rows.append(_flat(_grad(g.reshape(-1)[i], tensors, create_graph=False), tensors))
    return torch.stack(rows)


def _func_hessian(
    function: Callable[..., torch.Tensor], tensors: Sequence[torch.Tensor]
) -> torch.Tensor:
    points = tuple(t.detach() for t in tensors)
    with quiet_deprecations():
        blocks = torch.func.hessian(function, argnums=tuple(range(len(points))))(*points)
    # blocks[i][j] has shape out.shape + shape_i + shape_j; out is one element.
    return torch.cat(
        [
            torch.cat(
                [b.reshape(a.numel(), c.numel()) for b, c in zip(row, points, strict=True)],
                dim=1,
            )
            for row, a in zip(blocks, points, strict=True)
        ]
    )


def _max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest |a - b|, where NaN against NaN (and an infinity against itself) agree and
    NaN against a number is NaN: they disagree, and the reader should see it."""
    diff = (a - b).abs()
    same = (a == b) | (a.isnan() & b.isnan())
    return float(torch.where(same, torch.zeros_like(diff), diff).max())


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
