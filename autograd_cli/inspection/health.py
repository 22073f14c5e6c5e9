"""Gradient health: statistics of one parameter's .grad, and the flags they raise.

A parameter raises at most one flag, checked in this order, so that each flag means
one thing and counts add up:

- frozen: it does not require grad (requires_grad=False), so backward() skips it;
- unused: it requires grad, yet backward() left .grad as None (not in the graph);
- nonfinite: .grad holds NaN or ±inf;
- dead: .grad is all exact zeros (e.g. behind a ReLU that is never active);
- round-off: 0 < ‖.grad‖ ≤ roundoff_bound, the rounding error of the sum that made it
  (inspection/roundoff.py): 0 in exact arithmetic, not small by depth;
- vanishing: 0 < ‖.grad‖ < vanish;
- exploding: ‖.grad‖ > explode.
"""

from __future__ import annotations

import math

import torch

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import _
from autograd_cli.model import HEALTH_FLAGS, ParameterHealth


def parameter_health(
    name: str,
    parameter: torch.Tensor,
    vanish: float,
    explode: float,
    roundoff_bound: float | None = None,
) -> ParameterHealth:
    if parameter.is_complex():
        raise UsageProblem(
            _(
                "{name} is a complex tensor ({dtype}); agrad's gradient health reads real "
                "floating-point parameters only (float16, bfloat16, float32, float64)"
            ).format(name=name, dtype=str(parameter.dtype).removeprefix("torch."))
        )
    with torch.no_grad():
        param_norm = float(torch.linalg.vector_norm(parameter.detach().to(torch.float64)))
        base = {
            "name": name,
            "shape": tuple(parameter.shape),
            "numel": parameter.numel(),
            "requires_grad": parameter.requires_grad,
            "param_norm": param_norm,
        }
        if parameter.grad is None:
            return ParameterHealth(
                **base,
                grad_norm=None,
                mean_abs=None,
                max_abs=None,
                zero_fraction=None,
                nan_count=None,
                inf_count=None,
                ratio=None,
                flags=("unused",) if parameter.requires_grad else ("frozen",),
            )
        # float64: the norm of float32 values near 1e38 would overflow to inf.
        g = parameter.grad.detach().to(torch.float64)
        magnitude = g.abs()
        numel = max(g.numel(), 1)
        grad_norm = float(torch.linalg.vector_norm(g))
        nan_count = int(torch.isnan(g).sum())
        inf_count = int(torch.isinf(g).sum())
        zero_fraction = int((g == 0).sum()) / numel
        return ParameterHealth(
            **base,
            grad_norm=grad_norm,
            mean_abs=float(magnitude.sum()) / numel,
            max_abs=float(magnitude.max()) if g.numel() else 0.0,
            zero_fraction=zero_fraction,
            nan_count=nan_count,
            inf_count=inf_count,
            ratio=grad_norm / param_norm if param_norm > 0 else None,
            # A frozen parameter with a .grad (set by hand, or frozen after a backward) is
            # still frozen: that is what the next backward() will do with it.
            flags=("frozen",)
            if not parameter.requires_grad
            else health_flags(
                grad_norm, nan_count + inf_count, zero_fraction, vanish, explode, roundoff_bound
            ),
        )


def health_flags(
    grad_norm: float,
    nonfinite: int,
    zero_fraction: float,
    vanish: float,
    explode: float,
    roundoff_bound: float | None = None,
) -> tuple[str, ...]:
    """The flag of a gradient that exists (see the module's docstring for the order).

    roundoff_bound: None when the parameter's gradient is not a plain sum (a weight).
    """
    if nonfinite or not math.isfinite(grad_norm):
        return ("nonfinite",)
    if zero_fraction == 1.0:
        return ("dead",)
    if roundoff_bound is not None and grad_norm <= roundoff_bound:
        return ("round-off",)
    if grad_norm < vanish:
        return ("vanishing",)
    if grad_norm > explode:
        return ("exploding",)
    return ()


def flag_counts(parameters: tuple[ParameterHealth, ...]) -> dict[str, int]:
    return {flag: sum(flag in p.flags for p in parameters) for flag in HEALTH_FLAGS}
