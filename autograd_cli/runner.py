"""The shared runner: build a command's report, then emit it in the chosen format.

Imported only after options parsed, so torch is loaded only for real work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from autograd_cli.model import Report


def _linear(params: dict[str, Any]) -> Report:
    from autograd_cli.inspection.reports import linear_report

    return linear_report(**params)


def _jvp(params: dict[str, Any]) -> Report:
    from autograd_cli.inspection.reports import jvp_report

    return jvp_report(**params)


BUILDERS: dict[str, Callable[[dict[str, Any]], Report]] = {"linear": _linear, "jvp": _jvp}


def run_command(
    command: str, params: dict[str, Any], *, json: bool, precision: int, color: str
) -> None:
    report = BUILDERS[command](params)
    if json:
        from autograd_cli.render.emit import write_text
        from autograd_cli.render.json_doc import report_json

        write_text(report_json(report))
        return

    from autograd_cli.render.console import make_console, print_all

    print_all(make_console(color), table_view(report, precision))


def table_view(report: Report, precision: int) -> Iterator[Any]:
    from autograd_cli.model import JvpReport, LinearReport
    from autograd_cli.render.table import jvp_view, linear_view

    if isinstance(report, LinearReport):
        return linear_view(report, precision)
    if isinstance(report, JvpReport):
        return jvp_view(report, precision)
    raise TypeError(f"no table view for {type(report).__name__}")
