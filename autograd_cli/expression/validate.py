"""Parse untrusted expression text with `ast` and validate every node against the grammar.

Nothing is evaluated here and torch is not imported: a rejected input costs a
parse and a walk over at most MAX_NODES nodes. The validated tree is evaluated by
`evaluate.py`, which only knows how to run the node types allowed below.
"""

from __future__ import annotations

import ast
import keyword
import math
import unicodedata
from dataclasses import dataclass

from autograd_cli.errors import UsageProblem
from autograd_cli.expression.grammar import (
    CONSTRUCTORS,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LITERAL,
    MAX_NODES,
    MAX_TEXT,
    MAX_VARS,
    METHODS,
    POSITIONAL,
    REQUIRED_KEYWORDS,
    RESERVED_NAMES,
)
from autograd_cli.i18n import N_, _, group, ngettext

BINARY_OPERATORS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.MatMult: "@",
}
UNARY_OPERATORS: dict[type, str] = {ast.USub: "-", ast.UAdd: "+"}
HELP = N_("see 'agrad expr --grammar'")


class ExpressionError(UsageProblem):
    """A rejected input: the message, then the input with a caret under `column`."""

    def __init__(self, message: str, source: str, column: int, label: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.column = column  # 0-based; shown 1-based
        self.label = label  # e.g. "--var w" when the text came from an option

    def report_lines(self) -> tuple[str, ...]:
        column = _("column {number}").format(number=self.column + 1)
        where = f"{self.label}, {column}" if self.label else column
        shown, caret_at = visible(self.source, self.column)
        return (f"{self.message} ({where})", "  " + shown, "  " + " " * caret_at + "^")


def visible(text: str, column: int) -> tuple[str, int]:
    """Text with anything but printable ASCII spelled out (\\x1b, \\u200b), and where
    `column` lands in it: user input is shown as typed, never interpreted."""
    out: list[str] = []
    caret = len(text)
    for index, ch in enumerate(text):
        if index == column:
            caret = sum(len(piece) for piece in out)
        out.append(
            ch
            if " " <= ch <= "~"
            else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        )
    if column >= len(text):
        caret = sum(len(piece) for piece in out)
    return "".join(out), caret


def literal_too_large(value: float) -> str:
    """The message for a literal above MAX_LITERAL; a long integer by its digits."""
    if isinstance(value, int) and len(str(abs(value))) > 20:
        return _("a number of {digits} digits is larger than {cap}, the cap on literals").format(
            digits=len(str(abs(value))), cap=group(MAX_LITERAL)
        )
    return _("the number {value!r} is larger than {cap}, the cap on literals").format(
        value=value, cap=group(MAX_LITERAL)
    )


def validate_text(text: str, label: str = "") -> None:
    """Length and characters: printable ASCII only, so look-alikes cannot hide."""
    if len(text) > MAX_TEXT:
        message = _("input is {length} characters long; at most {cap} are allowed")
        raise ExpressionError(message.format(length=len(text), cap=MAX_TEXT), text, MAX_TEXT, label)
    for column, ch in enumerate(text):
        if not (" " <= ch <= "~"):
            name = unicodedata.name(ch, _("a control character"))
            message = _("character U+{code:04X} ({name}) is not allowed; only printable ASCII is")
            raise ExpressionError(message.format(code=ord(ch), name=name), text, column, label)
    if not text.strip():
        raise ExpressionError(
            _("the input is empty; write an expression such as x.sum()"), text, 0, label
        )


def parse(text: str, label: str = "") -> ast.expr:
    """`ast.parse` in eval mode; a syntax error becomes an ExpressionError."""
    validate_text(text, label)
    lead = len(text) - len(text.lstrip())
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        reason = e.msg
        if not e.offset:
            # Python reports offset 0 when the input ended where it wanted more ("x +"):
            # the caret goes just past the end, where the operand is missing.
            column = lead + len(text.strip())
            reason = _("the input ends where an operand is missing")
        else:
            column = lead + e.offset - 1
        raise ExpressionError(
            _("syntax error: {reason}").format(reason=reason), text, column, label
        ) from None
    except (MemoryError, RecursionError, ValueError):
        raise ExpressionError(_("the input is nested too deeply"), text, 0, label) from None
    body = tree.body
    if lead:
        for node in ast.walk(body):  # positions relative to the text as typed
            if hasattr(node, "col_offset"):
                node.col_offset += lead
                node.end_col_offset = (node.end_col_offset or 0) + lead
    return body


@dataclass(frozen=True)
class ValidExpression:
    text: str
    tree: ast.expr


def validate_expression(text: str, variables: list[str]) -> ValidExpression:
    tree = parse(text)
    _Validator(text, set(variables)).run(tree)
    return ValidExpression(text=text, tree=tree)


class _Validator:
    """Walks the tree with an explicit stack; every node type must be listed here."""

    def __init__(self, text: str, variables: set[str]) -> None:
        self.text = text
        self.variables = variables

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message, self.text, getattr(node, "col_offset", 0))

    def run(self, root: ast.expr) -> None:
        stack: list[tuple[ast.AST, int, str]] = [(root, 1, "value")]
        count = 0
        while stack:
            node, depth, role = stack.pop()
            count += 1
            if count > MAX_NODES:
                raise self.fail(
                    node,
                    _("the expression has more than {cap} syntax nodes; that is the cap").format(
                        cap=MAX_NODES
                    ),
                )
            if depth > MAX_DEPTH:
                raise self.fail(
                    node,
                    _("the expression is nested deeper than {cap}; that is the cap").format(
                        cap=MAX_DEPTH
                    ),
                )
            stack.extend(
                (child, depth + 1, child_role)
                for child, child_role in reversed(self.children(node, role))
            )

    def children(self, node: ast.AST, role: str) -> list[tuple[ast.AST, str]]:
        """Checks one node; returns its children with the role each plays."""
        if role == "index" and not isinstance(node, ast.Constant):
            return self.index(node)
        if isinstance(node, ast.Constant):
            self.constant(node, role)
            return []
        if isinstance(node, ast.Name):
            self.name(node)
            return []
        if isinstance(node, ast.BinOp):
            if type(node.op) not in BINARY_OPERATORS:
                message = _("operator {operator} is not allowed; allowed: + - * / ** @")
                raise self.fail(node, message.format(operator=_op_symbol(node.op)))
            return [(node.left, "value"), (node.right, "value")]
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in UNARY_OPERATORS:
                message = _("operator {operator} is not allowed; allowed: unary - and +")
                raise self.fail(node, message.format(operator=_op_symbol(node.op)))
            return [(node.operand, role)]
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            return [(node.value, "value"), (node.slice, "index")]
        if isinstance(node, ast.Tuple) and role in ("argument", "keyword"):
            return [(element, role) for element in node.elts]
        if isinstance(node, ast.Attribute):
            raise self.fail(
                node,
                _(
                    "attribute access .{attribute} is not allowed; only calls of allowed "
                    "methods, like x.sum() ({help})"
                ).format(attribute=node.attr, help=_(HELP)),
            )
        raise self.fail(
            node,
            _("{what} is not allowed here ({help})").format(what=_describe(node), help=_(HELP)),
        )

    def constant(self, node: ast.Constant, role: str) -> None:
        value = node.value
        if isinstance(value, bool):
            if role != "keyword":
                raise self.fail(
                    node,
                    _("{value} is only allowed as a keyword value, e.g. keepdim=True").format(
                        value=value
                    ),
                )
            return
        if not isinstance(value, int | float) or isinstance(value, complex):
            raise self.fail(
                node, _("{what} is not allowed; only numbers are").format(what=_describe(node))
            )
        if role == "index" and not isinstance(value, int):
            raise self.fail(node, _("indices must be integers"))
        # abs() first: math.isfinite of a 320-digit integer raises OverflowError.
        if abs(value) > MAX_LITERAL or not math.isfinite(value):
            raise self.fail(node, literal_too_large(value))

    def name(self, node: ast.Name) -> None:
        identifier = node.id
        if identifier.startswith("_") or identifier.endswith("_"):
            raise self.fail(
                node,
                _("names starting or ending with _ are not allowed: {name}").format(
                    name=identifier
                ),
            )
        if identifier not in self.variables:
            declared = ", ".join(sorted(self.variables)) or _("none")
            hint = (
                _("; {name} is a function: call it, {name}(...)").format(name=identifier)
                if identifier in FUNCTIONS
                else ""
            )
            raise self.fail(
                node,
                _("unknown name {name}; variables declared with --var: {declared}").format(
                    name=identifier, declared=declared
                )
                + hint,
            )

    def call(self, node: ast.Call) -> list[tuple[ast.AST, str]]:
        func = node.func
        children: list[tuple[ast.AST, str]] = []
        if isinstance(func, ast.Name):
            if func.id not in FUNCTIONS:
                message = (
                    _("{name} is a variable, not a function ({help})")
                    if func.id in self.variables
                    else _("{name} is not an allowed function ({help})")
                )
                raise self.fail(func, message.format(name=func.id, help=_(HELP)))
            allowed = FUNCTIONS[func.id][1]
            callee = func.id
        elif isinstance(func, ast.Attribute):
            if func.attr not in METHODS:
                raise ExpressionError(
                    _(
                        "method .{method}() is not allowed ({help}: allowed methods such as "
                        ".sum() .mean() .pow() .t() .reshape())"
                    ).format(method=func.attr, help=_(HELP)),
                    self.text,
                    (func.value.end_col_offset or 0) + 1,
                )
            allowed = METHODS[func.attr]
            callee = func.attr
            children.append((func.value, "value"))
        else:
            raise self.fail(
                node,
                _("only named functions and methods can be called ({help})").format(help=_(HELP)),
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.fail(argument, _("*arguments are not allowed"))
            children.append((argument, "argument"))
        positional = POSITIONAL.get(callee) if isinstance(func, ast.Name) else None
        if positional is not None and len(node.args) > len(positional):
            names = ", ".join(sorted(allowed)) or _("none")
            raise self.fail(
                node.args[len(positional)],
                ngettext(
                    "{callee}() takes at most {count} positional argument ({parameters}); "
                    "other parameters (such as inplace) are not allowed; keywords: {names}",
                    "{callee}() takes at most {count} positional arguments ({parameters}); "
                    "other parameters (such as inplace) are not allowed; keywords: {names}",
                    len(positional),
                ).format(
                    callee=callee,
                    count=len(positional),
                    parameters=", ".join(positional),
                    names=names,
                ),
            )
        given = set()
        for kw in node.keywords:
            if kw.arg is None:
                raise self.fail(kw.value, _("**keyword arguments are not allowed"))
            if kw.arg not in allowed:
                names = ", ".join(sorted(allowed)) or _("none")
                raise self.fail(
                    kw,
                    _("keyword {keyword}= is not allowed for {callee}; allowed: {names}").format(
                        keyword=kw.arg, callee=callee, names=names
                    ),
                )
            given.add(kw.arg)
            children.append((kw.value, "keyword"))
        required = REQUIRED_KEYWORDS.get(callee)
        # softmax(x, 0) and x.softmax(0) give dim positionally: the argument after the input.
        given_positionally = len(node.args) > (1 if isinstance(func, ast.Name) else 0)
        if required and required not in given and not given_positionally:
            example = (
                f"{callee}(x, {required}=-1)"
                if isinstance(func, ast.Name)
                else f"x.{callee}({required}=-1)"
            )
            raise self.fail(
                node,
                _("{callee} needs {keyword}=..., e.g. {example}").format(
                    callee=callee, keyword=required, example=example
                ),
            )
        return children

    def index(self, node: ast.AST) -> list[tuple[ast.AST, str]]:
        if isinstance(node, ast.Slice):
            return [
                (part, "index") for part in (node.lower, node.upper, node.step) if part is not None
            ]
        if isinstance(node, ast.Tuple):
            return [(element, "index") for element in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return [(node.operand, "index")]
        raise self.fail(node, _("indices must be integers or slices such as 1:3"))


def validate_variable_name(name: str, seen: set[str], spec: str) -> None:
    label = "--var"
    problem = None
    if not name:
        problem = _("a variable needs a name: --var NAME=CONSTRUCTOR")
    elif not name.isascii() or not name.isidentifier():
        problem = _("variable name {name!r} is not an identifier (letters, digits, _)")
    elif name.startswith("_") or name.endswith("_"):  # before keywords: `_` is a soft one
        problem = _("variable name {name} starts or ends with _, which is not allowed")
    elif keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in ("True", "False"):
        problem = _("variable name {name} is a Python keyword")
    elif name in RESERVED_NAMES:
        problem = _(
            "variable name {name} is reserved: the report and its statements use it "
            "(reserved: {reserved}); choose another name"
        )
    elif name in FUNCTIONS or name in CONSTRUCTORS or name in METHODS:
        problem = _("variable name {name} is the name of a function")
    elif name in seen:
        problem = _("variable {name} is declared twice")
    elif len(seen) >= MAX_VARS:
        problem = _("more than {cap} variables; that is the cap")
    if problem:
        raise ExpressionError(
            problem.format(name=name, cap=MAX_VARS, reserved=", ".join(RESERVED_NAMES)),
            spec,
            0,
            label,
        )


def _op_symbol(op: ast.AST) -> str:
    return {
        ast.FloorDiv: "//",
        ast.Mod: "%",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.BitOr: "|",
        ast.BitXor: "^",
        ast.BitAnd: "&",
        ast.Invert: "~",
        ast.Not: "not",
    }.get(type(op), type(op).__name__)


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        kinds = {str: N_("a string"), bytes: N_("bytes"), type(None): "None", type(...): "..."}
        kind = kinds.get(type(node.value))
        return _(kind) if kind else _("the constant {value!r}").format(value=node.value)
    names = {
        ast.Lambda: "lambda",
        ast.ListComp: N_("a comprehension"),
        ast.SetComp: N_("a comprehension"),
        ast.DictComp: N_("a comprehension"),
        ast.GeneratorExp: N_("a generator"),
        ast.NamedExpr: N_("an assignment expression (:=)"),
        ast.Compare: N_("a comparison"),
        ast.BoolOp: "and/or",
        ast.IfExp: "if/else",
        ast.JoinedStr: N_("an f-string"),
        ast.List: N_("a list"),
        ast.Dict: N_("a dict"),
        ast.Set: N_("a set"),
        ast.Tuple: N_("a tuple"),
        ast.Starred: N_("*unpacking"),
        ast.Await: "await",
        ast.Yield: "yield",
        ast.YieldFrom: "yield",
        ast.Slice: N_("a slice"),
    }
    return _(names[type(node)]) if type(node) in names else type(node).__name__
