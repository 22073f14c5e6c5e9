"""The JSON view: one strict JSON document per report, written as it is produced.

Strict means a strict parser reads it: NaN and infinities, which JSON cannot hold,
are written as the strings "NaN", "Infinity" and "-Infinity".

The document comes in pieces (`report_chunks`), so that the sinks write a 300,000-node
graph without holding its text (~50 MB) whole. The graph's pieces are formatted
straight from its columns (model.Graph), a few thousand nodes at a time; the bytes
are exactly those `json.dumps(document, ensure_ascii=False, separators=(",", ":"))`
writes (tests/test_json_stream.py holds them to it).
"""

from __future__ import annotations

import functools
import itertools
import json
import marshal
import math
from collections.abc import Iterator
from typing import Any

from autograd_cli import __version__, progress
from autograd_cli.i18n import _
from autograd_cli.model import (
    SCHEMA_VERSION,
    Graph,
    LeafGraph,
    Report,
    SavedFacts,
    StepRecord,
)
from autograd_cli.versions import torch_version

NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
# Nodes (or edges) per piece of text: big enough that the per-piece cost vanishes,
# small enough that a piece is a few hundred kilobytes.
CHUNK = 4096

# The encoder json.dumps would make for these arguments, made once: json.dumps builds
# a new one per call, which would cost more than the formatting of a saved tensor.
_STRICT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def report_chunks(report: Report, saved: bool = False) -> Iterator[str]:
    """The report's JSON document, in pieces that join into one line (and its newline);
    a report of several documents (`Report.documents`) gives one line each.

    `saved`: the nodes carry `saved_tensors` and `saved_attributes` (--saved; the graph
    must have been walked with them)."""
    for document in report.documents():
        if isinstance(document, StepRecord):  # thousands of them: no generator each
            yield step_line(document)
        else:
            yield from _document_chunks(document, saved)


def _document_chunks(report: Report | StepRecord, saved: bool) -> Iterator[str]:
    text = _head(report.command)
    for key, value in report.items():
        text += f",{encode(key)}:"
        if isinstance(value, Graph):
            yield text
            yield from graph_chunks(value, saved)
            text = ""
        elif isinstance(value, tuple) and value and isinstance(value[0], LeafGraph):
            for position, item in enumerate(value):
                yield (
                    text
                    + ("[" if position == 0 else ",")
                    + f'{{"leaf":{encode(item.leaf)},"graph":'
                )
                yield from graph_chunks(item.graph, saved)
                text = "}"
            text += "]"
        else:
            text += encode(value)
    yield text + "}\n"


@functools.cache
def _head(command: str) -> str:
    """A document's first keys, up to its command (without the closing brace): the
    same for every document of a run, so made once."""
    head = {
        "schema_version": SCHEMA_VERSION,
        "agrad_version": __version__,
        "torch_version": torch_version(),
        "command": command,
    }
    return encode(head)[:-1]


def step_line(record: StepRecord) -> str:
    """A training step's record as one line of JSON, the bytes encode() writes for
    record.items() (tests/test_json_stream.py holds it to them).

    Formatted here rather than by the encoder: `agrad inspect --steps` writes one per
    step, and the encoder's walk of the parameters' dicts cost a tenth of a small
    model's step (bench/inspect_steps.py). The usual step, all numbers finite, is one
    %-format of a template made once per run: `%r` writes a finite float or an int
    as encode() does."""
    step = record.step
    norms, ratios = step.grad_norms, step.update_ratios
    try:  # a None, NaN or infinity makes the sum fail, or not finite
        usual = math.isfinite(step.loss + sum(norms) + sum(ratios))
        usual = usual and None not in step.nan_counts and None not in step.inf_counts
    except TypeError:
        usual = False
    if usual:
        flags, count = step.flags, len(step.flags)
        if (
            flags.count(None) == count
            and step.nan_counts.count(0) == count
            and step.inf_counts.count(0) == count
        ):  # the healthy step: only the norms and ratios to write
            values: list[Any] = [None] * (2 * count)
            values[0::2] = norms
            values[1::2] = ratios
            return _step_template(record.command, record.names, True) % (
                step.step,
                step.loss,
                *values,
            )
        flags = tuple(_flag_json(flag) for flag in flags)
        columns = zip(norms, ratios, step.nan_counts, step.inf_counts, flags, strict=True)
        return _step_template(record.command, record.names, False) % (
            step.step,
            step.loss,
            *itertools.chain.from_iterable(columns),
        )
    # A None, NaN or infinity (a step gone wrong, a parameter without .grad): rare
    # enough for the encoder, whose bytes the template's are.
    return "".join(_document_chunks(record, saved=False))


