"""`agrad expr`: the graph and gradients of the user's own expression.

Variables come from --var, then out = EXPR. The text is parsed and validated
against a whitelist while the command line is parsed (expression/validate.py); it
is evaluated by agrad's own evaluator (expression/evaluate.py), never by Python's
eval: first on the meta device (shapes and caps, nothing allocated), then for real
after torch.manual_seed(seed), variables in --var order. Torch is imported inside
the functions that build the report (see scenarios/__init__.py).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autograd_cli.errors import UsageProblem
from autograd_cli.expression.grammar import GRAMMAR, MAX_HESSIAN_ELEMENTS, MAX_NUMEL, MAX_ORDER
from autograd_cli.i18n import _, group, ngettext
from autograd_cli.model import (
    Gradient,
    GradientsReport,
    HessianFacts,
    JacobianFacts,
    LeafGraph,
    OrderGradient,
    Values,
    WalkRequest,
)
from autograd_cli.options import (
    MAX_REPEAT,
    JacobianFlag,
    flag_option,
    integer_option,
    repeated_option,
    text,
)
from autograd_cli.scenarios import Scenario, SeededParams

if TYPE_CHECKING:
    import torch

    from autograd_cli.expression.evaluate import Costing, Evaluator
    from autograd_cli.expression.validate import ValidExpression
    from autograd_cli.expression.variables import VariableSpec
    from autograd_cli.render.formats import TreeOptions

NAME = "expr"
ROOT = "out"
# The JSON keys in the order the command has always written them.
LAYOUT = (
    "expression seed dtype repeat variables statements tensors graph vector steps "
    "gradients warnings check jacobians device intermediates retained order orders "
    "order_graphs hessian"
)
VECTOR = "torch.ones_like(out)"


@dataclass(frozen=True, kw_only=True)
class Params(SeededParams):
    expression: ValidExpression
    variables: tuple[VariableSpec, ...]
    no_grad: frozenset[str] = frozenset()
    repeat: int = 1
    jacobian: bool = False
    retain_grad: tuple[str, ...] = ()  # intermediates (or out) whose .grad backward() keeps
    retain_all: bool = False  # --retain-grad all: those that have a gradient to keep
    order: int = 1  # --order: derivatives of derivatives, up to this one
    hessian: bool = False


@dataclass(frozen=True)
class ExprVariable:
    name: str
    constructor: str  # as typed, e.g. "randn(5,3)"
    requires_grad: bool


@dataclass(frozen=True)
class ExprStep:
    """The gradient of every leaf that requires grad, right after one backward call."""

    call: int
    zeroed_before: bool
    grads: dict[str, Values]  # None for a leaf that backward() did not reach


@dataclass(frozen=True, kw_only=True)
class ExprReport(GradientsReport, command=NAME, layout=LAYOUT):
    """Everything `agrad expr` shows for the user's own expression."""

    expression: str
    repeat: int
    variables: tuple[ExprVariable, ...]
    vector: str | None  # "torch.ones_like(out)"; None when out is a scalar or has no graph
    steps: tuple[ExprStep, ...]
    warnings: tuple[str, ...]  # torch's warnings while evaluating, first line each
    jacobians: tuple[JacobianFacts, ...] = ()  # with --jacobian: one per leaf
    intermediates: tuple[str, ...] = ()  # the names EXPR's statements gave, in order
    retained: tuple[str, ...] = ()  # those (and out) whose .grad --retain-grad kept
    order: int = 1
    orders: tuple[OrderGradient, ...] = ()  # with --order N > 1: orders 1..N, each leaf
    order_graphs: tuple[LeafGraph, ...] = ()  # the graph of order N's gradient, each leaf
    hessian: HessianFacts | None = None  # with --hessian

    def program(self) -> tuple[str, ...]:
        """EXPR's statements as Python ("h = x * x", "out = h.sum()"): in `statements`,
        after the seed and the variables."""
        start = 1 + len(self.variables)
        return self.statements[start : start + len(self.intermediates) + 1]


# The command line -------------------------------------------------------------

# The grammar, kept from rewrapping by Click ("\b" paragraphs), ends `agrad expr --help`.
EPILOG = "\n\n".join("\b\n" + block.strip("\n") for block in GRAMMAR.strip().split("\n\n"))


