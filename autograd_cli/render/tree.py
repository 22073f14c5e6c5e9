"""The backward graph as a text tree, drawn without recursion.

Children follow their parent in `next_functions` order; a node reached a second
time is a one-line reference. Guides are capped at MAX_INDENT characters, less on a
narrow terminal (older levels fold into "⋮"), so a 100,000-step chain stays inside
it; a line too long for the width goes on under its own guide, never at column 0.

A guide is kept as a `Guide`, a link to its parent's guide plus one piece, never as
a string of its own: a chain N deep then costs O(N) memory, not the O(N²) of N
strings of length up to 4N; only the folded tail (at most MAX_INDENT characters) is
ever spelled out, line by line, while the tree is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from autograd_cli.i18n import _, group, ngettext
from autograd_cli.model import Graph
from autograd_cli.render.labels import leaf_text, saved_texts
from autograd_cli.render.layout import wrap_styled

MAX_INDENT = 48
NOTE = "dim"
# Room kept beside the guides for a node's text: the longest grad_fn class names
# (BinaryCrossEntropyWithLogitsBackward0) are 37 characters.
TEXT_ROOM = 40


class Guide:
    """A guide: its parent's guide, then `piece`. Shared by every line below it."""

    __slots__ = ("length", "parent", "piece")

    def __init__(self, parent: Guide | None = None, piece: str = "") -> None:
        self.parent = parent
        self.piece = piece
        self.length = (parent.length if parent is not None else 0) + len(piece)

    def then(self, piece: str) -> Guide:
        return Guide(self, piece)

    def __len__(self) -> int:
        return self.length

    def tail(self, count: int) -> str:
        """The last `count` characters (all of them if there are fewer)."""
        pieces: list[str] = []
        got = 0
        link: Guide | None = self
        while link is not None and got < count:
            pieces.append(link.piece)
            got += len(link.piece)
            link = link.parent
        text = "".join(reversed(pieces))
        return text[max(len(text) - count, 0) :]

    def __str__(self) -> str:
        return self.tail(self.length)


def _tail(guide: str | Guide, count: int) -> str:
    if isinstance(guide, Guide):
        return guide.tail(count)
    return guide[max(len(guide) - count, 0) :]


@dataclass
class TreeLine:
    """One line of the tree: a guide, then text that wraps under the guide's end.

    `guide` is drawn before the first line, `hang` before the lines the text wraps
    onto (the guide with its vertical bars, so the tree stays whole).
    """

    guide: str | Guide
    hang: str | Guide
    body: Text

    @property
    def plain(self) -> str:
        return str(self.guide) + self.body.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        limit = max(8, min(MAX_INDENT, width - TEXT_ROOM))
        # The hang is cut where the guide is, so that the bars stay in their columns.
        cut = len(self.guide) - limit + 2 if len(self.guide) > limit else 0
        guide = "⋮ " + _tail(self.guide, limit - 2) if cut else _tail(self.guide, limit)
        hang_length = len(self.hang)
        hang = "⋮ " + _tail(self.hang, hang_length - cut) if cut else _tail(self.hang, hang_length)
        room = max(width - len(hang), 1)
        if len(guide) + self.body.cell_len <= width:
            yield Text(guide).append_text(self.body)
            return
        first, *rest = wrap_styled(self.body, width - len(guide), room)
        if first.cell_len > width - len(guide) or any(line.cell_len > room for line in rest):
            # A word wider than the room left (a dotted path, a long name): it breaks
            # after a . or _ instead.
            first, *rest = wrap_styled(self.body, width - len(guide), room, "name")
        yield Text(guide).append_text(first)
        for line in rest:
            yield Text(hang).append_text(line)


def tree_lines(
    graph: Graph,
    root_name: str,
    *,
    saved: bool = False,
    precision: int = 4,
    max_nodes: int | None = None,
) -> list[Text | TreeLine]:
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
    lines: list[Text | TreeLine] = []
    expanded: set[str] = set()
    # (node id, guide before this node, guide for what hangs below it)
    top = Guide()
    stack: list[tuple[str, Guide, Guide]] = [(graph.root, top, top)]
    cap = len(graph.nodes) if max_nodes is None else max_nodes
    while stack:
        node_id, lead, below = stack.pop()
        node = nodes[node_id]
        if node_id not in expanded and len(expanded) >= cap:
            break  # the rest is counted below, not drawn
        kids = children[node_id]
        hang = below.then("│   " if kids else "    ")
        if node_id in expanded:
            leaf = f" → {node.leaf.name}" if node.leaf else ""
            body = Text(f"{node_id} ↑ {node.grad_fn}{leaf} " + _("(shown above)"), style=NOTE)
            lines.append(TreeLine(lead, below.then("    "), body))
            continue
        expanded.add(node_id)
        body = Text(f"{node_id} ", style=NOTE)
        body.append(node.grad_fn, style="bold" if node.leaf else "")
        if node.leaf is not None:
            body.append(f" → {leaf_text(node)}", style="green")
        if node_id == graph.root:
            body.append(f"  ({root_name}.grad_fn)", style=NOTE)
        elif node.tensor is not None:
            body.append(f"  ({node.tensor}.grad_fn)", style=NOTE)
        lines.append(TreeLine(lead, hang, body))

        if saved:
            for text in saved_texts(node, precision):
                detail = Text("· " + _("saved") + " " + text, style=NOTE)
                lines.append(TreeLine(hang, hang.then("  "), detail))
        for position, kid in reversed(list(enumerate(kids))):
            last = position == len(kids) - 1
            stack.append(
                (
                    kid,
                    below.then("└── " if last else "├── "),
                    below.then("    " if last else "│   "),
                )
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
