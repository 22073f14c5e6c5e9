"""`--var NAME=CONSTRUCTOR`: checked as text here, built as tensors in evaluate.py.

A constructor is a call of one whitelisted torch factory with literal arguments
only: numbers, tuples of numbers, and (for `tensor`) nested lists of numbers.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from autograd_cli.expression.grammar import CONSTRUCTORS, MAX_LITERAL, MAX_NUMEL
from autograd_cli.expression.validate import (
    ExpressionError,
    literal_too_large,
    parse,
    validate_text,
    validate_variable_name,
)
from autograd_cli.i18n import _, group, ngettext

ARITY = {  # how many positional arguments each constructor takes
    "eye": (1, 2),
    "ones": (1, 8),
    "zeros": (1, 8),
    "randn": (1, 8),
    "rand": (1, 8),
    "arange": (1, 3),
    "linspace": (3, 3),
    "full": (2, 2),
    "tensor": (1, 1),
}


@dataclass(frozen=True)
class VariableSpec:
    name: str
    constructor: str  # e.g. "randn"
    args: tuple[Any, ...]  # literal Python values: numbers, tuples, nested lists
    text: str  # the constructor as typed, e.g. "randn(5,3)"

    @property
    def random(self) -> bool:
        return CONSTRUCTORS[self.constructor]


def parse_variables(specs: list[str], label: str = "--var") -> list[VariableSpec]:
    """`label`: the option the texts came from, for errors (--var; gradcheck's --input)."""
    seen: set[str] = set()
    out = []
    for spec in specs:
        variable = parse_variable(spec, seen, label)
        seen.add(variable.name)
        out.append(variable)
    return out


def parse_variable(spec: str, seen: set[str], label: str = "--var") -> VariableSpec:
    validate_text(spec, label)
    name, sep, text = spec.partition("=")
    name = name.strip()
    if not sep:
        raise ExpressionError(
            _("--var needs NAME=CONSTRUCTOR, e.g. --var 'x=ones(5)'"), spec, len(spec), label
        )
    validate_variable_name(name, seen, spec, label)
    offset = len(spec) - len(text)

    def fail(message: str, column: int) -> ExpressionError:
        return ExpressionError(message, spec, offset + column, label)

    try:
        tree = parse(text)
    except ExpressionError as e:
        raise fail(e.message, e.column) from None
    if not (
        isinstance(tree, ast.Call)
        and isinstance(tree.func, ast.Name)
        and tree.func.id in CONSTRUCTORS
    ):
        raise fail(
            _("a variable is built by one of: {constructors}, e.g. randn(5,3)").format(
                constructors=", ".join(CONSTRUCTORS)
            ),
            getattr(tree, "col_offset", 0),
        )
    constructor = tree.func.id
    if tree.keywords:
        raise fail(
            _(
                "{constructor}() takes no keywords here (--dtype sets the dtype, "
                "--no-grad NAME turns off requires_grad)"
            ).format(constructor=constructor),
            tree.keywords[0].value.col_offset,
        )
    low, high = ARITY[constructor]
    if not low <= len(tree.args) <= high:
        count = f"{low}" if low == high else _("{low} to {high}").format(low=low, high=high)
        raise fail(
            ngettext(
                "{constructor}() takes {count} argument, got {given}",
                "{constructor}() takes {count} arguments, got {given}",
                high,
            ).format(constructor=constructor, count=count, given=len(tree.args)),
            tree.col_offset,
        )
    args = tuple(_literal(arg, fail, constructor == "tensor") for arg in tree.args)
    return VariableSpec(name=name, constructor=constructor, args=args, text=text.strip())


def _literal(node: ast.AST, fail: Any, lists_allowed: bool) -> Any:
    """A literal argument; recursion is bounded by the 500-character cap on the text."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand, fail, False)
        if not isinstance(value, int | float):
            raise fail(_("only numbers can be negated"), node.col_offset)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(
                _("only numbers are allowed here, not {value!r}").format(value=value),
                node.col_offset,
            )
        if abs(value) > MAX_LITERAL or value != value:
            raise fail(literal_too_large(value), node.col_offset)
        return value
    if isinstance(node, ast.Tuple):
        return tuple(_literal(element, fail, False) for element in node.elts)
    if isinstance(node, ast.List) and lists_allowed:
        values = [_literal(element, fail, True) for element in node.elts]
        if _count(values) > MAX_NUMEL:
            raise fail(_("more than {cap} elements").format(cap=group(MAX_NUMEL)), node.col_offset)
        return values
    kind = (
        _("a list (only tensor([...]) takes one)")
        if isinstance(node, ast.List)
        else (type(node).__name__)
    )
    raise fail(
        _("constructor arguments must be literal numbers or tuples, not {kind}").format(kind=kind),
        getattr(node, "col_offset", 0),
    )


def _count(values: list[Any]) -> int:
    return sum(_count(v) if isinstance(v, list) else 1 for v in values)