VarOption = repeated_option(
    "--var",
    "NAME=CONSTRUCTOR",
    "Declare a variable, e.g. --var 'x=eye(4,5)'; repeat for more. Floating "
    "variables require grad.",
)
NoGradOption = repeated_option(
    "--no-grad", "NAME", "Variable NAME does not require grad (repeatable)."
)
RepeatOption = integer_option(
    "--repeat",
    1,
    MAX_REPEAT,
    f"backward() calls (1-{MAX_REPEAT}); with N > 1 also shows how .grad "
    "accumulates, then zero_() and one more call, as agrad jvp does.",
)
GrammarFlag = flag_option("--grammar", "Print the grammar of EXPR and exit.")
OrderOption = integer_option(
    "--order",
    1,
    MAX_ORDER,
    f"Derivatives of derivatives, up to order N (1-{MAX_ORDER}) of a scalar out: each "
    "order is torch.autograd.grad(g.sum(), leaf, create_graph=True) of the one before; "
    "shows every order and the graph create_graph=True recorded for the last.",
)
HessianFlag = flag_option(
    "--hessian",
    "Also show the full Hessian of a scalar out (torch.func.hessian), checked against "
    "rows of repeated torch.autograd.grad; for leaves of up to "
    f"{MAX_HESSIAN_ELEMENTS} elements in all.",
)
RetainGradOption = repeated_option(
    "--retain-grad",
    "NAME",
    "Call NAME.retain_grad() on a named intermediate (or out) before backward(), so "
    "its .grad is kept and shown next to the leaves' (repeatable; 'all' for every one).",
)


def options(
    expression: Annotated[
        str | None,
        typer.Argument(
            metavar="EXPR",
            parser=text,
            help='The expression, e.g. "(x + 1).pow(2).t()"; the grammar is below.',
            show_default=False,
        ),
    ] = None,
    var: VarOption = None,
    no_grad: NoGradOption = None,
    repeat: RepeatOption = 1,
    grammar: GrammarFlag = False,
    jacobian: JacobianFlag = False,
    retain_grad: RetainGradOption = None,
    order: OrderOption = 1,
    hessian: HessianFlag = False,
) -> dict[str, Any]:
    """The autograd graph and gradients of your own tensor expression.

    The expression is parsed and checked against a whitelist (below) before anything
    runs; it is evaluated by agrad, never by Python's eval. A non-scalar out is
    back-propagated with v = torch.ones_like(out), i.e. the gradient of out.sum().
    --seed S seeds the random variables in --var order. Name intermediates with
    statements separated by ; or new lines, the result last (second example).
    """
    if grammar:
        from autograd_cli.render.emit import write_text

        write_text(_(GRAMMAR.lstrip("\n")))
        raise typer.Exit()
    if expression is None:
        raise UsageProblem(_("missing EXPR, e.g. agrad expr \"x.sum()\" --var 'x=ones(3)'"))
    from autograd_cli.expression.validate import validate_expression
    from autograd_cli.expression.variables import parse_variables

    variables = parse_variables(list(var or []))
    declared = [v.name for v in variables]
    for name in no_grad or []:
        if name not in declared:
            raise UsageProblem(
                _("--no-grad {name}: no such variable; declared: {declared}").format(
                    name=name, declared=", ".join(declared) or _("none")
                )
            )
    valid = validate_expression(expression, declared)
    retained = _retained_names(list(retain_grad or []), valid, declared)
    return {
        "expression": valid,
        "variables": tuple(variables),
        "no_grad": frozenset(no_grad or ()),
        "repeat": repeat,
        "jacobian": jacobian,
        "retain_grad": retained,
        "retain_all": "all" in (retain_grad or ()),
        "order": order,
        "hessian": hessian,
    }


def _retained_names(
    asked: list[str], valid: ValidExpression, declared: list[str]
) -> tuple[str, ...]:
    """--retain-grad's names, checked: named intermediates and out, or all of them."""
    allowed = (*valid.intermediates, ROOT)
    if "all" in asked:
        return allowed
    for name in asked:
        if name in allowed:
            continue
        if name in declared:
            problem = _(
                "--retain-grad {name}: {name} is a variable (a leaf): backward() fills its "
                ".grad without retain_grad(); names allowed: {allowed}, or all"
            )
        else:
            problem = _(
                "--retain-grad {name}: no such intermediate; names allowed: {allowed}, or all"
            )
        raise UsageProblem(problem.format(name=name, allowed=", ".join(allowed)))
    return tuple(dict.fromkeys(n for n in allowed if n in asked))


# The tensors ------------------------------------------------------------------


