"""The graph walk on graphs built here: identity dedup, slot order, deep chains."""

from __future__ import annotations

import io

import torch
from rich.console import Console

from autograd_cli.inspection.graph import graph_report
from autograd_cli.render.tree import tree_lines


def _tree_text(graph, root_name: str, **options) -> str:
    console = Console(width=100, color_system=None, file=io.StringIO())
    for line in tree_lines(graph, root_name, **options):
        console.print(line)
    return console.file.getvalue()


def test_a_leaf_used_twice_is_one_node_with_two_edges():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    out = (a * a).sum()
    graph = graph_report(out, {"a": a, "out": out})
    accumulate = [n for n in graph.nodes if n.grad_fn == "AccumulateGrad"]
    assert len(accumulate) == 1
    assert accumulate[0].leaf.name == "a"
    mul = next(n for n in graph.nodes if n.grad_fn == "MulBackward0")
    into_leaf = [e for e in graph.edges if e.source == mul.id]
    assert [(e.target, e.slot) for e in into_leaf] == [(accumulate[0].id, 0), (accumulate[0].id, 1)]


def test_a_shared_inner_node_is_shown_once_then_referenced():
    a = torch.tensor([1.0], requires_grad=True)
    h = a.exp()  # used twice below: a diamond
    out = h + h.sin()
    graph = graph_report(out, {"a": a})
    names = [n.grad_fn for n in graph.nodes]
    assert names.count("ExpBackward0") == 1
    text = _tree_text(graph, "out")
    assert text.count("ExpBackward0") == 2  # once expanded, once as a reference
    assert "ExpBackward0 (shown above)" in text
    assert text.count("AccumulateGrad") == 1


def test_next_functions_order_is_kept():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    graph = graph_report(a - b, {"a": a, "b": b})
    root_edges = [e for e in graph.edges if e.source == graph.root]
    leaf_of = {n.id: n.leaf.name for n in graph.nodes if n.leaf}
    assert [(e.slot, leaf_of[e.target]) for e in root_edges] == [(0, "a"), (1, "b")]
    assert [n.id for n in graph.nodes] == ["n0", "n1", "n2"]


def test_a_tensor_without_grad_has_no_graph():
    graph = graph_report(torch.ones(3), {})
    assert graph.root is None and graph.nodes == () and graph.edges == ()
    assert "no graph" in _tree_text(graph, "x")


def test_walk_is_not_recursive():
    # Deeper than Python's default recursion limit (1000): a recursive walk would fail.
    a = torch.ones(1, requires_grad=True)
    h = a
    for _ in range(3000):
        h = h * 1.0
    graph = graph_report(h, {"a": a})
    assert len(graph.nodes) == 3001
    assert graph.nodes[-1].leaf.name == "a"
