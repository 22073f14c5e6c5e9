"""The backward graph as Graphviz DOT text (`dot -Tsvg` draws it).

Nodes read top to bottom from the root to the leaves, like torchviz; AccumulateGrad
nodes are filled and carry the leaf's name, shape and, after backward, `.grad`.
"""

from __future__ import annotations

from collections.abc import Iterator

from autograd_cli.i18n import _
from autograd_cli.render.labels import GraphParts, in_pieces


def graph_dot(parts: GraphParts) -> Iterator[str]:
    """The graph's parts (labels.graph_parts) as Graphviz DOT text, in pieces."""
    return in_pieces(_lines(parts))


def _lines(parts: GraphParts) -> Iterator[str]:
    root_name, nodes, edges, omitted = parts
    yield "digraph agrad {"
    yield f"  label={_quote(_('backward graph of {root}').format(root=root_name))};"
    yield '  labelloc=t; fontname="Helvetica";'
    yield '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];'
    yield '  edge [fontname="Helvetica", fontsize=10];'
    fill = {True: ', fillcolor="#cfe8ff"', False: ""}  # leaves are filled
    for node, lines in nodes:
        yield f"  {node.id} [label={_quote(chr(10).join(lines))}{fill[node.leaf is not None]}];"
    for edge, with_slot in edges:
        label = f" [label={_quote(str(edge.slot))}];" if with_slot else ";"
        yield f"  {edge.source} -> {edge.target}{label}"
    if omitted:
        yield f'  omitted [shape=plaintext, style="", label={_quote(omitted)}];'
    yield "}"


def _quote(text: str) -> str:
    """A DOT string literal; newlines become DOT's centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
