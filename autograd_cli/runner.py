"""The shared runner: build a command's report, render it, write it.

Imported only after options parsed, so torch is loaded only for real work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from autograd_cli.errors import CheckFailed, UsageProblem
from autograd_cli.i18n import _
from autograd_cli.model import Report
from autograd_cli.render import output
from autograd_cli.threads import one_thread_if_tiny
from autograd_cli.worker import run_with_big_stack

TREE_MAX_NODES = 200  # default cap of the tree view; the other formats carry all nodes


@dataclass(frozen=True)
class RunOptions:
    format: str = "table"
    precision: int = 4
    color: str = "auto"
    output: Path | None = None
    saved: bool = False
    max_nodes: int | None = None  # None: TREE_MAX_NODES for the tree, all nodes otherwise
    export: Path | None = None  # the human view, also written to this .svg/.html/.txt


def _linear(params: dict[str, Any]) -> Report:
    from autograd_cli.inspection.reports import linear_report

    return linear_report(**params)


def _jvp(params: dict[str, Any]) -> Report:
    from autograd_cli.inspection.reports import jvp_report

    return jvp_report(**params)


def _chain(params: dict[str, Any]) -> Report:
    from autograd_cli.inspection.reports import chain_report

    return chain_report(**params)


def _expr(params: dict[str, Any]) -> Report:
    from autograd_cli.inspection.reports import expr_report

    return expr_report(**params)


def _inspect(params: dict[str, Any]) -> Report:
    from autograd_cli.inspection.user_model import inspect_report

    return inspect_report(**params)


BUILDERS: dict[str, Callable[[dict[str, Any]], Report]] = {
    "linear": _linear,
    "jvp": _jvp,
    "chain": _chain,
    "expr": _expr,
    "inspect": _inspect,
}
ROOT_NAMES = {"linear": "loss", "jvp": "out", "chain": "loss", "expr": "out", "inspect": "loss"}


# Set by `agrad batch` while it runs one of its lines: JSON documents go here
# instead of stdout, one per report.
_captured: list[str] | None = None


@contextmanager
def capturing_json() -> Iterator[list[str]]:
    global _captured
    _captured = documents = []
    try:
        yield documents
    finally:
        _captured = None


def _check_capture(options: RunOptions) -> bool:
    """In a batch line: JSON only (the default table view becomes JSON), no files."""
    if _captured is None:
        return False
    if options.format not in ("table", "json"):
        raise UsageProblem(
            _("a batch line writes JSON; --format {format} is not allowed").format(
                format=options.format
            )
        )
    if options.output is not None or options.export is not None:
        flag = "--output" if options.output is not None else "--export"
        raise UsageProblem(
            _("a batch line writes JSON to the batch; {option} is not allowed").format(option=flag)
        )
    return True


def _on_device(params: dict[str, Any]) -> dict[str, Any]:
    """--device resolved (auto picks) and checked before any work."""
    if "device" not in params:
        return params
    from autograd_cli.devices import resolve_device

    return {**params, "device": resolve_device(params["device"])}


def run_command(command: str, params: dict[str, Any], options: RunOptions) -> None:
    params = _on_device(params)
    if _check_capture(options):
        options = replace(options, format="json")
    target = output.check_target(options.output, options.format)  # fail before any work
    output.check_export(options.export)
    node_cap = options.max_nodes
    if node_cap is None and options.format == "table" and not target.image:
        node_cap = TREE_MAX_NODES

    # A batch line is one of many in one process: a tiny one gets one thread
    # (threads.py). A run on its own keeps torch's threads.
    in_batch = _captured is not None

    def work() -> None:
        # Build, render and free the graph on one big-stack thread: see worker.py.
        with one_thread_if_tiny(command, params) if in_batch else nullcontext():
            report = BUILDERS[command]({**params, "max_nodes": node_cap})
            cap = node_cap or TREE_MAX_NODES
            if options.export is not None:
                _export(report, command, options, cap)
            text = _render(report, command, options, cap, target)
        if _captured is not None:
            _captured.append(text or "")
        else:
            output.deliver(text, target)
        _raise_if_check_failed([report])
        _raise_if_flags_failed(report)

    run_with_big_stack(work)


def _raise_if_check_failed(reports: list[Report]) -> None:
    """After the output is written: a failed --check is exit 3, named on stderr."""
    failed = [
        _("{leaf} (max abs diff {diff:.3g})").format(leaf=leaf.name, diff=leaf.max_abs_diff)
        for report in reports
        if getattr(report, "check", None) is not None
        for leaf in (*report.check.leaves, *report.check.closed_form)
        if not leaf.ok
    ]
    if failed:
        raise CheckFailed(
            _(
                "gradient check failed: {leaves}; tolerance |grad - reference| <= atol + rtol * "
                "|reference| (see the check section)"
            ).format(leaves=", ".join(dict.fromkeys(failed)))
        )


def _raise_if_flags_failed(report: Report) -> None:
    """agrad inspect --fail-on: a raised flag it names is exit 3, after the output."""
    failing = getattr(report, "failing", ())
    if failing:
        parameters = getattr(report, "parameters", ())
        named = [
            f"{flag} ({', '.join(p.name for p in parameters if flag in p.flags)})"
            for flag in failing
        ]
        raise CheckFailed(
            _("--fail-on: gradient health flags raised: {flags}").format(flags="; ".join(named))
        )


def run_sweep(
    command: str, params: dict[str, Any], seeds: tuple[int, ...], options: RunOptions
) -> None:
    """One process, every seed: JSON Lines (one document per seed, each flushed as
    written, identical to a single run's) or one summary table, streamed."""
    params = _on_device(params)
    root = ROOT_NAMES[command]
    seed_width = max(4, *(len(str(seed)) for seed in seeds))
    json_only = _check_capture(options) or options.format == "json"

    def work() -> None:
        # Shapes do not change with the seed: decided once for the whole sweep.
        with one_thread_if_tiny(command, params):
            sweep()

    def sweep() -> None:
        if json_only:
            from autograd_cli.render.emit import write_text
            from autograd_cli.render.json_doc import report_json

            failures = []
            for seed in seeds:
                report = BUILDERS[command]({**params, "seed": seed, "max_nodes": None})
                text = report_json(report)
                if _captured is not None:
                    _captured.append(text)
                else:
                    write_text(text + "\n")
                if report.check is not None and not report.check.ok:
                    failures.append(report)
            _raise_if_check_failed(failures)
            return
        from autograd_cli.render.console import make_console
        from autograd_cli.render.sweep import sweep_header, sweep_row

        console = make_console(options.color)
        failures = []
        for index, seed in enumerate(seeds):
            # The rows need no graph: a one-node cap keeps the walk from collecting facts.
            report = BUILDERS[command]({**params, "seed": seed, "max_nodes": 1})
            if index == 0:
                for line in sweep_header(report, root, seed_width):
                    console.print(line, soft_wrap=True)
            console.print(
                sweep_row(report, root, seed, seed_width, options.precision), soft_wrap=True
            )
            console.file.flush()
            if report.check is not None and not report.check.ok:
                failures.append(report)
        _raise_if_check_failed(failures)

    run_with_big_stack(work)


def _export(report: Report, command: str, options: RunOptions, cap: int) -> None:
    from autograd_cli.render.table import TreeOptions, table_view

    assert options.export is not None
    view = list(table_view(report, options.precision, TreeOptions(cap, options.saved)))
    output.export_view(options.export, view, title=f"agrad {command}")


def _render(
    report: Report, command: str, options: RunOptions, cap: int, target: output.Target
) -> str | None:
    """Machine formats (and anything bound for a file) as text; None: already printed."""
    fmt = "dot" if target.image else options.format
    root = ROOT_NAMES[command]
    if fmt == "json":
        from autograd_cli.render.json_doc import report_json

        return report_json(report)
    if fmt in ("dot", "mermaid"):
        from autograd_cli.render.dot import graph_dot
        from autograd_cli.render.mermaid import graph_mermaid

        draw = graph_dot if fmt == "dot" else graph_mermaid
        return draw(
            report.graph,
            root,
            report.leaf_gradients(),
            saved=options.saved,
            precision=options.precision,
        )

    from autograd_cli.render.console import make_console, print_all, recorded_text
    from autograd_cli.render.table import TreeOptions, table_view

    view = table_view(report, options.precision, TreeOptions(max_nodes=cap, saved=options.saved))
    if target.path is not None:
        return recorded_text(view)
    print_all(make_console(options.color), view)
    return None
