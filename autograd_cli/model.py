"""Plain facts about autograd, with no tensors in them.

Inspection fills these from torch; renderers read them. Keeping torch out of here
means renderers and tests of renderers never need a tensor, and the JSON document
is just `to_dict()` of a report.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, NamedTuple

# A tensor's value as nested Python lists (`Tensor.tolist()`); a float for 0-d.
Values = Any

SCHEMA_VERSION = 1


# Graph facts (LeafRef, SavedTensor, GraphNode, GraphEdge) are NamedTuples rather
# than frozen dataclasses: a 100,000-step chain makes 700,000 of them, and a frozen
# dataclass's __init__ is ~5x slower. They are just as immutable and plain.

# Saved tensors and gradient labels carry values only up to this many elements.
TINY_NUMEL = 8


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


class LeafRef(NamedTuple):
    """The tensor an AccumulateGrad node writes `.grad` into."""

    name: str
    shape: tuple[int, ...]


class SavedTensor(NamedTuple):
    """One tensor a node saved for backward (`grad_fn._saved_<name>`).

    state: "available" (read before backward), "freed" (backward already released
    it), "none" (an optional tensor that was not given, e.g. BCE's `weight`), or
    "unavailable" (this torch version would not tell).
    """

    name: str
    state: str
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    value: Values = None  # only for tensors of at most TINY_NUMEL elements


class GraphNode(NamedTuple):
    id: str  # "n0", "n1", ... in walk order, so output is stable run to run
    grad_fn: str  # type(fn).__name__
    leaf: LeafRef | None  # set for AccumulateGrad nodes only
    saved_tensors: tuple[SavedTensor, ...] = ()
    # Non-tensor saved values (`alpha`, `reduction`, sizes...), as JSON-ready data.
    saved_attributes: tuple[tuple[str, Any], ...] = ()


class GraphEdge(NamedTuple):
    """`source.next_functions[slot] == (target, input_nr)`."""

    source: str
    target: str
    slot: int  # position in the source's next_functions
    input_nr: int  # which output of the target feeds this slot


@dataclass(frozen=True)
class Graph:
    """The backward graph reachable from one root grad_fn.

    `nodes` and `edges` may be the first `len(nodes)` nodes in walk order when a
    cap was asked for; `node_count` and `edge_count` always count the whole graph.
    """

    root: str | None  # None when the output does not require grad
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    node_count: int = 0
    edge_count: int = 0

    @property
    def omitted_nodes(self) -> int:
        return self.node_count - len(self.nodes)

    def children(self) -> dict[str, list[str]]:
        """Targets of each node's edges, in next_functions order."""
        out: dict[str, list[str]] = {node.id: [] for node in self.nodes}
        for edge in self.edges:  # the walk records edges in slot order
            out[edge.source].append(edge.target)
        return out

    def to_dict(self) -> dict[str, Any]:
        # Written out by hand: asdict() deep-copies and is ~10x slower on the
        # 300,000-node graphs of `agrad chain --length 100000`.
        return {
            "root": self.root,
            "node_count": self.node_count,
            "edge_count": self.edge_count,
            "omitted_nodes": self.omitted_nodes,
            "nodes": [
                {
                    "id": n.id,
                    "grad_fn": n.grad_fn,
                    "leaf": None
                    if n.leaf is None
                    else {"name": n.leaf.name, "shape": n.leaf.shape},
                    "saved_tensors": [
                        {
                            "name": t.name,
                            "state": t.state,
                            "shape": t.shape,
                            "dtype": t.dtype,
                            "value": t.value,
                        }
                        for t in n.saved_tensors
                    ],
                    "saved_attributes": dict(n.saved_attributes),
                }
                for n in self.nodes
            ],
            "edges": [
                {"source": e.source, "target": e.target, "slot": e.slot, "input_nr": e.input_nr}
                for e in self.edges
            ],
        }


@dataclass(frozen=True)
class Gradient:
    """`tensor.grad` of one leaf after backward(); value None if it was not reached."""

    name: str
    shape: tuple[int, ...]
    value: Values


@dataclass(frozen=True)
class Unverified:
    """Elements of a leaf whose gradient finite differences cannot judge, and why
    (each reason once, in this order): "nonfinite" (the function is inf or NaN at the
    point or a step from it), "overflow" (the gradient is beyond the range of the
    dtype backward() ran in), "inaccurate" (the differences' own estimated error,
    largest in `estimated_error`, exceeds the tolerance: the function curves too
    sharply, or is too large, at the point)."""

    elements: int
    reasons: tuple[str, ...]
    estimated_error: float | None  # with "inaccurate" only


@dataclass(frozen=True)
class LeafCheck:
    """One leaf's gradient against an independent reference. `ok` is False only when
    an element that could be verified is outside the tolerance; the elements that
    could not be are counted in `cannot_verify` (None when every one was)."""

    name: str
    max_abs_diff: float
    max_rel_diff: float
    ok: bool
    cannot_verify: Unverified | None = None


@dataclass(frozen=True)
class CheckReport:
    """What --check found: finite differences for every leaf; closed forms where known."""

    method: str
    atol: float
    rtol: float
    leaves: tuple[LeafCheck, ...]
    closed_form: tuple[LeafCheck, ...]  # linear only: (σ(z) − y)/3 and outer(x, ·)
    ok: bool


@dataclass(frozen=True)
class JacobianFacts:
    """The full Jacobian of the output with respect to one leaf, flattened."""

    leaf: str
    output_shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    matrix: Values  # (output elements) x (input elements), row-major flattening
    jacfwd_max_abs_diff: float  # jacrev against jacfwd
    vjp_max_abs_diff: float  # vᵀ·J (v = ones) against backward(v)'s .grad


HEALTH_FLAGS = ("vanishing", "exploding", "dead", "nonfinite", "unused", "frozen")
# `--fail-on any`: every flag that says something went wrong. frozen (requires_grad=False)
# is usually meant, so it fails a run only when named.
PROBLEM_FLAGS = HEALTH_FLAGS[:-1]


@dataclass(frozen=True)
class ParameterHealth:
    """One parameter's gradient after a single backward(), as statistics and flags.

    The statistics are None when there is no gradient (frozen, or unused); norms are
    computed in float64 over every element, so NaN or inf in the gradient shows here.
    """

    name: str
    shape: tuple[int, ...]
    numel: int
    requires_grad: bool
    grad_norm: float | None  # L2 norm of .grad
    mean_abs: float | None
    max_abs: float | None
    zero_fraction: float | None  # share of elements that are exactly 0
    nan_count: int | None
    inf_count: int | None
    param_norm: float  # L2 norm of the parameter itself
    ratio: float | None  # grad_norm / param_norm; None when the parameter is all zeros
    flags: tuple[str, ...]  # a subset of HEALTH_FLAGS, at most one of them


@dataclass(frozen=True)
class GraphSummary:
    """The shape of the whole backward graph, whatever --max-nodes keeps."""

    node_count: int
    edge_count: int
    depth: int  # nodes on the longest path from the root to a leaf
    grad_fn_counts: dict[str, int]  # class name -> nodes, most frequent first


@dataclass(frozen=True)
class ForwardFrame:
    """One line of the forward pass, from torch's anomaly-mode traceback."""

    file: str
    line: int
    function: str
    code: str


@dataclass(frozen=True)
class NanOrigin:
    """What `--anomaly` found: the first backward Function that returned NaN."""

    grad_fn: str | None  # e.g. "SqrtBackward0"; None when no Function returned NaN
    message: str  # torch's own words
    origin: ForwardFrame | None  # the line of the user's code that created that node
    forward_trace: tuple[ForwardFrame, ...]  # the forward call stack, outermost first


_FIRST_KEYS = ("seed", "statements", "tensors", "graph", "gradients")
_LAST_KEYS = ("check", "device", "dtype")


@dataclass(frozen=True, kw_only=True)
class Report:
    """What every command's report offers: its backward graph and its JSON.

    A scenario's report is a subclass that adds only its own facts and names its
    command: `class ChainReport(GradientsReport, command="chain")`. Its JSON is
    {"command": ..., then the fields}: the shared facts first (seed, statements,
    tensors, graph, gradients), then the report's own in declaration order, then
    check, device and dtype; unless `layout` (space-separated names) says otherwise.
    The first commands keep the key order their separate classes had, because
    scripts read it (tests/test_json_identity.py pins it).
    """

    command: ClassVar[str]
    layout: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, command: str = "", layout: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if command:
            cls.command = command
        if layout:
            cls.layout = tuple(layout.split())

    graph: Graph

    def keys(self) -> tuple[str, ...]:
        if self.layout:
            return self.layout
        names = [f.name for f in fields(self)]
        first = [n for n in _FIRST_KEYS if n in names]
        last = [n for n in _LAST_KEYS if n in names]
        return (*first, *(n for n in names if n not in first and n not in last), *last)

    def to_dict(self) -> dict[str, Any]:
        """Fields in layout order; the graph through its fast to_dict()."""
        out: dict[str, Any] = {"command": self.command}
        for name in self.keys():
            value = getattr(self, name)
            out[name] = value.to_dict() if isinstance(value, Graph) else _plain(value)
        return out

    def leaf_gradients(self) -> dict[str, Values]:
        """Each leaf's gradient after the last backward(), by leaf name (graph labels)."""
        return {}


@dataclass(frozen=True, kw_only=True)
class StatementsReport(Report):
    """A scenario that runs statements shown to the reader: the tensors they made,
    and --check's verdict on the gradients."""

    statements: tuple[str, ...]
    tensors: tuple[TensorFacts, ...]
    check: CheckReport | None = None  # with --check
    device: str = "cpu"
    dtype: str = "float32"


@dataclass(frozen=True, kw_only=True)
class GradientsReport(StatementsReport):
    """A seeded scenario whose leaves get their .grad from one backward()."""

    seed: int
    gradients: tuple[Gradient, ...]

    def leaf_gradients(self) -> dict[str, Values]:
        return {g.name: g.value for g in self.gradients if g.value is not None}


def _plain(value: Any) -> Any:
    # Report fields hold flat dataclasses (or tuples of them) whose values are plain
    # data already; asdict's deep copy would cost ~0.7 ms a report. Values (nested
    # lists of floats) and other plain data are returned at once, untouched: only a
    # tuple or a dataclass is looked into (a batch of 1,000 lines pays this 90 times each).
    names = getattr(type(value), "__dataclass_fields__", None)
    if names is not None:
        return {
            name: _plain(item) if isinstance(item, tuple) or _is_record(item) else item
            for name in names
            for item in (getattr(value, name),)
        }
    if isinstance(value, tuple) and value and _is_record(value[0]):
        return [_plain(item) for item in value]
    return value


def _is_record(value: Any) -> bool:
    return hasattr(type(value), "__dataclass_fields__")
