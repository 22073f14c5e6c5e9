"""What progress costs the work it watches (autograd_cli/progress.py), side by side.

    python bench/progress_tick.py

1. One tick, with no display (a pipe, --quiet, a batch line) and with one open but
   nothing drawn yet (the first second), against an empty function call: both
   targets < 1 us (a tick comes every ~4,096 items).
2. A task's enter and exit, both ways (once per walk, per render, per sweep).
3. A pure-Python loop that ticks every 4,096 items, with a bar drawn 10 times a
   second by the display's thread against none (medians of interleaved runs): the
   cost of drawing, mostly the thread's turns with the GIL (target <= 1.05).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from autograd_cli import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _ns(statement: str, number: int, **names: object) -> float:
    best = min(timeit.repeat(statement, number=number, repeat=5, globals=names))
    return best / number * 1e9


def _loop(tick: progress.Tick, n: int = 3_000_000) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
        if not i & 4095:
            tick(i)
    return time.perf_counter() - started


def main() -> None:
    console = Console(file=_Terminal(), force_terminal=True, width=80)
    empty = _ns("f(4096)", 2_000_000, f=lambda n: None)
    with progress.task(progress.WALKING) as tick:
        off = _ns("tick(4096)", 2_000_000, tick=tick)
    enter_off = _ns("with task('x') as t: pass", 500_000, task=progress.task)
    with progress.installed(progress.Display(lambda: console)):
        with progress.task(progress.WALKING) as tick:
            on = _ns("tick(4096)", 2_000_000, tick=tick)
        enter_on = _ns("with task('x') as t: pass", 200_000, task=progress.task)
    print(f"tick, no display            {off:7.1f} ns   (an empty call: {empty:.1f} ns)")
    print(f"tick, display open, no bar  {on:7.1f} ns")
    print(f"task enter + exit           {enter_off:7.1f} ns without a display, {enter_on:.1f} with")

    bare, drawn = [], []
    for _ in range(7):
        bare.append(_loop(progress._no_tick))
        display = progress.Display(lambda: console)
        display._started -= progress.SHOW_AFTER_S  # past the first second: drawn at once
        with progress.installed(display), progress.task(progress.WALKING) as tick:
            time.sleep(2 * progress.SETTLE_S)
            drawn.append(_loop(tick))
            assert display.showing
    a, b = statistics.median(bare), statistics.median(drawn)
    print(f"hot loop: no display {a * 1e3:.1f} ms, a bar drawn {b * 1e3:.1f} ms: ratio {b / a:.3f}")


if __name__ == "__main__":
    main()
