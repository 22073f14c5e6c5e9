"""Walk a backward graph into plain nodes and edges.

The walk is an explicit-stack depth-first search (no recursion, so depth is only
bounded by memory), visits each grad_fn once by identity, and follows
`next_functions` in order, so ids `n0, n1, ...` are stable from run to run. It is
linear in the number of nodes. The tensors each node saved are read only when
asked for (--saved), and must be read before backward() frees them.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import compress, count
from typing import Any

import torch

from autograd_cli import progress
from autograd_cli.i18n import _
from autograd_cli.inspection.saved import saved_facts
from autograd_cli.inspection.tensors import tensor_facts
from autograd_cli.model import Graph, LeafRef, TensorFacts, WalkRequest
from autograd_cli.worker import collector_paused

EVERY_NODE = WalkRequest()  # every node's facts, not what they saved


def graph_report(
    root: torch.Tensor,
    names: Mapping[str, torch.Tensor],
    walk: WalkRequest = EVERY_NODE,
    outputs: Mapping[str, torch.Tensor] | None = None,
) -> Graph:
    """The graph behind `root.grad_fn`; AccumulateGrad leaves named from `names`, and
    the nodes that made the tensors in `outputs` (named intermediates) from theirs (the
    first name, where two name the same tensor).

    With `walk.max_nodes`, facts are kept for the first that many nodes in walk order
    (and the edges between them); the whole graph is still walked and counted. With
    `walk.saved`, what each kept node saved for backward is read too (before
    backward() releases it).
    """
    if root.grad_fn is None:
        return Graph(root=None)
    # The walk creates millions of small objects on big graphs: the cyclic collector
    # is paused around it (already, inside agrad's worker; see worker.py).
    with collector_paused():
        leaf_names = {id(t): name for name, t in names.items()}
        made = {}  # grad_fn -> the name of the tensor it made; the first name wins
        for name, t in (outputs or {}).items():
            if t.grad_fn is not None:
                made.setdefault(t.grad_fn, name)
        return _walk(root.grad_fn, leaf_names, walk.max_nodes, walk.saved, made)


def facts_and_graph(
    root: torch.Tensor,
    named: Mapping[str, torch.Tensor],
    walk: WalkRequest,
    outputs: Mapping[str, torch.Tensor] | None = None,
) -> tuple[tuple[TensorFacts, ...], Graph]:
    """Where every scenario's report starts: its tensors, and its graph walked before
    backward() (which releases the tensors the nodes saved); `outputs` name the nodes
    that made them (graph_report)."""
    tensors = tuple(tensor_facts(n, t) for n, t in named.items())
    return tensors, graph_report(root, named, walk, outputs)


def _walk(
    root_fn: Any,
    leaf_names: Mapping[int, str],
    max_nodes: int | None,
    saved: bool,
    made: Mapping[Any, str],
) -> Graph:
    # The loop does only what the floor does (a bare walk over next_functions:
    # bench/graph_scale.py): it numbers each node and keeps its next_functions. The
    # edges, names, leaves and saved tensors are read afterwards, for the kept nodes.
    ids: dict[Any, int] = {}  # grad_fn -> walk index; holding fn keeps its wrapper alive
    order: list[Any] = []  # grad_fn by walk index
    inputs: list[Any] = []  # next_functions by walk index
    # (fn, input_nr) pairs, as next_functions holds them: the root's is made up.
    stack: list[Any] = [(root_fn, 0)]
    pop, push, visit, record = stack.pop, stack.extend, order.append, inputs.append
    with progress.task(_(progress.WALKING)) as tick:  # a bar on a terminal, if it lasts
        while stack:
            fn = pop()[0]
            if fn is None or fn in ids:  # None: an input that does not require grad
                continue
            index = ids[fn] = len(order)
            if not index & 4095:
                tick(index)
            visit(fn)
            pairs = fn.next_functions
            record(pairs)
            push(reversed(pairs))  # so that the first next_function is popped (numbered) first

    kept = len(order) if max_nodes is None else min(max_nodes, len(order))
    del order[kept:]
    sources: list[int] = []
    targets: list[int] = []
    slots: list[int] = []
    input_nrs: list[int] = []
    # Bound once: this loop runs once per edge (~0.2 µs each).
    add_source, add_target, add_slot, add_nr = (
        sources.append,
        targets.append,
        slots.append,
        input_nrs.append,
    )
    for source, pairs in enumerate(inputs[:kept]):
        for slot, (fn, input_nr) in enumerate(pairs):
            target = ids.get(fn, kept)  # None is not in ids
            if target < kept:
                add_source(source)
                add_target(target)
                add_slot(slot)
                add_nr(input_nr)
    edge_count = len(sources)
    if kept < len(ids):  # the whole graph's edges are counted all the same
        edge_count = sum(fn is not None for pairs in inputs for fn, _ in pairs)
    names = {cls: cls.__name__ for cls in set(map(type, order))}
    grad_fns = list(map(names.__getitem__, map(type, order)))
    accumulate = compress(count(), map("AccumulateGrad".__eq__, grad_fns))
    return Graph(
        root="n0",
        grad_fns=grad_fns,
        leaves={
            i: _leaf_of(order[i], leaf_names)
            for i in accumulate
            if getattr(order[i], "variable", None) is not None
        },
        sources=sources,
        targets=targets,
        slots=slots,
        input_nrs=input_nrs,
        saved=[saved_facts(fn) for fn in order] if saved else None,
        node_count=len(ids),
        edge_count=edge_count,
        tensor_names={ids[fn]: name for fn, name in made.items() if ids.get(fn, kept) < kept},
    )


def _leaf_of(fn: Any, leaf_names: Mapping[int, str]) -> LeafRef:
    # Only AccumulateGrad has `variable` (asking the others would raise and catch an
    # AttributeError per node); the caller asks only those that hold one.
    variable = fn.variable
    return LeafRef(name=leaf_names.get(id(variable), "(unnamed)"), shape=tuple(variable.shape))
