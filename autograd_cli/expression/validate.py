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
    MAX_INTERMEDIATES,
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
        source, column = self.source, self.column
        where = ""
        if "\n" in source:  # statements on several lines: the line with the problem
            line = source.count("\n", 0, column) + 1
            start = source.rfind("\n", 0, column) + 1
            end = source.find("\n", start)
            source, column = source[start : None if end < 0 else end], column - start
            where = _("line {number}").format(number=line) + ", "
        where += _("column {number}").format(number=column + 1)
        where = f"{self.label}, {where}" if self.label else where
        shown, caret_at = visible(source, column)
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


def validate_text(text: str, label: str = "", lines: bool = False) -> None:
    """Length and characters: printable ASCII only, so look-alikes cannot hide; with
    `lines`, new lines too (EXPR's statements)."""
    if len(text) > MAX_TEXT:
        message = _("input is {length} characters long; at most {cap} are allowed")
        raise ExpressionError(message.format(length=len(text), cap=MAX_TEXT), text, MAX_TEXT, label)
    for column, ch in enumerate(text):
        if not (" " <= ch <= "~" or (lines and ch == "\n")):
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
class Statement:
    """One statement of EXPR: `name = tree`; the last one's name is always out."""

    name: str
    tree: ast.expr
    source: str  # the expression as typed, e.g. "x * x" (on one line)


@dataclass(frozen=True)
class ValidExpression:
    text: str
    statements: tuple[Statement, ...]  # the named intermediates in order, then out

    @property
    def tree(self) -> ast.expr:
        """The result's expression."""
        return self.statements[-1].tree

    @property
    def intermediates(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.statements[:-1])

    def lines(self) -> tuple[str, ...]:
        """The statements as Python, e.g. ("h = x * x", "out = h.sum()")."""
        return tuple(f"{s.name} = {s.source}" for s in self.statements)


