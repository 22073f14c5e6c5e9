"""Gradient health over training steps (`agrad inspect --steps N`): torch -> plain facts.

Each step is the loop every training script runs: zero the gradients, forward,
backward, record, optimizer.step(). Recorded per parameter: ‖.grad‖, NaN/inf counts,
the flag of inspection/health.py's `health_flags`, and the update ratio
‖p_after - p_before‖ / ‖p_before‖ of the optimizer's step.

Cost (the 1.2x target of bench/inspect_steps.py): a small model's step takes a few
hundred microseconds, so what agrad adds to it is counted in torch calls and Python
lines. The norms take a handful of calls per step, whatever the number of parameters
(inspection/step_norms.py), and reach Python once (`tolist`), never one `.item()` per
parameter. NaN and inf are counted only where a norm is not finite: a finite norm
means neither is there. The flags of a healthy parameter cost one comparison.

The update ratio comes from a copy of the parameters taken just before
optimizer.step(), on recorded steps only: memory for one copy of the parameters (in
float32 for float16 and bfloat16 ones), or for a small model a buffer of up to 64
steps' gradients and parameters (inspection/step_norms.py). Deriving ‖Δp‖ from .grad
instead would mean redoing each optimizer's maths (Adam's moments, weight decay, a
user's own optimizer); the copy is exact for any of them.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from autograd_cli import progress
from autograd_cli.i18n import N_, _
from autograd_cli.inspection.health import health_flags
from autograd_cli.inspection.step_norms import StepNorms
from autograd_cli.model import (
    HEALTH_FLAGS,
    FlagSpan,
    NanOrigin,
    TrainedParameter,
    TrainingStep,
    TrainingSummary,
)

TRAINING = N_("training")
BATCH_S = 0.05  # the steps run under one guard() before their records are yielded


@dataclass(frozen=True)
class StepsRequest:
    """What to run: N steps, one recorded every K (and step 1), the thresholds."""

    steps: int
    every: int
    vanish: float
    explode: float
    fail_on: tuple[str, ...] = ()
    # The round-off bounds (by parameter position) of the one backward pass before the
    # steps (inspection/roundoff.py): the steps run no probe of their own, so each step
    # holds a gradient to its first pass's bound. A key bias that softmax ignores stays
    # under it; a gradient that was 0 by that step's data alone grows past it, and is
    # then flagged as any other.
    roundoff: dict[int, float] = field(default_factory=dict)


def make_optimizer(name: str, parameters: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
    """agrad's own optimizer, when NAME returns none: plain SGD or Adam (torch's defaults
    but for the learning rate)."""
    trainable = [p for p in parameters if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(trainable, lr=lr)
    return torch.optim.SGD(trainable, lr=lr)


def is_recorded(step: int, every: int) -> bool:
    """Step 1 (where training starts), then every `every`-th step."""
    return step == 1 or step % every == 0


def training_steps(
    loss: torch.Tensor,
    forward: Callable[[], torch.Tensor],
    named: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    guard: Callable[[], contextlib.AbstractContextManager[None]],
    request: StepsRequest,
) -> Iterator[TrainingStep]:
    """Runs the steps, yielding the recorded ones as they come.

    `loss` is step 1's forward pass, already made; `forward()` makes the next ones;
    `guard()` is around the user's code (forward, backward, optimizer.step()).
    Entering it costs ~30 µs (it points stdout at stderr), a tenth of a small
    model's step: it is held over the steps of BATCH_S, whose records are then
    yielded, so that a reader still sees them within a fraction of a second."""
    parameters = list(named.values())
    run = _Steps(parameters, forward, optimizer, request)
    step = 1
    with progress.task(_(TRAINING), total=request.steps, unit="steps") as tick:
        while step <= request.steps:
            deadline = time.monotonic() + BATCH_S
            with guard():
                while step <= request.steps:
                    run.step(step, loss if step == 1 else None)
                    step += 1
                    if not step % 16:
                        tick(step - 1)
                    if run.full() or time.monotonic() > deadline:
                        break
            yield from run.flush()
        tick(request.steps)


_NO_FIXED_FLAGS: dict[int, str] = {}  # read only
# What torch.set_grad_enabled(mode) calls, without making an object (private: fall back).
_set_grad_enabled: Callable[[bool], object] = getattr(
    torch._C, "_set_grad_enabled", torch.set_grad_enabled
)


class _Steps:
    """The training steps, run one at a time and turned into TrainingSteps a batch at
    a time (`flush()`): the norms' maths runs once for a batch of a small model's steps
    (inspection/step_norms.py)."""

    def __init__(
        self,
        parameters: list[torch.Tensor],
        forward: Callable[[], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        request: StepsRequest,
    ) -> None:
        self.parameters = parameters
        self.forward = forward
        self.optimizer = optimizer
        self.request = request
        self.norms = StepNorms(parameters, request.steps)
        self.bounds = [request.roundoff.get(k) for k in range(len(parameters))]
        self.bounded = list(request.roundoff.items())
        self.healthy: tuple[str | None, ...] = (None,) * len(parameters)  # no flag raised
        # The steps run since the last flush(): number, loss, recorded, and the flags
        # decided without the norms ("frozen", "unused"), by parameter.
        self.pending: list[tuple[int, float, bool, dict[int, str]]] = []

    def full(self) -> bool:
        return self.norms.full()

    def step(self, step: int, loss: torch.Tensor | None) -> None:
        parameters = self.parameters
        record = is_recorded(step, self.request.every)
        if loss is None:
            for p in parameters:  # zero_grad(set_to_none=True), for every parameter
                p.grad = None
            loss = self.forward()
        loss.backward()
        loss_value = loss.item()
        grads = [p.grad for p in parameters]
        # Not `None in grads`: that compares each tensor with None (~10 µs apiece).
        missing = [i for i, g in enumerate(grads) if g is None]
        frozen = [i for i, p in enumerate(parameters) if not p.requires_grad]
        # Gradient mode off around agrad's copies (of tensors that require grad), as
        # torch.no_grad() would, at a twentieth of its cost.
        mode = torch.is_grad_enabled()
        _set_grad_enabled(False)
        try:
            # Before optimizer.step(), which may change .grad (a user's optimizer
            # that clips it) and, on a recorded step, the parameters' values.
            self.norms.take(grads, missing, record)
        finally:
            _set_grad_enabled(mode)
        self.optimizer.step()
        _set_grad_enabled(False)
        try:
            self.norms.keep()
        finally:
            _set_grad_enabled(mode)
        # The flags the norms do not decide: "frozen" without requires_grad during
        # backward() (no .grad: not "unused") or after the step (frozen in it: its
        # .grad kept, as a frozen parameter with one is in the one-pass view), else
        # "unused" without .grad.
        frozen += [i for i, p in enumerate(parameters) if not p.requires_grad]
        fixed = _NO_FIXED_FLAGS
        if missing or frozen:
            fixed = {i: "unused" for i in missing} | {i: "frozen" for i in frozen}
        self.pending.append((step, loss_value, record, fixed))

    def flush(self) -> list[TrainingStep]:
        pending, self.pending = self.pending, []
        measured = self.norms.results([record for _, _, record, _ in pending])
        steps = []
        for (step, loss, record, fixed), (norms, ratios, nans, infs) in zip(
            pending, measured, strict=True
        ):
            flags = self._flags(norms, fixed, nans, infs)
            if record:
                steps.append(TrainingStep(step, loss, norms, ratios, nans, infs, flags))
            else:
                steps.append(TrainingStep(step, loss, (), (), (), (), flags))
        return steps

    def _flags(
        self,
        norms: tuple[float | None, ...],
        fixed: dict[int, str],
        nans: tuple[int | None, ...],
        infs: tuple[int | None, ...],
    ) -> tuple[str | None, ...]:
        request = self.request
        vanish, explode = request.vanish, request.explode
        if not fixed and self._healthy(norms):
            return self.healthy
        flags: list[str | None] = []
        for norm, bound, nan, inf in zip(norms, self.bounds, nans, infs, strict=True):
            # What health_flags() decides, in one comparison for the usual case: a
            # finite, non-zero norm inside the thresholds, above any bound.
            if norm is None:
                flags.append(None)  # "unused" or "frozen": fixed's, below
            elif norm > 0 and vanish <= norm <= explode and (bound is None or norm > bound):
                flags.append(None)
            else:
                flags.append(_flag(norm, request, bound, (nan or 0) + (inf or 0)))
        for i, flag in fixed.items():
            flags[i] = flag
        return tuple(flags)

    def _healthy(self, norms: tuple[float | None, ...]) -> bool:
        """Whether no norm raises a flag, in a few comparisons for them all."""
        try:
            finite = math.isfinite(sum(norms))  # type: ignore[arg-type]
        except TypeError:  # a None
            return False
        if not norms or not finite:  # min() and max() skip a NaN: checked first
            return False
        smallest = min(norms)  # type: ignore[type-var]
        request = self.request
        return (
            smallest > 0
            and request.vanish <= smallest
            and max(norms) <= request.explode  # type: ignore[type-var]
            and all(norms[i] > bound for i, bound in self.bounded)  # type: ignore[operator]
        )


def _flag(norm: float, request: StepsRequest, bound: float | None, nonfinite: int) -> str | None:
    # All zeros exactly when the norm is 0 (it is taken in float64): the share of
    # zeros is not needed for the flags otherwise, and counting it costs a pass.
    flags = health_flags(
        norm,
        nonfinite,
        1.0 if norm == 0 else 0.0,
        request.vanish,
        request.explode,
        bound,
    )
    return flags[0] if flags else None


class Tally:
    """What the summary needs from every step, recorded or not: the losses and the
    first step (and number of steps) of each flag of each parameter."""

    def __init__(self, names: list[str]) -> None:
        self.losses: list[float] = []
        self.spans: list[dict[str, list[int]]] = [{} for _ in names]

    def watch(self, steps: Iterator[TrainingStep], every: int) -> Iterator[TrainingStep]:
        for step in steps:
            self.losses.append(step.loss)
            if any(step.flags):  # most steps of most runs raise none
                for spans, flag in zip(self.spans, step.flags, strict=True):
                    if flag is not None:
                        span = spans.get(flag)
                        if span is None:
                            spans[flag] = [step.step, 1]
                        else:
                            span[1] += 1
            if is_recorded(step.step, every):
                yield step

    def summary(
        self,
        named: dict[str, torch.Tensor],
        recorded: int,
        request: StepsRequest,
        anomaly: Callable[[int], NanOrigin] | None,
    ) -> TrainingSummary:
        parameters = tuple(
            TrainedParameter(
                name=name,
                shape=tuple(p.shape),
                numel=p.numel(),
                requires_grad=p.requires_grad,
                flags=tuple(
                    FlagSpan(flag, first, count)
                    for flag, (first, count) in sorted(spans.items(), key=lambda kv: kv[1][0])
                ),
            )
            for (name, p), spans in zip(named.items(), self.spans, strict=True)
        )
        first_steps: dict[str, int | None] = {}
        for flag in HEALTH_FLAGS:
            found = [s[flag][0] for s in self.spans if flag in s]
            first_steps[flag] = min(found) if found else None
        finite = [x for x in self.losses if math.isfinite(x)]
        nonfinite = next((k for k, x in enumerate(self.losses, 1) if not math.isfinite(x)), None)
        anomaly_step = first_steps.get("nonfinite") if anomaly is not None else None
        return TrainingSummary(
            recorded=recorded,
            parameters=parameters,
            loss_first=self.losses[0],
            loss_last=self.losses[-1],
            loss_min=min(finite) if finite else math.nan,
            first_nonfinite_loss=nonfinite,
            first_steps=first_steps,
            anomaly_step=anomaly_step,
            anomaly=anomaly(anomaly_step) if anomaly is not None and anomaly_step else None,
            failing=tuple(f for f in request.fail_on if first_steps.get(f) is not None),
        )


def replayed(
    loss: torch.Tensor,
    forward: Callable[[], torch.Tensor],
    named: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    step: int,
) -> torch.Tensor:
    """Steps 1 to `step` - 1 again, unrecorded and outside anomaly mode (which would
    slow them down many times), then step `step`'s loss: its forward pass runs in the
    caller's mode, so that --anomaly sees where its operations were created."""
    parameters = list(named.values())
    with torch.autograd.set_detect_anomaly(False):
        for done in range(1, step):
            if done > 1:
                for p in parameters:
                    p.grad = None
                loss = forward()
            loss.backward()
            optimizer.step()
    if step == 1:
        return loss
    for p in parameters:
        p.grad = None
    return forward()
