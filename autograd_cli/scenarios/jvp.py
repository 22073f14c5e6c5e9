"""`agrad jvp` (and its reverse-mode alias `agrad vjp`): the tutorial's Jacobian
product, out = (inp + 1).pow(2).t() with inp = eye(4, 5), and how inp.grad
accumulates over backward() calls. Torch is imported inside the functions that
build the report (see scenarios/__init__.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autograd_cli.i18n import N_, _, group, ngettext
from autograd_cli.model import JacobianFacts, StatementsReport, Values, WalkRequest
from autograd_cli.options import (
    MAX_REPEAT,
    JacobianFlag,
    choice_option,
    integer_option,
    option,
)
from autograd_cli.scenarios import CHECK, TENSOR, Scenario, TensorParams

if TYPE_CHECKING:
    import torch

    from autograd_cli.render.formats import TreeOptions

NAME = "jvp"
ROOT = "out"
# The JSON keys in the order the command has always written them.
LAYOUT = "repeat statements tensors graph vector steps check mode forward jacobian device dtype"
STATEMENTS = (
    "inp = torch.eye(4, 5, requires_grad=True)",
    "out = (inp + 1).pow(2).t()",
)
VECTOR = "torch.ones_like(out)"
SHAPE = (4, 5)  # inp = eye(4, 5)
EXAMPLES = (
    "agrad jvp --repeat 3",
    "agrad jvp --repeat 3 --json | jq '.steps[-2].grad'",
)
MODES = ("reverse", "forward", "both")


@dataclass(frozen=True, kw_only=True)
class Params(TensorParams):
    repeat: int = 2
    mode: str = "reverse"
    tangent: str = "ones"
    jacobian: bool = False


@dataclass(frozen=True)
class AccumulationStep:
    """`inp.grad` right after one backward call."""

    call: int  # 1-based count of backward calls so far
    zeroed_before: bool  # True for the call made right after grad.zero_()
    grad: Values


@dataclass(frozen=True)
class ForwardProduct:
    """Forward mode: J·t for a tangent t of the input's shape (torch.func.jvp)."""

    tangent: str  # as given: "ones", "randn" or "onehot:I,J"
    tangent_value: Values
    product: Values  # J·t, shaped like the output


@dataclass(frozen=True, kw_only=True)
class JvpReport(StatementsReport, command=NAME, layout=LAYOUT):
    """Everything `agrad jvp` shows, in the order it shows it."""

    repeat: int
    vector: str  # the v of each backward(v) call, as code
    steps: tuple[AccumulationStep, ...]  # reverse mode's backward() calls; () in forward mode
    mode: str = "reverse"  # "reverse", "forward" or "both"
    forward: ForwardProduct | None = None  # forward mode's J·t
    jacobian: JacobianFacts | None = None  # with --jacobian

    def leaf_gradients(self) -> dict[str, Values]:
        return {"inp": self.steps[-1].grad} if self.steps else {}


# The command line -------------------------------------------------------------


def _ascii_index(text: str) -> bool:
    return 0 < len(text) <= 9 and all("0" <= ch <= "9" for ch in text)


def parse_tangent(text: str) -> str:
    """ones, randn, or onehot:I,J with 0 <= I < 4, 0 <= J < 5 (an element of inp)."""
    spec = text.strip().lower()
    if spec in ("ones", "randn"):
        return spec
    allowed = _("ones, randn, or onehot:I,J with I in 0-{i_max} and J in 0-{j_max}").format(
        i_max=SHAPE[0] - 1, j_max=SHAPE[1] - 1
    )
    head, _colon, rest = spec.partition(":")
    parts = rest.split(",")
    # ASCII digits only: str.isdigit() is also true of "²" and "١", which int() refuses
    # or reads as another digit.
    if head != "onehot" or len(parts) != 2 or not all(_ascii_index(p.strip()) for p in parts):
        raise ValueError(
            _("{value!r} is not a tangent; allowed: {allowed}.").format(value=text, allowed=allowed)
        )
    i, j = (int(p) for p in parts)
    if not (i < SHAPE[0] and j < SHAPE[1]):
        raise ValueError(
            _("{value!r} is outside inp {shape}; allowed: {allowed}.").format(
                value=text, shape=SHAPE, allowed=allowed
            )
        )
    return f"onehot:{i},{j}"


RepeatOption = integer_option(
    "--repeat",
    1,
    MAX_REPEAT,
    f"How many backward() calls accumulate before zeroing (1-{MAX_REPEAT}).",
)


