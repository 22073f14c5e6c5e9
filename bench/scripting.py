"""What scripting costs: 1,000 runs in one process against one run, and against a
shell loop of single calls.

    python bench/scripting.py [--runs 5]

Measured side by side, interleaved, medians of --runs:
  single   agrad linear --seed 0 --json
  sweep    agrad linear --seed 0..999 --json          (target <= 1.5 x single)
  batch    agrad batch FILE, 1,000 lines `linear --seed N`   (target <= 1.5 x single)
  loop     20 single calls one after another, extrapolated to 1,000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from startup import _agrad  # same directory: how to call agrad from this venv


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    agrad = _agrad()
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "lines.txt"
        lines.write_text("".join(f"linear --seed {n}\n" for n in range(1000)))
        commands = {
            "single": [*agrad, "linear", "--seed", "0", "--json"],
            "sweep": [*agrad, "linear", "--seed", "0..999", "--json"],
            "batch": [*agrad, "batch", str(lines)],
        }
        for cmd in commands.values():
            _time(cmd)  # warm the file cache
        times: dict[str, list[float]] = {name: [] for name in commands}
        loop: list[float] = []
        for _ in range(args.runs):
            for name, cmd in commands.items():
                times[name].append(_time(cmd))
            loop.append(sum(_time(commands["single"]) for _ in range(20)) * 50)
    median = {name: statistics.median(values) for name, values in times.items()}
    single = median["single"]
    print(f"single one run             {single:8.2f} s")
    for name in ("sweep", "batch"):
        ratio = median[name] / single
        verdict = "ok" if ratio <= 1.5 else "OVER TARGET"
        print(
            f"{name:<6} 1,000 in one process {median[name]:8.2f} s  {ratio:5.2f} x single "
            f"(target <= 1.5) {verdict}"
        )
    shell = statistics.median(loop)
    print(
        f"loop   1,000 single calls  {shell:8.2f} s  (20 timed, x50)  "
        f"{shell / median['sweep']:5.0f} x the sweep"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