def validate_expression(text: str, variables: list[str]) -> ValidExpression:
    """EXPR: one expression, or statements separated by ; or new lines, each
    `NAME = EXPRESSION` with a fresh simple NAME, then the result (an expression, or
    out = EXPRESSION). Every expression is checked as a lone EXPR is."""
    # Windows line ends: \r\n read as a space and a new line, so columns stay put.
    text = text.replace("\r\n", " \n")
    if ";" not in text and "\n" not in text and "=" not in text.replace("==", ""):
        tree = parse(text)  # a lone expression, checked exactly as it always was
        _Validator(text, set(variables)).run(tree)
        return ValidExpression(text, (Statement(ROOT, tree, text.strip()),))
    body = _parse_statements(text)
    known = set(variables)
    validator = _Validator(text, known)
    validator.pending = {
        target.id
        for node in body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    statements: list[Statement] = []
    for position, node in enumerate(body):
        last = position == len(body) - 1
        name, tree = _statement_parts(node, last, text, known, len(statements))
        validator.run(tree)
        if len(body) > 1 and isinstance(tree, ast.Name):
            raise validator.fail(
                tree,
                _(
                    "{name} = {value} only gives {value} a second name; a statement "
                    "computes something, e.g. {name} = {value} * 2"
                ).format(name=name, value=tree.id),
            )
        statements.append(Statement(name, tree, _segment(text, tree)))
        known.add(name)
        validator.pending.discard(name)
    return ValidExpression(text, tuple(statements))


ROOT = "out"  # the result's name (RESERVED_NAMES: no variable or intermediate takes it)
STATEMENT_FORM = N_(
    "statements are NAME = EXPRESSION, separated by ; or new lines, then the result: "
    "an expression, or out = EXPRESSION"
)


def _parse_statements(text: str) -> list[ast.stmt]:
    """`ast.parse` in exec mode, the lines' common indent removed first; positions are
    made offsets into `text` as typed (col_offset counts from its start)."""
    validate_text(text, lines=True)
    lines = text.split("\n")
    indent = min((len(line) - len(line.lstrip(" ")) for line in lines if line.strip()), default=0)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    source = "\n".join(line[indent:] for line in lines)

    def offset(lineno: int, column: int) -> int:
        shift = indent if lines[lineno - 1].strip() else 0
        return starts[lineno - 1] + shift + column

    try:
        module = ast.parse(source, mode="exec")
    except SyntaxError as e:
        lineno = min(max(e.lineno or 1, 1), len(lines))
        length = len(source.split("\n")[lineno - 1].rstrip())  # the line as parsed
        column, reason = (e.offset or 0) - 1, e.msg
        if e.msg == "invalid syntax" and not 0 <= column < length:
            # Python points past the end when the line ended where it wanted more ("x +").
            column, reason = length, _("the input ends where an operand is missing")
        raise ExpressionError(
            _("syntax error: {reason}").format(reason=reason),
            text,
            offset(lineno, max(column, 0)),
        ) from None
    except (MemoryError, RecursionError, ValueError):
        raise ExpressionError(_("the input is nested too deeply"), text, 0) from None
    for node in ast.walk(module):
        if hasattr(node, "col_offset") and hasattr(node, "lineno"):
            node.col_offset = offset(node.lineno, node.col_offset)
            end_line = node.end_lineno or node.lineno
            node.end_col_offset = offset(end_line, node.end_col_offset or 0)
            node.lineno = node.end_lineno = 1  # offsets now count from the text's start
    if not module.body:
        raise ExpressionError(_("the input is empty; write an expression such as x.sum()"), text, 0)
    return module.body


def _statement_parts(
    node: ast.stmt, last: bool, text: str, known: set[str], named: int
) -> tuple[str, ast.expr]:
    """(name, expression) of one statement, or an error naming what is allowed."""

    def fail(message: str) -> ExpressionError:
        return ExpressionError(message, text, node.col_offset)

    if isinstance(node, ast.Expr):
        if not last:
            raise fail(
                _(
                    "only the last statement may be a bare expression (the result); name "
                    "this one: NAME = ..."
                )
            )
        return ROOT, node.value
    if isinstance(node, ast.AugAssign):
        raise fail(
            _(
                "augmented assignment ({operator}=) is not allowed: it changes a tensor in "
                "place; write a new name, e.g. h2 = h + 1"
            ).format(operator=BINARY_OPERATORS.get(type(node.op), _op_symbol(node.op)))
        )
    if not isinstance(node, ast.Assign):
        raise fail(
            _("{what} is not allowed: {form}").format(
                what=_statement_kind(node), form=_(STATEMENT_FORM)
            )
        )
    if len(node.targets) != 1:
        raise fail(_("one name per assignment: a = b = ... is not allowed"))
    target = node.targets[0]
    if not isinstance(target, ast.Name):
        raise ExpressionError(
            _("only a fresh simple name can be assigned, e.g. h = x * x; not {what}").format(
                what=_target_kind(target)
            ),
            text,
            target.col_offset,
        )
    name = target.id
    problem = _name_problem(name, known)
    if problem is None and named >= MAX_INTERMEDIATES and name != ROOT:
        problem = _("more than {cap} named intermediates; that is the cap")
    if problem is None and name == ROOT and not last:
        problem = _("out is the result: only the last statement may assign it")
    if problem is None and last and name != ROOT:
        problem = _(
            "the last statement is the result: write it as an expression or as out = ...; "
            "{name} would be left unused"
        )
    if problem:
        message = problem.format(name=name, cap=MAX_INTERMEDIATES)
        raise ExpressionError(message, text, target.col_offset)
    return name, node.value


def name_rule(name: str) -> str | None:
    """Which rule an identifier breaks as the name of a variable or an intermediate:
    "underscore", "keyword", "reserved" or "function"; None when it breaks none."""
    if name.startswith("_") or name.endswith("_"):  # before keywords: `_` is a soft one
        return "underscore"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in ("True", "False"):
        return "keyword"
    if name in RESERVED_NAMES:
        return "reserved"
    if name in FUNCTIONS or name in CONSTRUCTORS or name in METHODS:
        return "function"
    return None


def _name_problem(name: str, known: set[str]) -> str | None:
    """Why `name` cannot be assigned, or None: only fresh, plain names can (`out`,
    reserved for variables, names the result)."""
    rule = name_rule(name)
    if rule == "underscore":
        return _("names starting or ending with _ are not allowed: {name}")
    if rule == "keyword":
        return _("{name} is a Python keyword")
    if name in known:
        return _("{name} already has a value; every statement names a new tensor (no reassignment)")
    if rule == "reserved" and name != ROOT:
        return _("{name} is reserved: the report's statements use it")
    if name == "all":
        return _("all is reserved: --retain-grad all names every intermediate")
    if rule == "function":
        return _("{name} is the name of a function")
    return None


def _segment(text: str, tree: ast.expr) -> str:
    """The expression as typed; one spanning lines as Python writes it on one (its
    comments and line continuations dropped)."""
    segment = text[tree.col_offset : tree.end_col_offset]
    return ast.unparse(tree) if "\n" in segment else segment


def _target_kind(target: ast.AST) -> str:
    kinds = {
        ast.Attribute: N_("an attribute"),
        ast.Subscript: N_("an element or slice"),
        ast.Tuple: N_("a tuple"),
        ast.List: N_("a list"),
        ast.Starred: N_("*unpacking"),
    }
    return _(kinds[type(target)]) if type(target) in kinds else type(target).__name__


def _statement_kind(node: ast.stmt) -> str:
    kinds = {
        ast.Import: "import",
        ast.ImportFrom: "import",
        ast.FunctionDef: "def",
        ast.AsyncFunctionDef: "def",
        ast.ClassDef: "class",
        ast.For: "for",
        ast.AsyncFor: "for",
        ast.While: "while",
        ast.If: "if",
        ast.With: "with",
        ast.AsyncWith: "with",
        ast.Try: "try",
        ast.Delete: "del",
        ast.Global: "global",
        ast.Nonlocal: "nonlocal",
        ast.Return: "return",
        ast.Pass: "pass",
        ast.Raise: "raise",
        ast.Assert: "assert",
        ast.Break: "break",
        ast.Continue: "continue",
        ast.AnnAssign: N_("an annotated assignment"),
        ast.Match: "match",
    }
    kind = kinds.get(type(node))
    return _(kind) if kind else type(node).__name__


class _Validator:
    """Walks the tree with an explicit stack; every node type must be listed here."""

    def __init__(self, text: str, variables: set[str]) -> None:
        self.text = text
        self.variables = variables  # grows as statements name intermediates
        self.declared = frozenset(variables)  # the --var names
        self.pending: set[str] = set()  # names a later statement assigns
        self.count = 0  # syntax nodes so far, over every statement

    def fail(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message, self.text, getattr(node, "col_offset", 0))

    def run(self, root: ast.expr) -> None:
        stack: list[tuple[ast.AST, int, str]] = [(root, 1, "value")]
        while stack:
            node, depth, role = stack.pop()
            self.count += 1
            if self.count > MAX_NODES:
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
        if identifier in self.pending:
            raise self.fail(
                node,
                _(
                    "{name} is used before a later statement assigns it; statements run in order"
                ).format(name=identifier),
            )
        if identifier not in self.variables:
            declared = ", ".join(sorted(self.variables & self.declared)) or _("none")
            named = sorted(self.variables - self.declared)
            hint = (
                _("; {name} is a function: call it, {name}(...)").format(name=identifier)
                if identifier in FUNCTIONS
                else _("; named so far: {names}").format(names=", ".join(named))
                if named
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


def validate_variable_name(name: str, seen: set[str], spec: str, label: str = "--var") -> None:
    problem = None
    rule = name_rule(name) if name.isascii() and name.isidentifier() else None
    if not name:
        problem = _("a variable needs a name: --var NAME=CONSTRUCTOR")
    elif not name.isascii() or not name.isidentifier():
        problem = _("variable name {name!r} is not an identifier (letters, digits, _)")
    elif rule == "underscore":
        problem = _("variable name {name} starts or ends with _, which is not allowed")
    elif rule == "keyword":
        problem = _("variable name {name} is a Python keyword")
    elif rule == "reserved":
        problem = _(
            "variable name {name} is reserved: the report and its statements use it "
            "(reserved: {reserved}); choose another name"
        )
    elif rule == "function":
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
