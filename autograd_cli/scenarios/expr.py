"""The user's own expression: variables from --var, then out = EXPR.

Built twice: first on the meta device (shapes and caps, nothing allocated), then
for real after torch.manual_seed(seed), variables in --var order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from autograd_cli.expression.check import CheckedExpression, ExpressionError
from autograd_cli.expression.evaluate import Evaluator, build_variable
from autograd_cli.expression.grammar import MAX_NUMEL
from autograd_cli.expression.variables import VariableSpec
from autograd_cli.i18n import _, group
from autograd_cli.scenarios.dtypes import DTYPES
from autograd_cli.scenarios.seeding import manual_seed


@dataclass
class ExprTensors:
    variables: dict[str, torch.Tensor]
    out: torch.Tensor
    warnings: tuple[str, ...]  # what torch warned about while evaluating

    def named(self) -> dict[str, torch.Tensor]:
        return {**self.variables, "out": self.out}


def build(
    expression: CheckedExpression,
    variables: list[VariableSpec],
    *,
    seed: int,
    dtype: str,
    no_grad: set[str],
    device: str = "cpu",
) -> ExprTensors:
    # torch's warnings (e.g. mse_loss broadcasting) become part of the report
    # instead of stderr noise: a successful run writes nothing to stderr.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        variables_, out = _evaluate(expression, variables, seed, DTYPES[dtype], no_grad, device)
    said = dict.fromkeys(str(w.message).strip().splitlines()[0] for w in caught)
    return ExprTensors(variables=variables_, out=out, warnings=tuple(said))


def _evaluate(
    expression: CheckedExpression,
    variables: list[VariableSpec],
    seed: int,
    torch_dtype: torch.dtype,
    no_grad: set[str],
    device: str,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    meta = {}
    for spec in variables:
        t = build_variable(spec, torch_dtype, "meta")
        if t.numel() > MAX_NUMEL:
            raise ExpressionError(
                _("{name} would have {count} elements {shape}; the cap is {cap}").format(
                    name=spec.name,
                    count=group(t.numel()),
                    shape=tuple(t.shape),
                    cap=group(MAX_NUMEL),
                ),
                spec.text,
                0,
                f"--var {spec.name}",
            )
        meta[spec.name] = t
    Evaluator(expression, meta).run()  # shapes, dtypes and caps, before any real work

    manual_seed(seed, device)
    real: dict[str, torch.Tensor] = {}
    for spec in variables:
        t = build_variable(spec, torch_dtype, device)
        if t.is_floating_point() and spec.name not in no_grad:
            t.requires_grad_()
        real[spec.name] = t
    return real, Evaluator(expression, real).run()


def statement(spec: VariableSpec, t: torch.Tensor) -> str:
    args = ", ".join(repr(a) if not isinstance(a, tuple) else str(a) for a in spec.args)
    dtype = str(t.dtype).removeprefix("torch.")
    grad = ", requires_grad=True" if t.requires_grad else ""
    return f"{spec.name} = torch.{spec.constructor}({args}, dtype=torch.{dtype}{grad})"


def forward_for(expression: CheckedExpression):
    """v·out from (float64 copies of) the variables, v = ones_like(out) as backward's;
    for --check's finite differences."""

    def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
        return Evaluator(expression, leaves).run().sum()

    return forward


def function_of(expression: CheckedExpression, variables: dict[str, torch.Tensor], name: str):
    """out as a function of one variable, the others held at their values (--jacobian)."""
    fixed = {key: value.detach() for key, value in variables.items()}

    def function(value: torch.Tensor) -> torch.Tensor:
        return Evaluator(expression, {**fixed, name: value}).run()

    return function
