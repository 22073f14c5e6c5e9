"""What agrad's gradcheck engine costs against torch.autograd.gradcheck (slow mode) on
the same function and inputs, in one process, one thread.

    python bench/gradcheck.py [--runs N] [--sizes 10,100,400]

For each case and size n (input elements): the engine (gradcheck_runs, backward only)
and torch.autograd.gradcheck(raise_exception=False) alternate (A, B, A, B, ...) so
machine noise hits both alike; prints each side's best time and the ratio of bests.
Then the dense layer's forward-mode check (against check_forward_ad=True,
check_backward_ad=False) and second-order check (against gradgradcheck with the same
grad_outputs); the engine's time there is that run alone (the backward one subtracted).
Target (issue 17): ratio <= 1.3. "passing" functions pass; "failing" ones have a
deliberately wrong backward (torch stops at its first mismatching pair; the engine
goes on to every pair and diagnoses the failing ones).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from autograd_cli.inspection.gradcheck import gradcheck_runs, second_order_grad_outputs

TARGET = 1.3


class Scaled(torch.autograd.Function):
    """y = x * sin(x); backward multiplied by `extra` (1.0: correct)."""

    extra = 1.0

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * torch.sin(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * (torch.sin(x) + x * torch.cos(x)) * Scaled.extra


class WrongFactor(Scaled):
    extra = 2.0


def mlp(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A dense layer: every output depends on every input element."""
    return torch.tanh(w @ x)


def cases(n: int) -> list[tuple[str, Callable[..., Any], tuple[torch.Tensor, ...]]]:
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(n, generator=gen, dtype=torch.float64, requires_grad=True)
    side = max(2, round(n**0.5))
    w = torch.randn(side, side, generator=gen, dtype=torch.float64, requires_grad=True)
    v = torch.randn(side, generator=gen, dtype=torch.float64, requires_grad=True)
    return [
        ("passing elementwise", Scaled.apply, (x,)),
        ("failing elementwise (x2)", WrongFactor.apply, (x,)),
        ("failing, 2 outputs (x2 in the 1st)", lambda x: (WrongFactor.apply(x), x.cos()), (x,)),
        ("passing dense layer", mlp, (w, v)),
        ("failing dense layer (transposed)", lambda w, v: mlp(w, _Transposed.apply(v, w)), (w, v)),
    ]


class _Transposed(torch.autograd.Function):
    """v -> v, with a backward that multiplies by w instead of w's transpose (a bug)."""

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w)
        return v.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (w,) = ctx.saved_tensors
        return grad + 0.1 * (w - w.T) @ grad, None


def timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="10,100,400")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    ok = True
    print(f"torch {torch.__version__}, 1 thread, best of {args.runs}; target ratio <= {TARGET}")
    for n in (int(s) for s in args.sizes.split(",")):
        for label, fn, inputs in cases(n):
            elements = sum(t.numel() for t in inputs)
            ours, theirs = [], []
            verdicts = set()
            for _ in range(args.runs):
                seconds, runs = timed(gradcheck_runs, fn, inputs)
                ours.append(seconds)
                verdicts.add(runs[0].ok)
                seconds, verdict = timed(
                    torch.autograd.gradcheck, fn, inputs, raise_exception=False
                )
                theirs.append(seconds)
                verdicts.add(verdict)
            ratio = min(ours) / min(theirs)
            ok &= ratio <= TARGET and len(verdicts) == 1
            print(
                f"{label:34} {elements:4} elements  agrad {min(ours) * 1e3:8.2f} ms  "
                f"torch {min(theirs) * 1e3:8.2f} ms  ratio {ratio:4.2f}  "
                f"verdict {'agrees' if len(verdicts) == 1 else 'DIFFERS'}"
            )
    for n in (int(s) for s in args.sizes.split(",")):
        inputs = cases(n)[3][2]  # the passing dense layer's (w, v)
        w, v = inputs
        grad_outputs = second_order_grad_outputs(mlp, inputs, 0)
        others = {
            "forward": (
                torch.autograd.gradcheck,
                (mlp, inputs),
                {"check_forward_ad": True, "check_backward_ad": False},
            ),
            "second_order": (torch.autograd.gradgradcheck, (mlp, inputs, grad_outputs), {}),
        }
        for kind, (theirs_call, call_args, call_options) in others.items():
            ours, theirs = [], []
            verdicts = set()
            for _ in range(args.runs):
                base, _ = timed(gradcheck_runs, mlp, inputs)
                both, runs = timed(
                    gradcheck_runs,
                    mlp,
                    inputs,
                    forward=kind == "forward",
                    second_order=kind == "second_order",
                )
                ours.append(both - base)
                verdicts.add(runs[-1].ok)
                seconds, verdict = timed(
                    theirs_call, *call_args, raise_exception=False, **call_options
                )
                theirs.append(seconds)
                verdicts.add(verdict)
            ratio = min(ours) / min(theirs)
            ok &= ratio <= TARGET and len(verdicts) == 1
            label = f"passing dense layer, {kind}"
            elements = w.numel() + v.numel()
            print(
                f"{label:34} {elements:4} elements  agrad {min(ours) * 1e3:8.2f} ms  "
                f"torch {min(theirs) * 1e3:8.2f} ms  ratio {ratio:4.2f}  "
                f"verdict {'agrees' if len(verdicts) == 1 else 'DIFFERS'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