@dataclass
class ExprTensors:
    variables: dict[str, torch.Tensor]
    intermediates: dict[str, torch.Tensor]  # EXPR's named statements, in order
    out: torch.Tensor
    warnings: tuple[str, ...]  # what torch warned about while evaluating

    def named(self) -> dict[str, torch.Tensor]:
        return {**self.variables, **self.intermediates, ROOT: self.out}


def build(params: Params) -> ExprTensors:
    with recorded_warnings() as said:
        variables, evaluator, out = _evaluate(params)
    return ExprTensors(variables, evaluator.intermediates, out, tuple(said))


@contextmanager
def recorded_warnings() -> Iterator[dict[str, None]]:
    """torch's warnings (e.g. mse_loss broadcasting) become part of the report instead
    of stderr noise: a successful run writes nothing to stderr. Yields their first
    lines, each once, in order (filled when the block ends)."""
    said: dict[str, None] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield said
        finally:
            said.update(dict.fromkeys(_first_line(w.message) for w in caught))


def _first_line(message: Warning | str) -> str:
    lines = str(message).strip().splitlines()
    return lines[0] if lines else type(message).__name__


def _evaluate(params: Params) -> tuple[dict[str, torch.Tensor], Evaluator, torch.Tensor]:
    import torch

    from autograd_cli.expression.evaluate import Costing, Evaluator, build_variable
    from autograd_cli.expression.validate import ExpressionError
    from autograd_cli.scenarios.seeding import manual_seed

    dtype = getattr(torch, params.dtype)
    meta = {}
    for spec in params.variables:
        t = build_variable(spec, dtype, "meta")
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
    # Shapes, dtypes and caps, then the budgets, before any real work.
    from autograd_cli.expression.jacobian_limits import JACOBIAN_DIMS, check_for_jacobian

    cost = Costing(params.expression, meta, JACOBIAN_DIMS if params.jacobian else None)
    out = cost.run()
    check_higher_orders(params, meta, out)
    if params.jacobian:
        check_for_jacobian(params.expression, params.variables, meta, params.no_grad, out)
    check_budgets(params, meta, out, cost)

    manual_seed(params.seed, params.device)
    real: dict[str, torch.Tensor] = {}
    for spec in params.variables:
        t = build_variable(spec, dtype, params.device)
        if t.is_floating_point() and spec.name not in params.no_grad:
            t.requires_grad_()
        real[spec.name] = t
    evaluator = Evaluator(params.expression, real)
    return real, evaluator, evaluator.run()


def check_higher_orders(
    params: Params, variables: dict[str, torch.Tensor], out: torch.Tensor
) -> None:
    """--order N > 1 and --hessian differentiate a scalar: refused (exit 2) for another
    out, and --hessian for leaves of more than MAX_HESSIAN_ELEMENTS elements."""
    from autograd_cli.render.labels import shape_text

    asked = [f"--order {params.order}"] if params.order > 1 else []
    asked += ["--hessian"] if params.hessian else []
    if asked and out.numel() != 1:
        raise UsageProblem(
            _(
                "{option} needs a scalar out, and out has shape {shape}: reduce it first, "
                "e.g. out = (...).sum(), or use --order 1 (backward(v) with v = ones)"
            ).format(option=" ".join(asked), shape=shape_text(tuple(out.shape)))
        )
    if params.hessian:
        elements = sum(
            t.numel()
            for name, t in variables.items()
            if t.is_floating_point() and name not in params.no_grad
        )
        if elements > MAX_HESSIAN_ELEMENTS:
            raise UsageProblem(
                _(
                    "--hessian is for small inputs: the leaves have {count} elements in all, "
                    "the cap is {cap} (a {cap} x {cap} matrix)"
                ).format(count=group(elements), cap=MAX_HESSIAN_ELEMENTS)
            )


# Budgets: what a run may cost, estimated on the meta device before any real work.
MAX_MEMORY = 512 * 2**20  # bytes, beyond what Python and torch take to start
MAX_OPERATIONS = 2 * 10**10  # element operations (a multiply-add counts one)
# Bytes a gradient element kept for one backward() call costs (--repeat shows every
# call's): a Python float in a nested list, then its JSON text. Measured: 64 with
# --json, 42 in the table (`x.sum()`, x of 100,000 elements, --repeat 21 against 41).
KEPT_BYTES = 64


