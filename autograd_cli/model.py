"""Plain facts about autograd, with no tensors in them.

Inspection fills these from torch; renderers read them. Keeping torch out of here
means renderers and tests of renderers never need a tensor, and the JSON document
is a report's `items()`, written in order (render/json_doc.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NamedTuple

# A tensor's value as nested Python lists (`Tensor.tolist()`); a float for 0-d.
Values = Any

SCHEMA_VERSION = 2


# Graph facts (LeafRef, SavedTensor, GraphNode, GraphEdge) are NamedTuples rather
# than frozen dataclasses: views that read a big graph as records make one per node
# and edge (Graph.nodes, Graph.edges), and a frozen dataclass's __init__ is ~5x
# slower. They are just as immutable and plain.

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
    tensor: str | None = None  # the named tensor this node made (agrad expr's h = ...)


class GraphEdge(NamedTuple):
    """`source.next_functions[slot] == (target, input_nr)`."""

    source: str
    target: str
    slot: int  # position in the source's next_functions
    input_nr: int  # which output of the target feeds this slot


# What the walk keeps of one node with --saved: (tensors, attributes), each tensor a
# plain tuple in SavedTensor's field order, each attribute (name, value). Plain tuples:
# a NamedTuple costs ~0.3 µs to make, and a 100,000-step chain saves 200,000 tensors.
# Graph.node() hands them out as SavedTensor records.
SavedFacts = tuple[tuple[tuple[Any, ...], ...], tuple[tuple[str, Any], ...]]


@dataclass(frozen=True)
class WalkRequest:
    """What the graph walk keeps, as the output asks: facts of the first `max_nodes`
    nodes in walk order (None: all), and what they saved for backward (only a view
    with --saved shows it, and reading it costs more than the rest of the walk)."""

    max_nodes: int | None = None
    saved: bool = False


@dataclass(frozen=True, eq=False)
class Graph:
    """The backward graph reachable from one root grad_fn, as columns.

    Node i (id "n{i}", in walk order) has class name `grad_fns[i]`, `leaves.get(i)`
    and, when the walk read them, `saved[i]`. Edge k is `sources[k] ->
    targets[k]` (node indices) through `slots[k]` and `input_nrs[k]`, in (source,
    slot) order. Columns, not a record per node: a 100,000-step chain has 300,004
    nodes, and its JSON is written straight from these (render/json_doc.py).
    `nodes` and `edges` give the same facts as records, made as they are read.

    The columns may hold only the first nodes in walk order (and the edges between
    them) when a cap was asked for; `node_count` and `edge_count` count the whole graph.
    """

    root: str | None  # None when the output does not require grad
    grad_fns: Sequence[str] = ()
    leaves: Mapping[int, LeafRef] = field(default_factory=dict)
    sources: Sequence[int] = ()
    targets: Sequence[int] = ()
    slots: Sequence[int] = ()
    input_nrs: Sequence[int] = ()
    saved: Sequence[SavedFacts] | None = None  # None: not read (no --saved)
    node_count: int = 0
    edge_count: int = 0
    # Node index -> the name of the tensor it made, where a scenario names one that is
    # not a leaf (agrad expr's intermediates); most graphs have none.
    tensor_names: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        root: str | None,
        nodes: Sequence[GraphNode],
        edges: Sequence[GraphEdge],
        node_count: int | None = None,
        edge_count: int | None = None,
    ) -> Graph:
        """A graph from records (ids "n0", "n1", ... in order): for tests and examples."""
        index = {node.id: i for i, node in enumerate(nodes)}
        return cls(
            root=root,
            grad_fns=[n.grad_fn for n in nodes],
            leaves={i: n.leaf for i, n in enumerate(nodes) if n.leaf is not None},
            sources=[index[e.source] for e in edges],
            targets=[index[e.target] for e in edges],
            slots=[e.slot for e in edges],
            input_nrs=[e.input_nr for e in edges],
            saved=[(n.saved_tensors, n.saved_attributes) for n in nodes],
            node_count=len(nodes) if node_count is None else node_count,
            edge_count=len(edges) if edge_count is None else edge_count,
            tensor_names={i: n.tensor for i, n in enumerate(nodes) if n.tensor is not None},
        )

    @property
    def omitted_nodes(self) -> int:
        return self.node_count - len(self.grad_fns)

    @property
    def nodes(self) -> Sequence[GraphNode]:
        return _Records(len(self.grad_fns), self.node)

    @property
    def edges(self) -> Sequence[GraphEdge]:
        return _Records(len(self.sources), self.edge)

    def node(self, i: int) -> GraphNode:
        tensors, attributes = self.saved[i] if self.saved is not None else ((), ())
        saved_tensors = tuple(SavedTensor(*t) for t in tensors)
        return GraphNode(
            f"n{i}",
            self.grad_fns[i],
            self.leaves.get(i),
            saved_tensors,
            attributes,
            self.tensor_names.get(i),
        )

    def edge(self, k: int) -> GraphEdge:
        return GraphEdge(
            f"n{self.sources[k]}", f"n{self.targets[k]}", self.slots[k], self.input_nrs[k]
        )

    def children(self) -> dict[str, list[str]]:
        """Targets of each node's edges, in next_functions order."""
        out: dict[str, list[str]] = {f"n{i}": [] for i in range(len(self.grad_fns))}
        for source, target in zip(self.sources, self.targets, strict=True):
            out[f"n{source}"].append(f"n{target}")
        return out


