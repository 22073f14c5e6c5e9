"""The JSON document's contract: its keys, strictness and non-finite encoding."""

from __future__ import annotations

import json
import math

from autograd_cli.model import Gradient, Graph, GraphNode, SavedTensor, TensorFacts
from autograd_cli.render.json_doc import report_chunks
from autograd_cli.scenarios.linear import FreezeCase, LinearReport

TOP_KEYS = {"schema_version", "agrad_version", "torch_version", "command", "check"}
GRAPH_KEYS = {"root", "node_count", "edge_count", "omitted_nodes", "nodes", "edges"}
NODE_KEYS = {"id", "grad_fn", "leaf"}
SAVED_NODE_KEYS = NODE_KEYS | {"saved_tensors", "saved_attributes"}  # with --saved
SAVED_KEYS = {"name", "state", "shape", "dtype", "value"}
TENSOR_KEYS = {"name", "shape", "dtype", "requires_grad", "is_leaf", "grad_fn", "value"}


def test_linear_document_keys(agrad_json):
    doc = agrad_json("linear")
    assert set(doc) == TOP_KEYS | {
        "seed",
        "statements",
        "tensors",
        "graph",
        "gradients",
        "freezing",
        "device",
        "dtype",
        "non_leaf",
    }
    assert doc["schema_version"] == 2 and doc["command"] == "linear"
    assert all(set(t) == TENSOR_KEYS for t in doc["tensors"])
    assert set(doc["graph"]) == GRAPH_KEYS
    assert all(set(n) == NODE_KEYS for n in doc["graph"]["nodes"])
    with_saved = agrad_json("linear", "--saved")["graph"]["nodes"]
    assert all(set(n) == SAVED_NODE_KEYS for n in with_saved)
    saved = [t for n in with_saved for t in n["saved_tensors"]]
    assert saved and all(set(t) == SAVED_KEYS for t in saved)
    assert all(set(e) == {"source", "target", "slot", "input_nr"} for e in doc["graph"]["edges"])
    assert all(set(g) == {"name", "shape", "value"} for g in doc["gradients"])
    freeze_keys = {"case", "code", "tensor", "requires_grad", "source_requires_grad"}
    assert all(set(f) == freeze_keys for f in doc["freezing"])
    assert set(doc["non_leaf"]) == {"name", "code", "grad", "warning", "retained_grad"}


def test_jvp_document_keys(agrad_json):
    doc = agrad_json("jvp")
    assert set(doc) == TOP_KEYS | {
        "repeat",
        "statements",
        "tensors",
        "graph",
        "vector",
        "steps",
        "mode",
        "forward",
        "jacobian",
        "device",
        "dtype",
    }
    assert doc["command"] == "jvp" and doc["repeat"] == 2
    assert all(set(s) == {"call", "zeroed_before", "grad"} for s in doc["steps"])


def test_chain_document_keys(agrad_json):
    doc = agrad_json("chain", "--length", "3")
    assert set(doc) == TOP_KEYS | {
        "length",
        "hidden",
        "seed",
        "statements",
        "tensors",
        "graph",
        "gradients",
        "device",
        "dtype",
    }
    assert set(doc["graph"]) == GRAPH_KEYS
    assert doc["graph"]["omitted_nodes"] == 0


def test_json_is_one_line_and_nothing_else(agrad):
    result = agrad("jvp", "--json")
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1 and result.stdout.endswith("\n")
    assert "\x1b" not in result.stdout


def test_numbers_are_not_rounded(agrad_json):
    w = next(t for t in agrad_json("linear", "--precision", "0")["tensors"] if t["name"] == "w")
    # float32 values carried exactly: more digits than any table shows.
    assert any(len(repr(v)) > 10 for row in w["value"] for v in row)


def test_non_finite_numbers_are_encoded_as_strings():
    report = LinearReport(
        seed=0,
        statements=(),
        tensors=(
            TensorFacts(
                "z", (3,), "float32", True, False, "AddBackward0", [math.nan, math.inf, -math.inf]
            ),
        ),
        graph=Graph.of(
            "n0",
            [
                GraphNode(
                    "n0",
                    "ExpBackward0",
                    None,
                    (SavedTensor("result", "available", (2,), "float32", [math.inf, 1.0]),),
                    (("scale", -math.inf),),
                )
            ],
            [],
        ),
        gradients=(Gradient("w", (1, 2), [[math.nan, 1.5]]),),
        freezing=(FreezeCase("built", "z = ...", True),),
    )
    text = "".join(report_chunks(report, saved=True))
    doc = json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(AssertionError(name)))
    assert doc["tensors"][0]["value"] == ["NaN", "Infinity", "-Infinity"]
    assert doc["gradients"][0]["value"] == [["NaN", 1.5]]
    (node,) = doc["graph"]["nodes"]
    assert node["saved_tensors"][0]["value"] == ["Infinity", 1.0]
    assert node["saved_attributes"] == {"scale": "-Infinity"}


PARAMETER_KEYS = {
    "name",
    "shape",
    "numel",
    "requires_grad",
    "grad_norm",
    "mean_abs",
    "max_abs",
    "zero_fraction",
    "nan_count",
    "inf_count",
    "param_norm",
    "ratio",
    "flags",
}


def test_inspect_document_keys(agrad_json):
    doc = agrad_json("inspect", "examples/nan_sqrt.py:loss", "--anomaly")
    assert set(doc) == (TOP_KEYS - {"check"}) | {
        "target",
        "arguments",
        "seed",
        "form",
        "model",
        "loss_fn",
        "loss",
        "vanish",
        "explode",
        "parameters",
        "flag_counts",
        "graph_summary",
        "graph",
        "anomaly",
        "fail_on",
        "failing",
    }
    assert doc["command"] == "inspect" and doc["schema_version"] == 2
    assert all(set(p) == PARAMETER_KEYS for p in doc["parameters"])
    assert set(doc["flag_counts"]) == {
        "vanishing",
        "exploding",
        "dead",
        "nonfinite",
        "unused",
        "frozen",
        "round-off",
    }
    assert set(doc["graph_summary"]) == {"node_count", "edge_count", "depth", "grad_fn_counts"}
    assert set(doc["graph"]) == GRAPH_KEYS
    assert set(doc["anomaly"]) == {"grad_fn", "message", "origin", "forward_trace"}
    frame_keys = {"file", "line", "function", "code"}
    assert set(doc["anomaly"]["origin"]) == frame_keys
    assert all(set(f) == frame_keys for f in doc["anomaly"]["forward_trace"])
