"""The backward graph as a Mermaid flowchart, for Markdown viewers that render it."""

from __future__ import annotations

from autograd_cli.render.labels import GraphParts, printable

# Mermaid reads these inside a quoted label; entity codes keep them literal.
_ENTITIES = {"&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}


def graph_mermaid(parts: GraphParts) -> str:
    """The graph's parts (labels.graph_parts) as a Mermaid flowchart."""
    _root, nodes, edges, omitted = parts
    out = ["flowchart TD"]
    for node, lines in nodes:
        label = "<br/>".join(_escape(x) for x in lines)
        # Leaves get a different shape ([[...]]) and class, as in the DOT view.
        out.append(
            f'    {node.id}[["{label}"]]:::leaf' if node.leaf else f'    {node.id}["{label}"]'
        )
    for edge, with_slot in edges:
        arrow = f"-->|{edge.slot}|" if with_slot else "-->"
        out.append(f"    {edge.source} {arrow} {edge.target}")
    if omitted:
        out.append(f'    omitted["{_escape(omitted)}"]')
    out.append("    classDef leaf fill:#cfe8ff,stroke:#4a90d9")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    # printable first: a newline or another control character inside a label ends it.
    return "".join(_ENTITIES.get(ch, ch) for ch in printable(text))
