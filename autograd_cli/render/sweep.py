"""The human view of a --seed sweep: one summary row per seed, printed as it comes.

A Rich Table would wait for the last row; a sweep of 1,000 seeds should show its
first rows at once, so rows are fixed-width lines.
"""

from __future__ import annotations

import math

from rich.text import Text

from autograd_cli.i18n import _
from autograd_cli.model import CheckReport, Report
from autograd_cli.render.labels import flat, number_text

NUMBER_WIDTH = 14


def sweep_header(report: Report, root: str, seed_width: int) -> list[Text]:
    value = next(t.value for t in report.tensors if t.name == root)
    columns = [root if not isinstance(value, list) else f"‖{root}‖"]
    columns += [f"‖{g.name}.grad‖" for g in report.gradients]
    line = _("seed").rjust(seed_width) + "".join(c.rjust(NUMBER_WIDTH) for c in columns)
    if report.check is not None:
        line += "  " + _("check")
    return [Text(line, style="bold"), Text("─" * len(line), style="dim")]


def sweep_row(report: Report, root: str, seed: int, seed_width: int, precision: int) -> Text:
    value = next(t.value for t in report.tensors if t.name == root)
    cells = [_norm(value) if isinstance(value, list) else value]
    cells += [None if g.value is None else _norm(g.value) for g in report.gradients]
    text = str(seed).rjust(seed_width)
    for cell in cells:
        text += ("—" if cell is None else number_text(float(cell), precision)).rjust(NUMBER_WIDTH)
    row = Text(text)
    if report.check is not None:
        row.append(*_verdict(report.check))
    return row


def _verdict(check: CheckReport) -> tuple[str, str]:
    """As the check section says it: FAILED, else cannot verify where some element
    could not be, else ok."""
    if not check.ok:
        return "  " + _("FAILED"), "bold red"
    leaves = (*check.leaves, *check.closed_form)
    if any(leaf.cannot_verify is not None for leaf in leaves):
        return "  " + _("cannot verify"), "yellow"
    return "  " + _("ok"), "green"


def _norm(values: object) -> float:
    numbers = flat(values)
    return math.sqrt(math.fsum(float(v) * float(v) for v in numbers))
