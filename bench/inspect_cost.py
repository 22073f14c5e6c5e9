"""What `agrad inspect` costs on a model of about one million parameters, against
its floor: a plain Python process that imports torch and runs one forward and one
backward pass of the same model (built the same way, from the same file).

    python bench/inspect_cost.py [--runs N]

Runs interleaved (A, B, A, B, ...) so machine noise hits both alike; prints each
side's median wall time and the ratio of medians. Target (issue 7): <= 1.5, for
the table view, --json, and --format dot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    floor = [sys.executable, "-c", FLOOR]
    target = f"{MODEL}:build"
    ok = True
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