def check_budgets(
    params: Params, variables: dict[str, torch.Tensor], out: torch.Tensor, cost: Costing
) -> None:
    """Refuses (exit 2, with the estimate) a run whose memory or arithmetic, estimated
    from the meta run's `cost` of one forward pass F, is over budget. Backward costs
    about 2F; --check evaluates F in float64 twice per leaf element, plus once;
    --jacobian's jacrev and jacfwd batch the expression over out's and the leaf's
    elements, each element a backward or a forward with its tangent (2F)."""
    named = {
        name: t
        for name, t in variables.items()
        if t.is_floating_point() and name not in params.no_grad
    }
    leaves = list(named.values())
    if params.jacobian:  # its own cap first: the entries of each Jacobian
        from autograd_cli.inspection.jacobian import check_entries

        for name, t in named.items():
            check_entries(name, out.numel(), t.numel())
    elements = sum(t.numel() for t in leaves)
    # backward() calls: --repeat N > 1 adds one after zero_(); none without a leaf.
    calls = 0 if not leaves else params.repeat + 1 if params.repeat > 1 else 1
    forward = cost.operations
    held = cost.bytes + sum(t.numel() * t.element_size() for t in variables.values())
    kept = (
        _("the gradients it shows ({elements} elements)").format(elements=group(elements))
        if calls <= 1
        else _("--repeat {repeat} keeps {calls} copies of {elements} gradient elements").format(
            repeat=params.repeat, calls=group(calls), elements=group(elements)
        )
    )
    memory = {
        _("its tensors and what backward() saves"): held,
        kept: calls * elements * KEPT_BYTES,
    }
    operations = {
        ngettext(
            "the expression and {count} backward() call",
            "the expression and {count} backward() calls",
            calls,
        ).format(count=group(calls)): forward * (1 + 2 * calls),
    }
    if params.check and leaves:
        evaluations = 2 * elements + 1
        operations[
            _("--check evaluates the expression {count} times").format(count=group(evaluations))
        ] = evaluations * forward
        memory[_("--check's evaluations in float64")] = cost.elements * 8
    if params.order > 1 and leaves:
        # Measured (notes/higher_order.md): the graph create_graph=True records grows
        # about 3-4x with each order (a chain of ten tanh: 12, 21, 78, 298, 1,054 nodes
        # at orders 0-4), its memory about 3x; each order past the first is one
        # autograd.grad call per leaf over the order before's graph.
        operations[_("--order {order}'s autograd.grad calls").format(order=params.order)] = sum(
            2 * forward * 4**k * (1 if k == 1 else len(leaves)) for k in range(1, params.order + 1)
        )
        memory[_("--order {order}'s recorded graphs").format(order=params.order)] = (
            cost.bytes * 3**params.order * len(leaves)
        )
        memory[
            _("--order {order} keeps {order} gradients of {elements} elements").format(
                order=params.order, elements=group(elements)
            )
        ] = params.order * elements * KEPT_BYTES
    if params.hessian and leaves:
        # One autograd.grad per element for the rows, and torch.func.hessian (forward
        # over reverse) batched over every element at once.
        elements_in_all = sum(t.numel() for t in leaves)
        operations[_("--hessian's rows and torch.func.hessian")] = 10 * elements_in_all * forward
        memory[
            _("--hessian runs the expression on {count} elements at once").format(
                count=group(elements_in_all)
            )
        ] = 3 * elements_in_all * cost.bytes
    if params.jacobian and leaves:
        batch = max(max(out.numel(), t.numel()) for t in leaves)
        operations[_("--jacobian's jacrev and jacfwd")] = sum(
            (out.numel() + t.numel()) * 2 * forward for t in leaves
        )
        memory[
            _("--jacobian runs the expression on {count} elements at once").format(
                count=group(batch)
            )
        ] = batch * cost.bytes
    need = sum(memory.values())
    if need > MAX_MEMORY:
        raise UsageProblem(
            _(
                "expr would need about {need} of memory (mostly: {part}); the budget is {budget}"
            ).format(
                need=_bytes(need),
                part=max(memory, key=memory.__getitem__),
                budget=_bytes(MAX_MEMORY),
            )
        )
    work = sum(operations.values())
    if work > MAX_OPERATIONS:
        raise UsageProblem(
            _(
                "expr would take about {work:.1e} element operations (mostly: {part}); the "
                "budget is {budget:.0e}"
            ).format(
                work=work, part=max(operations, key=operations.__getitem__), budget=MAX_OPERATIONS
            )
        )


def _bytes(count: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} B"


