"""The shape of a whole backward graph: nodes, edges, depth, and nodes per class.

A walk of its own, apart from graph.py's: it reads no saved tensors, so it stays
cheap on a real model however many nodes --max-nodes keeps for the views.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from autograd_cli.model import GraphSummary


def _breadth_first(root_fn: Any) -> tuple[list[Any], list[list[int]], int]:
    """Every node reachable from `root_fn` in discovery order, each node's children
    (as indices into that order, in next_functions order) and the edge count."""
    index: dict[Any, int] = {root_fn: 0}
    order = [root_fn]
    children: list[list[int]] = []
    edge_count = 0
    for fn in order:  # grows while it is read: no recursion, any depth
        targets = []
        for target, _ in fn.next_functions:
            if target is None:
                continue
            edge_count += 1
            if target not in index:
                index[target] = len(order)
                order.append(target)
            targets.append(index[target])
        children.append(targets)
    return order, children, edge_count


def graph_summary(root_fn: Any) -> GraphSummary:
    """Counts every node reachable from `root_fn`; depth is the number of nodes on the
    longest path from the root to a leaf (the chain rule's longest product)."""
    if root_fn is None:
        return GraphSummary(node_count=0, edge_count=0, depth=0, grad_fn_counts={})
    order, children, edge_count = _breadth_first(root_fn)
    classes = Counter(type(fn).__name__ for fn in order)

    # Longest path in a DAG: relax edges in topological order (Kahn's algorithm).
    indegree = [0] * len(order)
    for targets in children:
        for t in targets:
            indegree[t] += 1
    longest = [1] * len(order)
    ready = [0]
    while ready:
        node = ready.pop()
        for t in children[node]:
            longest[t] = max(longest[t], longest[node] + 1)
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return GraphSummary(
        node_count=len(order),
        edge_count=edge_count,
        depth=max(longest),
        grad_fn_counts=dict(classes.most_common()),
    )


def leaf_tensors(root_fn: Any) -> list[Any]:
    """The tensors the graph's AccumulateGrad nodes write .grad into, in walk order."""
    if root_fn is None:
        return []
    order, _children, _edges = _breadth_first(root_fn)
    leaves = (
        getattr(fn, "variable", None) for fn in order if type(fn).__name__ == "AccumulateGrad"
    )
    return [variable for variable in leaves if variable is not None]
