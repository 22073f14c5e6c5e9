"""The backward graph as a Mermaid flowchart, for Markdown viewers that render it."""

from __future__ import annotations

from autograd_cli.model import Graph, Values
from autograd_cli.render.labels import multi_input_sources, node_label_lines, omitted_note

# Mermaid reads these inside a quoted label; entity codes keep them literal.
_ENTITIES = {"&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}


def graph_mermaid(
    graph: Graph,
    root_name: str,
    gradients: dict[str, Values],
    *,
    saved: bool = False,
    precision: int = 4,
) -> str:
    out = ["flowchart TD"]
    for node in graph.nodes:
        lines = node_label_lines(node, graph, root_name, gradients, saved, precision)
        label = "<br/>".join(_escape(x) for x in lines)
        # Leaves get a different shape ([[...]]) and class, as in the DOT view.
        out.append(
            f'    {node.id}[["{label}"]]:::leaf' if node.leaf else f'    {node.id}["{label}"]'
        )
    multi = multi_input_sources(graph)
    for edge in graph.edges:
        arrow = f"-->|{edge.slot}|" if edge.source in multi else "-->"
        out.append(f"    {edge.source} {arrow} {edge.target}")
    if graph.omitted_nodes:
        note = omitted_note(graph.omitted_nodes)
        out.append(f'    omitted["{_escape(note)}"]')
    out.append("    classDef leaf fill:#cfe8ff,stroke:#4a90d9")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return "".join(_ENTITIES.get(ch, ch) for ch in text)
