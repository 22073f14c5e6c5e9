"""One intra-op thread while a sweep or a batch line works on tiny tensors.

Some torch ops open an OpenMP parallel region whatever the size of their tensors
(binary_cross_entropy_with_logits in `linear`: on the 2-core machine beside CPU-bound
processes, 130 us a call on 2 threads, 25 us on one; `linear`'s whole forward and
backward 730 us against 100 us).
Each region waits until every thread of its team is scheduled, so a loop of a thousand
tiny runs pays that wait a thousand times. A second thread only pays off from about
8,192 elements (measured idle on that machine: a 90 x 90 matmul 15 us on 2 threads,
20 us on one; 64 x 64 and 4,096-element elementwise chains with their backward take
the same time on both), so runs whose tensors all have at most TINY_NUMEL elements
get one thread; larger ones (a real model in `inspect`, a big `expr`) keep them all.
torch.set_num_threads is process-wide, so the previous count is put back afterwards,
also on error. Inter-op threads (torch.jit.fork) are another setting, unused here.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TINY_NUMEL = 4096  # a 64 x 64 matrix

# The tutorial's tensors have fixed shapes: w is 5 x 3; jvp's Jacobian is 20 x 20.
_FIXED_NUMEL = {"linear": 15, "jvp": 400}


def largest_numel(command: str, params: dict[str, Any]) -> int | None:
    """The elements of the largest tensor the command makes, known from its parameters
    before any work; None where they cannot be known (inspect runs the user's model)."""
    if command in _FIXED_NUMEL:
        return _FIXED_NUMEL[command]
    if command == "chain":
        return max(int(params["hidden"]) ** 2, 1)  # a is H x H; h0, b and each h 1 x H
    if command == "expr":
        return _expr_numel(params)
    return None


def _expr_numel(params: dict[str, Any]) -> int | None:
    """Every variable and intermediate of the expression, on the meta device (shapes
    only, nothing computed). --jacobian batches the expression over out's or a
    variable's elements (jacrev, jacfwd), so the largest tensor grows by that factor."""
    import torch

    from autograd_cli.expression.check import ExpressionError
    from autograd_cli.expression.evaluate import Evaluator, build_variable
    from autograd_cli.scenarios.dtypes import DTYPES

    largest = 1

    class Sizes(Evaluator):
        def value(self, node: Any) -> Any:
            nonlocal largest
            result = super().value(node)
            if isinstance(result, torch.Tensor):
                largest = max(largest, result.numel())
            return result

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the real run records torch's warnings
            env = {
                spec.name: build_variable(spec, DTYPES[params["dtype"]], "meta")
                for spec in params["variables"]
            }
            out = Sizes(params["expression"], env).run()
    except (ExpressionError, RuntimeError, ValueError, TypeError):
        return None  # the real run reports the problem, with every thread as usual
    largest = max([largest, *(t.numel() for t in env.values())])
    if params.get("jacobian"):
        largest *= max([out.numel(), *(t.numel() for t in env.values())])
    return largest


@contextmanager
def one_thread_if_tiny(command: str, params: dict[str, Any]) -> Iterator[None]:
    """torch.set_num_threads(1) inside when no tensor of the command has more than
    TINY_NUMEL elements; the previous count is restored on the way out."""
    numel = largest_numel(command, params)
    if numel is None or numel > TINY_NUMEL:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
