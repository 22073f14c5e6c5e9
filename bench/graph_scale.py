"""How agrad's graph walk and JSON scale, against the Python floor, torchviz and backward.

    python bench/graph_scale.py [--lengths 1000,10000,100000] [--hidden 4,256]
                                [--reps 7] [--skip-command] [--profile]

Part 1 (and 2, for H=256): for each chain length N and hidden size H, the graph of
`agrad chain --length N --hidden H` (chain.build, seed 0: 3N + 4 nodes) is built once
per repetition, and on that same graph, in microseconds per node:

  floor     a bare Python walk over `next_functions` (explicit stack, a dict
            grad_fn -> int id, a list of (source, target) id pairs): what any Python
            tool must pay to see the graph
  agrad     graph_report(loss, names) and the text of graph_chunks(graph, False):
            the walk and JSON of `agrad chain --json`
  --saved   the same with saved=True (what each node saved for backward, read and
            written)
  make_dot  torchviz.make_dot(loss).source, the recursion limit raised (it recurses
            once per node); skipped with a note when torchviz is not installed
            (pip install -e '.[bench]')
  backward  loss.backward(), last, since it frees the saved tensors

Fairness: the first walk of a freshly built graph is slower than the next ones (the
floor at 100,000 steps: ~0.9 against ~0.67 µs a node; the later walks likely reuse the
memory the first one took from the OS and freed). So each graph gets one untimed floor
walk first, and the order of floor, agrad, --saved and make_dot rotates from one
repetition to the next, so that none always comes first or always follows make_dot's
large allocations. Below 10,000 steps, more repetitions (10x at 1,000 steps).
The µs are medians over the repetitions; each ratio is the median of the repetitions'
own ratios (both sides timed on the same graph, moments apart, so load from other
processes on a shared machine mostly cancels out).

Everything runs with torch.set_num_threads(1): the issue asks it for H=256, where a
multi-threaded backward varies 30x between runs on a 2-core machine; at H=4 the matrix
products are too small to be split anyway. Deep walked graphs are freed on agrad's
worker thread (run_work: 1 GiB stack), as agrad itself does, and make_dot runs there too.

Targets (issue 15): agrad <= 3.5x the floor and >= 6x faster than make_dot; --saved
<= 12x the floor and >= 2x faster than make_dot. agrad / backward is shown, no target.

Part 3 (--skip-command skips it): the whole command, each run a separate process, in
rotating order: `python -m autograd_cli chain --length 100000 --json > /dev/null`,
the same with --saved, and a plain Python script that runs the statements of
chain.statements() (the same graph, seed 0) and loss.backward(). Wall time and peak
RSS (os.wait4's ru_maxrss) of each child; medians. It runs first, before this process
imports torch: Linux counts the parent's peak RSS (at the spawn) in the child's
ru_maxrss, so a parent that already holds torch and a 100,000-step graph would
hide the children's figures under its own. Targets: agrad / script <= 1.6 in
peak memory and <= 1.4 in wall time; with --saved, <= 2.0 in both.

--profile: cProfile of the agrad path (walk + JSON) once, at the largest length and
first hidden size, the costliest functions by their own time.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import platform
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from processes import rotated_costs  # bench/, the script's own folder

from autograd_cli.model import WalkRequest
from autograd_cli.scenarios import chain
from autograd_cli.worker import run_work

# (limit, True when the ratio must be at most the limit)
Target = tuple[float, bool]
WALK_TARGETS: dict[str, Target] = {
    "agrad / floor": (3.5, True),
    "make_dot / agrad": (6.0, False),
    "--saved / floor": (12.0, True),
    "make_dot / --saved": (2.0, False),
}
COMMAND_TARGETS: dict[str, tuple[Target, Target]] = {  # (wall, peak RSS) ÷ the script's
    "agrad --json": ((1.4, True), (1.6, True)),
    "agrad --json --saved": ((2.0, True), (2.0, True)),
}
# Shorter chains get proportionally more repetitions. (Not repeated calls on one graph:
# walking the same small graph again and again keeps it in the CPU caches, which
# speeds the floor up ~1.7x at 1,000 steps and agrad much less; agrad walks a graph once.)
MORE_REPS_BELOW = 10_000
DEEP_RECURSION = 10_000_000  # make_dot recurses once per node; the worker's stack holds it


# The four ways to see a graph -------------------------------------------------------


def floor_walk(root_fn: Any) -> tuple[dict[Any, int], list[tuple[int, int]]]:
    """Ids in discovery order and every edge as a pair of ids: the least any walk does."""
    ids: dict[Any, int] = {root_fn: 0}
    edges: list[tuple[int, int]] = []
    stack = [root_fn]
    while stack:
        fn = stack.pop()
        source = ids[fn]
        for target_fn, _ in fn.next_functions:
            if target_fn is None:
                continue
            target = ids.get(target_fn)
            if target is None:
                target = ids[target_fn] = len(ids)
                stack.append(target_fn)
            edges.append((source, target))
    return ids, edges


def agrad_text(loss: Any, names: dict[str, Any], saved: bool) -> int:
    """agrad's walk and the graph's JSON text, as `agrad chain --json` writes it; the
    text's length (the pieces go to a null sink, as to stdout, never joined whole)."""
    from autograd_cli.inspection.graph import graph_report
    from autograd_cli.render.json_doc import graph_chunks

    graph = graph_report(loss, names, WalkRequest(saved=saved))
    return sum(map(len, graph_chunks(graph, saved)))