def statement(spec: VariableSpec, t: torch.Tensor) -> str:
    args = ", ".join(repr(a) if not isinstance(a, tuple) else str(a) for a in spec.args)
    dtype = str(t.dtype).removeprefix("torch.")
    grad = ", requires_grad=True" if t.requires_grad else ""
    return f"{spec.name} = torch.{spec.constructor}({args}, dtype=torch.{dtype}{grad})"


def forward_for(expression: ValidExpression) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    """v·out from (float64 copies of) the variables, v = ones_like(out) as backward's;
    for --check's finite differences."""
    from autograd_cli.expression.evaluate import Evaluator

    def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
        return Evaluator(expression, leaves).run().sum()

    return forward


def function_of(
    expression: ValidExpression, variables: dict[str, torch.Tensor], name: str
) -> Callable[[torch.Tensor], torch.Tensor]:
    """out as a function of one variable, the others held at their values (--jacobian)."""
    return leaves_function(expression, variables, (name,))


def largest_numel(params: Params) -> int | None:
    """Every variable and intermediate of the expression, on the meta device (shapes
    only, nothing computed). --jacobian batches the expression over out's or a
    variable's elements (jacrev, jacfwd), so the largest tensor grows by that factor."""
    import torch

    from autograd_cli.expression.evaluate import Costing, build_variable
    from autograd_cli.expression.validate import ExpressionError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the real run records torch's warnings
            env = {
                spec.name: build_variable(spec, getattr(torch, params.dtype), "meta")
                for spec in params.variables
            }
            cost = Costing(params.expression, env)
            out = cost.run()
    except (ExpressionError, RuntimeError, ValueError, TypeError):
        return None  # the real run reports the problem, with every thread as usual
    largest = max([cost.largest, *(t.numel() for t in env.values())])
    if params.jacobian:
        largest *= max([out.numel(), *(t.numel() for t in env.values())])
    return largest


# The report -------------------------------------------------------------------


def report(params: Params, walk: WalkRequest) -> ExprReport:
    import torch

    from autograd_cli.inspection.gradient_check import gradient_check
    from autograd_cli.inspection.graph import facts_and_graph, graph_report
    from autograd_cli.inspection.higher_order import hessian_facts, higher_orders
    from autograd_cli.inspection.jacobian import jacobian_facts
    from autograd_cli.inspection.tensors import values_of

    repeat = params.repeat
    t = build(params)
    named = t.named()
    tensors, graph = facts_and_graph(t.out, named, walk, t.intermediates)
    leaves = {name: v for name, v in t.variables.items() if v.requires_grad}
    statements = [
        f"torch.manual_seed({params.seed})",
        *(statement(spec, t.variables[spec.name]) for spec in params.variables),
        *params.expression.lines(),
    ]
    free = FreeNames(named)

    # backward(), --check's and --jacobian's evaluations warn as the expression did
    with recorded_warnings() as later:
        # Before retain_grad() and backward(): torch.autograd.grad keeps out's graph
        # (retain_graph) and leaves the leaves' .grad alone; a retained tensor's .grad
        # it would fill (tests/test_expr_orders.py).
        orders: tuple[OrderGradient, ...] = ()
        order_graphs: tuple[LeafGraph, ...] = ()
        if params.order > 1 and leaves and t.out.requires_grad:
            orders, last = higher_orders(t.out, leaves, params.order)
            order_graphs = tuple(
                LeafGraph(name, graph_report(g, named, walk, t.intermediates))
                for name, g in last.items()
                if g.grad_fn is not None
            )
            statements.extend(order_statements(tuple(leaves), params.order, free))
        hessian = None
        if params.hessian and leaves and t.out.requires_grad:
            hessian = hessian_facts(
                leaves_function(params.expression, t.variables, tuple(leaves)), leaves, t.out
            )
            statements.extend(hessian_statements(params.expression, tuple(leaves), free))
        retained = retained_tensors(params, named)
        statements.extend(f"{name}.retain_grad()" for name in retained)
        # What each backward() leaves in .grad: the leaves', then the retained ones'.
        holders = {**leaves, **retained}
        steps: list[ExprStep] = []
        vector = None
        if t.out.requires_grad:
            # A scalar needs no v; otherwise backward(v) with v = ones_like(out): vᵀ·J.
            v = None if t.out.numel() == 1 else torch.ones_like(t.out)
            vector = None if v is None else VECTOR
            args = [] if v is None else [VECTOR]
            if repeat > 1:
                args.append("retain_graph=True")
            times = "" if repeat == 1 else f"  # {repeat} times, then zero_() and once more"
            statements.append(f"out.backward({', '.join(args)}){times}")

            def backward_step(number: int, zeroed: bool) -> ExprStep:
                t.out.backward(v, retain_graph=repeat > 1)
                return ExprStep(
                    number,
                    zeroed,
                    {
                        name: None if held.grad is None else values_of(held.grad)
                        for name, held in holders.items()
                    },
                )

            steps = [backward_step(k, False) for k in range(1, repeat + 1)]
            if repeat > 1:
                # A retained intermediate's .grad accumulates as a leaf's does.
                for held in holders.values():
                    if held.grad is not None:
                        held.grad.zero_()
                steps.append(backward_step(repeat + 1, True))

        final = steps[-1].grads if steps else {}
        verdict = None
        if params.check and steps:
            verdict = gradient_check(
                forward_for(params.expression),
                t.variables,
                {name: steps[0].grads[name] for name in leaves},
                params.dtype,
                graph.node_count,
            )
        jacobians: tuple[JacobianFacts, ...] = ()
        if params.jacobian and steps:
            jacobians = tuple(
                jacobian_facts(name, function_of(params.expression, t.variables, name), leaf, t.out)
                for name, leaf in leaves.items()
            )
    variables = tuple(
        ExprVariable(spec.name, spec.text, t.variables[spec.name].requires_grad)
        for spec in params.variables
    )
    gradients = tuple(
        Gradient(name, tuple(held.shape), final.get(name)) for name, held in holders.items()
    )
    shared = params.run_facts(statements, tensors, graph, verdict, "repeat")
    return ExprReport(
        **shared,
        expression=params.expression.text,
        variables=variables,
        vector=vector,
        steps=tuple(steps),
        gradients=gradients,
        warnings=tuple(dict.fromkeys((*t.warnings, *later))),
        jacobians=jacobians,
        intermediates=tuple(t.intermediates),
        retained=tuple(retained),
        order=params.order,
        orders=orders,
        order_graphs=order_graphs,
        hessian=hessian,
    )


