"""--check: every leaf's gradient recomputed independently, by central finite
differences in float64, and compared with what backward() put in `.grad`.

The scenario hands over a `forward(leaves)` that rebuilds the scalar whose
gradient the (first) backward() call computes, v·out; this module perturbs one
element at a time, with no autograd involved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import N_, _, group
from autograd_cli.model import CheckReport, LeafCheck, Values

STEP = 1e-6  # central differences in float64: error ~ STEP² plus rounding ~ 1e-10
# English in the report (JSON); the table translates it. STEP written out, for the catalog.
METHOD = N_("central finite differences in float64, step 1e-06")
assert METHOD.endswith(f"{STEP:g}")
# |grad - reference| <= ATOL + RTOL * |reference|, element by element, by the dtype
# backward() ran in: float32 gradients carry ~1e-7 relative rounding per operation.
TOLERANCES = {"float32": (1e-5, 1e-3), "float64": (1e-8, 1e-6)}
MAX_CHECK_WORK = 2_000_000  # perturbed evaluations x graph nodes

Forward = Callable[[dict[str, torch.Tensor]], torch.Tensor]


def gradient_check(
    forward: Forward,
    leaves: Mapping[str, torch.Tensor],
    gradients: Mapping[str, Values],
    dtype: str,
    node_count: int,
    closed_form: Mapping[str, torch.Tensor] | None = None,
) -> CheckReport:
    """Checks `gradients` (leaf name -> values, None if not reached) of `forward`."""
    atol, rtol = TOLERANCES.get(dtype, TOLERANCES["float32"])
    point = {name: _as_float64(t) for name, t in leaves.items()}
    checked = {name: g for name, g in gradients.items() if g is not None}
    check_budget(sum(point[name].numel() for name in checked), node_count)
    results = tuple(
        _compare(name, checked[name], _finite_differences(forward, point, name), atol, rtol)
        for name in checked
    )
    closed = tuple(
        _compare(name, checked[name], reference, atol, rtol)
        for name, reference in (closed_form or {}).items()
        if name in checked
    )
    return CheckReport(
        method=METHOD,
        atol=atol,
        rtol=rtol,
        leaves=results,
        closed_form=closed,
        ok=all(r.ok for r in (*results, *closed)),
    )


def check_budget(elements: int, node_count: int) -> None:
    """Refuses a check whose finite differences would take too long."""
    evaluations = 2 * elements
    if evaluations * max(node_count, 1) > MAX_CHECK_WORK:
        raise UsageProblem(
            _(
                "--check would evaluate this {nodes}-node graph {evaluations} times; the "
                "cap is {cap} evaluations x nodes (use a smaller graph)"
            ).format(
                nodes=group(node_count), evaluations=group(evaluations), cap=group(MAX_CHECK_WORK)
            )
        )


def _as_float64(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().cpu()
    return t.double() if t.is_floating_point() else t.clone()


def _finite_differences(
    forward: Forward, point: dict[str, torch.Tensor], name: str
) -> torch.Tensor:
    base = point[name]
    flat = base.reshape(-1).clone()
    out = torch.empty_like(flat)
    with torch.no_grad():
        for i in range(flat.numel()):
            original = flat[i].item()
            values = []
            for delta in (STEP, -STEP):
                flat[i] = original + delta
                values.append(float(forward({**point, name: flat.reshape(base.shape)})))
            flat[i] = original
            out[i] = (values[0] - values[1]) / (2 * STEP)
    return out.reshape(base.shape)


def _compare(
    name: str, grad: Values, reference: torch.Tensor, atol: float, rtol: float
) -> LeafCheck:
    got = torch.tensor(grad, dtype=torch.float64).reshape(reference.shape)
    ref = reference.detach().double().cpu()
    same_nonfinite = (~torch.isfinite(got) | ~torch.isfinite(ref)) & (
        (got == ref) | (torch.isnan(got) & torch.isnan(ref))
    )
    diff = (got - ref).abs()
    diff = torch.where(same_nonfinite, torch.zeros_like(diff), diff)
    relative = diff / ref.abs().clamp_min(1e-12)
    within = (diff <= atol + rtol * ref.abs()) | same_nonfinite
    max_abs = float(diff.max()) if diff.numel() else 0.0
    max_rel = float(relative.max()) if relative.numel() else 0.0
    return LeafCheck(
        name=name,
        max_abs_diff=max_abs if math.isfinite(max_abs) else math.inf,
        max_rel_diff=max_rel if math.isfinite(max_rel) else math.inf,
        ok=bool(within.all()),
    )
