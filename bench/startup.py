"""Start-up cost of agrad against its floor, measured side by side.

    python bench/startup.py [--runs N]

Pairs, run interleaved (A, B, A, B, ...) so that machine noise hits both alike:
  1. `agrad linear --seed 0 --json`  vs  `python -c "import torch"`   (target <= 1.10)
  2. `agrad --help`                  vs  a minimal Typer app's --help (target <= 0.70)
  3. `agrad --version`               vs  a minimal Typer app's --help (target <= 1.20)
Prints each side's median wall time and the ratio of medians; then the peak memory
(max RSS) of `agrad linear --json` against `import torch` (target <= 1.10).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINIMAL_TYPER_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(f"hello {name}")


@app.command()
def bye() -> None:
    """Say bye."""
    print("bye")


app()
'''


def _agrad() -> list[str]:
    script = Path(sys.executable).with_name("agrad")
    return [str(script)] if script.exists() else [sys.executable, "-m", "autograd_cli"]


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def compare(name: str, ours: list[str], floor: list[str], runs: int, target: float) -> bool:
    _time(ours), _time(floor)  # warm the file cache for both before measuring
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a.append(_time(ours))
        b.append(_time(floor))
    ma, mb = statistics.median(a), statistics.median(b)
    ratio = ma / mb
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(
        f"{name}: {ma * 1000:.0f} ms vs {mb * 1000:.0f} ms  ratio {ratio:.3f}  "
        f"(target <= {target:.2f}, {runs} runs each) {verdict}"
    )
    return ratio <= target


def _peak_rss_kib(cmd: list[str]) -> int:
    """Max RSS of `cmd` alone: measured in a fresh parent, whose only child it is."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
    return int(out.stdout.strip())


def compare_memory(ours: list[str], floor: list[str], runs: int, target: float) -> bool:
    a = statistics.median(_peak_rss_kib(ours) for _ in range(runs))
    b = statistics.median(_peak_rss_kib(floor) for _ in range(runs))
    ratio = a / b
    verdict = "ok" if ratio <= target else "OVER TARGET"
    print(
        f"peak memory, agrad linear --json vs import torch: {a / 1024:.0f} MiB vs "
        f"{b / 1024:.0f} MiB  ratio {ratio:.3f}  (target <= {target:.2f}) {verdict}"
    )
    return ratio <= target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal_app.py"
        minimal.write_text(MINIMAL_TYPER_APP)
        ok = compare(
            "agrad linear --seed 0 --json vs import torch",
            [*_agrad(), "linear", "--seed", "0", "--json"],
            [sys.executable, "-c", "import torch"],
            args.runs,
            1.10,  # issue 2 asked for 1.15; the scripting issue tightened it
        )
        ok &= compare(
            "agrad --help vs minimal Typer --help",
            [*_agrad(), "--help"],
            [sys.executable, str(minimal), "--help"],
            args.runs,
            0.70,  # issue 13: the spine redesign keeps --help this far below Typer's floor
        )
        ok &= compare(
            "agrad --version vs minimal Typer --help",
            [*_agrad(), "--version"],
            [sys.executable, str(minimal), "--help"],
            args.runs,
            1.20,
        )
        ok &= compare_memory(
            [*_agrad(), "linear", "--seed", "0", "--json"],
            [sys.executable, "-c", "import torch"],
            5,
            1.10,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
