"""Walk a backward graph into plain nodes and edges.

The walk is an explicit-stack depth-first search (no recursion, so depth is only
bounded by memory), visits each grad_fn once by identity, and follows
`next_functions` in order, so ids `n0, n1, ...` are stable from run to run. It is
linear in the number of nodes; the tensors each node saved are read on the way
(before backward() frees them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from autograd_cli.inspection.saved import saved_facts
from autograd_cli.inspection.tensors import tensor_facts
from autograd_cli.model import Graph, GraphEdge, GraphNode, LeafRef, TensorFacts
from autograd_cli.worker import collector_paused


def graph_report(
    root: torch.Tensor, names: Mapping[str, torch.Tensor], max_nodes: int | None = None
) -> Graph:
    """The graph behind `root.grad_fn`; AccumulateGrad leaves named from `names`.

    With `max_nodes`, facts are kept for the first `max_nodes` nodes in walk order
    (and the edges between them); the whole graph is still walked and counted.
    """
    if root.grad_fn is None:
        return Graph(root=None, nodes=(), edges=())
    # The walk creates millions of small objects on big graphs: the cyclic collector
    # is paused around it (already, inside agrad's worker; see worker.py).
    with collector_paused():
        return _walk(root.grad_fn, {id(t): name for name, t in names.items()}, max_nodes)


def facts_and_graph(
    root: torch.Tensor, named: Mapping[str, torch.Tensor], max_nodes: int | None
) -> tuple[tuple[TensorFacts, ...], Graph]:
    """Where every scenario's report starts: its tensors, and its graph walked before
    backward() (which releases the tensors the nodes saved)."""
    return tuple(tensor_facts(n, t) for n, t in named.items()), graph_report(root, named, max_nodes)


def _walk(root_fn: Any, leaf_names: Mapping[int, str], max_nodes: int | None) -> Graph:
    keep = float("inf") if max_nodes is None else max_nodes
    ids: dict[Any, int] = {}  # grad_fn -> walk index; holding fn keeps its wrapper alive
    nodes: list[GraphNode] = []
    pending: list[tuple[int, int, Any, int]] = []  # (source index, slot, target fn, input_nr)
    edge_count = 0
    stack: list[Any] = [root_fn]
    while stack:
        fn = stack.pop()
        if fn in ids:
            continue
        index = ids[fn] = len(ids)
        live = [(slot, t, nr) for slot, (t, nr) in enumerate(fn.next_functions) if t is not None]
        edge_count += len(live)
        if index < keep:
            saved_tensors, saved_attributes = saved_facts(fn)
            nodes.append(
                GraphNode(
                    id=f"n{index}",
                    grad_fn=type(fn).__name__,
                    leaf=_leaf_of(fn, leaf_names),
                    saved_tensors=saved_tensors,
                    saved_attributes=saved_attributes,
                )
            )
            for slot, t, nr in live:
                pending.append((index, slot, t, nr))
        # Reversed, so the first next_function is popped (and numbered) first.
        for _, t, _ in reversed(live):
            stack.append(t)

    edges = tuple(
        GraphEdge(source=f"n{src}", target=f"n{ids[t]}", slot=slot, input_nr=nr)
        for src, slot, t, nr in pending
        if ids[t] < keep
    )
    return Graph(
        root="n0", nodes=tuple(nodes), edges=edges, node_count=len(ids), edge_count=edge_count
    )


def _leaf_of(fn: Any, leaf_names: Mapping[int, str]) -> LeafRef | None:
    # Only AccumulateGrad has `variable`; asking the others would raise and catch
    # an AttributeError per node, a third of the walk's time on deep graphs.
    if type(fn).__name__ != "AccumulateGrad":
        return None
    variable = getattr(fn, "variable", None)
    if variable is None:
        return None
    name = leaf_names.get(id(variable), "(unnamed)")
    return LeafRef(name=name, shape=tuple(variable.shape))
