"""Start-up cost of agrad against its floor, measured side by side.

    python bench/startup.py [--runs N]

Pairs, run interleaved (A, B, A, B, ...) so that machine noise hits both alike:
  1. `agrad linear --seed 0 --json`  vs  `python -c "import torch"`   (target <= 1.15)
  2. `agrad --help`                  vs  a minimal Typer app's --help (target <= 1.20)
Prints each side's median wall time and the ratio of medians.
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
            1.15,
        )
        ok &= compare(
            "agrad --help vs minimal Typer --help",
            [*_agrad(), "--help"],
            [sys.executable, str(minimal), "--help"],
            args.runs,
            1.20,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
