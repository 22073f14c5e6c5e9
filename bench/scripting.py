"""What scripting costs: 1,000 runs in one process against one run, on an idle machine
and beside CPU-bound processes, and against a shell loop of single calls.

    cd bench && python scripting.py [--runs 5] [--hogs 2] [--no-loop]

Each round times, one after another, first idle, then beside --hogs busy-loop
processes that this script starts for that half and always stops (on Ctrl-C and
errors too; they also end by themselves when this script dies):
  single   agrad linear --seed 0 --json
  sweep    agrad linear --seed 0..999 --json                  (target <= 1.5 x single idle,
  batch    agrad batch FILE, 1,000 lines `linear --seed N`     <= 2 x single beside the hogs)
  inspect  agrad batch FILE, one line `inspect model_1m.py:build`, against
           agrad inspect model_1m.py:build --json alone (a big batch line keeps its threads)
  loop     20 single calls one after another, extrapolated to 1,000 (idle only)
Printed: medians of --runs, the ratio of the medians and, in brackets, the lowest and
highest of the rounds' own ratios.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from startup import _agrad  # same directory: how to call agrad from this venv

TARGETS = {"idle": 1.5, "load": 2.0}

# Spins until its parent is gone: a hog cannot outlive this script, even a killed one.
HOG = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(1_000_000):
        pass
"""


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


@contextmanager
def cpu_hogs(count: int) -> Iterator[None]:
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            hogs.append(subprocess.Popen([sys.executable, "-c", HOG]))
        time.sleep(0.2)  # let them reach their loop
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def _cpu_seconds() -> tuple[float, float] | None:
    """CPU time used on the whole machine (Linux's /proc/stat) and by this script's
    finished children, in seconds."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
    except OSError:
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    children = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), children.children_user + children.children_system


@contextmanager
def others_cores(record: list[float]) -> Iterator[None]:
    """Appends how many cores other processes kept busy meanwhile (on average)."""
    start, wall = _cpu_seconds(), time.perf_counter()
    yield
    end = _cpu_seconds()
    if start is not None and end is not None:
        used = (end[0] - start[0]) - (end[1] - start[1])
        record.append(used / (time.perf_counter() - wall))


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through cpu_hogs' finally


def _ratio(times: dict[str, list[float]], name: str) -> tuple[float, float, float]:
    """Ratio of the medians to single's, and the lowest and highest per-round ratio."""
    rounds = [t / s for t, s in zip(times[name], times["single"], strict=True)]
    return statistics.median(times[name]) / statistics.median(times["single"]), *(
        min(rounds),
        max(rounds),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hogs", type=int, default=2, help="busy-loop processes (default 2)")
    parser.add_argument("--no-loop", action="store_true", help="skip the shell loop")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    agrad = _agrad()
    model = str(Path(__file__).with_name("model_1m.py"))
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "lines.txt"
        lines.write_text("".join(f"linear --seed {n}\n" for n in range(1000)))
        big_line = Path(tmp) / "inspect.txt"
        big_line.write_text(f"inspect {model}:build\n")
        commands = {
            "single": [*agrad, "linear", "--seed", "0", "--json"],
            "sweep": [*agrad, "linear", "--seed", "0..999", "--json"],
            "batch": [*agrad, "batch", str(lines)],
            "inspect alone": [*agrad, "inspect", f"{model}:build", "--json"],
            "inspect in batch": [*agrad, "batch", str(big_line)],
        }
        for cmd in commands.values():
            _time(cmd)  # warm the file cache
        times = {load: {name: [] for name in commands} for load in TARGETS}
        loop: list[float] = []
        busy: dict[str, list[float]] = {load: [] for load in TARGETS}
        for number in range(1, args.runs + 1):
            for load in TARGETS:
                with cpu_hogs(args.hogs if load == "load" else 0), others_cores(busy[load]):
                    for name, cmd in commands.items():
                        times[load][name].append(_time(cmd))
            if not args.no_loop:
                loop.append(sum(_time(commands["single"]) for _ in range(20)) * 50)
            print(f"round {number}/{args.runs} done", file=sys.stderr)
    _report(times, loop, args.hogs, args.runs, busy)
    return 0


def _report(
    times: dict[str, dict[str, list[float]]],
    loop: list[float],
    hogs: int,
    runs: int,
    busy: dict[str, list[float]],
) -> None:
    median = {load: {k: statistics.median(v) for k, v in t.items()} for load, t in times.items()}
    print(f"medians of {runs} runs; x: against single, [lowest-highest] of the rounds' own x")
    if busy["idle"]:
        print(
            "cores busy with other processes (median): "
            f"{statistics.median(busy['idle']):.2f} idle, {statistics.median(busy['load']):.2f} "
            "with the hogs"
        )
    print(f"{'':26}{'idle':<40}beside {hogs} busy processes")
    idle, busy = median["idle"]["single"], median["load"]["single"]
    print(f"{'single  one run':26}{idle:6.2f} s{'':32}{busy:6.2f} s  {busy / idle:5.2f} x idle")
    for name, label in (("sweep", "sweep   --seed 0..999"), ("batch", "batch   1,000 lines")):
        cells = []
        for load, target in TARGETS.items():
            ratio, low, high = _ratio(times[load], name)
            verdict = f"ok (<= {target:g})" if ratio <= target else f"OVER {target:g}"
            cell = f"{median[load][name]:6.2f} s  {ratio:5.2f} x [{low:.2f}-{high:.2f}] {verdict}"
            cells.append(f"{cell:<40}")
        print(f"{label:26}" + "".join(cells))
    cells = []
    for load in TARGETS:
        ratio = median[load]["inspect in batch"] / median[load]["inspect alone"]
        cells.append(f"{median[load]['inspect in batch']:6.2f} s  {ratio:5.2f} x alone{'':20}")
    print(f"{'inspect model_1m, batch':26}" + "".join(cells))
    if loop:
        shell = statistics.median(loop)
        print(
            f"{'loop    1,000 single calls':26}{shell:6.0f} s  "
            f"{shell / median['idle']['sweep']:5.0f} x the sweep (20 timed, x 50)"
        )


if __name__ == "__main__":
    sys.exit(main())
