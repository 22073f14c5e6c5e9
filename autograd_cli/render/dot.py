"""The backward graph as Graphviz DOT text (`dot -Tsvg` draws it).

Nodes read top to bottom from the root to the leaves, like torchviz; AccumulateGrad
nodes are filled and carry the leaf's name, shape and, after backward, `.grad`.
"""

from __future__ import annotations

from autograd_cli.i18n import _
from autograd_cli.model import Graph, Values
from autograd_cli.render.labels import multi_input_sources, node_label_lines, omitted_note


def graph_dot(
    graph: Graph,
    root_name: str,
    gradients: dict[str, Values],
    *,
    saved: bool = False,
    precision: int = 4,
) -> str:
    out = [
        "digraph agrad {",
        f"  label={_quote(_('backward graph of {root}').format(root=root_name))};",
        '  labelloc=t; fontname="Helvetica";',
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes:
        lines = node_label_lines(node, graph, root_name, gradients, saved, precision)
        fill = ', fillcolor="#cfe8ff"' if node.leaf is not None else ""
        out.append(f"  {node.id} [label={_quote(chr(10).join(lines))}{fill}];")
    multi = multi_input_sources(graph)
    for edge in graph.edges:
        # Slot numbers only where a node has several inputs: there they say which.
        label = f" [label={_quote(str(edge.slot))}]" if edge.source in multi else ""
        out.append(f"  {edge.source} -> {edge.target}{label};")
    if graph.omitted_nodes:
        note = omitted_note(graph.omitted_nodes)
        out.append(f'  omitted [shape=plaintext, style="", label={_quote(note)}];')
    out.append("}")
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    """A DOT string literal; newlines become DOT's centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
