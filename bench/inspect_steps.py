"""What `agrad inspect TARGET --steps 100 --json` costs next to the same training loop
written in plain PyTorch (issue 19, item 6: at most 1.2x), for the examples and a
1M-parameter model.

Two loops in plain PyTorch:

- bare: zero_grad, forward, backward, optimizer.step(), recording nothing. The target
  (1.2x) is held to it: what agrad's recording costs over the training itself.
- by hand: the same loop recording what agrad records (the loss; per parameter
  ‖.grad‖, ‖p_after - p_before‖ / ‖p_before‖ from a copy taken before
  optimizer.step(), NaN and inf counts) and writing a JSON line a step, as a careful
  user writes it with public torch calls: copies into buffers kept between steps, one
  stack and one tolist() a step, float32 norms (agrad's are float64-exact), NaN and
  inf counted only where a norm is not finite, the same steps recorded as agrad's
  (--every). For comparison: what recording costs anyone.

All on one intra-op thread (torch.set_num_threads(1); OMP_NUM_THREADS=1 for the
processes), runs interleaved (agrad, by hand, bare, agrad, ...) so that a noisy
machine slows them alike; the medians are compared. Times are CPU time (the
process's, or its children's for the commands), not wall-clock: on a shared
machine other work stretches wall-clock time by several times, CPU time much less.

- loop: in one process, the 100 steps only. agrad: its report's JSON Lines made and
  written to /dev/null (engine: zero_grad, forward, backward, the copies for the norms
  and the update ratio, optimizer.step(), the norms' maths a batch of steps at a time;
  each record encoded; the summary), after NAME was called and step 1's graph walked,
  as for one backward pass. The plain loops make their first forward before the clock
  too; the one by hand writes its lines to /dev/null.
- the whole commands (--process): `agrad inspect ... --json > /dev/null` against
  `python -c` running NAME and the bare loop, start-up included.

    python bench/inspect_steps.py                      # the five of TARGETS
    python bench/inspect_steps.py --target examples/cnn.py:build --repeats 9 --process
    python bench/inspect_steps.py --target bench/model_1m.py:build --every 10
    python bench/inspect_steps.py --target bench/model_1m.py:build --passes
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.2

# The whole plain command: this file's plain_loop() in a process of its own (import
# torch, NAME's file, the steps), one thread (process() sets OMP_NUM_THREADS=1).
PLAIN = """
import sys
sys.path.insert(0, sys.argv[4])
from inspect_steps import plain_loop
plain_loop(sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


def _built(path: str, name: str) -> tuple[Any, ...]:
    """NAME's model, inputs, targets, loss_fn and optimizer (agrad's default: SGD, lr
    0.01), seeded as agrad seeds them."""
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
    return model, inputs, targets, loss_fn, opt


def plain_loop(path: str, name: str, steps: int) -> float:
    """The bare loop: zero_grad, forward, backward, optimizer.step()."""
    model, inputs, targets, loss_fn, opt = _built(path, name)
    # Step 1's forward before the clock, as agrad's is (report() makes it, for the
    # one-pass facts): at --steps 3 on a big model it would be a third of the forwards.
    loss = loss_fn(model(inputs), targets)
    start = time.process_time()
    for step in range(steps):
        if step:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
        loss.backward()
        opt.step()
    return time.process_time() - start


def by_hand_loop(path: str, name: str, steps: int, every: int = 1) -> float:
    """The same loop, recording what agrad records, written by hand in plain PyTorch:
    ‖.grad‖ every step (agrad's flags need it), the rest on step 1 and every `every`-th
    (its steps written out as plain_loop's are: each loop reads as a user writes it,
    with no helper call inside the clock)."""
    import json

    import torch

    model, inputs, targets, loss_fn, opt = _built(path, name)
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names, params = [n for n, _ in trained], [p for _, p in trained]
    before = [p.detach().clone() for p in params]  # kept between steps
    norm = torch.linalg.vector_norm
    count = len(params)
    zero = torch.zeros(())
    loss = loss_fn(model(inputs), targets)
    with open(os.devnull, "w", encoding="utf-8") as out:
        start = time.process_time()
        for step in range(1, steps + 1):
            if step > 1:
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(inputs), targets)
            loss.backward()
            recorded = step == 1 or step % every == 0
            with torch.no_grad():
                grads = [p.grad for p in params]  # None: unused (examples/cnn.py has one)
                taken = [zero if g is None else norm(g) for g in grads]
                if recorded:
                    for b, p in zip(before, params, strict=True):
                        b.copy_(p)
                    taken += [norm(b) for b in before]
                opt.step()
                if recorded:
                    for b, p in zip(before, params, strict=True):
                        b.sub_(p)
                    taken += [norm(b) for b in before]
                rows = torch.stack(taken).tolist()
            if not recorded:
                continue
            parameters = []
            for i, (n, g) in enumerate(zip(names, grads, strict=True)):
                grad_norm, size, moved = rows[i], rows[count + i], rows[2 * count + i]
                finite = g is None or math.isfinite(grad_norm)
                parameters.append(
                    {
                        "name": n,
                        "grad_norm": None if g is None else grad_norm,
                        "update_ratio": moved / size if size else None,
                        "nan_count": 0 if finite else int(g.isnan().sum()),
                        "inf_count": 0 if finite else int(g.isinf().sum()),
                    }
                )
            record = {"step": step, "loss": loss.item(), "parameters": parameters}
            out.write(json.dumps(record) + "\n")
        return time.process_time() - start


