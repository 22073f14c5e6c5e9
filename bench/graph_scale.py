"""How agrad's graph walk scales, against the backward pass and torchviz.

    python bench/graph_scale.py [--lengths 1000,10000,100000] [--hidden 4,256] [--reps 3]

For each chain length N (the graph of `agrad chain --length N`: 3N + 4 nodes) and
hidden size H, on the same graph, side by side:
  walk+JSON  agrad's walk (with saved tensors) and its JSON text of the graph
  backward   loss.backward() on that graph
  make_dot   torchviz.make_dot(loss) plus its DOT source (if torchviz is installed;
             up to 10,000 steps, with the recursion limit raised as it needs)
Prints medians and the ratios: walk+JSON / backward (target <= 0.5) and
make_dot / walk+JSON (target >= 10 at 10,000 steps).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from autograd_cli.worker import run_work


def _measure(length: int, hidden: int, reps: int) -> dict[str, float | None]:
    import torch  # noqa: F401  (imported before timing)

    from autograd_cli.inspection.graph import graph_report
    from autograd_cli.scenarios import chain

    walk: list[float] = []
    back: list[float] = []
    dot: list[float] = []
    for _ in range(reps):
        t = chain.build(length, hidden, seed=0)
        start = time.perf_counter()
        graph = graph_report(t.loss, t.named())
        json.dumps(graph.to_dict(), separators=(",", ":"))
        walk.append(time.perf_counter() - start)
        del graph
        if length <= 10_000:
            dot_time = _make_dot_time(t.loss)
            if dot_time is not None:
                dot.append(dot_time)
        start = time.perf_counter()
        t.loss.backward()
        back.append(time.perf_counter() - start)
        del t
    return {
        "walk": statistics.median(walk),
        "backward": statistics.median(back),
        "make_dot": statistics.median(dot) if dot else None,
    }


def _make_dot_time(loss: object) -> float | None:
    try:
        import torchviz
    except ImportError:
        return None
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)  # make_dot recurses once per node
    try:
        start = time.perf_counter()
        _ = torchviz.make_dot(loss).source
        return time.perf_counter() - start
    finally:
        sys.setrecursionlimit(limit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1000,10000,100000")
    parser.add_argument("--hidden", default="4,256")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    hiddens = [int(h) for h in args.hidden.split(",")]

    print(
        f"{'steps':>8} {'H':>4} {'nodes':>8} {'walk+JSON':>10} {'backward':>9} "
        f"{'ratio':>6} {'make_dot':>9} {'speed-up':>8}"
    )
    rows: list[tuple[int, int, dict[str, float | None]]] = []

    def work() -> None:
        for hidden in hiddens:
            for length in lengths:
                m = _measure(length, hidden, args.reps if length < 100_000 else 1)
                rows.append((length, hidden, m))
                walk, back, dot = m["walk"], m["backward"], m["make_dot"]
                assert walk is not None and back is not None
                speedup = f"{dot / walk:8.1f}x" if dot else f"{'-':>9}"
                dot_text = f"{dot:8.3f}s" if dot else f"{'-':>9}"
                print(
                    f"{length:>8,} {hidden:>4} {3 * length + 4:>8,} {walk:9.3f}s "
                    f"{back:8.3f}s {walk / back:6.2f} {dot_text} {speedup}",
                    flush=True,
                )

    run_work(work)  # agrad's own workaround for freeing deep walked graphs
    return 0


if __name__ == "__main__":
    sys.exit(main())