class FreeNames:
    """Names for the statements agrad adds (g, leaf, order, f) that no variable or
    intermediate of the user's already has: g, else g2, g3..."""

    def __init__(self, taken: Any) -> None:
        self.taken = {*taken, "torch", "out"}

    def __call__(self, name: str) -> str:
        found = name
        for number in range(2, len(self.taken) + 3):
            if found not in self.taken:
                break
            found = f"{name}{number}"
        return found


def order_statements(leaves: tuple[str, ...], order: int, free: FreeNames) -> list[str]:
    """--order's loop as Python: what higher_orders() runs, leaf by leaf (materialized
    zeros where a gradient does not reach the leaf, zeros past a constant order)."""
    g, leaf, k = free("g"), free("leaf"), free("order")
    each = leaves[0] if len(leaves) == 1 else f"({', '.join(leaves)})"
    body = [
        f"{g} = out",
        f"for {k} in range({order}):  # order k: the gradient of order k-1's sum",
        f"    if {g}.requires_grad:",
        f"        {g} = torch.autograd.grad(",
        f"            {g}.sum(), {leaf}, create_graph=True, allow_unused=True,",
        "            materialize_grads=True,",
        "        )[0]",
        "    else:  # a constant: this order and the next are 0",
        f"        {g} = torch.zeros_like({leaf})",
    ]
    if len(leaves) == 1:
        return [f"{leaf} = {each}", *body]
    return [f"for {leaf} in {each}:", *("    " + line for line in body)]


def hessian_statements(
    expression: ValidExpression, leaves: tuple[str, ...], free: FreeNames
) -> list[str]:
    """--hessian as Python: the statements as a function of the leaves, and its Hessian."""
    f = free("f")
    names = ", ".join(leaves)
    *named, result = expression.statements
    argnums = "0" if len(leaves) == 1 else "(" + ", ".join(map(str, range(len(leaves)))) + ")"
    return [
        f"def {f}({names}):  # out as a function of the leaves",
        *(f"    {s.name} = {s.source}" for s in named),
        f"    return {result.source}",
        f"hessian = torch.func.hessian({f}, argnums={argnums})({names})",
    ]