def passes(path: str, name: str) -> None:
    """What one pass over NAME's largest parameter costs, by eager torch call (the
    update ratio's floor, docs/performance.md): a copy; a norm (agrad's float32 rows
    of 256, and float64 sums of the same elements); a subtraction in place; torch.dist
    and the norm of a difference, which make the difference first; cdist over rows of
    256, which does not."""
    import torch

    model = _built(path, name)[0]
    p = max(model.parameters(), key=lambda t: t.numel()).detach().reshape(-1)
    p = p[: p.numel() - p.numel() % 256].float()
    b, scratch = p + 1e-3, p.clone()
    calls = {
        "copy_": lambda: scratch.copy_(p),
        "norm (rows of 256)": lambda: torch.linalg.vector_norm(p.view(-1, 256), dim=1),
        "norm (float64 sums)": lambda: torch.linalg.vector_norm(p, dtype=torch.float64),
        "sub_": lambda: scratch.sub_(p),
        "torch.dist": lambda: torch.dist(b, p),
        "norm(b - p)": lambda: torch.linalg.vector_norm(b - p),
        "cdist (rows of 256)": lambda: torch.cdist(b.view(-1, 1, 256), p.view(-1, 1, 256)),
    }
    print(f"one pass over {p.numel():,} float32 elements (medians of 51 calls):")
    for label, call in calls.items():
        times = []
        for _ in range(51):
            start = time.process_time()
            call()
            times.append(time.process_time() - start)
        print(f"  {label:22} {statistics.median(times) * 1e6:8.0f} µs")


def agrad_loop(target: str, steps: int, every: int = 1) -> float:
    from autograd_cli.model import WalkRequest
    from autograd_cli.render.formats import Format, Style, render
    from autograd_cli.scenarios import scenario
    from autograd_cli.scenarios.inspect_target import Params
    from autograd_cli.targets import parse_target

    inspect = scenario("inspect")
    params = Params(target=parse_target(target), arguments={}, steps=steps, every=every)
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


# The models it compares by default: the examples, smallest step first, and a
# 1M-parameter MLP whose step is bound by memory traffic, not arithmetic.
TARGETS = (
    "examples/mlp.py:build",  # 1,441 parameters, 0.25 ms a step: agrad's cost a step shows most
    "examples/attention.py:build",
    "examples/cnn.py:build",
    "examples/rnn.py:build",
    "bench/model_1m.py:build",  # 1.07M parameters: the per-tensor way's passes over them
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--target",
        action="append",
        help="PATH.py:NAME (repeatable); default: " + ", ".join(TARGETS),
    )
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--every", type=int, default=1, help="agrad's --every")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--process", action="store_true", help="also the whole commands, start-up included"
    )
    parser.add_argument(
        "--passes", action="store_true", help="also a pass's cost by torch call, per target"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, --steps {args.steps} --every {args.every}, one thread, "
        f"CPU time, medians of {args.repeats} interleaved runs"
    )
    print(
        f"{'target':30} {'bare':>9} {'by hand':>9} {'agrad':>9}  a step;"
        " agrad / bare (target), agrad / by hand"
    )
    for target in args.target or TARGETS:
        path, _, name = target.rpartition(":")
        path = str(ROOT / path)
        agrad_loop(target, args.steps, args.every)  # warm all up: first calls import
        by_hand_loop(path, name, args.steps, args.every)
        plain_loop(path, name, args.steps)
        ours, hand, bare = [], [], []
        for _ in range(args.repeats):
            ours.append(agrad_loop(target, args.steps, args.every))
            hand.append(by_hand_loop(path, name, args.steps, args.every))
            bare.append(plain_loop(path, name, args.steps))
        a, h, b = (statistics.median(times) for times in (ours, hand, bare))
        verdict = "ok" if a / b <= TARGET else "over"
        per_step = "".join(f" {t / args.steps * 1e3:6.3f} ms" for t in (b, h, a))
        print(f"{target:30}{per_step}  {a / b:5.3f} {verdict:4} {a / h:5.3f}")
        if args.passes:
            passes(path, name)
        if args.process:
            agrad_cmd = [sys.executable, "-m", "autograd_cli", "inspect", target, "--json"]
            agrad_cmd += ["--steps", str(args.steps), "--every", str(args.every)]
            plain_cmd = [sys.executable, "-c", PLAIN, path, name, str(args.steps)]
            plain_cmd.append(str(Path(__file__).resolve().parent))
            ours, theirs = [], []
            for _ in range(max(args.repeats // 2, 3)):
                ours.append(process(agrad_cmd))
                theirs.append(process(plain_cmd))
            a, p = statistics.median(ours), statistics.median(theirs)
            print(
                f"{'  the whole commands':30} {p * 1e3:6.0f} ms {'':9} {a * 1e3:6.0f} ms"
                f"  agrad / bare {a / p:.2f} (start-up included)"
            )


if __name__ == "__main__":
    main()
