"""Tables that fit the console's width without cutting a number or a name.

Rich makes a table that is too wide fit by folding or ellipsising cells anywhere:
`7.484e…` for 7.5e-14, `paramet|er`. Here the width is decided at render time,
giving things up in order of what they cost the reader, until the table fits:

1. columns move closer, down to one space; then headers wrap between words;
2. columns the view marks as droppable go (numel: the shape says it);
3. numbers take the shorter forms the view gives them (fewer significant digits),
   all such columns one step at a time;
4. names wrap after `.` and `_` (and at spaces), never inside a word;
5. the columns are laid out as several blocks, each repeating the key column.

Every cell is wrapped here, so Rich never has to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from autograd_cli.render.labels import significant

# Where a name may break: after a space, a dot or an underscore; never after the
# decimal point of a number (a dot before a digit).
_NAME_BREAKS = re.compile(r"(?:[^ ._]|\.(?=\d))*(?:(?:[ _]|\.(?!\d))+|$)")
_WORD_BREAKS = re.compile(r"[^ ]*(?: +|$)")

Wrap = Literal["never", "name", "words"]


@dataclass(frozen=True)
class Column:
    """One column: its header and its cells, in every form the view allows.

    `forms[0]` is the full form of every cell; later forms are shorter (numbers with
    fewer significant digits), the last the shortest.
    """

    header: str
    forms: tuple[tuple[str, ...], ...]
    justify: Literal["left", "right"] = "left"
    wrap: Wrap = "never"
    droppable: bool = False
    styles: tuple[str, ...] | None = None  # one style per cell

    @classmethod
    def of(cls, header: str, cells: Sequence[str], **options: object) -> Column:
        return cls(header, (tuple(cells),), **options)  # type: ignore[arg-type]


def pieces(text: str, wrap: Wrap) -> list[str]:
    """`text` cut where it may break; each piece keeps its trailing separator."""
    if wrap == "never" or not text:
        return [text]
    pattern = _NAME_BREAKS if wrap == "name" else _WORD_BREAKS
    return [p for p in pattern.findall(text) if p]


def min_width(text: str, wrap: Wrap) -> int:
    return max(
        (cell_len(p.rstrip(" ")) for line in text.split("\n") for p in pieces(line, wrap)),
        default=0,
    )


def wrap_text(text: str, width: int, wrap: Wrap) -> str:
    """Greedy wrap at the allowed breaks; a piece wider than `width` stays whole."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in pieces(paragraph, wrap):
            if line and cell_len((line + piece).rstrip(" ")) > width:
                out.append(line.rstrip(" "))
                line = piece.lstrip(" ")
            else:
                line += piece
        out.append(line.rstrip(" "))
    return "\n".join(out)


def wrap_styled(text: Text, first: int, rest: int, wrap: Wrap = "words") -> list[Text]:
    """`text` wrapped with its styles: `first` cells on the first line, `rest` on the
    others; a piece wider than its line stays whole (Rich's fold would cut it)."""
    offsets: list[int] = []
    position = used = 0
    limit = first
    for piece in pieces(text.plain, wrap):
        if used and used + cell_len(piece.rstrip(" ")) > limit:
            offsets.append(position)
            used, limit = 0, rest
        used += cell_len(piece)
        position += len(piece)
    lines = list(text.divide(offsets))
    for line in lines:
        line.rstrip()
    return lines


@dataclass
class _State:
    gap: int
    wrap_headers: bool = False
    wrap_names: bool = False
    level: int = 0
    dropped: set[int] = field(default_factory=set)