def leaves_function(
    expression: ValidExpression, variables: dict[str, torch.Tensor], names: tuple[str, ...]
) -> Callable[..., torch.Tensor]:
    """out as a function of the leaves `names` (positional, in that order), the other
    variables held at their values (--hessian)."""
    from autograd_cli.expression.evaluate import Evaluator

    fixed = {key: value.detach() for key, value in variables.items()}

    def function(*values: torch.Tensor) -> torch.Tensor:
        return Evaluator(expression, {**fixed, **dict(zip(names, values, strict=True))}).run()

    return function


def retained_tensors(params: Params, named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """--retain-grad's tensors, retain_grad() called on each: a usage error for one
    named that has no gradient to keep; with `all`, those are passed over."""
    kept = {}
    for name in params.retain_grad:
        tensor = named[name]
        problem = None
        if not tensor.requires_grad:
            problem = _(
                "--retain-grad {name}: {name} does not require grad (no variable that "
                "requires grad reaches it), so backward() gives it no gradient"
            )
        elif tensor.is_leaf:
            problem = _(
                "--retain-grad {name}: {name} is a leaf; backward() fills its .grad "
                "without retain_grad()"
            )
        if problem is None:
            tensor.retain_grad()
            kept[name] = tensor
        elif not params.retain_all:
            raise UsageProblem(problem.format(name=name))
    return kept


# The human view ---------------------------------------------------------------


def view(report: ExprReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from rich.text import Text

    from autograd_cli.render import table

    yield table.heading("agrad expr · ", first=True).append(
        "; ".join(report.program()), style=table.CODE
    )
    yield table.code(
        report.statements,
        intro=_("Run as (seed {seed}, {dtype}):").format(seed=report.seed, dtype=report.dtype),
    )
    for warning in report.warnings:
        yield Text(_("torch warned: {warning}").format(warning=warning), style="yellow")
    yield from table.tensor_section(report.tensors, precision)
    yield table.heading(_("grad_fn chain"))
    yield table.grad_fn_lines((*report.intermediates, ROOT), {t.name: t for t in report.tensors})
    yield from table.graph_section(report.graph, ROOT, tree, precision)

    if not report.steps:
        yield table.note(
            _(
                "No variable that requires grad reaches out, so there is no backward pass "
                "and no gradient."
            )
        )
        return
    yield table.heading(_("Gradients"))
    if report.vector:
        yield table.note(
            _(
                "out is not a scalar, so out.backward(v) needs a vector v = {vector}: it "
                "computes the vector-Jacobian product vᵀ·J, the gradient of out.sum()."
            ).format(vector=report.vector)
        )
    kept = [g.name for g in report.gradients if g.name in report.retained and g.value is not None]
    if kept:
        yield table.note(
            ngettext(
                "{names} is kept because retain_grad() was called before backward(): the "
                "tensor is not a leaf. Without it, reading a non-leaf's .grad gives None "
                "(and a warning).",
                "{names} are kept because retain_grad() was called before backward(): the "
                "tensors are not leaves. Without it, reading a non-leaf's .grad gives None "
                "(and a warning).",
                len(kept),
            ).format(names=", ".join(f"{name}.grad" for name in kept))
        )
    for gradient in report.gradients:
        title = f"{gradient.name}.grad"
        if gradient.value is None:
            yield table.note(
                _("{name}.grad is None: backward() did not reach {name}.").format(
                    name=gradient.name
                )
            )
        else:
            yield table.matrix(gradient.value, precision, title=title)
    for facts in report.jacobians:
        yield from table.jacobian_section(facts, precision)
    if report.orders:
        yield from _orders_section(report, precision, tree)
    if report.hessian is not None:
        yield from _hessian_section(report.hessian, report.dtype)
    if report.repeat > 1:
        yield table.heading(
            ngettext(
                "Accumulation over {count} backward() call",
                "Accumulation over {count} backward() calls",
                report.repeat,
            ).format(count=group(report.repeat))
        )
        yield table.note(
            _(
                "retain_graph=True keeps the graph for the next call; each call adds its "
                "gradient to .grad, until zero_() starts the sum again."
            )
        )
        for step in report.steps:
            yield Text(
                "\n" + table.call_label(step.call, step.zeroed_before, report.repeat),
                style=table.TITLE,
            )
            for name, value in step.grads.items():
                if value is not None:
                    yield table.matrix(value, precision, title=f"{name}.grad")


def _orders_section(report: ExprReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from autograd_cli.render import table
    from autograd_cli.render.tree import tree_lines

    yield table.heading(
        _("Higher orders: derivatives of derivatives, up to order {order}").format(
            order=report.order
        )
    )
    yield table.note(
        _(
            "Order 1 is torch.autograd.grad(out, leaf); order k is the gradient of the sum "
            "of order k-1's. create_graph=True records each backward pass as a new graph, "
            "which the next order differentiates. For a one-element leaf, order k is the "
            "k-th derivative. The leaves' .grad is not touched."
        )
    )
    for item in report.orders:
        title = _("order {order} · {leaf}").format(order=item.order, leaf=item.name)
        yield table.matrix(item.value, precision, title=title)
    last = report.order
    constant: dict[str, int] = {}  # leaf -> the first order whose gradient has no graph
    for o in report.orders:
        if o.grad_fn is None:
            constant.setdefault(o.name, o.order)
    g = FreeNames(t.name for t in report.tensors)("g")  # as the statements name it
    for graphed in report.order_graphs:
        yield table.heading(
            _(
                "Graph of order {order}'s gradient for {leaf} ({g}), recorded by create_graph=True"
            ).format(order=last, leaf=graphed.leaf, g=g)
        )
        yield from tree_lines(
            graphed.graph, g, saved=tree.saved, precision=precision, max_nodes=tree.max_nodes
        )
        yield table.note(
            _(
                "{nodes}: the backward pass of order {before}, recorded as a graph; it "
                "reaches back into the forward graph where it reuses what those nodes saved."
            ).format(
                nodes=ngettext("{count} node", "{count} nodes", graphed.graph.node_count).format(
                    count=group(graphed.graph.node_count)
                ),
                before=last - 1,
            )
        )
    for name, order in constant.items():
        yield table.note(
            _(
                "Order {order}'s gradient for {leaf} has no grad_fn: it does not depend on "
                "{leaf}, so every higher order is 0."
            ).format(order=order, leaf=name)
        )


def _hessian_section(hessian: HessianFacts, dtype: str) -> Iterator[Any]:
    from autograd_cli.inspection.gradient_check import TOLERANCES
    from autograd_cli.render import table

    size = len(hessian.matrix)
    yield table.heading(_("Hessian of out: {size} × {size}").format(size=size))
    spans, start = [], 0
    for leaf, shape in zip(hessian.leaves, hessian.shapes, strict=True):
        count = math.prod(shape)
        spans.append(f"{leaf} {start}" if count == 1 else f"{leaf} {start}–{start + count - 1}")
        start += count
    yield table.note(
        _(
            "Rows and columns are the leaves' elements, each leaf flattened row-major: "
            "{spans}. Zeros are shown as ·, non-zeros in bold (3 significant digits)."
        ).format(spans=", ".join(spans))
    )
    yield table.JacobianGrid(
        [[f"{float(v):.3g}" if v else "·" for v in row] for row in hessian.matrix], size
    )
    diff = hessian.repeated_grad_max_abs_diff
    if hessian.func_error is not None:
        yield table.note(
            _(
                "torch.func.hessian could not run ({error}); these are rows of repeated "
                "torch.autograd.grad."
            ).format(error=hessian.func_error)
        )
        return
    # --check's tolerance for the dtype, against the largest entry
    atol, rtol = TOLERANCES.get(dtype, TOLERANCES["float32"])
    largest = max((abs(v) for row in hessian.matrix for v in row if math.isfinite(v)), default=0)
    if diff is not None and diff <= atol + rtol * largest:
        yield table.note(
            _(
                "Computed by torch.func.hessian; rows of repeated torch.autograd.grad "
                "agree: max |difference| {diff:.1e}."
            ).format(diff=diff)
        )
    else:
        yield table.note(
            _(
                "Computed by torch.func.hessian; rows of repeated torch.autograd.grad "
                "differ: max |difference| {diff}. They can, where the function has no "
                "second derivative (a norm or a square root at 0)."
            ).format(diff="NaN" if diff is None or math.isnan(diff) else f"{diff:.1e}")
        )


# EXPR, --var and --no-grad first in its --help, then --seed, --dtype and --device.
EXAMPLES = (
    "agrad expr \"(x + 1).pow(2).t()\" --var 'x=eye(4,5)'",
    "agrad expr \"h = x * x; out = h.sum()\" --var 'x=ones(3)' --retain-grad h",
)
SCENARIO = Scenario(
    NAME, ROOT, options, Params, report, view, EXAMPLES, largest_numel, epilog=EPILOG
)
