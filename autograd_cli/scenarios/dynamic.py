"""`agrad dynamic`: the tutorial's "DAGs are dynamic in PyTorch", run.

One function with a Python `if`, called on two inputs whose values send it down
different branches: each call records its own graph while it runs, and backward()
walks the one its call recorded. That is why a model may use control flow. Torch is
imported inside the functions that build the report (see scenarios/__init__.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autograd_cli.i18n import N_, _
from autograd_cli.model import GradientsReport, Graph, WalkRequest
from autograd_cli.scenarios import Scenario, SeededParams

if TYPE_CHECKING:
    import torch

    from autograd_cli.render.formats import TreeOptions

NAME = "dynamic"
ROOT = "out_x"
EXAMPLES = (
    "agrad dynamic --seed 3",
    "agrad dynamic --seed 3 --json | jq '.passes[].branch'",
)
SIZE = 4  # elements of x and y
CONDITION = "h.sum() > 0"
# The two branches of f, as code, and the gradient each gives its input, by hand.
BRANCHES = {True: "h.pow(2).sum()", False: "h.abs().sum()"}
CLOSED_FORMS = {True: "8·{name}", False: "2·sign({name})"}
STATEMENTS = (
    "torch.manual_seed(seed)",
    f"x = torch.randn({SIZE}, requires_grad=True)",
    "y = (-x).detach().requires_grad_()  # the same numbers, the other sign",
    "def f(t):",
    "    h = t * 2",
    f"    if {CONDITION}:  # Python decides, on this call's values",
    f"        return {BRANCHES[True]}",
    f"    return {BRANCHES[False]}",
    "out_x = f(x)",
    "out_y = f(y)",
    "out_x.backward()",
    "out_y.backward()",
)

Params = SeededParams  # only the shared parameters


@dataclass(frozen=True)
class Pass:
    """One call of f: its input, the value its `if` read, the branch Python took."""

    input: str  # "x" or "y"
    output: str  # "out_x" or "out_y"
    h_sum: float  # (2·input).sum(), what the `if` compared with 0
    branch: str  # the code of the branch taken
    grad_fns: tuple[str, ...]  # the graph's nodes in walk order, by class


@dataclass(frozen=True, kw_only=True)
class DynamicReport(GradientsReport, command=NAME):
    """Two calls of one function, two graphs."""

    passes: tuple[Pass, ...]
    second_graph: Graph  # out_y's; `graph` is out_x's
    same_grad_fn: bool  # out_x.grad_fn is out_y.grad_fn


def options() -> dict[str, Any]:
    """The graph is built anew by every forward pass: one function with a Python if,
    called on two inputs that take different branches, records two different graphs.

    Runs torch.manual_seed(S), x = torch.randn(4, requires_grad=True), y = -x (the
    same numbers, the other sign, as a leaf of its own), and f(t): h = t * 2, then
    h.pow(2).sum() if h.sum() > 0, else h.abs().sum(). Shows both graphs (out_x's and
    out_y's), which branch each call took and why, and x.grad and y.grad after
    backward(): 8·x from the pow branch, 2·sign(y) from the abs branch (or the other
    way round, as the seed decides). As the tutorial says, DAGs are dynamic in PyTorch.
    """
    return {}


def largest_numel(params: Params) -> int:
    return SIZE


# The tensors ------------------------------------------------------------------


def f(t: torch.Tensor) -> torch.Tensor:
    """The function of STATEMENTS, exactly."""
    h = t * 2
    if h.sum() > 0:
        return h.pow(2).sum()
    return h.abs().sum()


def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    """out_x + out_y from (float64 copies of) x and y, for --check's finite differences:
    each output depends on its own input only, so one sum checks both gradients."""
    return f(leaves["x"]) + f(leaves["y"])


def closed_form(leaves: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """By hand: d/dt Σ(2t)² = 8t, d/dt Σ|2t| = 2·sign(t); the branch as f takes it."""
    import torch

    out = {}
    for name in ("x", "y"):
        t = leaves[name].double()
        out[name] = 8 * t if bool((2 * t).sum() > 0) else 2 * torch.sign(t)
    return out


# The report -------------------------------------------------------------------


def report(params: Params, walk: WalkRequest) -> DynamicReport:
    import torch

    from autograd_cli.inspection.gradient_check import gradient_check
    from autograd_cli.inspection.graph import facts_and_graph, graph_report
    from autograd_cli.inspection.tensors import gradient_of
    from autograd_cli.scenarios.seeding import manual_seed

    manual_seed(params.seed, params.device)
    x = torch.randn(
        SIZE, requires_grad=True, device=params.device, dtype=getattr(torch, params.dtype)
    )
    y = (-x).detach().requires_grad_()
    out_x, out_y = f(x), f(y)
    named = {"x": x, "y": y, "out_x": out_x, "out_y": out_y}
    tensors, graph = facts_and_graph(out_x, named, walk)
    second = graph_report(out_y, named, walk)
    passes = tuple(
        _pass(name, output, t, walked)
        for name, output, t, walked in (("x", "out_x", x, graph), ("y", "out_y", y, second))
    )
    same = out_x.grad_fn is out_y.grad_fn
    out_x.backward()
    out_y.backward()
    gradients = (gradient_of("x", x), gradient_of("y", y))
    verdict = None
    if params.check:
        verdict = gradient_check(
            forward,
            {"x": x, "y": y},
            {g.name: g.value for g in gradients},
            params.dtype,
            graph.node_count + second.node_count,
            closed_form=closed_form({"x": x, "y": y}),
        )
    shared = params.run_facts(STATEMENTS, tensors, graph, verdict)
    return DynamicReport(
        **shared, gradients=gradients, passes=passes, second_graph=second, same_grad_fn=same
    )


def _pass(name: str, output: str, t: torch.Tensor, graph: Graph) -> Pass:
    h_sum = float((t.detach() * 2).sum())
    return Pass(name, output, h_sum, BRANCHES[h_sum > 0], tuple(graph.grad_fns))


# The human view ---------------------------------------------------------------

PASS_LINE = N_("f({input}): h.sum() = {h_sum:.4g}, so Python ran {branch}")
DYNAMIC_NOTE = N_(
    "Each call of f recorded its own graph while it ran, operation by operation: the "
    "`if` read this call's values and only the branch it took was recorded. backward() "
    "walks the graph of the call that made its output. So a model may use Python "
    "control flow (an if, a loop, a different input size): the tutorial's 'DAGs are "
    "dynamic in PyTorch'."
)
GRADIENT_NOTE = N_("{name}.grad = {form}: the gradient of the branch f took for {name}.")


def view(report: DynamicReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from rich.text import Text

    from autograd_cli.render import table

    yield table.heading(_("agrad dynamic · seed {seed}").format(seed=report.seed), first=True)
    yield table.code(report.statements, intro=_("One function with a Python if, two inputs:"))
    yield from table.tensor_section(report.tensors, precision)
    yield table.heading(_("Two calls, two graphs"))
    for facts, graph in zip(report.passes, (report.graph, report.second_graph), strict=True):
        line = _(PASS_LINE).format(input=facts.input, h_sum=facts.h_sum, branch=facts.branch)
        yield Text("\n" + line, style=table.TITLE)
        yield from table.graph_section(graph, facts.output, tree, precision)
    yield Text(f"\nout_x.grad_fn is out_y.grad_fn = {report.same_grad_fn}", style="bold")
    yield table.note(_(DYNAMIC_NOTE))
    yield table.heading(_("backward(): each graph gives its own leaf its gradient"))
    for gradient, facts in zip(report.gradients, report.passes, strict=True):
        yield table.matrix(gradient.value, precision, title=f"{gradient.name}.grad")
        form = CLOSED_FORMS[facts.branch == BRANCHES[True]].format(name=facts.input)
        yield table.note(_(GRADIENT_NOTE).format(name=facts.input, form=form))


SCENARIO = Scenario(NAME, ROOT, options, Params, report, view, EXAMPLES, largest_numel)
