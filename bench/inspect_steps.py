"""What `agrad inspect TARGET --steps 100 --json` costs next to the same training loop
written in plain PyTorch (issue 19, item 6: at most 1.2x).

Both on one intra-op thread (torch.set_num_threads(1); OMP_NUM_THREADS=1 for the
processes), runs interleaved (agrad, plain, agrad, plain, ...) so that a noisy
machine slows both alike; the medians are compared. Times are CPU time (the
process's, or its children's for the commands), not wall-clock: on a shared
machine other work stretches wall-clock time by several times, CPU time much less.

- loop: in one process, the 100 steps only. agrad: its report's JSON Lines made and
  written to /dev/null (engine: zero_grad, forward, backward, the norms, the copy
  for the update ratio, optimizer.step(); each record encoded), after NAME was called
  and step 1's graph walked, as for one backward pass. Plain: zero_grad, forward,
  backward, optimizer.step().
- process: the whole commands, start-up included: `agrad inspect ... --json >
  /dev/null` against `python -c` running NAME and the plain loop.

    python bench/inspect_steps.py                      # examples/mlp.py:build
    python bench/inspect_steps.py --target examples/cnn.py:build --repeats 7
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.2

PLAIN = """
import importlib.util, sys, torch
torch.set_num_threads(1)
path, name, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.manual_seed(0)
spec = importlib.util.spec_from_file_location("plain_user", path)
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
torch.manual_seed(0)
model, inputs, targets, loss_fn, *rest = getattr(module, name)()
opt = rest[0] if rest else torch.optim.SGD(model.parameters(), lr=0.01)
for _ in range(steps):
    opt.zero_grad(set_to_none=True)
    loss_fn(model(inputs), targets).backward()
    opt.step()
"""


def plain_loop(path: str, name: str, steps: int) -> float:
    import importlib.util

    import torch

    torch.manual_seed(0)
    spec = importlib.util.spec_from_file_location("plain_user", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model, inputs, targets, loss_fn, *rest = getattr(module, name)()
    opt = rest[0] if rest else torch.optim.SGD(model.parameters(), lr=0.01)
    start = time.process_time()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(inputs), targets).backward()
        opt.step()
    return time.process_time() - start


def agrad_loop(target: str, steps: int) -> float:
    from autograd_cli.model import WalkRequest
    from autograd_cli.render.formats import Format, Style, render
    from autograd_cli.scenarios import scenario
    from autograd_cli.scenarios.inspect_target import Params
    from autograd_cli.targets import parse_target

    inspect = scenario("inspect")
    params = Params(target=parse_target(target), arguments={}, steps=steps)
    report = inspect.report(params, WalkRequest())
    with open(os.devnull, "w", encoding="utf-8") as sink:
        start = time.process_time()
        for piece in render(report, inspect, Format.JSON, Style()):
            sink.write(piece)
        return time.process_time() - start


def process(command: list[str]) -> float:
    """The CPU seconds (user + system) the command's process took."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="examples/mlp.py:build")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    path, _, name = args.target.rpartition(":")
    path = str(ROOT / path)
    agrad_loop(args.target, args.steps)  # warm both up: first calls pay for imports
    plain_loop(path, name, args.steps)
    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(agrad_loop(args.target, args.steps))
        theirs.append(plain_loop(path, name, args.steps))
    a, p = statistics.median(ours), statistics.median(theirs)
    print(f"torch {torch.__version__}, {args.target}, --steps {args.steps}, one thread")
    print(
        f"loop     agrad {a * 1e3:8.2f} ms   plain {p * 1e3:8.2f} ms   ratio {a / p:.2f}"
        f"   (target <= {TARGET})"
    )
    agrad_cmd = [sys.executable, "-m", "autograd_cli", "inspect", args.target]
    agrad_cmd += ["--steps", str(args.steps), "--json"]
    plain_cmd = [sys.executable, "-c", PLAIN, path, name, str(args.steps)]
    ours, theirs = [], []
    for _ in range(max(args.repeats // 2, 3)):
        ours.append(process(agrad_cmd))
        theirs.append(process(plain_cmd))
    a, p = statistics.median(ours), statistics.median(theirs)
    print(
        f"process  agrad {a * 1e3:8.1f} ms   plain {p * 1e3:8.1f} ms   ratio {a / p:.2f}"
        "   (start-up included)"
    )


if __name__ == "__main__":
    main()
