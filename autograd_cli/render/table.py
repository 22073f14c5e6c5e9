"""The human view: Rich tables, trees and short explanations.

Each `*_view` function returns the renderables of one command in display order;
rounding to `precision` decimals happens here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from autograd_cli.i18n import N_, _, group, ngettext
from autograd_cli.model import (
    ChainReport,
    CheckReport,
    ExprReport,
    ForwardProduct,
    Graph,
    InspectReport,
    JacobianFacts,
    JvpReport,
    LinearReport,
    NonLeafGrad,
    Report,
    TensorFacts,
    Values,
)
from autograd_cli.render.labels import flat, number_text, shape_text, values_preview
from autograd_cli.render.layout import Column, FittedTable
from autograd_cli.render.tree import TreeLine, tree_lines

TITLE = "bold"
CODE = "cyan"
NOTE = "dim"
MISSING = "—"

ORDINALS = (
    N_("First call"),
    N_("Second call"),
    N_("Third call"),
    N_("Fourth call"),
    N_("Fifth call"),
    N_("Sixth call"),
    N_("Seventh call"),
    N_("Eighth call"),
    N_("Ninth call"),
    N_("Tenth call"),
)


def call_label(call: int, zeroed_before: bool, repeat: int) -> str:
    """The tutorial's "First call", "Second call", "Call after zeroing gradients".

    Ordinals only while every accumulating call has one (repeat <= 10); past that,
    "Call 1" ... "Call 12" for all of them, so one run never mixes the two schemes."""
    if zeroed_before:
        return _("Call after zeroing gradients")
    if repeat <= len(ORDINALS):
        return _(ORDINALS[call - 1])
    return _("Call {number}").format(number=call)


JACOBIAN_SHOWN = 40  # rows and columns of a Jacobian drawn in the table view
# Tensors with more elements are summarised instead of printed as a grid.
MATRIX_MAX_NUMEL = 64


@dataclass(frozen=True)
class TreeOptions:
    max_nodes: int
    saved: bool


def linear_view(
    report: LinearReport, precision: int, tree: TreeOptions
) -> Iterator[RenderableType]:
    yield _heading(_("agrad linear · seed {seed}").format(seed=report.seed), first=True)
    yield _code(report.statements, intro=_("The tutorial's statements, run exactly as written:"))
    yield from _tensor_section(report.tensors, precision)

    by_name = {t.name: t for t in report.tensors}
    yield _heading(_("grad_fn: the Function that made each tensor, used by backward()"))
    yield _grad_fn_lines(("z", "loss"), by_name)
    yield from _graph_section(report.graph, "loss", tree, precision)
    yield _note(
        _(
            "The forward pass built this graph while it computed loss: every operation on a "
            "tensor that requires grad recorded its node. It is built anew on every forward "
            "pass (the graph is dynamic), so Python control flow may change it from one call "
            "to the next."
        )
    )

    yield _heading(_("loss.backward(): gradients stored in .grad of the leaves"))
    yield _note(
        _(
            "loss is a scalar, so loss.backward() is loss.backward(torch.tensor(1.0)): "
            "the chain rule starts from ∂loss/∂loss = 1."
        )
    )
    for gradient in report.gradients:
        yield _matrix(gradient.value, precision, title=f"{gradient.name}.grad")
    yield _note(
        _(
            "loss is the mean of 3 binary cross-entropies, so ∂loss/∂z = (σ(z) − y) / 3; "
            "then w.grad = outer(x, ∂loss/∂z) and b.grad = ∂loss/∂z."
        )
    )
    if report.non_leaf is not None:
        yield from _non_leaf_section(report.non_leaf, precision)

    yield _heading(_("Disabling gradient tracking: frozen parameters, faster inference"))
    yield _freezing_lines(report)


def jvp_view(report: JvpReport, precision: int, tree: TreeOptions) -> Iterator[RenderableType]:
    title = {
        "reverse": ngettext(
            "{count} accumulating call, then zero_()",
            "{count} accumulating calls, then zero_()",
            report.repeat,
        ).format(count=group(report.repeat)),
        "forward": _("forward mode"),
        "both": _("reverse and forward mode"),
    }[report.mode]
    yield _heading(f"agrad jvp · {title}", first=True)
    yield _code(report.statements, intro=_("The tutorial's statements:"))
    yield from _tensor_section(report.tensors, precision)

    yield _heading(_("grad_fn chain"))
    yield _grad_fn_lines(("out",), {t.name: t for t in report.tensors})
    yield from _graph_section(report.graph, "out", tree, precision)

    if report.steps:
        yield from _reverse_section(report, precision)
    if report.forward is not None:
        yield from _forward_section(report.forward, precision)
    if report.mode == "both":
        yield _note(
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
        yield from jacobian_section(report.jacobian, precision)


def _reverse_section(report: JvpReport, precision: int) -> Iterator[RenderableType]:
    yield _heading(_("Tensor gradients and the Jacobian product"))
    yield _note(
        _(
            "out is not a scalar, so out.backward(v) needs a vector v = {vector}. It "
            "computes the vector-Jacobian product vᵀ·J, with J = ∂out/∂inp, and adds it to "
            "inp.grad. Here vᵀ·J = 2·(inp + 1): 4 where inp is 1, 2 elsewhere."
        ).format(vector=report.vector)
    )
    yield _note(
        _(
            "retain_graph=True keeps the tensors the graph saved for backward (the input of "
            "pow), so the same graph can be walked again; without it the second call fails "
            "with 'Trying to backward through the graph a second time'."
        )
    )
    for step in report.steps:
        yield _call_title(step.call, step.zeroed_before, report.repeat)
        yield _matrix(step.grad, precision, title=_("inp.grad after this call"))
    yield _note(
        _(
            "backward() adds to .grad instead of replacing it: after k calls inp.grad is "
            "k·2·(inp + 1). inp.grad.zero_() fills it with zeros, so the sum starts again. "
            "In a training loop optimizer.zero_grad() does this job, but since torch 2.0 it "
            "sets .grad to None by default (set_to_none=True) instead of filling it with "
            "zeros; the next backward() then stores its gradient afresh."
        )
    )


def _forward_section(forward: ForwardProduct, precision: int) -> Iterator[RenderableType]:
    yield _heading(_("Forward mode: J·t with torch.func.jvp, no backward pass"))
    yield _note(
        _(
            "torch.func.jvp(f, (inp.detach(),), (t,)) pushes a tangent t, shaped like inp, "
            "through f alongside the function itself and returns J·t, shaped like out. "
            "agrad passes inp.detach(), so nothing is recorded for backward() and inp.grad "
            "is untouched; given inp itself, which requires grad, J·t would join inp's "
            "graph (it would have a grad_fn)."
        )
    )
    yield _matrix(forward.tangent_value, precision, title=f"t = {forward.tangent}")
    yield _matrix(forward.product, precision, title="J·t")


def jacobian_section(facts: JacobianFacts, precision: int) -> Iterator[RenderableType]:
    rows, cols = len(facts.matrix), len(facts.matrix[0]) if facts.matrix else 0
    yield _heading(
        _("Jacobian ∂out/∂{leaf}: {output} × {input}, flattened to {rows} × {cols}").format(
            leaf=facts.leaf,
            output=shape_text(facts.output_shape),
            input=shape_text(facts.input_shape),
            rows=rows,
            cols=cols,
        )
    )
    yield _note(
        _(
            "Row i is out's element i (row-major), column j is the input's element j; zeros "
            "are shown as ·, non-zeros in bold (3 significant digits). Computed by "
            "torch.func.jacrev, checked against torch.func.jacfwd."
        )
    )
    if rows > JACOBIAN_SHOWN:
        yield _note(
            _("Only the first {count} rows are shown; --json has all.").format(count=JACOBIAN_SHOWN)
        )
    # Three significant digits keep a 20-column matrix inside a terminal; --json has all.
    cells = [
        [f"{float(v):.3g}" if v else "·" for v in row[:JACOBIAN_SHOWN]]
        for row in facts.matrix[:JACOBIAN_SHOWN]
    ]
    yield JacobianGrid(cells, cols)
    yield _note(
        _(
            "jacrev vs jacfwd: max |difference| {jacfwd:.1e}. vᵀ·J with v = ones equals "
            "what backward(v) puts in .grad: max |difference| {vjp:.1e}."
        ).format(jacfwd=facts.jacfwd_max_abs_diff, vjp=facts.vjp_max_abs_diff)
    )


@dataclass
class JacobianGrid:
    """The Jacobian's cells under column indices, each row after its index; as many
    columns as the width holds (at most JACOBIAN_SHOWN), and a line naming the rest."""

    cells: list[list[str]]
    columns: int  # of the whole Jacobian

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        shown = len(self.cells[0]) if self.cells else 0
        label = len(str(max(len(self.cells) - 1, 0)))
        cell = max((len(c) for row in self.cells for c in row), default=1)
        cell = max(cell, len(str(max(shown - 1, 0))))
        fit = max(1, min(shown, (options.max_width - label) // (cell + 1)))
        header = Text(" " * label, style=NOTE)
        for j in range(fit):
            header.append(str(j).rjust(cell + 1), style=NOTE)
        yield header
        for i, row in enumerate(self.cells):
            line = Text(str(i).rjust(label), style=NOTE)
            for value in row[:fit]:
                line.append(value.rjust(cell + 1), style="" if value == "·" else "bold")
            yield line
        if fit < self.columns:
            yield _note(
                _(
                    "Columns {first}–{last} are cut: they do not fit in {width} characters; "
                    "--json has all."
                ).format(first=fit, last=self.columns - 1, width=options.max_width)
            )


def chain_view(report: ChainReport, precision: int, tree: TreeOptions) -> Iterator[RenderableType]:
    yield _heading(
        ngettext(
            "agrad chain · {length} step, hidden size {hidden}, seed {seed}",
            "agrad chain · {length} steps, hidden size {hidden}, seed {seed}",
            report.length,
        ).format(length=group(report.length), hidden=report.hidden, seed=report.seed),
        first=True,
    )
    yield _code(report.statements, intro=_("An RNN-like recurrence, unrolled:"))
    yield from _tensor_section(report.tensors, precision)
    yield _heading(_("grad_fn chain"))
    yield _grad_fn_lines(("h", "loss"), {t.name: t for t in report.tensors})
    yield from _graph_section(report.graph, "loss", tree, precision)
    yield _note(
        _(
            "Each step adds MmBackward0, AddBackward0 and TanhBackward0; a and b are used at "
            "every step, so their AccumulateGrad nodes are reached again and again and "
            "backward() sums one contribution per step into a.grad and b.grad."
        )
    )
    yield _heading(_("loss.backward(): gradients stored in .grad of the leaves"))
    for gradient in report.gradients:
        yield _matrix(gradient.value, precision, title=f"{gradient.name}.grad")


def expr_view(report: ExprReport, precision: int, tree: TreeOptions) -> Iterator[RenderableType]:
    yield _heading("agrad expr · out = ", first=True).append(report.expression, style=CODE)
    yield _code(
        report.statements,
        intro=_("Run as (seed {seed}, {dtype}):").format(seed=report.seed, dtype=report.dtype),
    )
    for warning in report.warnings:
        yield Text(_("torch warned: {warning}").format(warning=warning), style="yellow")
    yield from _tensor_section(report.tensors, precision)
    yield _heading(_("grad_fn chain"))
    yield _grad_fn_lines(("out",), {t.name: t for t in report.tensors})
    yield from _graph_section(report.graph, "out", tree, precision)

    if not report.steps:
        yield _note(
            _(
                "No variable that requires grad reaches out, so there is no backward pass "
                "and no gradient."
            )
        )
        return
    yield _heading(_("Gradients"))
    if report.vector:
        yield _note(
            _(
                "out is not a scalar, so out.backward(v) needs a vector v = {vector}: it "
                "computes the vector-Jacobian product vᵀ·J, the gradient of out.sum()."
            ).format(vector=report.vector)
        )
    for gradient in report.gradients:
        title = f"{gradient.name}.grad"
        if gradient.value is None:
            yield _note(
                _("{name}.grad is None: backward() did not reach {name}.").format(
                    name=gradient.name
                )
            )
        else:
            yield _matrix(gradient.value, precision, title=title)
    for facts in report.jacobians:
        yield from jacobian_section(facts, precision)
    if report.repeat > 1:
        yield _heading(
            ngettext(
                "Accumulation over {count} backward() call",
                "Accumulation over {count} backward() calls",
                report.repeat,
            ).format(count=group(report.repeat))
        )
        yield _note(
            _(
                "retain_graph=True keeps the graph for the next call; each call adds its "
                "gradient to .grad, until zero_() starts the sum again."
            )
        )
        for step in report.steps:
            yield Text("\n" + call_label(step.call, step.zeroed_before, report.repeat), style=TITLE)
            for name, value in step.grads.items():
                if value is not None:
                    yield _matrix(value, precision, title=f"{name}.grad")


def _call_title(call: int, zeroed_before: bool, repeat: int) -> Text:
    title = Text("\n" + call_label(call, zeroed_before, repeat), style=TITLE)
    if zeroed_before:
        title.append(_("  inp.grad.zero_(), then the same call"), style=CODE)
        return title
    title.append("  out.backward(v, retain_graph=True)", style=CODE)
    return title


def _heading(text: str, first: bool = False) -> Text:
    return Text(("" if first else "\n") + text, style=TITLE)


def _note(text: str) -> Text:
    return Text(text, style=NOTE)


def _code(lines: tuple[str, ...], intro: str) -> Group:
    # A statement too long for the width goes on indented under itself.
    return Group(
        _note(intro), *(TreeLine("  ", "      ", Text(line, style=CODE)) for line in lines)
    )


def _tensor_section(tensors: tuple[TensorFacts, ...], precision: int) -> Iterator[RenderableType]:
    yield _heading(_("Tensors"))
    rows = [
        (
            t.name,
            shape_text(t.shape),
            t.dtype,
            str(t.requires_grad),
            str(t.is_leaf),
            t.grad_fn or MISSING,
        )
        for t in tensors
    ]
    headers = (_("name"), _("shape"), "dtype", "requires_grad", "is_leaf", "grad_fn")
    yield FittedTable(
        [
            Column.of(header, [row[index] for row in rows], wrap="name" if index == 0 else "never")
            for index, header in enumerate(headers)
        ],
        gap=3,
    )
    yield _heading(_("Values"))
    for t in tensors:
        yield _matrix(t.value, precision, title=t.name)


def _grad_fn_lines(names: tuple[str, ...], by_name: dict[str, TensorFacts]) -> Text:
    width = max(len(n) for n in names)
    return Text(
        "\n".join(
            f"  {name + '.grad_fn':<{width + 8}} = {by_name[name].grad_fn or 'None'}"
            for name in names
        )
    )


def _graph_section(
    graph: Graph, root_name: str, tree: TreeOptions, precision: int
) -> Iterator[RenderableType]:
    yield _heading(
        _("Backward graph: from {root}.grad_fn to the leaves (next_functions order)").format(
            root=root_name
        )
    )
    yield from tree_lines(
        graph, root_name, saved=tree.saved, precision=precision, max_nodes=tree.max_nodes
    )
    if graph.root is None:  # no graph: nothing for backward() to run
        return
    yield _note(
        _(
            "{nodes}, {edges}. backward() runs this graph from the root, "
            "applying the chain rule at each node; AccumulateGrad adds the result to the "
            "leaf's .grad."
        ).format(
            nodes=ngettext("{count} node", "{count} nodes", graph.node_count).format(
                count=group(graph.node_count)
            ),
            edges=ngettext("{count} edge", "{count} edges", graph.edge_count).format(
                count=group(graph.edge_count)
            ),
        )
    )


FREEZE_WHY = {
    "built": N_("w and b require grad, so z joins the graph and backward() reaches them."),
    "no_grad": N_(
        "nothing is recorded: use it for inference, or to freeze parameters, "
        "without the graph's memory and time."
    ),
    "detach": N_("the same values cut from the graph: no grad_fn, no history."),
}


def _freezing_lines(report: LinearReport) -> Group:
    lines: list[RenderableType] = []
    for case in report.freezing:
        lines.append(Text("  " + case.code, style=CODE))
        lines.append(
            _indented(Text(f"{case.tensor}.requires_grad = {case.requires_grad}", style="bold"), 4)
        )
        lines.append(_indented(_note(_(FREEZE_WHY[case.case])), 4))
        if case.source_requires_grad is not None:
            lines.append(
                _indented(Text(f"z.requires_grad = {case.source_requires_grad}", style="bold"), 4)
            )
            lines.append(
                _indented(
                    _note(
                        _(
                            "z itself is unchanged: detach() returns a new tensor that shares "
                            "z's data."
                        )
                    ),
                    4,
                )
            )
    return Group(*lines)


def _non_leaf_section(facts: NonLeafGrad, precision: int) -> Iterator[RenderableType]:
    yield _heading(_("Only leaves get .grad"))
    shown = "None" if facts.grad is None else _("a tensor")
    yield Text(f"  {facts.name}.grad = {shown}", style="bold")
    if facts.warning:
        yield _indented(
            Text(_("torch warned: {warning}").format(warning=facts.warning), style="yellow"), 4
        )
    yield _code(
        facts.code,
        intro=_(
            "backward() fills .grad only for the leaves that require grad (here w and b). "
            "{name} is an intermediate result (is_leaf = False): its gradient is used on the "
            "way to the leaves, then dropped. {name}.retain_grad() before backward() keeps it:"
        ).format(name=facts.name),
    )
    yield _matrix(facts.retained_grad, precision, title=f"{facts.name}.grad")
    yield _note(
        _(
            "{name}.grad = ∂loss/∂{name}: the same values as b.grad, since b is added to {name}."
        ).format(name=facts.name)
    )


def _indented(renderable: RenderableType, columns: int) -> Padding:
    # Padding, not leading spaces, so wrapped lines keep the indent.
    return Padding(renderable, (0, 0, 0, columns), expand=False)


def _matrix(value: Values, precision: int, title: str | Text) -> RenderableType:
    """A value as grids of numbers: a 0-d one inline, a 1-d or 2-d one as one grid,
    a larger rank as one grid per 2-d slice, each titled with its index."""
    if not isinstance(value, list):
        return Text.assemble(title, f" = {number_text(value, precision)}")
    numbers = flat(value)
    heading = title if isinstance(title, Text) else Text(title)
    shape = _shape_of(value)
    if len(numbers) > MATRIX_MAX_NUMEL:
        summary = " " + ngettext(
            "{shape}, {count} value: {preview}", "{shape}, {count} values: {preview}", len(numbers)
        ).format(
            shape=shape_text(shape),
            count=group(len(numbers)),
            preview=values_preview(value, precision),
        )
        return Text.assemble(title, (summary, NOTE), (" " + _("(all of them: --json)"), NOTE))
    if len(shape) <= 2:
        rows = value if shape and len(shape) == 2 else [value]
        return Group(heading, NumberGrid(rows, precision))  # type: ignore[arg-type]
    parts: list[RenderableType] = [heading]
    # Row-major order over the leading indices, as torch prints them.
    slices: list[tuple[tuple[int, ...], Values]] = [((), value)]
    while slices and len(slices[0][0]) < len(shape) - 2:
        slices = [
            ((*index, k), item)
            for index, block in slices
            for k, item in enumerate(block)  # type: ignore[arg-type]
        ]
    for index, block in slices:
        parts.append(Text("[" + ", ".join(map(str, index)) + ", :, :]", style=NOTE))
        parts.append(NumberGrid(block, precision))  # type: ignore[arg-type]
    return Group(*parts)


@dataclass
class NumberGrid:
    """Rows of numbers in a rounded box, `precision` decimals; a grid wider than the
    console is cut into blocks of whole columns, each saying which columns it holds."""

    rows: list[list[Any]]
    precision: int

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        cells = [[number_text(v, self.precision) for v in row] for row in self.rows]
        if any(len(c) + 4 > options.max_width for row in cells for c in row):
            # 1e300 has 301 digits before its decimals: too wide for one column.
            cells = [[_scientific(v, self.precision) for v in row] for row in self.rows]
        count = max((len(row) for row in cells), default=0)
        if count == 0:
            cells, count = [[""]], 1
        widths = [max(len(row[j]) for row in cells if j < len(row)) for j in range(count)]
        # A box draws "│ " before each cell and " │" at the end: 3 characters a column.
        blocks: list[list[int]] = [[]]
        used = 1
        for j, width in enumerate(widths):
            if blocks[-1] and used + width + 3 > options.max_width:
                blocks.append([])
                used = 1
            blocks[-1].append(j)
            used += width + 3
        for block in blocks:
            if len(blocks) > 1:
                yield _note(
                    _("columns {first}–{last} of {count}").format(
                        first=block[0], last=block[-1], count=count
                    )
                )
            table = Table(box=box.ROUNDED, show_header=False)
            for _column in block:
                table.add_column(justify="right", no_wrap=True)
            for row in cells:
                table.add_row(*(row[j] if j < len(row) else "" for j in block))
            yield table


def _scientific(value: object, precision: int) -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.{precision}e}"


def _shape_of(value: Values) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def inspect_view(
    report: InspectReport, precision: int, tree: TreeOptions
) -> Iterator[RenderableType]:
    from autograd_cli.render.health import graph_summary_lines, health_view

    yield from health_view(report, precision)
    yield from _graph_section(report.graph, "loss", tree, precision)
    yield from graph_summary_lines(report)


def table_view(report: Report, precision: int, tree: TreeOptions) -> Iterator[RenderableType]:
    views = {
        LinearReport: linear_view,
        JvpReport: jvp_view,
        ChainReport: chain_view,
        ExprReport: expr_view,
        InspectReport: inspect_view,
    }
    yield from views[type(report)](report, precision, tree)  # type: ignore[operator]
    check = getattr(report, "check", None)  # agrad inspect has flags instead
    if check is not None:
        yield from check_section(check)


def check_section(check: CheckReport) -> Iterator[RenderableType]:
    yield _heading(_("--check: every gradient recomputed independently"))
    yield _note(
        _(
            "{method}; an element passes when |grad − reference| ≤ {atol:g} + {rtol:g}·|reference|."
        ).format(method=_(check.method), atol=check.atol, rtol=check.rtol)
    )
    rows = [(leaf, _("finite differences")) for leaf in check.leaves]
    rows += [(leaf, _("closed form")) for leaf in check.closed_form]
    verdicts = [leaf.ok for leaf, _reference in rows]
    yield FittedTable(
        [
            Column.of(_("leaf"), [leaf.name for leaf, _reference in rows], wrap="name"),
            Column.of(_("reference"), [reference for _leaf, reference in rows], wrap="words"),
            Column.of(
                _("max abs diff"),
                [f"{leaf.max_abs_diff:.2e}" for leaf, _r in rows],
                justify="right",
            ),
            Column.of(
                _("max rel diff"),
                [f"{leaf.max_rel_diff:.2e}" for leaf, _r in rows],
                justify="right",
            ),
            Column(
                _("verdict"),
                (tuple(_("ok") if ok else _("FAILED") for ok in verdicts),),
                styles=tuple("green" if ok else "bold red" for ok in verdicts),
            ),
        ],
        gap=3,
    )
