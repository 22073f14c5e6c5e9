"""`agrad inspect`: one backward pass through the user's code, as plain facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autograd_cli.inspection.anomaly import nan_origin
from autograd_cli.inspection.graph import graph_report
from autograd_cli.inspection.graph_summary import graph_summary, leaf_tensors
from autograd_cli.inspection.health import flag_counts, parameter_health
from autograd_cli.model import ForwardFrame, InspectReport, NanOrigin
from autograd_cli.options import TargetSpec
from autograd_cli.scenarios.user_code import (
    UserCallable,
    is_user_file,
    load_callable,
    shown_path,
)


def inspect_report(
    target: TargetSpec,
    arguments: dict[str, Any],
    seed: int,
    vanish: float,
    explode: float,
    fail_on: tuple[str, ...] = (),
    anomaly: bool = False,
    max_nodes: int | None = None,
) -> InspectReport:
    call = load_callable(target, arguments, seed)
    run = call.run(arguments, seed)
    named = dict(run.named)
    if run.form == "loss":  # leaves the names missed still get a row
        known = {id(t) for t in named.values()}
        unnamed = [t for t in leaf_tensors(run.loss.grad_fn) if id(t) not in known]
        named.update((f"leaf {k} {tuple(t.shape)}", t) for k, t in enumerate(unnamed))
    summary = graph_summary(run.loss.grad_fn)
    graph = graph_report(run.loss, named, max_nodes)  # before backward(): saved tensors

    with call.guard():  # a custom autograd.Function's backward is the user's code too
        run.loss.backward()
    parameters = tuple(parameter_health(n, t, vanish, explode) for n, t in named.items())
    counts = flag_counts(parameters)
    origin = None
    if anomaly and counts["nonfinite"]:
        origin = _anomaly(call, arguments, seed)
    return InspectReport(
        target=target.text,
        arguments=arguments,
        seed=seed,
        form=run.form,
        model=run.model,
        loss_fn=run.loss_fn,
        loss=float(run.loss.detach()),
        vanish=vanish,
        explode=explode,
        parameters=parameters,
        flag_counts=counts,
        graph_summary=summary,
        graph=graph,
        anomaly=origin,
        fail_on=fail_on,
        failing=tuple(flag for flag in fail_on if counts[flag]),
    )


def _anomaly(call: UserCallable, arguments: dict[str, Any], seed: int) -> NanOrigin:
    def backward_again() -> None:
        # Same seed, same arguments: the same forward pass, now recorded with stacks.
        call.run(arguments, seed).loss.backward()

    found = nan_origin(backward_again, lambda name: is_user_file(name, call.file))

    def shown(frame: ForwardFrame) -> ForwardFrame:
        return ForwardFrame(shown_path(Path(frame.file)), frame.line, frame.function, frame.code)

    # Only the user's frames: agrad's own and Python's threading say nothing to them.
    user_frames = [f for f in found.forward_trace if is_user_file(f.file, call.file)]
    return NanOrigin(
        grad_fn=found.grad_fn,
        message=found.message,
        origin=None if found.origin is None else shown(found.origin),
        forward_trace=tuple(shown(f) for f in user_frames),
    )