@dataclass
class FittedTable:
    """A Rich table whose layout is chosen for the width it is rendered at."""

    columns: list[Column]
    gap: int = 2
    key: int = 1  # the first `key` columns are repeated in every block

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for index, table in enumerate(self.tables(options.max_width)):
            if index:
                yield Text("")
            yield table

    def tables(self, width: int) -> Iterator[Table]:
        state = self._fitting_state(width)
        shown = [i for i in range(len(self.columns)) if i not in state.dropped]
        if self._total(state, shown) <= width:
            yield self._table(state, shown, width)
            return
        state = self._block_state(state, width)
        keys = [i for i in shown if i < self.key]
        rest = [i for i in shown if i >= self.key]
        while rest:
            block = list(keys)
            while rest and (
                len(block) == len(keys) or self._total(state, [*block, rest[0]]) <= width
            ):
                block.append(rest.pop(0))
            yield self._table(state, block, width)

    def _fitting_state(self, width: int) -> _State:
        """The first state, in the order of the module's docstring, that fits."""
        state = _State(gap=self.gap)
        everything = list(range(len(self.columns)))

        def fits() -> bool:
            shown = [i for i in everything if i not in state.dropped]
            return self._total(state, shown) <= width

        if fits():
            return state
        while state.gap > 1:
            state.gap -= 1
            if fits():
                return state
        state.wrap_headers = True
        if fits():
            return state
        for index, column in enumerate(self.columns):
            if column.droppable:
                state.dropped.add(index)
                if fits():
                    return state
        levels = max(len(c.forms) for c in self.columns)
        while state.level < levels - 1:
            state.level += 1
            if fits():
                return state
        state.wrap_names = True
        return state

    def _block_state(self, squeezed: _State, width: int) -> _State:
        """Blocks have room: numbers get back as many digits, and names their one line,
        as still lets every column sit beside the key columns."""
        keys = [i for i in range(self.key) if i not in squeezed.dropped]
        others = [i for i in range(self.key, len(self.columns)) if i not in squeezed.dropped]
        levels = max(len(c.forms) for c in self.columns)
        for wrap_names in (False, True):
            for level in range(levels):
                state = _State(squeezed.gap, True, wrap_names, level, squeezed.dropped)
                if all(self._total(state, [*keys, i]) <= width for i in others):
                    return state
        return squeezed

    def _cells(self, index: int, state: _State) -> tuple[str, ...]:
        forms = self.columns[index].forms
        return forms[min(state.level, len(forms) - 1)]

    def _needed(self, index: int, state: _State) -> int:
        column = self.columns[index]
        header = min_width(column.header, "name") if state.wrap_headers else cell_len(column.header)
        cells = self._cells(index, state)
        if state.wrap_names and column.wrap != "never":
            body = max((min_width(c, column.wrap) for c in cells), default=0)
        else:
            body = max((cell_len(c) for c in cells), default=0)
        return max(header, body, 1)

    def _natural(self, index: int, state: _State) -> int:
        column = self.columns[index]
        cells = self._cells(index, state)
        return max(cell_len(column.header), *(cell_len(c) for c in cells), 1)

    def _total(self, state: _State, shown: list[int]) -> int:
        return sum(self._needed(i, state) for i in shown) + state.gap * (len(shown) - 1)

    def _table(self, state: _State, shown: list[int], width: int) -> Table:
        widths = {i: self._needed(i, state) for i in shown}
        slack = width - self._total(state, shown)
        # Slack goes back to wrapped columns, those closest to whole first, so that as
        # few columns as possible wrap.
        for i in sorted(shown, key=lambda i: self._natural(i, state) - widths[i]):
            extra = min(max(slack, 0), self._natural(i, state) - widths[i])
            if extra > 0:
                widths[i] += extra
                slack -= extra
        table = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            # SIMPLE_HEAD draws one space between columns; padding adds the rest.
            padding=(0, state.gap - 1, 0, 0),
        )
        for i in shown:
            column = self.columns[i]
            header = wrap_text(column.header, widths[i], "name")
            table.add_column(Text(header), justify=column.justify, width=widths[i], no_wrap=True)
        for row in range(len(self.columns[0].forms[0])):
            cells = []
            for i in shown:
                column = self.columns[i]
                text = self._cells(i, state)[row]
                if column.wrap != "never":
                    text = wrap_text(text, widths[i], column.wrap)
                style = column.styles[row] if column.styles else ""
                cells.append(Text(text, style=style))
            table.add_row(*cells)
        return table


def significant_forms(
    values: Sequence[float | None], digits: int, floor: int = 2
) -> tuple[tuple[str, ...], ...]:
    """Every value with `digits` significant digits, then one fewer, down to `floor`."""
    lowest = min(digits, floor)
    return tuple(tuple(significant(v, d) for v in values) for d in range(digits, lowest - 1, -1))


@dataclass
class Flow:
    """Items on as few lines as the width allows, an item never split from itself
    (`3 vanishing`, `AddmmBackward0 1,001`) unless it is wider than a line."""

    items: list[Text]
    separator: str = " · "
    lead: Text = field(default_factory=Text)  # before the first item
    indent: int = 2  # continuation lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        line = self.lead.copy()
        started = False
        for item in self.items:
            piece = Text(self.separator) + item if started else item
            if started and line.cell_len + piece.cell_len > width:
                yield line
                line = Text(" " * self.indent)
                piece = item
            if line.cell_len + piece.cell_len > width:
                # Too wide for a line of its own: it wraps between its words.
                *parts, piece = wrap_styled(piece, width - line.cell_len, width - self.indent)
                for part in parts:
                    yield line + part
                    line = Text(" " * self.indent)
            line.append_text(piece)
            started = True
        yield line
