"""Plain facts about autograd, with no tensors in them.

Inspection fills these from torch; renderers read them. Keeping torch out of here
means renderers and tests of renderers never need a tensor, and the JSON document
is just `to_dict()` of a report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# A tensor's value as nested Python lists (`Tensor.tolist()`); a float for 0-d.
Values = Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TensorFacts:
    """One named tensor as the tutorial prints it."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # "float32", without the "torch." prefix
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None  # class name, e.g. "AddBackward0"; None for leaves
    value: Values


@dataclass(frozen=True)
class LeafRef:
    """The tensor an AccumulateGrad node writes `.grad` into."""

    name: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class GraphNode:
    id: str  # "n0", "n1", ... in walk order, so output is stable run to run
    grad_fn: str  # type(fn).__name__
    leaf: LeafRef | None  # set for AccumulateGrad nodes only


@dataclass(frozen=True)
class GraphEdge:
    """`source.next_functions[slot] == (target, input_nr)`."""

    source: str
    target: str
    slot: int  # position in the source's next_functions
    input_nr: int  # which output of the target feeds this slot


@dataclass(frozen=True)
class Graph:
    """The backward graph reachable from one root grad_fn."""

    root: str | None  # None when the output does not require grad
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]

    def children(self) -> dict[str, list[str]]:
        """Targets of each node's edges, in next_functions order."""
        out: dict[str, list[str]] = {node.id: [] for node in self.nodes}
        for edge in self.edges:  # the walk records edges in slot order
            out[edge.source].append(edge.target)
        return out


@dataclass(frozen=True)
class Gradient:
    """`tensor.grad` of one leaf after backward()."""

    name: str
    shape: tuple[int, ...]
    value: Values


@dataclass(frozen=True)
class FreezeCase:
    """`z.requires_grad` computed one way; `case` is a stable key for JSON."""

    case: str  # "built", "no_grad" or "detach"
    code: str
    requires_grad: bool


@dataclass(frozen=True)
class LinearReport:
    """Everything `agrad linear` shows, in the order it shows it."""

    seed: int
    statements: tuple[str, ...]
    tensors: tuple[TensorFacts, ...]
    graph: Graph
    gradients: tuple[Gradient, ...]
    freezing: tuple[FreezeCase, ...]

    command = "linear"

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, **asdict(self)}


@dataclass(frozen=True)
class AccumulationStep:
    """`inp.grad` right after one backward call."""

    call: int  # 1-based count of backward calls so far
    zeroed_before: bool  # True for the call made right after grad.zero_()
    grad: Values


@dataclass(frozen=True)
class JvpReport:
    """Everything `agrad jvp` shows, in the order it shows it."""

    repeat: int
    statements: tuple[str, ...]
    tensors: tuple[TensorFacts, ...]
    graph: Graph
    vector: str  # the v of each backward(v) call, as code
    steps: tuple[AccumulationStep, ...]

    command = "jvp"

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, **asdict(self)}


Report = LinearReport | JvpReport
