"""`agrad chain`: a deep graph on purpose, an RNN-like recurrence unrolled over N steps.

h = tanh(h @ a + b), N times, from h0; loss = h.sum(). Each step adds three nodes
(MmBackward0, AddBackward0, TanhBackward0), so N = 100,000 makes a graph of
300,004 nodes: far deeper than recursive tools (torchviz) or Python's recursion
limit can follow. Torch is imported inside the functions that build the report
(see scenarios/__init__.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autograd_cli.i18n import _, group, ngettext
from autograd_cli.model import GradientsReport, WalkRequest
from autograd_cli.options import integer_option
from autograd_cli.scenarios import Scenario, SeededParams

if TYPE_CHECKING:
    import torch

    from autograd_cli.render.formats import TreeOptions

NAME = "chain"
ROOT = "loss"
# The JSON keys in the order the command has always written them.
LAYOUT = "length hidden seed statements tensors graph gradients check device dtype"
MAX_LENGTH = 200_000
MAX_HIDDEN = 256
EXAMPLES = (
    "agrad chain --length 3 --saved",
    "agrad chain --length 100000 --format json | jq '.graph.node_count'",
)


@dataclass(frozen=True, kw_only=True)
class Params(SeededParams):
    length: int = 10
    hidden: int = 4


@dataclass(frozen=True, kw_only=True)
class ChainReport(GradientsReport, command=NAME, layout=LAYOUT):
    """Everything `agrad chain` shows: an RNN-like recurrence unrolled N steps."""

    length: int
    hidden: int


LengthOption = integer_option(
    "--length", 1, MAX_LENGTH, f"Time steps to unroll (1-{MAX_LENGTH:,}); each adds three nodes."
)
HiddenOption = integer_option(
    "--hidden",
    1,
    MAX_HIDDEN,
    f"Hidden size: h is (1, H), a is (H, H), b is (H,) (1-{MAX_HIDDEN}).",
    metavar="H",
)


def options(length: LengthOption = 10, hidden: HiddenOption = 4) -> dict[str, Any]:
    """An RNN-like recurrence unrolled over N time steps: a graph as deep as you like.

    h = tanh(h @ a + b), N times from h0, then loss = h.sum(); the leaves are h0, a and
    b. Use it to see how agrad (and autograd) behave as graphs grow: agrad walks
    graphs of any depth without recursion, and --length 100000 (300,004 nodes)
    works in every format. The tree view shows the first 200 nodes (--max-nodes).
    """
    return {"length": length, "hidden": hidden}


def statements(length: int, hidden: int) -> tuple[str, ...]:
    return (
        "torch.manual_seed(seed)",
        f"h0 = torch.randn(1, {hidden}, requires_grad=True)",
        f"a = (torch.randn({hidden}, {hidden}) / {hidden} ** 0.5).requires_grad_()",
        f"b = torch.randn({hidden}, requires_grad=True)",
        "h = h0",
        f"for step in range({length}):",
        "    h = torch.tanh(h @ a + b)",
        "loss = h.sum()",
    )


def largest_numel(params: Params) -> int:
    return max(params.hidden**2, 1)  # a is H x H; h0, b and each h are 1 x H


# The tensors ------------------------------------------------------------------


@dataclass
class ChainTensors:
    h0: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    h: torch.Tensor
    loss: torch.Tensor

    def named(self) -> dict[str, torch.Tensor]:
        return {"h0": self.h0, "a": self.a, "b": self.b, "h": self.h, "loss": self.loss}


def build(
    length: int, hidden: int, seed: int, device: str = "cpu", dtype: str = "float32"
) -> ChainTensors:
    import torch

    from autograd_cli.scenarios.seeding import manual_seed

    manual_seed(seed, device)
    where = {"device": device, "dtype": getattr(torch, dtype)}
    h0 = torch.randn(1, hidden, requires_grad=True, **where)
    # Scaled so that tanh neither saturates nor dies over many steps.
    a = (torch.randn(hidden, hidden, **where) / hidden**0.5).requires_grad_()
    b = torch.randn(hidden, requires_grad=True, **where)
    h = unroll(h0, a, b, length)
    return ChainTensors(h0=h0, a=a, b=b, h=h, loss=h.sum())


def unroll(h0: torch.Tensor, a: torch.Tensor, b: torch.Tensor, length: int) -> torch.Tensor:
    import torch

    h = h0
    for _step in range(length):
        h = torch.tanh(h @ a + b)
    return h


def forward_for(length: int) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
    """loss from (float64 copies of) the leaves, for --check's finite differences."""

    def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
        return unroll(leaves["h0"], leaves["a"], leaves["b"], length).sum()

    return forward


# The report -------------------------------------------------------------------


def report(params: Params, walk: WalkRequest) -> ChainReport:
    from autograd_cli.inspection.gradient_check import check_budget, gradient_check
    from autograd_cli.inspection.graph import facts_and_graph
    from autograd_cli.inspection.tensors import gradient_of

    length, hidden = params.length, params.hidden
    if params.check:  # refused before the graph is even built
        check_budget(2 * hidden + hidden * hidden, 3 * length + 4)
    t = build(length, hidden, params.seed, params.device, params.dtype)
    named = t.named()
    tensors, graph = facts_and_graph(t.loss, named, walk)
    t.loss.backward()
    gradients = tuple(gradient_of(name, getattr(t, name)) for name in ("h0", "a", "b"))
    verdict = None
    if params.check:
        verdict = gradient_check(
            forward_for(length),
            named,
            {g.name: g.value for g in gradients},
            params.dtype,
            graph.node_count,
        )
    shared = params.run_facts(statements(length, hidden), tensors, graph, verdict)
    return ChainReport(**shared, gradients=gradients, length=length, hidden=hidden)


# The human view ---------------------------------------------------------------


def view(report: ChainReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from autograd_cli.render import table

    yield table.heading(
        ngettext(
            "agrad chain · {length} step, hidden size {hidden}, seed {seed}",
            "agrad chain · {length} steps, hidden size {hidden}, seed {seed}",
            report.length,
        ).format(length=group(report.length), hidden=report.hidden, seed=report.seed),
        first=True,
    )
    yield table.code(report.statements, intro=_("An RNN-like recurrence, unrolled:"))
    yield from table.tensor_section(report.tensors, precision)
    yield table.heading(_("grad_fn chain"))
    yield table.grad_fn_lines(("h", ROOT), {t.name: t for t in report.tensors})
    yield from table.graph_section(report.graph, ROOT, tree, precision)
    yield table.note(
        _(
            "Each step adds MmBackward0, AddBackward0 and TanhBackward0; a and b are used at "
            "every step, so their AccumulateGrad nodes are reached again and again and "
            "backward() sums one contribution per step into a.grad and b.grad."
        )
    )
    yield table.heading(_("loss.backward(): gradients stored in .grad of the leaves"))
    for gradient in report.gradients:
        yield table.matrix(gradient.value, precision, title=f"{gradient.name}.grad")


SCENARIO = Scenario(NAME, ROOT, options, Params, report, view, EXAMPLES, largest_numel)
