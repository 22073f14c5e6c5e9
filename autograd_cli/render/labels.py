"""Short text for nodes, shapes, saved tensors and gradients, shared by the tree,
DOT and Mermaid views so that all three say the same thing the same way."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from autograd_cli import progress
from autograd_cli.i18n import N_, _, group, ngettext
from autograd_cli.model import TINY_NUMEL, Graph, GraphEdge, GraphNode, SavedTensor, Values

GRADIENT_PREVIEW = 4  # values shown before "…" in a gradient label
# SavedTensor.state, English in the JSON, translated where people read it.
SAVED_STATES = (N_("freed"), N_("none"), N_("unavailable"))


# Characters that would act rather than show: C0 and C1 controls (ESC starts a
# terminal's escape sequences, a newline breaks a Mermaid or DOT label), format
# characters (bidirectional overrides reorder what is read), line and paragraph
# separators.
_ACTING = frozenset(("Cc", "Cf", "Zl", "Zp"))


def printable(text: str) -> str:
    """`text` with every character that would act on a terminal or a picture written
    as an escape (\\x1b, \\n, \\u202e); letters of every script are kept as they are.
    For names that come from the user's code (parameters, modules, classes)."""
    import unicodedata

    if text.isprintable():  # the common case, and cheap
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) not in _ACTING:
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


def shape_text(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def number_text(value: object, precision: int) -> str:
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    return f"{value:.{precision}f}"


def flat(values: Values) -> list[Any]:
    """Nested lists flattened in row-major order, without recursion."""
    out: list[Any] = []
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def values_preview(values: Values, precision: int, limit: int = GRADIENT_PREVIEW) -> str:
    numbers = flat(values)
    shown = ", ".join(number_text(v, precision) for v in numbers[:limit])
    return f"[{shown}{', …' if len(numbers) > limit else ''}]"


def leaf_text(node: GraphNode) -> str:
    """`w (5, 3)` for an AccumulateGrad node; empty for others."""
    return "" if node.leaf is None else f"{printable(node.leaf.name)} {shape_text(node.leaf.shape)}"


def gradient_text(node: GraphNode, gradients: dict[str, Values], precision: int) -> str:
    if node.leaf is None or node.leaf.name not in gradients:
        return ""
    return _("grad") + " " + values_preview(gradients[node.leaf.name], precision)


def saved_texts(node: GraphNode, precision: int) -> list[str]:
    """One line per saved tensor or attribute, e.g. `self: (1, 8) float32`."""
    lines = [_saved_tensor_text(t, precision) for t in node.saved_tensors]
    lines.extend(f"{name} = {_attribute_text(value)}" for name, value in node.saved_attributes)
    return lines


def _saved_tensor_text(t: SavedTensor, precision: int) -> str:
    if t.state != "available":
        return f"{t.name}: {_(t.state)}"  # freed, none, unavailable: words for people
    text = f"{t.name}: {shape_text(t.shape)} {t.dtype}"
    if t.value is not None:
        text += " = " + (
            # A saved tensor carries values only up to TINY_NUMEL elements: show them all.
            values_preview(t.value, precision, limit=TINY_NUMEL)
            if isinstance(t.value, list)
            else number_text(t.value, precision)
        )
    return text


def _attribute_text(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(_attribute_text(v) for v in value) + ")"
    return str(value)


def node_label_lines(
    node: GraphNode,
    graph: Graph,
    root_name: str,
    gradients: dict[str, Values],
    saved: bool,
    precision: int,
) -> list[str]:
    """The lines of a node's box in the DOT and Mermaid pictures."""
    lines = [printable(node.grad_fn)]  # a custom Function's class name is the user's
    if node.id == graph.root:
        lines.append(f"{root_name}.grad_fn")
    elif node.tensor is not None:
        lines.append(f"{node.tensor}.grad_fn")
    if node.leaf is not None:
        lines += [leaf_text(node), gradient_text(node, gradients, precision)]
    if saved:
        lines += [_("saved") + " " + text for text in saved_texts(node, precision)]
    return [line for line in lines if line]


def omitted_note(count: int) -> str:
    """The DOT and Mermaid pictures' last word: how many nodes --max-nodes left out."""
    return ngettext(
        "… {count} more node not shown (--max-nodes)",
        "… {count} more nodes not shown (--max-nodes)",
        count,
    ).format(count=group(count))


class GraphParts(NamedTuple):
    """What DOT and Mermaid both draw: each node with its label lines, each edge and
    whether it shows its slot (only where a node has several inputs: there slot
    numbers say which), and the note on omitted nodes, if any. Nodes and edges are
    made as they are read, so a picture of 300,000 nodes is written without all its
    labels in memory at once."""

    root_name: str
    nodes: Iterable[tuple[GraphNode, list[str]]]
    edges: Iterable[tuple[GraphEdge, bool]]
    omitted: str | None


def graph_parts(
    graph: Graph,
    root_name: str,
    gradients: dict[str, Values],
    *,
    saved: bool = False,
    precision: int = 4,
) -> GraphParts:
    """The graph's parts, labelled (see GraphParts)."""
    nodes = progress.counted(
        (
            (node, node_label_lines(node, graph, root_name, gradients, saved, precision))
            for node in graph.nodes
        ),
        _(progress.WRITING),
        total=len(graph.grad_fns),
    )
    multi = {source for source, slot in zip(graph.sources, graph.slots, strict=True) if slot > 0}
    edges = ((edge, graph.sources[k] in multi) for k, edge in enumerate(graph.edges))
    omitted = omitted_note(graph.omitted_nodes) if graph.omitted_nodes else None
    return GraphParts(root_name, nodes, edges, omitted)


def in_pieces(lines: Iterable[str], size: int = 4096) -> Iterator[str]:
    """`lines` joined, each with its newline, `size` lines to a piece."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "\n".join(batch) + "\n"
            batch.clear()
    if batch:
        yield "\n".join(batch) + "\n"


def significant(value: float | None, digits: int) -> str:
    """`value` with `digits` significant digits (NaN, inf and — for no value)."""
    import math

    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{max(digits, 1)}g}"
