"""The shape of a whole backward graph: nodes, edges, depth, and nodes per class.

A walk of its own, apart from graph.py's: it reads no saved tensors, so it stays
cheap on a real model however many nodes --max-nodes keeps for the views.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from autograd_cli.model import GraphSummary


def graph_summary(root_fn: Any) -> GraphSummary:
    """Counts every node reachable from `root_fn`; depth is the number of nodes on the
    longest path from the root to a leaf (the chain rule's longest product)."""
    if root_fn is None:
        return GraphSummary(node_count=0, edge_count=0, depth=0, grad_fn_counts={})
    index: dict[Any, int] = {root_fn: 0}
    children: list[list[int]] = []
    classes: Counter[str] = Counter()
    order = [root_fn]  # every node, in discovery order
    edge_count = 0
    for fn in order:  # grows while it is read: a breadth-first walk, no recursion
        classes[type(fn).__name__] += 1
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
    leaves: list[Any] = []
    seen = {root_fn}
    order = [root_fn] if root_fn is not None else []
    for fn in order:
        variable = getattr(fn, "variable", None) if type(fn).__name__ == "AccumulateGrad" else None
        if variable is not None:
            leaves.append(variable)
        for target, _ in fn.next_functions:
            if target is not None and target not in seen:
                seen.add(target)
                order.append(target)
    return leaves
