"""Evaluate a checked expression with torch: first on the meta device, then for real.

The meta run computes every shape and dtype without allocating or computing, so
caps on element counts and shape errors are found before any real work, and a
shape error points at its operator. Only node types that `check.py` lets through
are handled; anything else is a bug and raises.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from autograd_cli.expression.grammar import FUNCTIONS, MAX_DIMS, MAX_NUMEL
from autograd_cli.expression.validate import BINARY_OPERATORS, ExpressionError, ValidExpression
from autograd_cli.expression.variables import VariableSpec
from autograd_cli.i18n import _, group

OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
}
MAX_COMPUTED_NUMBER = 10**9  # numbers computed from literals, e.g. 10**6


def build_variable(spec: VariableSpec, dtype: torch.dtype, device: str) -> torch.Tensor:
    """The tensor of one --var, floating ones in `dtype`; checked on meta first."""
    factory = getattr(torch, spec.constructor)
    args = spec.args
    kwargs: dict[str, Any] = {"device": device}
    if spec.constructor in ("eye", "ones", "zeros", "randn", "rand", "linspace"):
        kwargs["dtype"] = dtype
    elif spec.constructor == "full":
        if isinstance(args[1], float):
            kwargs["dtype"] = dtype
    elif _all_ints(args):  # arange(6), tensor([1, 2]): integers stay int64
        kwargs["dtype"] = torch.int64
    else:
        kwargs["dtype"] = dtype
    if (
        spec.constructor in ("ones", "zeros", "randn", "rand")
        and len(args) == 1
        and isinstance(args[0], tuple)
    ):
        args = args[0]  # ones((2, 3)) as well as ones(2, 3)
    if spec.constructor in ("ones", "zeros", "randn", "rand", "eye") and not _all_ints(args):
        raise ExpressionError(
            _("{constructor}() takes whole numbers as sizes").format(constructor=spec.constructor),
            spec.text,
            0,
            f"--var {spec.name}",
        )
    try:
        return factory(*args, **kwargs)
    except (RuntimeError, ValueError, TypeError, OverflowError) as e:
        raise ExpressionError(_first_line(e), spec.text, 0, f"--var {spec.name}") from None


def _all_ints(values: Any) -> bool:
    if isinstance(values, list | tuple):
        return all(_all_ints(v) for v in values)
    return isinstance(values, int) and not isinstance(values, bool)


class Evaluator:
    """Runs the checked statements against named tensors (meta or real); each named
    intermediate joins the names the next statements read, and `intermediates`."""

    def __init__(self, expression: ValidExpression, env: dict[str, torch.Tensor]) -> None:
        self.text = expression.text
        self.statements = expression.statements
        self.env = dict(env)
        self.intermediates: dict[str, torch.Tensor] = {}

    def run(self) -> torch.Tensor:
        for statement in self.statements:
            result = self.value(statement.tree)
            if not isinstance(result, torch.Tensor):
                message = (
                    _("the expression is a plain number; it must involve a variable")
                    if statement is self.statements[-1]
                    else _("{name} is a plain number; a named intermediate must involve a variable")
                )
                raise ExpressionError(
                    message.format(name=statement.name), self.text, statement.tree.col_offset
                )
            if statement is not self.statements[-1]:
                self.env[statement.name] = self.intermediates[statement.name] = result
        return result

    def fail(self, node: ast.AST, message: str, column: int | None = None) -> ExpressionError:
        return ExpressionError(
            message, self.text, getattr(node, "col_offset", 0) if column is None else column
        )

    def value(self, node: ast.AST) -> Any:
        # Recursion is bounded: check.py caps the depth at MAX_DEPTH.
        try:
            result = self._value(node)
        except ExpressionError:
            raise
        except (
            RuntimeError,
            ValueError,
            TypeError,
            IndexError,
            OverflowError,
            ZeroDivisionError,
        ) as e:
            raise self.fail(node, _first_line(e), self._column(node)) from None
        if isinstance(result, complex):  # (-1) ** 0.5: Python's numbers go complex
            raise self.fail(
                node,
                _(
                    "a negative number to a fractional power is a complex number; agrad "
                    "works with real numbers only"
                ),
                self._column(node),
            )
        if isinstance(result, torch.Tensor) and result.dim() > MAX_DIMS:  # expand() allows it
            raise self.fail(
                node,
                _("this makes a tensor of {count} dimensions; torch allows at most {cap}").format(
                    count=result.dim(), cap=MAX_DIMS
                ),
                self._column(node),
            )
        if isinstance(result, torch.Tensor) and result.numel() > MAX_NUMEL:
            raise self.fail(
                node,
                _("this makes a tensor of {count} elements {shape}; the cap is {cap}").format(
                    count=group(result.numel()), shape=tuple(result.shape), cap=group(MAX_NUMEL)
                ),
                self._column(node),
            )
        if isinstance(result, int | float) and abs(result) > MAX_COMPUTED_NUMBER:
            raise self.fail(
                node,
                _("the number {value:.3g} is too large; the cap is {cap:.0e}").format(
                    value=result, cap=MAX_COMPUTED_NUMBER
                ),
                self._column(node),
            )
        return result

    def _value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.env[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            if (
                isinstance(node.op, ast.Pow)
                and not isinstance(left, torch.Tensor)
                and not (isinstance(right, torch.Tensor))
                and abs(right) > 64
            ):
                raise self.fail(
                    node, _("exponents of plain numbers are capped at 64"), self._column(node)
                )
            return OPERATORS[type(node.op)](left, right)
        if isinstance(node, ast.Tuple):
            return tuple(self.value(element) for element in node.elts)
        if isinstance(node, ast.Subscript):
            return self.value(node.value)[self.index(node.slice)]
        if isinstance(node, ast.Call):
            return self.call(node)
        raise AssertionError(f"unchecked node {type(node).__name__}")  # check.py let it in

    def call(self, node: ast.Call) -> Any:
        keywords = {kw.arg: self.value(kw.value) for kw in node.keywords}
        args = [self.value(arg) for arg in node.args]
        func = node.func
        if isinstance(func, ast.Name):
            home = torch if FUNCTIONS[func.id][0] == "torch" else F
            return getattr(home, func.id)(*args, **keywords)
        target = self.value(func.value)
        if not isinstance(target, torch.Tensor):
            raise self.fail(
                func, _(".{method}() is a tensor method; this is a number").format(method=func.attr)
            )
        return getattr(target, func.attr)(*args, **keywords)

    def index(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Tuple):
            return tuple(self.index(element) for element in node.elts)
        if isinstance(node, ast.Slice):
            return slice(
                *(
                    None if part is None else self.value(part)
                    for part in (node.lower, node.upper, node.step)
                )
            )
        return self.value(node)

    def _column(self, node: ast.AST) -> int:
        """Where to put the caret: at the operator of a binary operation."""
        if isinstance(node, ast.BinOp):
            symbol = BINARY_OPERATORS[type(node.op)]
            start = node.left.end_col_offset or node.col_offset
            found = self.text.find(symbol, start, node.right.col_offset)
            return found if found >= 0 else node.col_offset
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return (node.func.value.end_col_offset or node.col_offset) + 1
        return node.col_offset


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# Budgets: what the real run will cost, estimated on the meta device ----------------

MATRIX_PRODUCTS = frozenset({"matmul", "mm", "mv", "dot"})


class Costing(Evaluator):
    """A meta run that also tallies what one real forward pass costs: element
    operations (one per element read or written by each operation, whichever is
    more; a matrix product over K counts K multiply-adds per element of its result)
    and the elements and bytes of every tensor it makes, views (expand, t, slices)
    excepted: they share their base's memory, batched by vmap (--jacobian) too."""

    def __init__(
        self,
        expression: ValidExpression,
        env: dict[str, torch.Tensor],
        max_dims: int | None = None,
    ) -> None:
        super().__init__(expression, env)
        self.max_dims = max_dims  # --jacobian's (jacobian_limits.py): refused past it
        self.operations = 0
        self.elements = 0
        self.bytes = 0
        self.largest = 1
        self._values: dict[int, Any] = {}

    def value(self, node: ast.AST) -> Any:
        result = super().value(node)
        self._values[id(node)] = result
        too_deep = self.max_dims is not None and isinstance(result, torch.Tensor)
        if too_deep and result.dim() > self.max_dims:
            from autograd_cli.expression.jacobian_limits import too_many_dimensions

            raise self.fail(node, too_many_dimensions(result.dim()), self._column(node))
        if isinstance(result, torch.Tensor) and not isinstance(node, ast.Name):
            operands = [
                v
                for v in map(self._values.get, map(id, _operands(node)))
                if isinstance(v, torch.Tensor)
            ]
            inner = 1
            if _is_matrix_product(node) and operands and operands[0].dim() > 0:
                inner = operands[0].shape[-1]
            read = sum(v.numel() for v in operands)
            self.operations += max(result.numel() * inner, read, result.numel())
            if not _is_view(result):
                self.elements += result.numel()
                self.bytes += result.numel() * result.element_size()
            self.largest = max(self.largest, result.numel())
        return result


def _is_view(t: torch.Tensor) -> bool:
    # Tensor._is_view is private: without it, a view counts as a copy (the safe side).
    is_view = getattr(t, "_is_view", None)
    return bool(is_view()) if callable(is_view) else False


def _operands(node: ast.AST) -> list[ast.AST]:
    """The nodes whose values an operation reads, the one it is called on first."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Subscript):
        return [node.value]
    if isinstance(node, ast.Call):
        target = [node.func.value] if isinstance(node.func, ast.Attribute) else []
        return [*target, *node.args, *(kw.value for kw in node.keywords)]
    return []


def _is_matrix_product(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ast.MatMult)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return name in MATRIX_PRODUCTS
    return False
