"""What one child process costs, for the benchmarks that compare whole commands."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def child_cost(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process, its stdout to /dev/null."""
    start = time.perf_counter()
    pid = os.posix_spawn(
        argv[0],
        argv,
        os.environ,
        file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
    )
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{argv[1:4]}... exited with {code}")
    return wall, usage.ru_maxrss / 1024  # KiB on Linux


def rotated_costs(
    commands: dict[str, list[str]],
    runs: int,
    after_run: Callable[[int], None] = lambda run: None,
) -> dict[str, tuple[float, float]]:
    """Median wall seconds and peak RSS (MiB) of each command, run `runs` times, their
    order rotated each time so that a noisy machine slows them alike."""
    costs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    order = list(commands)
    for run in range(runs):
        shift = run % len(order)
        for name in order[shift:] + order[:shift]:
            costs[name].append(child_cost(commands[name]))
        after_run(run)
    return {
        name: (
            statistics.median(wall for wall, _ in pairs),
            statistics.median(rss for _, rss in pairs),
        )
        for name, pairs in costs.items()
    }