ModeOption = choice_option(
    "--mode",
    MODES,
    "reverse: out.backward(v), vᵀ·J, as the tutorial. forward: torch.func.jvp, "
    "J·t, no backward pass. both: reverse, then forward, one after the other.",
)
TangentOption = option(
    str,
    "--tangent",
    parse=parse_tangent,
    metavar="[ones|randn|onehot:I,J]",
    help="The t of forward mode's J·t: ones, randn (seeded with 0), or onehot:I,J, "
    "a 1 at inp[I, J].",
)


def options(
    repeat: RepeatOption = 2,
    mode: ModeOption = "reverse",
    tangent: TangentOption = "ones",
    jacobian: JacobianFlag = False,
) -> dict[str, Any]:
    """The tutorial's Jacobian product: out = (inp + 1).pow(2).t(), inp = eye(4, 5).

    Calls out.backward(torch.ones_like(out), retain_graph=True) N times and shows
    inp.grad after each call: every call adds the vector-Jacobian product vᵀ·J =
    2·(inp + 1) again. Then inp.grad.zero_() and one more call, as in the tutorial's
    "First call / Second call / Call after zeroing gradients". --mode forward computes
    J·t instead (torch.func.jvp); --jacobian shows J itself.
    """
    return {"repeat": repeat, "mode": mode, "tangent": tangent, "jacobian": jacobian}


def vjp_options(repeat: RepeatOption = 2, jacobian: JacobianFlag = False) -> dict[str, Any]:
    """An alias of agrad jvp --mode reverse: out.backward(v) computes the
    vector-Jacobian product vᵀ·J, which is what the tutorial's "Jacobian product" is."""
    return {"repeat": repeat, "jacobian": jacobian}


def largest_numel(params: Params) -> int:
    return 400  # the 20 x 20 Jacobian


# The tensors ------------------------------------------------------------------


@dataclass
class JvpTensors:
    inp: torch.Tensor
    out: torch.Tensor

    def named(self) -> dict[str, torch.Tensor]:
        return {"inp": self.inp, "out": self.out}


def build(device: str = "cpu", dtype: str = "float32") -> JvpTensors:
    import torch

    inp = torch.eye(4, 5, requires_grad=True, device=device, dtype=getattr(torch, dtype))
    return JvpTensors(inp=inp, out=output(inp))


def output(inp: torch.Tensor) -> torch.Tensor:
    return (inp + 1).pow(2).t()


