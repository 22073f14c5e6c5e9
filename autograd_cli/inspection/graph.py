"""Walk a backward graph into plain nodes and edges.

The walk is an explicit-stack depth-first search (no recursion, so depth is only
bounded by memory), visits each grad_fn once by identity, and follows
`next_functions` in order, so ids `n0, n1, ...` are stable from run to run.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from autograd_cli.model import Graph, GraphEdge, GraphNode, LeafRef


def graph_report(root: torch.Tensor, names: Mapping[str, torch.Tensor]) -> Graph:
    """The graph behind `root.grad_fn`; AccumulateGrad leaves named from `names`."""
    leaf_names = {id(t): name for name, t in names.items()}
    if root.grad_fn is None:
        return Graph(root=None, nodes=(), edges=())

    ids: dict[object, str] = {}  # grad_fn -> id; holding fn keeps its wrapper alive
    nodes: list[GraphNode] = []
    pending: list[tuple[str, int, object, int]] = []  # (source id, slot, target fn, input_nr)
    stack: list[object] = [root.grad_fn]
    while stack:
        fn = stack.pop()
        if fn in ids:
            continue
        node_id = f"n{len(ids)}"
        ids[fn] = node_id
        leaf = _leaf_of(fn, leaf_names)
        nodes.append(GraphNode(id=node_id, grad_fn=type(fn).__name__, leaf=leaf))
        children = [
            (slot, target, input_nr)
            for slot, (target, input_nr) in enumerate(fn.next_functions)
            if target is not None  # None: that input does not require grad
        ]
        pending.extend((node_id, slot, target, nr) for slot, target, nr in children)
        # Reversed, so the first next_function is popped (and numbered) first.
        stack.extend(target for _, target, _ in reversed(children))

    edges = tuple(
        GraphEdge(source=src, target=ids[target], slot=slot, input_nr=nr)
        for src, slot, target, nr in pending
    )
    return Graph(root="n0", nodes=tuple(nodes), edges=edges)


def _leaf_of(fn: object, leaf_names: Mapping[int, str]) -> LeafRef | None:
    variable = getattr(fn, "variable", None)  # only AccumulateGrad has one
    if variable is None:
        return None
    name = leaf_names.get(id(variable), "(unnamed)")
    return LeafRef(name=name, shape=tuple(variable.shape))
