"""The JSON written in pieces (issue 15) is the document built whole.

For every command, the bytes agrad streams to stdout are compared with a document
this test builds itself from the report the command made: plain `json.dumps` of
nested dicts (strict, non-finite numbers as strings). The graph's text is made from
columns, a few thousand nodes at a time, so a graph of more than one piece is
among the cases. And `--saved` carries exactly what the default leaves out: the same
document, plus each node's saved tensors and attributes, whose values are checked
against the maths of the expression.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_cli import __version__, runner
from autograd_cli.model import (
    HEALTH_FLAGS,
    SCHEMA_VERSION,
    Graph,
    LeafGraph,
    StepRecord,
    TrainingStep,
)
from autograd_cli.render.json_doc import CHUNK
from autograd_cli.versions import torch_version
from tests.test_json_identity import CASES

CASES = {
    **CASES,
    "dynamic": ["dynamic", "--seed", "2"],
    "chain_in_pieces": ["chain", "--length", str(CHUNK), "--hidden", "2"],
    "chain_capped": ["chain", "--length", "50", "--max-nodes", "20"],
    "expr_statements": [
        "expr",
        "h = x * x; g = h.exp(); out = (g * h).sum()",
        "--var",
        "x=ones(3)",
        "--retain-grad",
        "all",
    ],
    "expr_orders": [
        "expr",
        "h = w @ x; out = h.tanh().sum()",
        "--var",
        "x=ones(2)",
        "--var",
        "w=eye(2)",
        "--order",
        "3",
        "--hessian",
    ],
}


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every report the command builds, as it built it."""
    made: list[Any] = []
    real = runner.build_report

    def keep(scenario: Any, params: Any, walk: Any) -> Any:
        made.append(real(scenario, params, walk))
        return made[-1]

    monkeypatch.setattr(runner, "build_report", keep)
    return made


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _graph(graph: Graph, saved: bool) -> dict[str, Any]:
    nodes = []
    for node in graph.nodes:
        leaf = node.leaf
        record = {
            "id": node.id,
            "grad_fn": node.grad_fn,
            "leaf": None if leaf is None else {"name": leaf.name, "shape": leaf.shape},
        }
        if node.tensor is not None:  # only the nodes that made a named intermediate
            record["tensor"] = node.tensor
        if saved:
            record["saved_tensors"] = [t._asdict() for t in node.saved_tensors]
            record["saved_attributes"] = dict(node.saved_attributes)
        nodes.append(record)
    return {
        "root": graph.root,
        "node_count": graph.node_count,
        "edge_count": graph.edge_count,
        "omitted_nodes": graph.node_count - len(nodes),
        "nodes": nodes,
        "edges": [e._asdict() for e in graph.edges],
    }


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def built_document(report: Any, saved: bool) -> str:
    """The document as one json.dumps of nested dicts."""
    document = {
        "schema_version": 2,
        "agrad_version": __version__,
        "torch_version": torch_version(),
        "command": report.command,
    }
    for key in report.json_keys():
        value = getattr(report, key)
        if isinstance(value, Graph):
            document[key] = _graph(value, saved)
        elif isinstance(value, tuple) and value and isinstance(value[0], LeafGraph):
            document[key] = [{"leaf": g.leaf, "graph": _graph(g.graph, saved)} for g in value]
        else:
            document[key] = _plain(value)
    return json.dumps(_finite(document), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@pytest.mark.parametrize("saved", [False, True], ids=["default", "saved"])
@pytest.mark.parametrize("name", CASES)
def test_streamed_json_equals_the_document_built_whole(agrad, reports, name, saved):
    args = [*CASES[name], "--json", *(["--saved"] if saved else [])]
    result = agrad(*args)
    assert result.exit_code in (0, 3), result.stderr
    expected = "".join(built_document(report, saved) + "\n" for report in reports)
    assert reports and result.stdout == expected


def test_a_graph_of_several_pieces_is_streamed_in_several_writes(agrad, monkeypatch):
    from autograd_cli.render import emit, output

    writes: list[int] = []
    real = emit.write_text
    monkeypatch.setattr(emit, "write_text", lambda text: writes.append(len(text)) or real(text))
    monkeypatch.setattr(output, "STDOUT_BUFFER", 64 * 1024)
    result = agrad("chain", "--length", "3000", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(writes) > 3 and max(writes) < len(result.stdout) / 3
    assert json.loads(result.stdout)["graph"]["node_count"] == 3 * 3000 + 4


def _without_saved(document: dict[str, Any]) -> dict[str, Any]:
    for node in document["graph"]["nodes"]:
        del node["saved_tensors"], node["saved_attributes"]
    return document


def test_saved_json_carries_what_the_default_leaves_out(agrad_json):
    args = ["expr", "(x.exp() * w).pow(3).sum()", "--var", "x=randn(3)", "--var", "w=randn(3)"]
    default, saved = agrad_json(*args), agrad_json(*args, "--saved")
    assert all(set(n) == {"id", "grad_fn", "leaf"} for n in default["graph"]["nodes"])
    assert _without_saved(json.loads(json.dumps(saved))) == default

    x, w = (next(t["value"] for t in default["tensors"] if t["name"] == n) for n in "xw")
    exp_x = [math.exp(v) for v in x]
    nodes = {n["grad_fn"]: n for n in saved["graph"]["nodes"]}
    (result,) = nodes["ExpBackward0"]["saved_tensors"]  # d/dx exp(x) = exp(x): kept
    assert result["name"] == "result" and result["state"] == "available"
    assert result["value"] == pytest.approx(exp_x, rel=1e-6)
    mul = {t["name"]: t["value"] for t in nodes["MulBackward0"]["saved_tensors"]}
    assert mul["self"] == pytest.approx(exp_x, rel=1e-6) and mul["other"] == w
    power = nodes["PowBackward0"]
    assert power["saved_attributes"]["exponent"] == 3
    (base,) = power["saved_tensors"]
    assert base["value"] == pytest.approx([e * v for e, v in zip(exp_x, w, strict=True)], rel=1e-6)


def _interrupted_after(pieces: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The JSON renderer, interrupted (Ctrl-C) once `pieces` of it were made."""
    from autograd_cli.render import json_doc  # render() imports report_chunks as it runs

    made: list[str] = []
    real = json_doc.report_chunks

    def interrupted(report: Any, saved: bool = False) -> Any:
        for piece in real(report, saved):
            if len(made) == pieces:
                raise KeyboardInterrupt
            made.append(piece)
            yield piece

    monkeypatch.setattr(json_doc, "report_chunks", interrupted)
    return made


def test_a_file_written_in_pieces_is_still_whole_or_not_at_all(agrad, tmp_path, monkeypatch):
    target = tmp_path / "graph.json"
    target.write_text("the old document\n")
    made = _interrupted_after(4, monkeypatch)
    result = agrad("chain", "--length", str(2 * CHUNK), "--json", "--output", str(target))
    assert result.exit_code == 130 and result.stderr == "agrad: error: interrupted\n"
    assert len(made) == 4  # pieces were made, and written to the temporary file...
    assert target.read_text() == "the old document\n"  # ...which never replaced it
    assert [p.name for p in tmp_path.iterdir()] == ["graph.json"]  # nor was left behind

    monkeypatch.undo()
    result = agrad("chain", "--length", str(2 * CHUNK), "--json", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert json.loads(target.read_text())["graph"]["node_count"] == 3 * 2 * CHUNK + 4
    assert [p.name for p in tmp_path.iterdir()] == ["graph.json"]


def test_equal_saved_values_of_different_types_keep_their_own_json():
    """1, 1.0 and True are equal (and hash alike), as are 0.0 and -0.0: a node's saved
    attributes written once and reused must not stand in for another's."""
    from autograd_cli.model import GraphNode
    from autograd_cli.render.json_doc import graph_chunks

    values = [1, 1.0, True, 0.0, -0.0, (2, 2), (2.0, 2.0)]
    nodes = [
        GraphNode(f"n{i}", "AddBackward0", None, (), (("alpha", v),)) for i, v in enumerate(values)
    ]
    text = "".join(graph_chunks(Graph.of("n0", nodes, []), saved=True))
    written = [n["saved_attributes"]["alpha"] for n in json.loads(text)["nodes"]]
    assert [json.dumps(v) for v in written] == [json.dumps(v) for v in values]


_NUMBERS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, 1e16, 0.1]),
)
_COUNTS = st.one_of(st.none(), st.integers(min_value=0, max_value=10**12))
_FLAG = st.one_of(st.none(), st.sampled_from(HEALTH_FLAGS), st.text(max_size=5))
_NAME = st.one_of(  # quotes, backslashes, %, any Unicode
    st.text(min_size=1, max_size=12),
    st.sampled_from(["fc.weight%s", "100%", "%%d", 'a"b', "c\\d", "trọng_số.w", "\x00"]),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.integers(min_value=1, max_value=10_000),
    st.one_of(st.floats(allow_nan=True), st.sampled_from([0.25, 1e-7])),
    st.lists(st.tuples(_NAME, _NUMBERS, _NUMBERS, _COUNTS, _COUNTS, _FLAG), max_size=6),
    st.booleans(),
)
def test_a_steps_line_is_what_the_encoder_writes_for_its_record(step, loss, columns, usual):
    """step_line() formats a training step's record itself (a template when every
    number is finite): its bytes are those json.dumps writes for the record's items,
    and it parses strictly."""
    from autograd_cli.render.json_doc import step_line

    if usual:  # the template's case: finite numbers, counts, known flags
        columns = [
            (name, abs(hash(name)) / 7.0, 1e-3, 0, 0, None if k % 2 else "vanishing")
            for k, (name, *_) in enumerate(columns)
        ]
    names = tuple(column[0] for column in columns)
    values = list(zip(*(column[1:] for column in columns), strict=True)) or [()] * 5
    record = StepRecord("inspect", TrainingStep(step, loss, *(tuple(v) for v in values)), names)
    document = {
        "schema_version": SCHEMA_VERSION,
        "agrad_version": __version__,
        "torch_version": torch_version(),
        "command": "inspect",
        **dict(record.items()),
    }
    expected = json.dumps(_strict(document), ensure_ascii=False, separators=(",", ":"))
    line = step_line(record)
    assert line == expected + "\n"
    json.loads(line, parse_constant=_refuse)


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def _refuse(name: str) -> None:
    raise AssertionError(f"{name} is not strict JSON")
