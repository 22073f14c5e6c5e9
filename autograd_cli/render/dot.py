"""The backward graph as Graphviz DOT text (`dot -Tsvg` draws it).

Nodes read top to bottom from the root to the leaves, like torchviz; AccumulateGrad
nodes are filled and carry the leaf's name, shape and, after backward, `.grad`.
"""

from __future__ import annotations

from autograd_cli.i18n import _
from autograd_cli.render.labels import GraphParts


def graph_dot(parts: GraphParts) -> str:
    """The graph's parts (labels.graph_parts) as Graphviz DOT text."""
    root_name, nodes, edges, omitted = parts
    out = [
        "digraph agrad {",
        f"  label={_quote(_('backward graph of {root}').format(root=root_name))};",
        '  labelloc=t; fontname="Helvetica";',
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    fill = {True: ', fillcolor="#cfe8ff"', False: ""}  # leaves are filled
    out += [
        f"  {node.id} [label={_quote(chr(10).join(lines))}{fill[node.leaf is not None]}];"
        for node, lines in nodes
    ]
    out += [
        f"  {edge.source} -> {edge.target}"
        + (f" [label={_quote(str(edge.slot))}];" if with_slot else ";")
        for edge, with_slot in edges
    ]
    if omitted:
        out.append(f'  omitted [shape=plaintext, style="", label={_quote(omitted)}];')
    out.append("}")
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    """A DOT string literal; newlines become DOT's centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
