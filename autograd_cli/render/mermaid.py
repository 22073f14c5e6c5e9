"""The backward graph as a Mermaid flowchart, for Markdown viewers that render it."""

from __future__ import annotations

from autograd_cli.model import Graph, Values
from autograd_cli.render.labels import gradient_text, leaf_text, saved_texts

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
        lines = [node.grad_fn]
        if node.id == graph.root:
            lines.append(f"{root_name}.grad_fn")
        if node.leaf is not None:
            lines += [leaf_text(node), gradient_text(node, gradients, precision)]
        if saved:
            lines += ["saved " + text for text in saved_texts(node, precision)]
        label = "<br/>".join(_escape(x) for x in lines if x)
        # Leaves get a different shape ([[...]]) and class, as in the DOT view.
        out.append(
            f'    {node.id}[["{label}"]]:::leaf' if node.leaf else f'    {node.id}["{label}"]'
        )
    multi = {e.source for e in graph.edges if e.slot > 0}
    for edge in graph.edges:
        arrow = f"-->|{edge.slot}|" if edge.source in multi else "-->"
        out.append(f"    {edge.source} {arrow} {edge.target}")
    if graph.omitted_nodes:
        out.append(f'    omitted["… {graph.omitted_nodes} more nodes not shown (--max-nodes)"]')
    out.append("    classDef leaf fill:#cfe8ff,stroke:#4a90d9")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return "".join(_ENTITIES.get(ch, ch) for ch in text)
