"""`agrad linear`: the tutorial's one-layer network, z = x·w + b, loss = BCE-with-logits(z, y).

Runs torch.manual_seed(S) and exactly the tutorial's statements, then shows the
tensors, the grad_fn chain, w.grad and b.grad, that only leaves get .grad, and how
torch.no_grad() and detach() turn tracking off. Torch is imported inside the
functions that build the report (see scenarios/__init__.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autograd_cli.i18n import N_, _
from autograd_cli.model import GradientsReport, Values, WalkRequest
from autograd_cli.scenarios import Scenario, SeededParams

if TYPE_CHECKING:
    import torch

    from autograd_cli.render.formats import TreeOptions

NAME = "linear"
ROOT = "loss"
# The JSON keys in the order the command has always written them.
LAYOUT = "seed statements tensors graph gradients freezing check device dtype non_leaf"

# Shown to the user exactly as run below, so the numbers can be reproduced by hand.
STATEMENTS = (
    "torch.manual_seed(seed)",
    "x = torch.ones(5)  # input tensor",
    "y = torch.zeros(3)  # expected output",
    "w = torch.randn(5, 3, requires_grad=True)",
    "b = torch.randn(3, requires_grad=True)",
    "z = torch.matmul(x, w) + b",
    "loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)",
)
# The tutorial's way to keep a non-leaf's gradient, run as shown (on the same leaves).
RETAIN_GRAD = (
    "z = torch.matmul(x, w) + b",
    "z.retain_grad()",
    "loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)",
    "loss.backward()",
)
EXAMPLES = (
    "agrad linear --seed 0",
    "agrad linear --seed 0 --json | jq '.gradients[0].value'",
)


Params = SeededParams  # only the shared parameters


@dataclass(frozen=True)
class FreezeCase:
    """`requires_grad` of the tensor one statement makes; `case` is a stable key for JSON."""

    case: str  # "built", "no_grad" or "detach"
    code: str
    requires_grad: bool
    tensor: str = "z"  # the tensor `code` makes: "z", or "z_det" for detach()
    # detach() only: z's own requires_grad afterwards (detach() leaves z as it was).
    source_requires_grad: bool | None = None


@dataclass(frozen=True)
class NonLeafGrad:
    """The tutorial's rule that only leaves get .grad, run on z.

    `grad` is z.grad read after loss.backward() (None: autograd does not keep a
    non-leaf's gradient), `warning` what torch warned on that read, and
    `retained_grad` z.grad after the same forward and backward with z.retain_grad().
    """

    name: str
    code: tuple[str, ...]  # the retain_grad() statements that were run
    grad: Values
    warning: str | None
    retained_grad: Values


@dataclass(frozen=True, kw_only=True)
class LinearReport(GradientsReport, command=NAME, layout=LAYOUT):
    """Everything `agrad linear` shows, in the order it shows it."""

    freezing: tuple[FreezeCase, ...]
    non_leaf: NonLeafGrad | None = None


def options() -> dict[str, Any]:
    """The tutorial's one-layer network: z = x·w + b, loss = BCE-with-logits(z, y).

    Runs torch.manual_seed(S) and exactly the tutorial's statements, then shows the
    tensors, z.grad_fn and loss.grad_fn, the whole grad_fn chain from loss to the
    leaves w and b, w.grad and b.grad after loss.backward(), and how torch.no_grad()
    and detach() turn gradient tracking off.
    """
    return {}


def largest_numel(params: Params) -> int:
    return 15  # w is 5 x 3


# The tensors ------------------------------------------------------------------


@dataclass
class LinearTensors:
    x: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor
    b: torch.Tensor
    z: torch.Tensor
    loss: torch.Tensor

    def named(self) -> dict[str, torch.Tensor]:
        return {"x": self.x, "y": self.y, "w": self.w, "b": self.b, "z": self.z, "loss": self.loss}


def build(seed: int, device: str = "cpu", dtype: str = "float32") -> LinearTensors:
    """Exactly the tutorial's statements, in its order, after manual_seed(seed)
    (with device= and dtype= added when they are not the tutorial's CPU float32)."""
    import torch
    import torch.nn.functional as F

    from autograd_cli.scenarios.seeding import manual_seed

    manual_seed(seed, device)
    where = {"device": device, "dtype": getattr(torch, dtype)}
    x = torch.ones(5, **where)
    y = torch.zeros(3, **where)
    w = torch.randn(5, 3, requires_grad=True, **where)
    b = torch.randn(3, requires_grad=True, **where)
    z = logits(x, w, b)
    loss = F.binary_cross_entropy_with_logits(z, y)
    return LinearTensors(x=x, y=y, w=w, b=b, z=z, loss=loss)


def logits(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.matmul(x, w) + b


def retained_z_grad(t: LinearTensors) -> torch.Tensor:
    """z.grad from a forward and backward with z.retain_grad(): ∂loss/∂z."""
    import torch.nn.functional as F

    z = logits(t.x, t.w, t.b)
    z.retain_grad()
    F.binary_cross_entropy_with_logits(z, t.y).backward()
    assert z.grad is not None
    return z.grad


def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    """loss from (float64 copies of) the tensors, for --check's finite differences."""
    import torch.nn.functional as F

    z = logits(leaves["x"], leaves["w"], leaves["b"])
    return F.binary_cross_entropy_with_logits(z, leaves["y"])


def closed_form(leaves: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tutorial's gradients by hand: dL/dz = (σ(z) − y)/3, outer(x, dL/dz)."""
    import torch

    x, y = leaves["x"].double(), leaves["y"].double()
    z = x @ leaves["w"].double() + leaves["b"].double()
    dl_dz = (1.0 / (1.0 + torch.exp(-z)) - y) / z.numel()
    return {"w": torch.outer(x, dl_dz), "b": dl_dz}


# The report -------------------------------------------------------------------


def report(params: Params, walk: WalkRequest) -> LinearReport:
    import torch

    from autograd_cli.inspection.gradient_check import gradient_check
    from autograd_cli.inspection.graph import facts_and_graph
    from autograd_cli.inspection.tensors import gradient_of

    t = build(params.seed, params.device, params.dtype)
    named = t.named()
    tensors, graph = facts_and_graph(t.loss, named, walk)

    t.loss.backward()
    gradients = (gradient_of("w", t.w), gradient_of("b", t.b))
    # Read before the retain_grad() run below adds to w.grad and b.grad.
    non_leaf = _non_leaf_grad(t)
    verdict = None
    if params.check:
        verdict = gradient_check(
            forward,
            named,
            {g.name: g.value for g in gradients},
            params.dtype,
            graph.node_count,
            closed_form=closed_form(named),
        )

    with torch.no_grad():
        z_no_grad = logits(t.x, t.w, t.b)
    freezing = (
        FreezeCase("built", "z = torch.matmul(x, w) + b", logits(t.x, t.w, t.b).requires_grad),
        FreezeCase(
            "no_grad",
            "with torch.no_grad(): z = torch.matmul(x, w) + b",
            z_no_grad.requires_grad,
        ),
        _detach_case(t.z),
    )
    shared = params.run_facts(STATEMENTS, tensors, graph, verdict)
    return LinearReport(**shared, gradients=gradients, freezing=freezing, non_leaf=non_leaf)


def _detach_case(z: torch.Tensor) -> FreezeCase:
    z_det = z.detach()
    return FreezeCase(
        "detach",
        "z_det = z.detach()",
        z_det.requires_grad,
        tensor="z_det",
        source_requires_grad=z.requires_grad,  # detach() returns a new tensor; z is unchanged
    )


def _non_leaf_grad(t: LinearTensors) -> NonLeafGrad:
    """z.grad after backward (None, with torch's warning), then with z.retain_grad()."""
    from autograd_cli.inspection.tensors import torch_words, values_of

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grad = t.z.grad  # torch warns here: z is not a leaf
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return NonLeafGrad(
        name="z",
        code=RETAIN_GRAD,
        grad=None if grad is None else values_of(grad),
        warning=torch_words(said[0]) if said else None,
        retained_grad=values_of(retained_z_grad(t)),
    )


# The human view ---------------------------------------------------------------


def view(report: LinearReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from autograd_cli.render import table

    yield table.heading(_("agrad linear · seed {seed}").format(seed=report.seed), first=True)
    yield table.code(
        report.statements, intro=_("The tutorial's statements, run exactly as written:")
    )
    yield from table.tensor_section(report.tensors, precision)

    by_name = {t.name: t for t in report.tensors}
    yield table.heading(_("grad_fn: the Function that made each tensor, used by backward()"))
    yield table.grad_fn_lines(("z", "loss"), by_name)
    yield from table.graph_section(report.graph, ROOT, tree, precision)
    yield table.note(
        _(
            "The forward pass built this graph while it computed loss: every operation on a "
            "tensor that requires grad recorded its node. It is built anew on every forward "
            "pass (the graph is dynamic), so Python control flow may change it from one call "
            "to the next."
        )
    )

    yield table.heading(_("loss.backward(): gradients stored in .grad of the leaves"))
    yield table.note(
        _(
            "loss is a scalar, so loss.backward() is loss.backward(torch.tensor(1.0)): "
            "the chain rule starts from ∂loss/∂loss = 1."
        )
    )
    for gradient in report.gradients:
        yield table.matrix(gradient.value, precision, title=f"{gradient.name}.grad")
    yield table.note(
        _(
            "loss is the mean of 3 binary cross-entropies, so ∂loss/∂z = (σ(z) − y) / 3; "
            "then w.grad = outer(x, ∂loss/∂z) and b.grad = ∂loss/∂z."
        )
    )
    if report.non_leaf is not None:
        yield from _non_leaf_section(report.non_leaf, precision)

    yield table.heading(_("Disabling gradient tracking: frozen parameters, faster inference"))
    yield _freezing_lines(report)


FREEZE_WHY = {
    "built": N_("w and b require grad, so z joins the graph and backward() reaches them."),
    "no_grad": N_(
        "nothing is recorded: use it for inference, or to freeze parameters, "
        "without the graph's memory and time."
    ),
    "detach": N_("the same values cut from the graph: no grad_fn, no history."),
}


def _freezing_lines(report: LinearReport) -> Any:
    from rich.console import Group
    from rich.text import Text

    from autograd_cli.render import table

    lines: list[Any] = []
    for case in report.freezing:
        lines.append(Text("  " + case.code, style=table.CODE))
        lines.append(
            table.indented(
                Text(f"{case.tensor}.requires_grad = {case.requires_grad}", style="bold"), 4
            )
        )
        lines.append(table.indented(table.note(_(FREEZE_WHY[case.case])), 4))
        if case.source_requires_grad is not None:
            lines.append(
                table.indented(
                    Text(f"z.requires_grad = {case.source_requires_grad}", style="bold"), 4
                )
            )
            lines.append(
                table.indented(
                    table.note(
                        _(
                            "z itself is unchanged: detach() returns a new tensor that shares "
                            "z's data."
                        )
                    ),
                    4,
                )
            )
    return Group(*lines)


def _non_leaf_section(facts: NonLeafGrad, precision: int) -> Iterator[Any]:
    from rich.text import Text

    from autograd_cli.render import table

    yield table.heading(_("Only leaves get .grad"))
    shown = "None" if facts.grad is None else _("a tensor")
    yield Text(f"  {facts.name}.grad = {shown}", style="bold")
    if facts.warning:
        yield table.indented(
            Text(_("torch warned: {warning}").format(warning=facts.warning), style="yellow"), 4
        )
    yield table.code(
        facts.code,
        intro=_(
            "backward() fills .grad only for the leaves that require grad (here w and b). "
            "{name} is an intermediate result (is_leaf = False): its gradient is used on the "
            "way to the leaves, then dropped. {name}.retain_grad() before backward() keeps it:"
        ).format(name=facts.name),
    )
    yield table.matrix(facts.retained_grad, precision, title=f"{facts.name}.grad")
    yield table.note(
        _(
            "{name}.grad = ∂loss/∂{name}: the same values as b.grad, since b is added to {name}."
        ).format(name=facts.name)
    )


SCENARIO = Scenario(NAME, ROOT, options, Params, report, view, EXAMPLES, largest_numel)
