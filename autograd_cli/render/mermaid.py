"""The backward graph as a Mermaid flowchart, for Markdown viewers that render it."""

from __future__ import annotations

from collections.abc import Iterator

from autograd_cli.render.labels import GraphParts, in_pieces, printable

# Mermaid reads these inside a quoted label; entity codes keep them literal.
_ENTITIES = {"&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}


def graph_mermaid(parts: GraphParts) -> Iterator[str]:
    """The graph's parts (labels.graph_parts) as a Mermaid flowchart, in pieces."""
    return in_pieces(_lines(parts))


def _lines(parts: GraphParts) -> Iterator[str]:
    _root, nodes, edges, omitted = parts
    yield "flowchart TD"
    for node, lines in nodes:
        label = "<br/>".join(_escape(x) for x in lines)
        # Leaves get a different shape ([[...]]) and class, as in the DOT view.
        yield f'    {node.id}[["{label}"]]:::leaf' if node.leaf else f'    {node.id}["{label}"]'
    for edge, with_slot in edges:
        arrow = f"-->|{edge.slot}|" if with_slot else "-->"
        yield f"    {edge.source} {arrow} {edge.target}"
    if omitted:
        yield f'    omitted["{_escape(omitted)}"]'
    yield "    classDef leaf fill:#cfe8ff,stroke:#4a90d9"


def _escape(text: str) -> str:
    # printable first: a newline or another control character inside a label ends it.
    return "".join(_ENTITIES.get(ch, ch) for ch in printable(text))
