"""Gradient health over training steps (`agrad inspect --steps N`): torch -> plain facts.

Each step is the loop every training script runs: zero the gradients, forward,
backward, record, optimizer.step(). Recorded per parameter: ‖.grad‖, NaN/inf counts,
the flag of inspection/health.py's `health_flags`, and the update ratio
‖p_after - p_before‖ / ‖p_before‖ of the optimizer's step.

Cost (the 1.2x target of bench/inspect_steps.py): the norms of all gradients are one
`torch._foreach_norm` in float64 (no overflow of float32 squares; a plain
vector_norm per parameter where torch lacks it), moved to Python once per step
(`tolist`), never one `.item()` per parameter. NaN and inf are counted only where a
norm is not finite: a finite norm means neither is there.

The update ratio comes from a copy of the parameters taken just before
optimizer.step(), on recorded steps only: memory for one copy of the parameters.
Deriving ‖Δp‖ from .grad instead would mean redoing each optimizer's maths (Adam's
moments, weight decay, a user's own optimizer); the copy is exact for any of them.
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


def _norms(tensors: list[torch.Tensor]) -> list[float]:
    if not tensors:
        return []
    foreach_norm = getattr(torch, "_foreach_norm", None)  # private: fall back without it
    if foreach_norm is not None:
        try:
            return torch.stack(foreach_norm(tensors, 2, dtype=torch.float64)).tolist()
        except (TypeError, RuntimeError):
            pass
    return torch.stack([torch.linalg.vector_norm(t, dtype=torch.float64) for t in tensors]).tolist()


def _subtracted(before: list[torch.Tensor], after: list[torch.Tensor]) -> list[torch.Tensor]:
    """before - after, in before's tensors (they are written again next time)."""
    foreach_sub = getattr(torch, "_foreach_sub_", None)  # private: fall back without it
    if foreach_sub is not None:
        try:
            foreach_sub(before, after)
            return before
        except (TypeError, RuntimeError):
            pass
    for b, a in zip(before, after, strict=True):
        b.sub_(a)
    return before


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
            batch: list[TrainingStep] = []
            deadline = time.monotonic() + BATCH_S
            with guard():
                while step <= request.steps:
                    batch.append(run.step(step, loss if step == 1 else None))
                    step += 1
                    if not step % 16:
                        tick(step - 1)
                    if time.monotonic() > deadline:
                        break
            yield from batch
        tick(request.steps)


class _Steps:
    """One training step at a time, with the buffers reused from step to step: the
    parameters' copy before optimizer.step(), on recorded steps."""

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
        self.before: list[torch.Tensor] | None = None

    def step(self, step: int, loss: torch.Tensor | None) -> TrainingStep:
        parameters, request = self.parameters, self.request
        record = is_recorded(step, request.every)
        if loss is None:
            for p in parameters:  # zero_grad(set_to_none=True), for every parameter
                p.grad = None
            loss = self.forward()
        loss.backward()
        loss_value = float(loss.detach())
        grads = [p.grad for p in parameters]
        present = [i for i, g in enumerate(grads) if g is not None]
        with torch.no_grad():
            # Before optimizer.step(), which may change .grad (a user's optimizer
            # that clips it): the gradients' norms and, on a recorded step, the
            # parameters' (from their copy), in one call.
            # Detached each step: code that replaces a parameter's .data gets it seen.
            values = [p.detach() for p in parameters] if record else []
            before = self._copy(values) if record else []
            measured = _norms([grads[i].detach() for i in present] + before)
        self.optimizer.step()
        norms: list[float | None] = [None] * len(parameters)
        for i, norm in zip(present, measured, strict=False):
            norms[i] = norm
        flags = tuple(
            _flag(p, n, request, request.roundoff.get(k))
            for k, (p, n) in enumerate(zip(parameters, norms, strict=True))
        )
        if not record:
            return TrainingStep(step, loss_value, (), (), (), (), flags)
        with torch.no_grad():
            moved = _norms(_subtracted(before, values))  # before - after: -Δp
        sizes = measured[len(present) :]
        # A parameter of norm 0 has no ratio; a NaN one gives NaN (NaN > 0 is false).
        ratios = tuple(None if s == 0 else m / s for m, s in zip(moved, sizes, strict=True))
        nan_counts, inf_counts = _nonfinite_counts(grads, norms)
        return TrainingStep(step, loss_value, tuple(norms), ratios, nan_counts, inf_counts, flags)

    def _copy(self, values: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.before is None or any(
            b.shape != v.shape or b.dtype != v.dtype
            for b, v in zip(self.before, values, strict=True)
        ):
            self.before = [v.clone() for v in values]
            return self.before
        foreach_copy = getattr(torch, "_foreach_copy_", None)  # private: fall back
        if foreach_copy is not None:
            try:
                foreach_copy(self.before, values)
                return self.before
            except (TypeError, RuntimeError):
                pass
        for b, v in zip(self.before, values, strict=True):
            b.copy_(v)
        return self.before


def _flag(
    parameter: torch.Tensor, norm: float | None, request: StepsRequest, bound: float | None
) -> str | None:
    if not parameter.requires_grad:
        return "frozen"
    if norm is None:
        return "unused"
    # All zeros exactly when the norm is 0 (it is taken in float64): the share of
    # zeros is not needed for the flags otherwise, and counting it costs a pass.
    flags = health_flags(
        norm,
        0 if math.isfinite(norm) else 1,
        1.0 if norm == 0 else 0.0,
        request.vanish,
        request.explode,
        bound,
    )
    return flags[0] if flags else None


def _nonfinite_counts(
    grads: list[torch.Tensor | None], norms: list[float | None]
) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
    """NaN and inf counts per gradient: 0 and 0 where the norm is finite (a NaN or an
    inf in it would make the norm NaN or inf), counted only where it is not."""
    nan_counts: list[int | None] = []
    inf_counts: list[int | None] = []
    for g, norm in zip(grads, norms, strict=True):
        if g is None or norm is None:
            nan_counts.append(None)
            inf_counts.append(None)
        elif math.isfinite(norm):
            nan_counts.append(0)
            inf_counts.append(0)
        else:
            nan_counts.append(int(torch.isnan(g).sum()))
            inf_counts.append(int(torch.isinf(g).sum()))
    return tuple(nan_counts), tuple(inf_counts)


class Tally:
    """What the summary needs from every step, recorded or not: the losses and the
    first step (and number of steps) of each flag of each parameter."""

    def __init__(self, names: list[str]) -> None:
        self.losses: list[float] = []
        self.spans: list[dict[str, list[int]]] = [{} for _ in names]

    def watch(self, steps: Iterator[TrainingStep], every: int) -> Iterator[TrainingStep]:
        for step in steps:
            self.losses.append(step.loss)
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
