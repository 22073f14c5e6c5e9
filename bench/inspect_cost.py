"""What `agrad inspect` costs against its floor: a plain Python process that imports
torch and runs one forward and one backward pass of the same model (built the same
way, from the same file).

    python bench/inspect_cost.py [--runs N] [--memory-runs M] [--skip-memory | --memory-only]

Time, on model_1m.py (about one million parameters): runs interleaved (A, B, A, B,
...) so machine noise hits both alike; prints each side's median wall time and the
ratio of medians. Target (issue 7): <= 1.5, for the table view, --json, and
--format dot.

Memory, on model_100m.py (96M parameters, shaped like GPT-2 small): the peak RSS of
each process (os.wait4's ru_maxrss; this parent never imports torch, so its own peak,
which Linux counts in a spawned child's, stays far below), in rotating order, M runs
each; prints the medians and their ratio. Target (issue 19 item 5): <= 1.2, for
--json and the table view.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import rotated_costs
from startup import _agrad, compare

MODEL = Path(__file__).resolve().parent / "model_1m.py"
FLOOR = f"""
import sys
import torch
sys.path.insert(0, {str(MODEL.parent)!r})
import model_1m
torch.manual_seed(0)
model, inputs, labels, loss_fn = model_1m.build()
print(sum(p.numel() for p in model.parameters()))
loss_fn(model(inputs), labels).backward()
"""
TARGET = 1.5

BIG_MODEL = MODEL.with_name("model_100m.py")
BIG_FLOOR = FLOOR.replace("model_1m", BIG_MODEL.stem)
MEMORY_TARGET = 1.2


def compare_memory(runs: int) -> bool:
    """Peak RSS of agrad inspect (--json, table) against the floor, on model_100m.py."""
    assert "torch" not in sys.modules, "a parent holding torch would be counted in its children"
    target = f"{BIG_MODEL}:build"
    commands = {
        "floor": [sys.executable, "-c", BIG_FLOOR],
        "--json": [*_agrad(), "inspect", target, "--json"],
        "table": [*_agrad(), "inspect", target],
    }
    costs = rotated_costs(commands, runs)
    wall = {name: cost[0] for name, cost in costs.items()}
    peak = {name: cost[1] for name, cost in costs.items()}
    ok = True
    for name in ("--json", "table"):
        ratio = peak[name] / peak["floor"]
        verdict = "ok" if ratio <= MEMORY_TARGET else "OVER TARGET"
        print(
            f"peak memory, agrad inspect {BIG_MODEL.name}:build {name} vs torch import + "
            f"forward + backward: {peak[name]:,.0f} MiB vs {peak['floor']:,.0f} MiB  ratio "
            f"{ratio:.3f}  (target <= {MEMORY_TARGET:.2f}, median of {runs} runs each; wall "
            f"{wall[name]:.1f} s vs {wall['floor']:.1f} s) {verdict}"
        )
        ok &= ratio <= MEMORY_TARGET
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed runs of each side")
    parser.add_argument("--memory-runs", type=int, default=3, help="runs of each, memory part")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--skip-memory", action="store_true", help="the time comparison only")
    part.add_argument("--memory-only", action="store_true", help="the memory comparison only")
    args = parser.parse_args()
    ok = True
    if not args.skip_memory:
        ok &= compare_memory(args.memory_runs)
    if args.memory_only:
        return 0 if ok else 1
    floor = [sys.executable, "-c", FLOOR]
    target = f"{MODEL}:build"
    for label, extra in (("table", []), ("--json", ["--json"]), ("--format dot", ["-f", "dot"])):
        ok &= compare(
            f"agrad inspect model_1m.py:build {label} vs torch import + forward + backward",
            [*_agrad(), "inspect", target, *extra],
            floor,
            args.runs,
            TARGET,
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
