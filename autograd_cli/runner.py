"""Runs a scenario: builds its report on the work thread, renders it, hands the
result to the plan's sink, and returns the command's Result (exit status).

Imported only after the command line parsed, so torch is loaded only for real work.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Any

from autograd_cli import progress
from autograd_cli.errors import ExitCode
from autograd_cli.i18n import _
from autograd_cli.model import Report, WalkRequest
from autograd_cli.render.formats import Format, render, table
from autograd_cli.render.output import (
    Image,
    Memory,
    OutputPlan,
    Stdout,
    TextFile,
    export_view,
    whole,
    writes_guarded,
)
from autograd_cli.result import Result
from autograd_cli.scenarios import Scenario
from autograd_cli.threads import one_thread_if_tiny
from autograd_cli.worker import run_work


def run_scenario(scenario: Scenario, params: Any, plan: OutputPlan) -> Result:
    # A batch line is one of many in one process: a tiny one gets one thread
    # (threads.py). A run on its own keeps torch's threads.
    numel = scenario.largest_numel(params) if isinstance(plan.sink, Memory) else None
    to_terminal = output_on_terminal(plan)

    def work() -> Result:
        with one_thread_if_tiny(numel):
            report = build_report(scenario, params, plan.walk)
            rendered = render(report, scenario, plan.format, plan.style)
            if isinstance(plan.sink, Image):  # refused before the --export file is written
                rendered = whole(rendered)
                plan.sink.check_size(rendered)
            if plan.export is not None:
                title = f"agrad {report.command}"
                export_view(plan.export, table(report, scenario, plan.style), title)
            # Text is made while the sink writes it: inside, for the same threads.
            with progress.hidden(to_terminal):  # a bar and the output would interleave
                plan.sink.deliver(rendered, plan.color)
        return verdict([report])

    # An interrupt leaves no temporary file, no `dot` child, and no bar on the screen.
    with writes_guarded(plan), progress.shown(plan.progress, plan.color):
        return run_work(work)


def build_report(scenario: Scenario, params: Any, walk: WalkRequest) -> Report:
    """The one call of a scenario's builder (tests wrap it to watch or break it)."""
    return scenario.report(params, walk)


def run_sweep(scenario: Scenario, params: Any, seeds: tuple[int, ...], plan: OutputPlan) -> Result:
    """One process, every seed: JSON Lines (one document per seed, each flushed as
    written, identical to a single run's) or one summary table, streamed."""
    failures: list[Report] = []

    def reports(walk: WalkRequest, tick: Callable[[int], None]) -> Iterator[tuple[int, Report]]:
        for done, seed in enumerate(seeds, 1):
            report = build_report(scenario, dataclasses.replace(params, seed=seed), walk)
            if report.check is not None and not report.check.ok:
                failures.append(report)
            tick(done)
            yield seed, report

    def work() -> Result:
        # Shapes do not change with the seed: decided once for the whole sweep.
        with (
            one_thread_if_tiny(scenario.largest_numel(params)),
            # Each seed's output is written as it comes: on the terminal, no bar at all.
            progress.hidden(output_on_terminal(plan)),
            progress.task(_(progress.SWEEPING), total=len(seeds), unit="seeds") as tick,
        ):
            if plan.format is Format.JSON:
                for _seed, report in reports(plan.walk, tick):
                    plan.sink.deliver(render(report, scenario, Format.JSON, plan.style), plan.color)
            else:
                assert isinstance(plan.sink, Stdout)
                # The rows need no graph: a one-node cap keeps the walk from collecting facts.
                walk = WalkRequest(max_nodes=1)
                rows = _sweep_rows(reports(walk, tick), scenario.root, seeds, plan)
                plan.sink.stream(rows, plan.color)
        return verdict(failures)

    with progress.shown(plan.progress, plan.color):
        return run_work(work)


def output_on_terminal(plan: OutputPlan) -> bool:
    """The output goes to a terminal: stdout is one, or --output names the terminal
    stderr is on (/dev/tty). No bar is shown while it is written."""
    if isinstance(plan.sink, Stdout):
        isatty = getattr(sys.stdout, "isatty", None)
        try:
            return bool(isatty and isatty())
        except (OSError, ValueError):  # closed: nothing will be written there
            return False
    if isinstance(plan.sink, TextFile):
        try:
            target, terminal = os.stat(plan.sink.path), os.fstat(2)
        except (OSError, ValueError):
            return False
        return stat.S_ISCHR(target.st_mode) and target.st_rdev == terminal.st_rdev
    return False


def _sweep_rows(
    reports: Iterator[tuple[int, Report]], root: str, seeds: tuple[int, ...], plan: OutputPlan
) -> Iterator[Any]:
    from autograd_cli.render.sweep import sweep_header, sweep_row

    width = max(4, *(len(str(seed)) for seed in seeds))
    for index, (seed, report) in enumerate(reports):
        if index == 0:
            yield from sweep_header(report, root, width)
        yield sweep_row(report, root, seed, width, plan.style.precision)


def verdict(reports: list[Report]) -> Result:
    """Exit 3, and why, for a failed --check or a raised --fail-on flag; else 0."""
    failed = [
        _("{leaf} (max abs diff {diff:.3g})").format(leaf=leaf.name, diff=leaf.max_abs_diff)
        for report in reports
        if getattr(report, "check", None) is not None
        for leaf in (*report.check.leaves, *report.check.closed_form)
        if not leaf.ok
    ]
    if failed:
        return Result(
            ExitCode.CHECK_FAILED,
            _(
                "gradient check failed: {leaves}; tolerance |grad - reference| <= atol + rtol * "
                "|reference| (see the check section)"
            ).format(leaves=", ".join(dict.fromkeys(failed))),
        )
    for report in reports:  # agrad gradcheck
        failure = report.failure()
        if failure:
            return Result(ExitCode.CHECK_FAILED, failure)
    for report in reports:  # agrad inspect --fail-on
        failing = getattr(report, "failing", ())
        if failing:
            parameters = getattr(report, "parameters", ())
            named = [
                f"{flag} ({', '.join(p.name for p in parameters if flag in p.flags)})"
                for flag in failing
            ]
            return Result(
                ExitCode.CHECK_FAILED,
                _("--fail-on: gradient health flags raised: {flags}").format(
                    flags="; ".join(named)
                ),
            )
    return Result()
