"""What one child process costs, for the benchmarks that compare whole commands."""

from __future__ import annotations

import os
import time


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
