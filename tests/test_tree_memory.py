"""The tree view's memory is linear in the nodes it shows (issue 14, item 5).

Every line of a chain N deep used to keep its own guide strings, up to 4N characters
each: O(N²) memory (`agrad chain --length 20000 --max-nodes 10000000` took 24 GB).
Measured with tracemalloc (bytes allocated, deterministic), never with a clock.
"""

from __future__ import annotations

import io
import tracemalloc

import torch
from rich.console import Console

from autograd_cli.inspection.graph import graph_report
from autograd_cli.render.tree import MAX_INDENT, TreeLine, tree_lines


def _chain_graph(depth: int):
    x = torch.ones(1, requires_grad=True)
    out = x
    for _ in range(depth):
        out = out * 1.0
    return graph_report(out, {"x": x, "out": out})


def _peak_bytes(depth: int) -> tuple[int, int]:
    """Peak bytes allocated while the tree of a chain `depth` deep is built and its
    deepest lines drawn; and the number of lines."""
    graph = _chain_graph(depth)
    tracemalloc.start()
    try:
        lines = tree_lines(graph, "out")
        console = Console(width=80, color_system=None, file=io.StringIO())
        for line in lines[-3:]:
            console.print(line)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, len(lines)


def test_tree_memory_is_linear_in_depth():
    small, small_lines = _peak_bytes(1500)
    large, large_lines = _peak_bytes(3000)
    assert large_lines == 2 * small_lines - 1  # every node of both chains is shown
    # Linear: twice the nodes, about twice the bytes (the quadratic tree: 19 MB -> 75 MB, 3.9x).
    assert large / small < 2.5, (small, large)
    # And a line costs a bounded amount, whatever its depth (~1 KB measured; the old
    # guide strings alone were 8 bytes per level per line, 24 KB a line at this depth).
    assert large / large_lines < 4000, large / large_lines


def test_a_guide_spells_the_same_text_as_the_string_it_replaces():
    from autograd_cli.render.tree import Guide

    pieces = ["├── ", "│   ", "    ", "└── ", "  "] * 30
    guide, text = Guide(), ""
    for piece in pieces:
        guide, text = guide.then(piece), text + piece
        assert len(guide) == len(text)
        assert str(guide) == text
        for count in (0, 1, 3, 4, 7, MAX_INDENT, len(text) + 5):
            assert guide.tail(count) == text[max(len(text) - count, 0) :]


def test_a_deep_line_folds_as_before():
    """The fold keeps the last columns of the guide and of the hang, under "⋮"."""
    from rich.text import Text

    from autograd_cli.render.tree import Guide

    guide, hang = Guide(), Guide()
    plain_guide, plain_hang = "", ""
    for _ in range(40):
        guide, plain_guide = guide.then("│   "), plain_guide + "│   "
    hang, plain_hang = guide.then("    "), plain_guide + "    "
    body = Text("n9 MulBackward0 " + "word " * 20)
    drawn = []
    for line in (TreeLine(guide, hang, body), TreeLine(plain_guide, plain_hang, body)):
        console = Console(width=80, color_system=None, file=io.StringIO())
        console.print(line)
        drawn.append(console.file.getvalue())
    assert drawn[0] == drawn[1]
    first, *rest = drawn[0].splitlines()
    assert first.startswith("⋮ ") and len(first) <= 80 and rest
    assert all(line.startswith("⋮ ") for line in rest)
