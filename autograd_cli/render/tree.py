"""The backward graph as a text tree, drawn without recursion.

Children follow their parent in `next_functions` order; a node reached a second
time is a one-line reference. Guides are capped at MAX_INDENT characters (older
levels fold into "⋮") so a 100,000-step chain stays inside the terminal.
"""

from __future__ import annotations

from rich.text import Text

from autograd_cli.i18n import _, group, ngettext
from autograd_cli.model import Graph
from autograd_cli.render.labels import leaf_text, saved_texts

MAX_INDENT = 48
NOTE = "dim"


def tree_lines(
    graph: Graph,
    root_name: str,
    *,
    saved: bool = False,
    precision: int = 4,
    max_nodes: int | None = None,
) -> list[Text]:
    """The tree, at most `max_nodes` nodes of it, then a line saying what was left out."""
    if graph.root is None:
        return [
            Text(
                _("{root} does not require grad: there is no graph.").format(root=root_name),
                style=NOTE,
            )
        ]
    nodes = {node.id: node for node in graph.nodes}
    children = graph.children()
    lines: list[Text] = []
    expanded: set[str] = set()
    # (node id, guide before this node, guide for what hangs below it)
    stack: list[tuple[str, str, str]] = [(graph.root, "", "")]
    cap = len(graph.nodes) if max_nodes is None else max_nodes
    while stack:
        node_id, lead, below = stack.pop()
        node = nodes[node_id]
        if node_id not in expanded and len(expanded) >= cap:
            break  # the rest is counted below, not drawn
        line = Text(_fold(lead))
        if node_id in expanded:
            leaf = f" → {node.leaf.name}" if node.leaf else ""
            line.append(f"{node_id} ↑ {node.grad_fn}{leaf} " + _("(shown above)"), style=NOTE)
            lines.append(line)
            continue
        expanded.add(node_id)
        line.append(f"{node_id} ", style=NOTE)
        line.append(node.grad_fn, style="bold" if node.leaf else "")
        if node.leaf is not None:
            line.append(f" → {leaf_text(node)}", style="green")
        if node_id == graph.root:
            line.append(f"  ({root_name}.grad_fn)", style=NOTE)
        lines.append(line)

        kids = children[node_id]
        if saved:
            detail_guide = below + ("│   " if kids else "    ")
            for text in saved_texts(node, precision):
                lines.append(Text(_fold(detail_guide) + "· " + _("saved") + " " + text, style=NOTE))
        for position, kid in reversed(list(enumerate(kids))):
            last = position == len(kids) - 1
            stack.append(
                (kid, below + ("└── " if last else "├── "), below + ("    " if last else "│   "))
            )
    left_out = graph.node_count - len(expanded)
    if left_out > 0:
        lines.append(
            Text(
                ngettext(
                    "… {count} more node not shown (--max-nodes {cap}); "
                    "--format json, dot or mermaid carry every node.",
                    "… {count} more nodes not shown (--max-nodes {cap}); "
                    "--format json, dot or mermaid carry every node.",
                    left_out,
                ).format(count=group(left_out), cap=cap),
                style=NOTE,
            )
        )
    return lines


def _fold(guide: str) -> str:
    if len(guide) <= MAX_INDENT:
        return guide
    return "⋮ " + guide[len(guide) - MAX_INDENT + 2 :]
