"""The human view of `agrad inspect --steps N`: per parameter, sparklines of ‖grad‖ and
of the update ratio ‖Δp‖/‖p‖ over the steps, the step each flag was first raised,
and the loss as a sparkline.

Sparklines are on a log scale shared by a whole column (rows compare), in the eight
blocks ▁▂▃▄▅▆▇█; the recorded steps are cut into at most `width` runs of
consecutive steps and each character shows the largest value of its run (a spike is
never averaged away), ✗ where the run holds NaN or ±inf, · where there is no value
(no .grad) or 0 (which a log scale cannot place).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from autograd_cli.i18n import _, group
from autograd_cli.model import HEALTH_FLAGS, Training
from autograd_cli.render.health import FLAG_STYLE, flag_legend
from autograd_cli.render.labels import significant
from autograd_cli.render.layout import Column, FittedTable, Flow, significant_forms
from autograd_cli.render.table import NOTE, TITLE

if TYPE_CHECKING:
    from autograd_cli.scenarios.inspect_target import InspectReport

BLOCKS = "▁▂▃▄▅▆▇█"
NONFINITE = "✗"
EMPTY = "·"
SPARK_WIDTH = 16  # characters of a parameter's sparklines: two fit 80 columns with the rest
LOSS_WIDTH = 40


def runs(count: int, width: int) -> list[range]:
    """`count` items cut into min(count, width) runs of consecutive items, as even as
    possible (their lengths differ by at most one)."""
    buckets = min(count, width)
    return [range(k * count // buckets, (k + 1) * count // buckets) for k in range(buckets)]


def largest(values: Sequence[float | None]) -> float | None:
    """A run's value: NaN if any is not finite, else the largest; None if none is there."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if any(not math.isfinite(v) for v in present):
        return math.nan
    return max(present)


def log_range(series: Sequence[Sequence[float | None]]) -> tuple[float, float] | None:
    """The smallest and largest positive finite value of all the series."""
    positive = [v for s in series for v in s if v is not None and math.isfinite(v) and v > 0]
    return (min(positive), max(positive)) if positive else None


def sparkline(
    values: Sequence[float | None],
    width: int,
    scale: tuple[float, float] | None,
    log: bool = True,
) -> str:
    """`values` in at most `width` characters (see the module's docstring)."""
    out = []
    for run in runs(len(values), width):
        value = largest([values[i] for i in run])
        if value is None or (log and value == 0):
            out.append(EMPTY)
        elif math.isnan(value):
            out.append(NONFINITE)
        elif scale is None:
            out.append(BLOCKS[3])
        else:
            out.append(BLOCKS[_level(value, scale, log)])
    return "".join(out)


def _level(value: float, scale: tuple[float, float], log: bool) -> int:
    low, high = scale
    if log:
        low, high, value = math.log10(low), math.log10(high), math.log10(value)
    if high <= low:
        return 3
    return min(max(round((value - low) / (high - low) * 7), 0), 7)


def training_view(
    report: InspectReport, training: Training, precision: int
) -> Iterator[RenderableType]:
    recorded = list(training.steps())
    summary = training.summary
    digits = max(precision, 1)
    yield Text(
        _("agrad inspect · {target} · seed {seed}").format(target=report.target, seed=report.seed),
        style=TITLE,
    )
    yield _what_ran(report)
    yield _loss_line([s.loss for s in recorded], summary.loss_first, summary.loss_last, digits)
    if summary.first_nonfinite_loss is not None:
        yield Text(
            _("The loss is NaN or ±inf from step {step}.").format(
                step=group(summary.first_nonfinite_loss)
            ),
            style="bold red",
        )
    yield Text(
        "\n"
        + _("Gradients over {steps} training steps ({recorded} recorded)").format(
            steps=group(report.steps or 0), recorded=group(summary.recorded)
        ),
        style=TITLE,
    )
    names = [p.name for p in summary.parameters]
    norms = [[s.grad_norms[i] for s in recorded] for i in range(len(names))]
    ratios = [[s.update_ratios[i] for s in recorded] for i in range(len(names))]
    norm_scale, ratio_scale = log_range(norms), log_range(ratios)
    # A no-break space: a flag and its step stay on one line when the column wraps.
    first_flags = [
        ", ".join(f"{span.flag}\u00a0{span.first_step}" for span in p.flags)
        for p in summary.parameters
    ]
    columns = [
        Column.of(_("parameter"), names, wrap="name"),
        Column.of("‖grad‖", [sparkline(n, SPARK_WIDTH, norm_scale) for n in norms]),
        Column(_("last"), significant_forms([n[-1] for n in norms], digits), justify="right"),
        Column.of("‖Δp‖/‖p‖", [sparkline(r, SPARK_WIDTH, ratio_scale) for r in ratios]),
        Column(_("last"), significant_forms([r[-1] for r in ratios], digits), justify="right"),
        Column(
            _("flag from step"),
            (tuple(first_flags),),
            wrap="words",
            styles=tuple(
                FLAG_STYLE.get(p.flags[0].flag, NOTE) if p.flags else NOTE
                for p in summary.parameters
            ),
        ),
    ]
    yield FittedTable(columns, gap=2)
    per_run = math.ceil(len(recorded) / min(len(recorded), SPARK_WIDTH))
    yield Text(_scale_note(norm_scale, ratio_scale, per_run), style=NOTE)
    yield Text(
        _(
            "‖Δp‖/‖p‖: how far one optimizer step moves the parameter, relative to its size. "
            "Around 1e-3 is the usual healthy range: far below, it barely learns; far "
            "above, training may diverge."
        ),
        style=NOTE,
    )
    yield from _flag_lines(report, summary.first_steps)
    if summary.anomaly is not None:
        from autograd_cli.render.health import _anomaly_section

        yield Text(
            "\n"
            + _("--anomaly: step {step} run again under detect_anomaly()").format(
                step=group(summary.anomaly_step or 0)
            ),
            style=TITLE,
        )
        yield from list(_anomaly_section(summary.anomaly))[1:]
    elif summary.first_steps.get("nonfinite") is not None:
        yield Text(
            _(
                "Rerun with --anomaly to run step {step} again and name the backward "
                "Function where NaN first appears and the line of your code that created it."
            ).format(step=group(summary.first_steps["nonfinite"] or 0)),
            style=NOTE,
        )


