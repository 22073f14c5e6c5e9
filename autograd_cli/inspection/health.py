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
from collections.abc import Iterator
from typing import NamedTuple

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
    param_norm = l2_norm(parameter)
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
    stats = magnitude_stats(parameter.grad)
    numel = max(parameter.grad.numel(), 1)
    grad_norm = stats.norm
    zero_fraction = stats.zeros / numel
    return ParameterHealth(
        **base,
        grad_norm=grad_norm,
        mean_abs=stats.sum_abs / numel,
        max_abs=stats.max_abs,
        zero_fraction=zero_fraction,
        nan_count=stats.nans,
        inf_count=stats.infs,
        ratio=grad_norm / param_norm if param_norm > 0 else None,
        # A frozen parameter with a .grad (set by hand, or frozen after a backward) is
        # still frozen: that is what the next backward() will do with it.
        flags=("frozen",)
        if not parameter.requires_grad
        else health_flags(
            grad_norm, stats.nans + stats.infs, zero_fraction, vanish, explode, roundoff_bound
        ),
    )


# Statistics in float64 (the norm of float32 values near 1e38 would overflow to inf in
# float32), one block of elements at a time: a float64 copy of a whole tensor, with |g|
# beside it, is 4x a float32 tensor's memory: ~0.6 GB more than the model's own backward
# for GPT-2's 38.6M-element embedding (issue 19). A block is 2 MiB in float64: as fast
# as 8 or 0.5 MiB on bench/model_100m.py (0.2 s for its 96M elements, one thread), and
# small enough that what the allocator keeps of freed blocks stays small (the stats
# add 15 MiB to the RSS there; 41 MiB with 8 MiB blocks). A tensor of one block gets
# the very torch calls of a whole-tensor float64 copy: its numbers are the same bits.
BLOCK = 1 << 18


class MagnitudeStats(NamedTuple):
    """Statistics of the |x| of every element of a tensor, in float64."""

    norm: float  # L2
    sum_abs: float
    max_abs: float  # NaN when an element is NaN; 0.0 for an empty tensor
    zeros: int
    nans: int
    infs: int


def blocks(tensor: torch.Tensor) -> Iterator[torch.Tensor]:
    """The tensor's elements, flat, BLOCK at a time, in the order they lie in memory (the
    statistics do not depend on it): views of the tensor when its elements fill one
    stretch of memory (contiguous, transposed, channels_last; a .grad is laid out like
    its parameter), else of one copy in its own dtype (e.g. an expand()ed tensor)."""
    flat = in_memory_order(tensor)
    for start in range(0, flat.numel(), BLOCK):
        yield flat[start : start + BLOCK]


def in_memory_order(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor's elements (a sparse one's stored values), flat, in the order they
    lie in memory: a view when they fill one stretch of it, else a copy."""
    tensor = stored_values(tensor.detach())
    by_stride = sorted(range(tensor.dim()), key=tensor.stride, reverse=True)
    ordered = tensor.permute(by_stride)
    return ordered.view(-1) if ordered.is_contiguous() else tensor.reshape(-1)


def stored_values(tensor: torch.Tensor) -> torch.Tensor:
    """The values a sparse tensor holds (nn.Embedding(sparse=True)'s gradient),
    duplicates summed: its norm, sums, maximum and NaNs are theirs, and the elements it
    leaves out are zeros. A dense tensor as it is."""
    if tensor.layout == torch.strided:
        return tensor
    if tensor.layout == torch.sparse_coo:
        return tensor.coalesce().values()
    return tensor.values()  # compressed layouts hold each element once


def total(values: list[float]) -> float:
    """The sum of values that are >= 0 or NaN, correctly rounded; inf past float64's
    range (where math.fsum raises), NaN when one is NaN."""
    try:
        return math.fsum(values)
    except OverflowError:
        return math.nan if any(math.isnan(v) for v in values) else math.inf


# torch squares each element as it is, and a float64 square is inf past |x| of about
# 1.3e154 and loses digits (subnormal), then vanishes, below about 1.5e-154: a norm of
# float64 values outside [TINY, inf) is taken again from the values divided by their
# largest |x| (`rescaled`). float32 and smaller values square well inside float64's range.
TINY = 1e-150


def in_range(norm: float) -> bool:
    """Whether a float64 sum of squares gave `norm` to its precision: within [TINY, inf),
    or NaN (a NaN element's, read again it stays NaN)."""
    return TINY <= norm < math.inf or math.isnan(norm)


def joined_norm(norms: list[float]) -> float:
    """The L2 norm of a tensor from its blocks' norms (one block: its norm, unchanged)."""
    if len(norms) == 1:
        return norms[0]
    joined = math.sqrt(total([n * n for n in norms]))
    if not in_range(joined) and all(math.isfinite(n) for n in norms):
        return math.hypot(*norms)  # squares past float64's range, either end: hypot scales
    return joined


def rescaled(
    values: torch.Tensor, norm: float, largest: torch.Tensor | float | None = None
) -> float:
    """`norm`, torch's L2 norm of float64 `values`, or where it is outside [TINY, inf)
    without an inf or NaN element, the norm of the values divided by their largest |x|
    (`largest`, when known), times it: a gradient of 1e160 is not infinite (nor
    `nonfinite`), nor one of 1e-170 zero (nor `dead`)."""
    if in_range(norm):
        return norm
    if largest is None:
        largest = values.abs().max() if values.numel() else 0.0
    top = float(largest)
    if top == 0 or not math.isfinite(top):  # all zeros; an inf element
        return norm
    return top * float(torch.linalg.vector_norm(values / top))


def l2_norm(tensor: torch.Tensor) -> float:
    """torch.linalg.vector_norm of the tensor in float64, one block at a time; to
    float64's precision for any norm within its range (`rescaled`)."""
    with torch.no_grad():
        norms = []
        for block in blocks(tensor):
            values = block.to(torch.float64)
            norms.append(rescaled(values, float(torch.linalg.vector_norm(values))))
        return joined_norm(norms)


def magnitude_stats(tensor: torch.Tensor) -> MagnitudeStats:
    """Every statistic of a gradient in one pass of float64 blocks."""
    norms: list[float] = []
    sums: list[float] = []
    max_abs = torch.zeros((), dtype=torch.float64, device=tensor.device)
    nonzero = nans = infs = 0
    with torch.no_grad():
        for block in blocks(tensor):
            # copy=True: abs_() must never write into a float64 .grad itself.
            magnitude = block.to(torch.float64, copy=True).abs_()
            top = magnitude.max()  # a block is never empty
            norm = float(torch.linalg.vector_norm(magnitude))
            norms.append(rescaled(magnitude, norm, top))
            sums.append(float(magnitude.sum()))
            max_abs = torch.maximum(max_abs, top)  # maximum keeps a NaN
            nonzero += int(torch.count_nonzero(magnitude))  # NaN counts as non-zero
            if not math.isfinite(sums[-1]):  # a finite sum of |x| has no NaN, no inf
                nans += int(torch.isnan(magnitude).sum())
                infs += int(torch.isinf(magnitude).sum())
    return MagnitudeStats(
        norm=joined_norm(norms),
        sum_abs=total(sums),
        max_abs=float(max_abs),
        zeros=tensor.numel() - nonzero,
        nans=nans,
        infs=infs,
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
    # An inf norm of finite elements is past float64's range (rescaled()): exploding.
    if nonfinite or math.isnan(grad_norm):
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