@dataclass(frozen=True)
class LeafGraph:
    """A graph that belongs to one leaf: with agrad expr --order N, the graph of order
    N's gradient with respect to it, which create_graph=True recorded."""

    leaf: str
    graph: Graph


class _Records(Sequence[Any]):
    """A graph's nodes (or edges) as records, each made when it is read."""

    def __init__(self, count: int, make: Callable[[int], Any]) -> None:
        self._count, self._make = count, make

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._make(k) for k in range(*i.indices(self._count))]
        return self._make(range(self._count)[i])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)


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


HEALTH_FLAGS = (
    "vanishing",
    "exploding",
    "dead",
    "nonfinite",
    "unused",
    "frozen",
    "round-off",
)
# `--fail-on any`: every flag that says something went wrong. frozen (requires_grad=False)
# is usually meant, and round-off (a gradient 0 in exact arithmetic, left by rounding)
# is no bug: each fails a run only when named.
PROBLEM_FLAGS = tuple(flag for flag in HEALTH_FLAGS if flag not in ("frozen", "round-off"))


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


@dataclass(frozen=True)
class TrainingStep:
    """One recorded step of `agrad inspect --steps`: the loss its forward pass gave,
    and per parameter (in named_parameters() order) what its backward and its
    optimizer step did. None where a parameter had no .grad (unused or frozen)."""

    step: int  # 1-based
    loss: float
    grad_norms: tuple[float | None, ...]  # ‖.grad‖ (L2: inspection/step_norms.py)
    update_ratios: tuple[float | None, ...]  # ‖p_after - p_before‖ / ‖p_before‖
    nan_counts: tuple[int | None, ...]
    inf_counts: tuple[int | None, ...]
    flags: tuple[str | None, ...]  # the one flag of HEALTH_FLAGS raised at this step


@dataclass(frozen=True)
class FlagSpan:
    """A flag a parameter raised during training: the first step, and on how many."""

    flag: str
    first_step: int
    steps: int


@dataclass(frozen=True)
class TrainedParameter:
    name: str
    shape: tuple[int, ...]
    numel: int
    requires_grad: bool
    flags: tuple[FlagSpan, ...]  # in the order they were first raised


@dataclass(frozen=True)
class TrainingSummary:
    """What a whole run of `agrad inspect --steps` found, written after its steps."""

    recorded: int  # steps recorded (step 1, then every --every-th)
    parameters: tuple[TrainedParameter, ...]
    loss_first: float
    loss_last: float
    loss_min: float  # over the finite losses; NaN when there is none
    first_nonfinite_loss: int | None  # the first step whose loss was NaN or ±inf
    first_steps: dict[str, int | None]  # flag of HEALTH_FLAGS -> the first step any raised it
    anomaly_step: int | None  # the step rerun under anomaly mode (--anomaly)
    anomaly: NanOrigin | None
    failing: tuple[str, ...]  # flags of --fail-on raised at some step


@dataclass(frozen=True)
class Record:
    """One JSON document of a report written as JSON Lines, not a report of its own
    (agrad inspect --steps: a record per step, then a summary)."""

    command: str
    fields: tuple[tuple[str, Any], ...]

    def items(self) -> Iterator[tuple[str, Any]]:
        for name, value in self.fields:
            yield name, _plain(value)


# The keys of a step's record (agrad inspect --steps), and of each parameter in it.
STEP_KEYS = ("record", "step", "loss", "parameters")
STEP_PARAMETER_KEYS = ("name", "grad_norm", "update_ratio", "nan_count", "inf_count", "flag")


@dataclass(frozen=True)
class StepRecord:
    """The JSON Lines record of one recorded training step: a Record of STEP_KEYS, with
    the step kept whole, since the JSON view writes thousands of them
    (render/json_doc.py's `step_line`; items() is the same record as plain data)."""

    command: str
    step: TrainingStep
    names: tuple[str, ...]  # the parameters', in the step's order

    def items(self) -> Iterator[tuple[str, Any]]:
        step = self.step
        columns = (
            step.grad_norms,
            step.update_ratios,
            step.nan_counts,
            step.inf_counts,
            step.flags,
        )
        parameters = [
            dict(zip(STEP_PARAMETER_KEYS, (name, *(column[i] for column in columns)), strict=True))
            for i, name in enumerate(self.names)
        ]
        yield from zip(STEP_KEYS, ("step", step.step, step.loss, parameters), strict=True)


