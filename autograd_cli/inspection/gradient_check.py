"""--check: every leaf's gradient recomputed independently, by central finite
differences in float64, and compared with what backward() put in `.grad`.

The scenario hands over a `forward(leaves)` that rebuilds the scalar whose
gradient the (first) backward() call computes, v·out; this module perturbs one
element at a time, with no autograd involved.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import torch

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import N_, _, group
from autograd_cli.model import CheckReport, LeafCheck, Unverified, Values

STEP = 1e-6  # central differences in float64: error ~ STEP² plus rounding ~ 1e-10
# English in the report (JSON); the table translates it. STEP written out, for the catalog.
METHOD = N_("central finite differences in float64, step 1e-06")
assert METHOD.endswith(f"{STEP:g}")
# |grad - reference| <= ATOL + RTOL * |reference|, element by element, by the dtype
# backward() ran in: float32 gradients carry ~1e-7 relative rounding per operation.
TOLERANCES = {"float32": (1e-5, 1e-3), "float64": (1e-8, 1e-6)}
MAX_CHECK_WORK = 2_000_000  # perturbed evaluations x graph nodes
EPSILON = 2.0**-52  # float64's machine epsilon
ROUNDING = 4  # a forward pass's rounding, in units of eps * |f|, kept generous
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
REASONS = ("nonfinite", "overflow", "inaccurate")  # why an element cannot be verified

Forward = Callable[[dict[str, torch.Tensor]], torch.Tensor]
# A reason finite differences cannot judge an element, and their estimated error.
Verdict = tuple[str | None, float | None]


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
        _check_leaf(forward, point, name, checked[name], dtype, atol, rtol) for name in checked
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


class _Differences:
    """Central differences of `forward` in one leaf, element by element."""

    def __init__(self, forward: Forward, point: dict[str, torch.Tensor], name: str) -> None:
        self.forward = forward
        self.point = point
        self.name = name
        self.base = point[name]
        self.flat = self.base.reshape(-1).clone()
        with torch.no_grad():
            self.at_point = float(forward(point))
        n = self.flat.numel()
        self.reference = torch.empty(n, dtype=torch.float64)
        self.values = torch.empty(n, 2, dtype=torch.float64)  # f(x + step), f(x - step)
        for i in range(n):
            plus, minus = self.values_at(i, STEP)
            self.values[i, 0], self.values[i, 1] = plus, minus
            self.reference[i] = (plus - minus) / (2 * STEP)

    def values_at(self, i: int, step: float) -> tuple[float, float]:
        original = self.flat[i].item()
        values = []
        with torch.no_grad():
            for delta in (step, -step):
                self.flat[i] = original + delta
                values.append(
                    float(
                        self.forward({**self.point, self.name: self.flat.reshape(self.base.shape)})
                    )
                )
        self.flat[i] = original
        return values[0], values[1]

    def untrusted(self, i: int, got: float, dtype: str, atol: float, rtol: float) -> Verdict:
        """Why element i's difference cannot judge its gradient `got`, with the estimated
        error; no reason when it can (then `got` is wrong)."""
        plus, minus = float(self.values[i, 0]), float(self.values[i, 1])
        reference = float(self.reference[i])
        if not all(math.isfinite(v) for v in (self.at_point, plus, minus, reference)):
            return "nonfinite", None
        if not math.isfinite(got) and abs(reference) > torch.finfo(_DTYPES[dtype]).max:
            return "overflow", None  # backward() overflowed its dtype, as it must
        # The same difference with twice the step: truncation error grows as the step
        # squared, so |D(2h) - D(h)| is about 3 times D(h)'s (kept whole, to be safe);
        # rounding adds about eps * |f| / h.
        plus2, minus2 = self.values_at(i, 2 * STEP)
        wider = (plus2 - minus2) / (4 * STEP)
        if not all(math.isfinite(v) for v in (plus2, minus2, wider)):
            return "nonfinite", None
        size = max(abs(plus), abs(minus), abs(plus2), abs(minus2))
        error = abs(wider - reference) + ROUNDING * EPSILON * size / STEP
        if error > atol + rtol * abs(reference):
            return "inaccurate", error
        return None, None


def _check_leaf(
    forward: Forward,
    point: dict[str, torch.Tensor],
    name: str,
    grad: Values,
    dtype: str,
    atol: float,
    rtol: float,
) -> LeafCheck:
    """The leaf's gradient against its finite differences; an element outside the
    tolerance fails only if the differences can be trusted there."""
    differences = _Differences(forward, point, name)
    reference = differences.reference
    compared = _compare(name, grad, reference.reshape(point[name].shape), atol, rtol)
    got = torch.tensor(grad, dtype=torch.float64).reshape(-1)
    # A non-finite difference judges nothing, even where it equals the gradient.
    doubtful = ~_within(got, reference, atol, rtol) | ~torch.isfinite(reference)
    if not doubtful.any():
        return compared
    reasons: set[str] = set()
    failed = unverified = 0
    largest: float | None = None
    for i in doubtful.nonzero().flatten().tolist():
        reason, error = differences.untrusted(i, float(got[i]), dtype, atol, rtol)
        if reason is None:
            failed += 1
            continue
        unverified += 1
        reasons.add(reason)
        if error is not None:
            largest = error if largest is None else max(largest, error)
    cannot = None
    if unverified:
        cannot = Unverified(unverified, tuple(r for r in REASONS if r in reasons), largest)
    return dataclasses.replace(compared, ok=failed == 0, cannot_verify=cannot)


def _within(got: torch.Tensor, ref: torch.Tensor, atol: float, rtol: float) -> torch.Tensor:
    """Element by element: |got - ref| <= atol + rtol |ref|, or the same non-finite value."""
    same_nonfinite = (~torch.isfinite(got) | ~torch.isfinite(ref)) & (
        (got == ref) | (torch.isnan(got) & torch.isnan(ref))
    )
    return ((got - ref).abs() <= atol + rtol * ref.abs()) | same_nonfinite


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
    within = _within(got, ref, atol, rtol)
    max_abs = float(diff.max()) if diff.numel() else 0.0
    max_rel = float(relative.max()) if relative.numel() else 0.0
    return LeafCheck(
        name=name,
        max_abs_diff=max_abs if math.isfinite(max_abs) else math.inf,
        max_rel_diff=max_rel if math.isfinite(max_rel) else math.inf,
        ok=bool(within.all()),
    )