def make_dot_text(loss: Any) -> int:
    import torchviz

    return len(torchviz.make_dot(loss).source)


def has_torchviz() -> bool:
    try:
        import torchviz  # noqa: F401
    except ImportError:
        return False
    return True


# Part 1 and 2: one process, the same graph ------------------------------------------


def nodes_of(length: int) -> int:
    return 3 * length + 4  # Mm, Add, Tanh per step; Sum and three AccumulateGrad


def walkers(t: Any, with_dot: bool) -> dict[str, Callable[[], object]]:
    names = t.named()
    ways: dict[str, Callable[[], object]] = {
        "floor": lambda: floor_walk(t.loss.grad_fn),
        "agrad": lambda: agrad_text(t.loss, names, saved=False),
        "--saved": lambda: agrad_text(t.loss, names, saved=True),
    }
    if with_dot:
        ways["make_dot"] = lambda: make_dot_text(t.loss)
    return ways


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - start
    del result  # freed outside the timing, like the graph itself
    return elapsed


def check_outputs(t: Any, length: int) -> None:
    """Untimed, once per size: agrad's JSON parses and counts what the floor found."""
    from autograd_cli.inspection.graph import graph_report
    from autograd_cli.render.json_doc import graph_chunks

    ids, edges = floor_walk(t.loss.grad_fn)
    for saved in (False, True):
        doc = json.loads(
            "".join(graph_chunks(graph_report(t.loss, t.named(), WalkRequest(saved=saved)), saved))
        )
        assert doc["node_count"] == len(ids) == len(doc["nodes"]) == nodes_of(length), doc["root"]
        assert doc["edge_count"] == len(edges) == len(doc["edges"])
        assert ("saved_tensors" in doc["nodes"][0]) == saved