def forward(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    """v·out with v = ones: the scalar whose gradient one backward(v) call computes."""
    return output(leaves["inp"]).sum()


def tangent(spec: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The t of forward mode's J·t: ones, randn (seeded with 0) or onehot:I,J."""
    import torch

    if spec == "ones":
        return torch.ones(shape)
    if spec == "randn":
        generator = torch.Generator().manual_seed(0)
        return torch.randn(shape, generator=generator)
    i, j = (int(n) for n in spec.removeprefix("onehot:").split(","))
    t = torch.zeros(shape)
    t[i, j] = 1.0
    return t


# The report -------------------------------------------------------------------


def report(params: Params, walk: WalkRequest) -> JvpReport:
    import torch

    from autograd_cli.inspection.gradient_check import gradient_check
    from autograd_cli.inspection.graph import facts_and_graph
    from autograd_cli.inspection.jacobian import jacobian_facts, quiet_deprecations
    from autograd_cli.inspection.tensors import values_of

    t = build(params.device, params.dtype)
    named = t.named()
    tensors, graph = facts_and_graph(t.out, named, walk)
    forward_product = None
    if params.mode in ("forward", "both"):
        tangent_value = tangent(params.tangent, tuple(t.inp.shape)).to(t.inp)
        # Forward mode: J·t in one pass alongside the function, no backward() at all.
        with quiet_deprecations():
            _, product = torch.func.jvp(output, (t.inp.detach(),), (tangent_value,))
        forward_product = ForwardProduct(
            params.tangent, values_of(tangent_value), values_of(product)
        )
    facts = jacobian_facts("inp", output, t.inp, t.out) if params.jacobian else None
    steps: list[AccumulationStep] = []
    verdict = None
    if params.mode != "forward":
        v = torch.ones_like(t.out)
        for call in range(1, params.repeat + 1):
            # retain_graph=True: the same graph is walked again by the next call.
            t.out.backward(v, retain_graph=True)
            steps.append(AccumulationStep(call, False, values_of(t.inp.grad)))
        t.inp.grad.zero_()
        t.out.backward(v, retain_graph=True)
        steps.append(AccumulationStep(params.repeat + 1, True, values_of(t.inp.grad)))
        if params.check:  # the first call's gradient: one vector-Jacobian product
            verdict = gradient_check(
                forward, named, {"inp": steps[0].grad}, params.dtype, graph.node_count
            )
    shared = params.run_facts(STATEMENTS, tensors, graph, verdict, "repeat", "mode")
    return JvpReport(
        **shared, vector=VECTOR, steps=tuple(steps), forward=forward_product, jacobian=facts
    )


# The human view ---------------------------------------------------------------


def view(report: JvpReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from autograd_cli.render import table

    title = {
        "reverse": ngettext(
            "{count} accumulating call, then zero_()",
            "{count} accumulating calls, then zero_()",
            report.repeat,
        ).format(count=group(report.repeat)),
        "forward": _("forward mode"),
        "both": _("reverse and forward mode"),
    }[report.mode]
    yield table.heading(f"agrad jvp · {title}", first=True)
    yield table.code(report.statements, intro=_("The tutorial's statements:"))
    yield from table.tensor_section(report.tensors, precision)

    yield table.heading(_("grad_fn chain"))
    yield table.grad_fn_lines(("out",), {t.name: t for t in report.tensors})
    yield from table.graph_section(report.graph, ROOT, tree, precision)

    if report.steps:
        yield from _reverse_section(report, precision)
    if report.forward is not None:
        yield from _forward_section(report.forward, precision)
    if report.mode == "both":
        yield table.note(
            _(
                "Which is which: out.backward(v) is reverse mode, vᵀ·J: v lives where out "
                "does (5×4) and the result where inp does (4×5), one backward pass for all "
                "of inp's gradient. torch.func.jvp is forward mode, J·t: t lives where inp "
                "does and the result where out does. The tutorial calls its section "
                "'Jacobian product', and agrad names the command after it, but backward(v) "
                "computes a vector-Jacobian product; agrad vjp is the same command in "
                "reverse mode."
            )
        )
    if report.jacobian is not None:
        yield from table.jacobian_section(report.jacobian, precision)


# The notes of the two modes' sections, translated where they are shown.
VJP_NOTE = N_(
    "out is not a scalar, so out.backward(v) needs a vector v = {vector}. It "
    "computes the vector-Jacobian product vᵀ·J, with J = ∂out/∂inp, and adds it to "
    "inp.grad. Here vᵀ·J = 2·(inp + 1): 4 where inp is 1, 2 elsewhere."
)
RETAIN_NOTE = N_(
    "retain_graph=True keeps the tensors the graph saved for backward (the input of "
    "pow), so the same graph can be walked again; without it the second call fails "
    "with 'Trying to backward through the graph a second time'."
)
ACCUMULATION_NOTE = N_(
    "backward() adds to .grad instead of replacing it: after k calls inp.grad is "
    "k·2·(inp + 1). inp.grad.zero_() fills it with zeros, so the sum starts again. "
    "In a training loop optimizer.zero_grad() does this job, but since torch 2.0 it "
    "sets .grad to None by default (set_to_none=True) instead of filling it with "
    "zeros; the next backward() then stores its gradient afresh."
)
FORWARD_NOTE = N_(
    "torch.func.jvp(f, (inp.detach(),), (t,)) pushes a tangent t, shaped like inp, "
    "through f alongside the function itself and returns J·t, shaped like out. "
    "agrad passes inp.detach(), so nothing is recorded for backward() and inp.grad "
    "is untouched; given inp itself, which requires grad, J·t would join inp's "
    "graph (it would have a grad_fn)."
)


def _reverse_section(report: JvpReport, precision: int) -> Iterator[Any]:
    from autograd_cli.render import table

    yield table.heading(_("Tensor gradients and the Jacobian product"))
    yield table.note(_(VJP_NOTE).format(vector=report.vector))
    yield table.note(_(RETAIN_NOTE))
    for step in report.steps:
        yield table.call_title(step.call, step.zeroed_before, report.repeat)
        yield table.matrix(step.grad, precision, title=_("inp.grad after this call"))
    yield table.note(_(ACCUMULATION_NOTE))


def _forward_section(forward: ForwardProduct, precision: int) -> Iterator[Any]:
    from autograd_cli.render import table

    yield table.heading(_("Forward mode: J·t with torch.func.jvp, no backward pass"))
    yield table.note(_(FORWARD_NOTE))
    yield table.matrix(forward.tangent_value, precision, title=f"t = {forward.tangent}")
    yield table.matrix(forward.product, precision, title="J·t")


SCENARIO = Scenario(
    NAME, ROOT, options, Params, report, view, EXAMPLES, largest_numel, (TENSOR, CHECK)
)
# agrad vjp: the same scenario, reverse mode only.
VJP = dataclasses.replace(
    SCENARIO,
    name="vjp",
    options=vjp_options,
    examples=("agrad vjp", "agrad vjp --jacobian"),
)