def _what_ran(report: InspectReport) -> Text:
    if report.lr is None:
        optimizer = _("its own optimizer {optimizer}").format(optimizer=report.optimizer)
    else:
        optimizer = _("optimizer {optimizer} (lr {lr:g})").format(
            optimizer=report.optimizer, lr=report.lr
        )
    text = Text(
        _("model {model}, loss_fn {loss_fn}; {optimizer}").format(
            model=report.model, loss_fn=report.loss_fn, optimizer=optimizer
        ),
        style=NOTE,
    )
    recorded = (
        _("every step recorded")
        if report.every == 1
        else _("recorded: step 1, then every {every} steps").format(every=group(report.every))
    )
    text.append("\n" + recorded, style=NOTE)
    if report.arguments:
        arguments = " ".join(f"{k}={v!r}" for k, v in report.arguments.items())
        text.append("\n" + _("called with {arguments}").format(arguments=arguments), style=NOTE)
    return text


def _loss_line(losses: list[float], first: float, last: float, digits: int) -> Text:
    finite = [x for x in losses if math.isfinite(x)]
    log = bool(finite) and min(finite) > 0
    scale = (min(finite), max(finite)) if finite else None
    line = Text(_("loss") + "  ", style=TITLE)
    line.append(sparkline(losses, LOSS_WIDTH, scale, log=log))
    line.append(
        "  "
        + _("{first} → {last}").format(
            first=significant(first, digits), last=significant(last, digits)
        ),
        style=NOTE,
    )
    return line


def _scale_note(
    norm_scale: tuple[float, float] | None, ratio_scale: tuple[float, float] | None, per_run: int
) -> str:
    def span(scale: tuple[float, float] | None) -> str:
        if scale is None:
            return EMPTY
        return f"▁ {significant(scale[0], 2)} … █ {significant(scale[1], 2)}"

    if per_run == 1:  # as many characters as recorded steps
        text = _(
            "Log scale per column: ‖grad‖ {norms}; ‖Δp‖/‖p‖ {ratios}. A character is one "
            "recorded step; {nonfinite} NaN or ±inf; {empty} no .grad, or 0."
        )
    else:
        text = _(
            "Log scale per column: ‖grad‖ {norms}; ‖Δp‖/‖p‖ {ratios}. A character is the "
            "largest of up to {count} recorded steps; {nonfinite} NaN or ±inf; {empty} no "
            ".grad, or 0."
        )
    return text.format(
        norms=span(norm_scale),
        ratios=span(ratio_scale),
        count=group(per_run),
        nonfinite=NONFINITE,
        empty=EMPTY,
    )


def _flag_lines(report: InspectReport, first_steps: dict[str, int | None]) -> Iterator[Text | Flow]:
    items = []
    for flag in HEALTH_FLAGS:
        step = first_steps.get(flag)
        shown = _("{flag} from step {step}").format(flag=flag, step=group(step)) if step else flag
        items.append(Text(shown if step else f"{flag} —", style=FLAG_STYLE[flag] if step else ""))
    yield Flow(items, lead=Text(_("Flags: "), style=TITLE))
    yield flag_legend(report)
    if report.fail_on and report.training is not None:
        failing = report.training.summary.failing
        named = ",".join(report.fail_on)
        verdict = (
            _("--fail-on {flags}: raised: {raised} (exit 3)").format(
                flags=named, raised=", ".join(failing)
            )
            if failing
            else _("--fail-on {flags}: none raised").format(flags=named)
        )
        yield Text(verdict, style="bold red" if failing else "green")