_FLAGS: dict[str | None, str] = {None: "null"}  # a flag's JSON, once made


def _flag_json(flag: str | None) -> str:
    text = _FLAGS.get(flag)
    if text is None:
        text = _FLAGS[flag] = encode(flag)
    return text


@functools.lru_cache(maxsize=8)
def _name_keys(names: tuple[str, ...]) -> tuple[str, ...]:
    """Each parameter's object up to its gradient norm: `{"name":"fc1.weight","grad_norm":`."""
    return tuple(f'{{"name":{encode(name)},"grad_norm":' for name in names)


@functools.lru_cache(maxsize=8)
def _step_template(command: str, names: tuple[str, ...], healthy: bool) -> str:
    """step_line()'s %-template: the step, the loss, then per parameter its norm,
    ratio, NaN and inf counts (%r) and its flag's JSON (%s); `healthy`: its norm and
    ratio only, the counts 0 and the flag null written in."""
    parameter = '%r,"update_ratio":%r,"nan_count":%r,"inf_count":%r,"flag":%s}'
    if healthy:
        parameter = '%r,"update_ratio":%r,"nan_count":0,"inf_count":0,"flag":null}'
    text = ",".join(key.replace("%", "%%") + parameter for key in _name_keys(names))
    head = _head(command).replace("%", "%%")
    return f'{head},"record":"step","step":%d,"loss":%r,"parameters":[{text}]}}\n'


def encode(value: Any) -> str:
    """`value` as compact strict JSON (non-finite floats as their names)."""
    try:
        return _STRICT.encode(value)
    except ValueError:  # a NaN or an infinity somewhere in it
        return _STRICT.encode(_finite(value))


def graph_chunks(graph: Graph, saved: bool) -> Iterator[str]:
    """The graph object: root and counts, then its nodes and edges a CHUNK at a time."""
    if saved and graph.saved is None and graph.grad_fns:
        raise ValueError("the graph was walked without its saved tensors")
    yield (
        f'{{"root":{encode(graph.root)},"node_count":{graph.node_count},'
        f'"edge_count":{graph.edge_count},"omitted_nodes":{graph.omitted_nodes},"nodes":['
    )
    nodes = _NodeText(graph, saved)
    count = len(graph.grad_fns)
    with progress.task(_(progress.WRITING), total=count) as tick:
        for start in range(0, count, CHUNK):
            tick(start)
            text = nodes.text(start, min(start + CHUNK, count))
            yield text if start == 0 else "," + text
    yield '],"edges":['
    columns = (graph.sources, graph.targets, graph.slots, graph.input_nrs)
    for start in range(0, len(graph.sources), CHUNK):
        end = start + CHUNK
        text = ",".join(
            [
                f'{{"source":"n{s}","target":"n{t}","slot":{slot},"input_nr":{nr}}}'
                for s, t, slot, nr in zip(*(c[start:end] for c in columns), strict=True)
            ]
        )
        yield text if start == 0 else "," + text
    yield "]}"


