"""The human view's building blocks: headings, notes, code, the tensor and graph
sections, number grids, Jacobians and --check's table.

Each scenario's `view` (scenarios/*.py) yields its sections in display order from
these; rounding to `precision` decimals happens here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from autograd_cli.i18n import N_, _, group, ngettext
from autograd_cli.model import CheckReport, Graph, JacobianFacts, TensorFacts, Values
from autograd_cli.render.labels import flat, number_text, shape_text, values_preview
from autograd_cli.render.layout import Column, FittedTable
from autograd_cli.render.tree import TreeLine, tree_lines

if TYPE_CHECKING:
    from autograd_cli.render.formats import TreeOptions

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


def jacobian_section(facts: JacobianFacts, precision: int) -> Iterator[RenderableType]:
    rows, cols = len(facts.matrix), len(facts.matrix[0]) if facts.matrix else 0
    yield heading(
        _("Jacobian ∂out/∂{leaf}: {output} × {input}, flattened to {rows} × {cols}").format(
            leaf=facts.leaf,
            output=shape_text(facts.output_shape),
            input=shape_text(facts.input_shape),
            rows=rows,
            cols=cols,
        )
    )
    yield note(
        _(
            "Row i is out's element i (row-major), column j is the input's element j; zeros "
            "are shown as ·, non-zeros in bold (3 significant digits). Computed by "
            "torch.func.jacrev, checked against torch.func.jacfwd."
        )
    )
    if rows > JACOBIAN_SHOWN:
        yield note(
            _("Only the first {count} rows are shown; --json has all.").format(count=JACOBIAN_SHOWN)
        )
    # Three significant digits keep a 20-column matrix inside a terminal; --json has all.
    cells = [
        [f"{float(v):.3g}" if v else "·" for v in row[:JACOBIAN_SHOWN]]
        for row in facts.matrix[:JACOBIAN_SHOWN]
    ]
    yield JacobianGrid(cells, cols)
    yield note(
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
            yield note(
                _(
                    "Columns {first}–{last} are cut: they do not fit in {width} characters; "
                    "--json has all."
                ).format(first=fit, last=self.columns - 1, width=options.max_width)
            )


def call_title(call: int, zeroed_before: bool, repeat: int) -> Text:
    title = Text("\n" + call_label(call, zeroed_before, repeat), style=TITLE)
    if zeroed_before:
        title.append(_("  inp.grad.zero_(), then the same call"), style=CODE)
        return title
    title.append("  out.backward(v, retain_graph=True)", style=CODE)
    return title


def heading(text: str, first: bool = False) -> Text:
    return Text(("" if first else "\n") + text, style=TITLE)


def note(text: str) -> Text:
    return Text(text, style=NOTE)


def code(lines: tuple[str, ...], intro: str) -> Group:
    # A statement too long for the width goes on indented under itself.
    return Group(note(intro), *(TreeLine("  ", "      ", Text(line, style=CODE)) for line in lines))


def tensor_section(tensors: tuple[TensorFacts, ...], precision: int) -> Iterator[RenderableType]:
    yield heading(_("Tensors"))
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
    yield heading(_("Values"))
    for t in tensors:
        yield matrix(t.value, precision, title=t.name)


def grad_fn_lines(names: tuple[str, ...], by_name: dict[str, TensorFacts]) -> Text:
    width = max(len(n) for n in names)
    return Text(
        "\n".join(
            f"  {name + '.grad_fn':<{width + 8}} = {by_name[name].grad_fn or 'None'}"
            for name in names
        )
    )


def graph_section(
    graph: Graph, root_name: str, tree: TreeOptions, precision: int
) -> Iterator[RenderableType]:
    yield heading(
        _("Backward graph: from {root}.grad_fn to the leaves (next_functions order)").format(
            root=root_name
        )
    )
    yield from tree_lines(
        graph, root_name, saved=tree.saved, precision=precision, max_nodes=tree.max_nodes
    )
    if graph.root is None:  # no graph: nothing for backward() to run
        return
    yield note(
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


def indented(renderable: RenderableType, columns: int) -> Padding:
    # Padding, not leading spaces, so wrapped lines keep the indent.
    return Padding(renderable, (0, 0, 0, columns), expand=False)


def matrix(value: Values, precision: int, title: str | Text) -> RenderableType:
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
                yield note(
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


# Why finite differences cannot judge an element (model.Unverified's reasons).
CANNOT_VERIFY = {
    "nonfinite": N_("the function is inf or NaN at the point or a step from it"),
    "overflow": N_("the gradient overflows the dtype backward() ran in"),
    "inaccurate": N_(
        "the differences' own error, estimated at {error}, exceeds the tolerance: the "
        "function curves too sharply, or is too large, here"
    ),
}


def check_section(check: CheckReport) -> Iterator[RenderableType]:
    yield heading(_("--check: every gradient recomputed independently"))
    yield note(
        _(
            "{method}; an element passes when |grad − reference| ≤ {atol:g} + {rtol:g}·|reference|."
        ).format(method=_(check.method), atol=check.atol, rtol=check.rtol)
    )
    rows = [(leaf, _("finite differences")) for leaf in check.leaves]
    rows += [(leaf, _("closed form")) for leaf in check.closed_form]
    verdicts = [
        (_("ok"), "green")
        if leaf.ok and leaf.cannot_verify is None
        else (_("cannot verify"), "yellow")
        if leaf.ok
        else (_("FAILED"), "bold red")
        for leaf, _reference in rows
    ]
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
                (tuple(text for text, _style in verdicts),),
                styles=tuple(style for _text, style in verdicts),
            ),
        ],
        gap=3,
    )
    for leaf in check.leaves:
        unverified = leaf.cannot_verify
        if unverified is None:
            continue
        error = unverified.estimated_error
        reasons = "; ".join(
            _(CANNOT_VERIFY[reason]).format(error="" if error is None else f"{error:.2g}")
            for reason in unverified.reasons
        )
        yield Text(
            ngettext(
                "{leaf}: {count} element cannot be verified by finite differences: {reasons}.",
                "{leaf}: {count} elements cannot be verified by finite differences: {reasons}.",
                unverified.elements,
            ).format(leaf=leaf.name, count=group(unverified.elements), reasons=reasons),
            style="yellow",
        )
