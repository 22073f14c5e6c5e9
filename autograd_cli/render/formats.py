"""The output formats, and the one function that renders a report in any of them.

Renderers are pure: they return text (json, dot, mermaid), as pieces made while the
sink writes them, or Rich renderables (the table), and never print; render/output.py's
sinks write what they return.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autograd_cli.model import Report
    from autograd_cli.scenarios import Scenario


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    DOT = "dot"
    MERMAID = "mermaid"


# What a renderer returns: Rich renderables (a list: the table view) or pieces of text
# (an iterator: json, dot, mermaid), written by a sink as they come.
Rendered = list[Any] | Iterator[str]


class LiveText(Iterator[str]):
    """Pieces of text each written as soon as it is made (JSON Lines of a run that
    lasts: agrad inspect --steps), so that a reader (`jq`, `head -1`) follows them."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces

    def __next__(self) -> str:
        return next(self._pieces)


TREE_MAX_NODES = 200  # default cap of the tree view; the other formats carry all nodes


@dataclass(frozen=True)
class TreeOptions:
    """How the table view draws the graph's tree."""

    max_nodes: int
    saved: bool


@dataclass(frozen=True)
class Style:
    """What every renderer may be asked for, besides the report."""

    precision: int = 4
    saved: bool = False
    max_nodes: int | None = None  # None: TREE_MAX_NODES in the tree, every node elsewhere

    def tree(self) -> TreeOptions:
        return TreeOptions(self.max_nodes or TREE_MAX_NODES, self.saved)


def render(report: Report, scenario: Scenario, fmt: Format, style: Style) -> Rendered:
    """`report` as `fmt`: Rich renderables for the table; for json, dot and mermaid,
    pieces of text made as they are read, which end with a newline once joined."""
    if fmt is Format.JSON:
        from autograd_cli.render.json_doc import report_chunks

        chunks = report_chunks(report, style.saved)
        return LiveText(chunks) if getattr(report, "training", None) is not None else chunks
    if fmt is Format.TABLE:
        return table(report, scenario, style)
    from autograd_cli.render.labels import graph_parts

    parts = graph_parts(
        report.graph,
        scenario.root,
        report.leaf_gradients(),
        saved=style.saved,
        precision=style.precision,
    )
    if fmt is Format.DOT:
        from autograd_cli.render.dot import graph_dot

        return graph_dot(parts)
    from autograd_cli.render.mermaid import graph_mermaid

    return graph_mermaid(parts)


def table(report: Report, scenario: Scenario, style: Style) -> list[Any]:
    """The human view: the scenario's sections, then --check's when it ran."""
    from autograd_cli.render.table import check_section

    view = list(scenario.view(report, style.precision, style.tree()))
    check = getattr(report, "check", None)  # agrad inspect has flags instead
    if check is not None:
        view.extend(check_section(check))
    return view