class _NodeText:
    """Node objects as text. Most of a node's text repeats from node to node (its
    class, `"leaf":null`, the names, shapes and dtypes of what it saved), so those
    pieces are encoded once and kept."""

    def __init__(self, graph: Graph, saved: bool) -> None:
        self.graph = graph
        self.saved = graph.saved if saved else None
        self.class_text: dict[str, str] = {}  # grad_fn -> '","grad_fn":"AddBackward0"'
        self.tensor_heads: dict[tuple[Any, ...], str] = {}
        self.attribute_text: dict[bytes, str] = {}
        self.value_text: dict[bytes, str] = {}

    def text(self, start: int, end: int) -> str:
        # Kept for one piece: what repeats, repeats in nearby nodes, and a graph whose
        # every node differs (a slice per time step) must not keep its text whole.
        for kept in (self.value_text, self.attribute_text, self.tensor_heads):
            kept.clear()
        graph, classes = self.graph, self.class_text
        leaves, saved, tensors = graph.leaves, self.saved, graph.tensor_names
        parts = []
        for i, grad_fn in enumerate(graph.grad_fns[start:end], start):
            head = classes.get(grad_fn)
            if head is None:
                head = classes[grad_fn] = f'","grad_fn":{encode(grad_fn)}'
            leaf = leaves.get(i)
            leaf_text = "null" if leaf is None else encode({"name": leaf.name, "shape": leaf.shape})
            if tensors and i in tensors:  # only on the nodes that made a named tensor
                leaf_text += f',"tensor":{encode(tensors[i])}'
            if saved is None:
                parts.append(f'{{"id":"n{i}{head},"leaf":{leaf_text}}}')
            else:
                parts.append(f'{{"id":"n{i}{head},"leaf":{leaf_text},{self._saved(saved[i])}}}')
        return ",".join(parts)

    def _saved(self, facts: SavedFacts) -> str:
        tensors, attributes = facts
        tensors_text = ",".join([self._tensor(t) for t in tensors])
        # Kept by their marshal bytes, not by the values: 1, 1.0 and True (or 0.0 and
        # -0.0) are equal keys but different JSON. Version 2 writes no back-references,
        # so equal values of equal types always give the same bytes.
        try:
            key = marshal.dumps(attributes, 2)
        except ValueError:  # what marshal does not take (a tuple subclass: torch.Size)
            text = encode(dict(attributes))
        else:
            text = self.attribute_text.get(key)
            if text is None:
                text = self.attribute_text[key] = encode(dict(attributes))
        return f'"saved_tensors":[{tensors_text}],"saved_attributes":{text}'

    def _tensor(self, t: tuple[Any, ...]) -> str:
        name, state, shape, dtype, value = t  # SavedTensor's fields
        key = (name, state, shape, dtype)
        head = self.tensor_heads.get(key)
        if head is None:
            fields = {"name": name, "state": state, "shape": shape, "dtype": dtype}
            head = self.tensor_heads[key] = encode(fields)[:-1] + ',"value":'
        # A value saved by one node is often saved by the next too (h is TanhBackward's
        # result and the next MmBackward's self), and writing floats is the dearest
        # part of the text (~0.7 µs each): the text is kept by the value's marshal bytes.
        if value is None:  # more than TINY_NUMEL elements, or freed
            return f"{head}null}}"
        value_key = marshal.dumps(value, 2)
        text = self.value_text.get(value_key)
        if text is None:
            text = self.value_text[value_key] = values_text(value)
        return f"{head}{text}}}"


def values_text(value: Any) -> str:
    """A tensor's values (`tolist()`: nested lists of numbers, or one number) as JSON.

    Python writes a finite float or an int just as json does (float.__repr__), so the
    printed list without its spaces is the JSON text, at a fraction of an encoder's
    cost; a NaN, an infinity or a bool (nan, inf, True, False) goes to the encoder."""
    if type(value) not in _REPR_IS_JSON:  # a tuple would print as (1, 2)
        return encode(value)
    text = repr(value).replace(" ", "")
    if "n" in text or "T" in text or "F" in text:
        return encode(value)
    return text


_REPR_IS_JSON = frozenset((list, float, int))  # what tolist() makes, but for bool


def _finite(data: Any) -> Any:
    """A copy of `data` with non-finite floats replaced by their string names.

    Iterative, because nested tensor values and long node lists should not meet
    Python's recursion limit.
    """
    root: list[Any] = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        value = parent[key]
        if isinstance(value, float) and not math.isfinite(value):
            parent[key] = NON_FINITE[repr(value)]
        elif isinstance(value, dict):
            copy = dict(value)
            parent[key] = copy
            stack.extend((copy, k) for k in copy)
        elif isinstance(value, list | tuple):
            copy_list = list(value)
            parent[key] = copy_list
            stack.extend((copy_list, i) for i in range(len(copy_list)))
    return root[0]