def measure(length: int, hidden: int, reps: int, with_dot: bool) -> dict[str, list[float]]:
    """Seconds of each way, and of backward, per repetition. Below 10,000 steps, more
    repetitions (10x at 1,000): a timing of a few milliseconds is noisier."""
    times: dict[str, list[float]] = {}
    for rep in range(reps * max(1, MORE_REPS_BELOW // length)):
        t = chain.build(length, hidden, seed=0)
        if rep == 0:
            check_outputs(t, length)
        floor_walk(t.loss.grad_fn)  # untimed: the first walk of a new graph (docstring)
        ways = list(walkers(t, with_dot).items())
        shift = rep % len(ways)
        for name, call in ways[shift:] + ways[:shift]:
            times.setdefault(name, []).append(timed(call))
        times.setdefault("backward", []).append(timed(t.loss.backward))
        del t, ways
    return times


def per_node_us(times: dict[str, list[float]], length: int) -> dict[str, float]:
    return {name: statistics.median(ts) / nodes_of(length) * 1e6 for name, ts in times.items()}


RATIOS = [  # (column, numerator, denominator)
    ("agrad / floor", "agrad", "floor"),
    ("make_dot / agrad", "make_dot", "agrad"),
    ("agrad / backward", "agrad", "backward"),
    ("--saved / floor", "--saved", "floor"),
    ("make_dot / --saved", "make_dot", "--saved"),
]


def walk_ratios(times: dict[str, list[float]]) -> dict[str, float | None]:
    """Median over the repetitions of each repetition's ratio: both sides timed on the
    same graph, moments apart, so a load that comes and goes on a shared machine
    mostly cancels out."""
    return {
        column: statistics.median(a / b for a, b in zip(times[top], times[bottom], strict=True))
        if top in times
        else None
        for column, top, bottom in RATIOS
    }


def verdict(ratio: float, target: Target) -> str:
    limit, at_most = target
    met = ratio <= limit if at_most else ratio >= limit
    return "PASS" if met else "MISS"


def ratio_cell(name: str, ratio: float | None) -> str:
    if ratio is None:
        return "—"
    target = WALK_TARGETS.get(name)
    return f"{ratio:.2f}" if target is None else f"{ratio:.2f} {verdict(ratio, target)}"


def target_text(target: Target) -> str:
    limit, at_most = target
    return f"{'≤' if at_most else '≥'} {limit:g}"


Row = tuple[int, int, dict[str, list[float]]]  # steps, H, seconds per repetition


def print_walk_tables(rows: list[Row], with_dot: bool) -> None:
    columns = ["floor", "agrad", "--saved", "make_dot", "backward"]
    print("\nµs per node (medians)\n")
    print("| steps | H | nodes | " + " | ".join(columns) + " |")
    print("|---:|---:|---:|" + "---:|" * len(columns))
    for length, hidden, times in rows:
        us = per_node_us(times, length)
        cells = [f"{us[c]:.2f}" if c in us else "—" for c in columns]
        print(f"| {length:,} | {hidden} | {nodes_of(length):,} | " + " | ".join(cells) + " |")

    heads = [
        f"{name} ({target_text(WALK_TARGETS[name])})" if name in WALK_TARGETS else name
        for name, _, _ in RATIOS
    ]
    print("\nratios (median of each repetition's ratio), against issue 15's targets\n")
    print("| steps | H | " + " | ".join(heads) + " |")
    print("|---:|---:|" + "---|" * len(heads))
    for length, hidden, times in rows:
        cells = [ratio_cell(n, r) for n, r in walk_ratios(times).items()]
        print(f"| {length:,} | {hidden} | " + " | ".join(cells) + " |")
    if not with_dot:
        print("\n(make_dot: torchviz is not installed; pip install -e '.[bench]')")


# Part 3: the whole command, in real processes ---------------------------------------


def plain_script(length: int, hidden: int) -> str:
    """What a user would write for the same graph: chain's own statements, then backward."""
    body = "\n".join(chain.statements(length, hidden))
    return f"import torch\nseed = 0\n{body}\nloss.backward()\n"


def own_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_command(length: int, reps: int) -> dict[str, tuple[float, float]]:
    """Medians of wall time and peak RSS per run. Called before this process imports
    torch: a child's ru_maxrss starts from its parent's peak (posix_spawn execs from
    the parent's memory; a fork copies it), so the parent must stay smaller than any
    child to not be counted in them."""
    assert "torch" not in sys.modules, "part 3 must run before torch is imported"
    print(f"  part 3: this process's peak RSS {own_peak_mib():.0f} MiB", file=sys.stderr)
    agrad = [sys.executable, "-m", "autograd_cli", "chain", "--length", str(length), "--json"]
    runs = {
        "plain script": [sys.executable, "-c", plain_script(length, 4)],
        "agrad --json": agrad,
        "agrad --json --saved": [*agrad, "--saved"],
    }
    return rotated_costs(
        runs,
        reps,
        lambda rep: print(f"  part 3: repetition {rep + 1} of {reps}", file=sys.stderr, flush=True),
    )


def print_command_table(length: int, reps: int, cost: dict[str, tuple[float, float]]) -> None:
    print(f"\nthe whole command, chain --length {length:,} (H=4), medians of {reps} processes\n")
    print("| run | wall | peak RSS | wall ÷ script | peak RSS ÷ script |")
    print("|---|---:|---:|---|---|")
    script_wall, script_rss = cost["plain script"]
    for name, (wall, rss) in cost.items():
        cells = ["—", "—"]
        if name in COMMAND_TARGETS:
            cells = [
                f"{ratio:.2f} (target {target_text(target)}) {verdict(ratio, target)}"
                for ratio, target in zip(
                    (wall / script_wall, rss / script_rss), COMMAND_TARGETS[name], strict=True
                )
            ]
        print(f"| {name} | {wall:.2f} s | {rss:,.0f} MiB | " + " | ".join(cells) + " |")


# --profile ---------------------------------------------------------------------------


def profile_agrad(length: int, hidden: int) -> None:
    t = chain.build(length, hidden, seed=0)
    names = t.named()
    floor_walk(t.loss.grad_fn)  # as in the timings: not the graph's first walk
    profiler = cProfile.Profile()  # profiles this (the worker) thread
    profiler.enable()
    agrad_text(t.loss, names, saved=False)
    profiler.disable()
    print(f"\ncProfile, agrad walk + JSON, {length:,} steps, H={hidden} (by own time)\n")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    del t


# ------------------------------------------------------------------------------------


def header() -> None:
    import torch

    torchviz = "torchviz not installed"
    if has_torchviz():
        from importlib.metadata import version

        torchviz = f"torchviz {version('torchviz')}"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"{now}; Python {platform.python_version()}, torch {torch.__version__}, {torchviz}; "
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1000,10000,100000", help="chain lengths, steps")
    parser.add_argument("--hidden", default="4,256", help="hidden sizes")
    parser.add_argument("--reps", type=int, default=7, help="repetitions (graphs, processes)")
    parser.add_argument("--skip-command", action="store_true", help="skip part 3")
    parser.add_argument("--command-length", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the agrad path")
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    hiddens = [int(h) for h in args.hidden.split(",")]

    # Part 3 first, while this process is small (docstring): torch comes after.
    cost = None if args.skip_command else measure_command(args.command_length, args.reps)

    import torch

    torch.set_num_threads(1)
    header()
    with_dot = has_torchviz()
    rows: list[Row] = []

    def work() -> None:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(DEEP_RECURSION)
        try:
            for hidden in hiddens:
                for length in lengths:
                    rows.append((length, hidden, measure(length, hidden, args.reps, with_dot)))
                    print(f"  measured {length:,} steps, H={hidden}", file=sys.stderr, flush=True)
        finally:
            sys.setrecursionlimit(limit)

    run_work(work)  # agrad's own workaround for freeing deep walked graphs
    print(f"\n{args.reps} repetitions, interleaved; torch.set_num_threads(1)")
    print_walk_tables(rows, with_dot)
    if cost is not None:
        print_command_table(args.command_length, args.reps, cost)
    if args.profile:
        run_work(lambda: profile_agrad(max(lengths), hiddens[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
