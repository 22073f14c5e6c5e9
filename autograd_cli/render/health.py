"""The human view of `agrad inspect`: a table of gradient health, flags, NaN origin,
and the graph's summary and tree.

Statistics span many orders of magnitude (1e-20 next to 1e+3), so they are shown
with --precision significant digits, not decimals.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from autograd_cli.i18n import N_, _, group
from autograd_cli.model import HEALTH_FLAGS, NanOrigin, ParameterHealth
from autograd_cli.render.labels import significant
from autograd_cli.render.layout import Column, FittedTable, Flow, significant_forms
from autograd_cli.render.table import CODE, MISSING, NOTE, TITLE

if TYPE_CHECKING:
    from autograd_cli.scenarios.inspect_target import InspectReport

FLAG_STYLE = {
    "vanishing": "yellow",
    "exploding": "bold red",
    "dead": "magenta",
    "nonfinite": "bold red",
    "unused": "yellow",
    "frozen": NOTE,
    "round-off": NOTE,
}
# The flags' names are agrad's identifiers (--fail-on takes them): never translated.
FLAG_MEANING = {
    "vanishing": "0 < ‖grad‖ < {vanish:g}",
    "exploding": "‖grad‖ > {explode:g}",
    "dead": N_("all exactly 0"),
    "nonfinite": N_("NaN or ±inf"),
    "unused": N_(".grad is None"),
    "frozen": N_("requires_grad=False, skipped by backward()"),
    "round-off": N_(
        "‖grad‖ ≤ {factor}·eps·‖the gradient it is summed from‖: float rounding of a "
        "gradient that is 0 in exact arithmetic (e.g. an attention key bias: softmax "
        "ignores a constant added to a row), not a depth problem; not in --fail-on any"
    ),
}


def health_view(report: InspectReport, precision: int) -> Iterator[RenderableType]:
    yield Text(
        _("agrad inspect · {target} · seed {seed}").format(target=report.target, seed=report.seed),
        style=TITLE,
    )
    yield _what_ran(report, precision)
    yield Text("\n" + _("Gradients after one loss.backward()"), style=TITLE)
    yield _health_table(report.parameters, precision)
    yield from _flag_summary(report)
    if report.anomaly is not None:
        yield from _anomaly_section(report.anomaly)
    elif report.flag_counts["nonfinite"]:
        yield Text(
            _(
                "Rerun with --anomaly to name the backward Function where NaN first appears "
                "and the line of your code that created it."
            ),
            style=NOTE,
        )


def graph_summary_lines(report: InspectReport) -> Iterator[RenderableType]:
    summary = report.graph_summary
    yield Text(
        _(
            "Depth {depth}: nodes on the longest path from loss.grad_fn to a leaf. "
            "Nodes by grad_fn class:"
        ).format(depth=group(summary.depth)),
        style=NOTE,
    )
    yield Flow(
        [Text(f"{name} {group(count)}") for name, count in summary.grad_fn_counts.items()],
        lead=Text("  "),
    )


def _what_ran(report: InspectReport, precision: int) -> Text:
    loss = significant(report.loss, precision)
    if report.form == "model":
        what = _("model {model}, loss_fn {loss_fn}; loss = {loss}").format(
            model=report.model, loss_fn=report.loss_fn, loss=loss
        )
    else:
        what = _(
            "{name}() returned the loss itself; its tensors are named as its code names "
            "them; loss = {loss}"
        ).format(name=report.target.rpartition(":")[2], loss=loss)
    text = Text(what, style=NOTE)
    if report.arguments:
        arguments = " ".join(f"{k}={v!r}" for k, v in report.arguments.items())
        text.append("\n" + _("called with {arguments}").format(arguments=arguments), style=NOTE)
    return text


def _health_table(parameters: tuple[ParameterHealth, ...], precision: int) -> FittedTable:
    """Ten columns; at 80 characters numel goes first, then digits (see render/layout)."""
    digits = max(precision, 1)

    def numbers(header: str, values: list[float | None]) -> Column:
        return Column(header, significant_forms(values, digits), justify="right")

    flags = [p.flags[0] if p.flags else "" for p in parameters]
    columns = [
        Column.of(_("parameter"), [p.name for p in parameters], wrap="name"),
        Column.of(_("shape"), ["×".join(str(n) for n in p.shape) or "scalar" for p in parameters]),
        Column.of("numel", [group(p.numel) for p in parameters], justify="right", droppable=True),
        numbers("‖grad‖", [p.grad_norm for p in parameters]),
        numbers("mean |g|", [p.mean_abs for p in parameters]),
        numbers("max |g|", [p.max_abs for p in parameters]),
        Column.of(
            _("zeros"),
            [
                MISSING if p.zero_fraction is None else f"{100 * p.zero_fraction:.1f}%"
                for p in parameters
            ],
            justify="right",
        ),
        Column.of(
            "NaN/inf",
            [
                MISSING if p.nan_count is None else f"{group(p.nan_count)}/{group(p.inf_count)}"
                for p in parameters
            ],
            justify="right",
        ),
        numbers("‖g‖/‖p‖", [p.ratio for p in parameters]),
        Column(
            _("flag"),
            (tuple(flags),),
            styles=tuple(FLAG_STYLE.get(flag, NOTE) for flag in flags),
        ),
    ]
    return FittedTable(columns, gap=2)


def _flag_summary(report: InspectReport) -> Iterator[RenderableType]:
    counts = [
        Text(
            f"{group(report.flag_counts[flag])} {flag}",
            style=FLAG_STYLE[flag] if report.flag_counts[flag] else "",
        )
        for flag in HEALTH_FLAGS
    ]
    yield Flow(counts, lead=Text(_("Flags: "), style=TITLE))
    yield flag_legend(report)
    if report.fail_on:
        named = ",".join(report.fail_on)
        verdict = (
            _("--fail-on {flags}: raised: {raised} (exit 3)").format(
                flags=named, raised=", ".join(report.failing)
            )
            if report.failing
            else _("--fail-on {flags}: none raised").format(flags=named)
        )
        yield Text(verdict, style="bold red" if report.failing else "green")


def _anomaly_section(found: NanOrigin) -> Iterator[RenderableType]:
    yield Text(
        "\n" + _("Where the NaN comes from (--anomaly: rerun under detect_anomaly())"),
        style=TITLE,
    )
    if found.grad_fn is None:
        yield Text(_(found.message), style=NOTE)  # agrad's own words, in the catalog
        return
    yield Text(
        _("{grad_fn} is the first backward Function that returned NaN.").format(
            grad_fn=found.grad_fn
        )
    )
    yield Text(f"torch: {found.message}", style=NOTE)
    if found.origin is not None:
        frame = found.origin
        yield Text(
            _("Its forward operation was created at {file}:{line}, in {function}:").format(
                file=frame.file, line=frame.line, function=frame.function
            )
        )
        yield Text("  " + frame.code, style=CODE)
    if len(found.forward_trace) > 1:
        yield Text(_("Forward call stack, outermost first:"), style=NOTE)
        for frame in found.forward_trace:
            at = f"{frame.file}:{frame.line}"
            yield Text(
                "  " + _("{at}, in {function}").format(at=at, function=frame.function), style=NOTE
            )


def flag_legend(report: InspectReport) -> Flow:
    """What each flag means, with this run's --vanish and --explode (one pass or steps)."""
    from autograd_cli.inspection.roundoff import ROUNDOFF_FACTOR

    bounds = {"vanish": report.vanish, "explode": report.explode, "factor": ROUNDOFF_FACTOR}
    meanings = [
        Text(f"{flag}: {_(FLAG_MEANING[flag]).format(**bounds)}", style=NOTE)
        for flag in HEALTH_FLAGS
    ]
    return Flow(meanings, separator=" · ", indent=0)