class Training:
    """The steps of `agrad inspect --steps`, run as they are first read: the JSON
    Lines view writes each step's record as soon as the step ran (a reader follows a
    long run live); the table reads them all, then the summary. Later reads replay
    the recorded steps. It holds the run's generator, not tensors."""

    def __init__(
        self,
        run: Iterator[TrainingStep],
        summary: Callable[[list[TrainingStep]], TrainingSummary],
    ) -> None:
        self._run: Iterator[TrainingStep] | None = run
        self._finish = summary
        self.recorded: list[TrainingStep] = []
        self._summary: TrainingSummary | None = None

    def steps(self) -> Iterator[TrainingStep]:
        yield from list(self.recorded)
        while self._run is not None:
            step = next(self._run, None)
            if step is None:
                self._run = None
                break
            self.recorded.append(step)
            yield step

    @property
    def summary(self) -> TrainingSummary:
        if self._summary is None:
            for _step in self.steps():  # the steps nobody read yet (--format dot)
                pass
            self._summary = self._finish(self.recorded)
        return self._summary


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

    def json_keys(self) -> tuple[str, ...]:
        if self.layout:
            return self.layout
        names = [f.name for f in fields(self)]
        first = [n for n in _FIRST_KEYS if n in names]
        last = [n for n in _LAST_KEYS if n in names]
        return (*first, *(n for n in names if n not in first and n not in last), *last)

    def items(self) -> Iterator[tuple[str, Any]]:
        """The JSON document's keys after "command", in order, with their values: a
        Graph, or LeafGraphs, as they are (render/json_doc.py writes graphs as it goes),
        the rest as plain data."""
        for name in self.json_keys():
            value = getattr(self, name)
            graphs = isinstance(value, tuple) and value and isinstance(value[0], LeafGraph)
            yield name, value if isinstance(value, Graph) or graphs else _plain(value)

    def leaf_gradients(self) -> dict[str, Values]:
        """Each leaf's gradient after the last backward(), by leaf name (graph labels)."""
        return {}

    def failure(self) -> str | None:
        """Why the command exits 3 after writing this report (agrad gradcheck's failed
        check), or None; --check and --fail-on are judged by the runner itself."""
        return None

    def documents(self) -> tuple[Report, ...]:
        """The JSON documents it is written as: itself; a report of several parts
        (agrad pitfalls --all) one document each, as JSON Lines."""
        return (self,)


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


@dataclass(frozen=True)
class OrderGradient:
    """Order k's gradient of a scalar out with respect to one leaf: order 1 is
    torch.autograd.grad(out, leaf); order k > 1 is torch.autograd.grad(g.sum(), leaf) of
    order k-1's gradient g, every call with create_graph=True. For a one-element leaf,
    the k-th derivative."""

    order: int
    name: str
    shape: tuple[int, ...]
    value: Values  # zeros where out does not depend on the leaf (materialize_grads)
    # type(g.grad_fn).__name__ of this order's gradient; None when it has no graph
    # (it does not depend on the leaf: the next order is 0)
    grad_fn: str | None


@dataclass(frozen=True)
class HessianFacts:
    """The full Hessian of a scalar out with respect to its leaves, flattened: the leaves'
    elements in order (each leaf row-major), rows and columns alike."""

    leaves: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    matrix: Values  # n x n nested lists of floats, n = sum of numels
    # torch.func.hessian against repeated autograd.grad (NaN where only one gives NaN)
    repeated_grad_max_abs_diff: float | None
    func_error: str | None  # torch.func.hessian's first error line if it could not run


@dataclass(frozen=True)
class JacobianEntry:
    """One entry of a Jacobian where analytical and numerical disagree."""

    output_index: tuple[int, ...]  # index into the output tensor
    input_index: tuple[int, ...]  # index into the input tensor
    numerical: float
    analytical: float
    difference: float  # analytical - numerical


@dataclass(frozen=True)
class PairCheck:
    """One (output, input) pair's Jacobian, analytical against numerical."""

    output: int  # position among fn's outputs (0-based)
    input: int  # position among ALL inputs (0-based)
    output_shape: tuple[int, ...]
    input_shape: tuple[int, ...]
    ok: bool  # torch.allclose(analytical, numerical, rtol, atol)
    entries: int  # output numel x input numel
    mismatches: int  # entries with |a - n| > atol + rtol*|n|
    worst: tuple[JacobianEntry, ...]  # up to WORST, largest |difference| first
    diagnoses: tuple[str, ...]  # codes of inspection/gradcheck.DIAGNOSES, in that order
    factor: float | None  # with "factor": analytical / numerical
    # (output elements) x (input elements), row-major; None above MAX_JACOBIAN_ENTRIES
    numerical: Values | None
    analytical: Values | None


@dataclass(frozen=True)
class GradcheckRun:
    """One kind of check: "backward" (torch.autograd.gradcheck), "forward" (its
    check_forward_ad: forward-mode Jacobian vs numerical), "second_order" (gradgradcheck)."""

    kind: str
    ok: bool
    fast: bool  # torch's fast mode gave the verdict
    pairs: tuple[PairCheck, ...]  # every (output, input) pair checked; () when fast passed
    # a failure that is not an entry mismatch, as a code of inspection/gradcheck.PROBLEMS
    problem: str | None
    torch_message: str | None  # with fast mode's failure: the first line torch said
