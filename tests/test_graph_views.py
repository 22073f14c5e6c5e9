"""DOT, Mermaid, tree and JSON views of the backward graph, and the node facts.

Stable facts are asserted (root, leaves with names and shapes, gradient values,
counts), not inner node names that vary across torch versions.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from autograd_cli.inspection.graph import graph_report
from autograd_cli.inspection.saved import saved_facts
from autograd_cli.model import WalkRequest

DOT_NODE = re.compile(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)"', re.M)
DOT_EDGE = re.compile(r"^  (n\d+) -> (n\d+)", re.M)


def _closed_form_linear_grad_b(seed: int) -> np.ndarray:
    torch.manual_seed(seed)
    w, b = torch.randn(5, 3).double().numpy(), torch.randn(3).double().numpy()
    z = w.sum(axis=0) + b  # x = ones(5)
    return 1.0 / (1.0 + np.exp(-z)) / 3.0  # y = zeros(3)


@pytest.mark.parametrize("command", [["linear"], ["jvp"], ["chain", "--length", "4"]])
def test_dot_declares_every_node_and_edge_of_the_json(agrad, agrad_json, command):
    doc = agrad_json(*command)
    dot = agrad(*command, "--format", "dot").stdout
    assert dot.startswith("digraph agrad {") and dot.rstrip().endswith("}")
    declared = dict(DOT_NODE.findall(dot))
    assert set(declared) == {n["id"] for n in doc["graph"]["nodes"]}
    edges = DOT_EDGE.findall(dot)
    assert edges == [(e["source"], e["target"]) for e in doc["graph"]["edges"]]
    assert all(src in declared and dst in declared for src, dst in edges)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("command", [["linear"], ["jvp"], ["chain", "--length", "4"]])
def test_graphviz_parses_the_dot_output(agrad, agrad_json, command):
    doc = agrad_json(*command)
    dot = agrad(*command, "--format", "dot", "--saved").stdout
    result = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    svg = ET.fromstring(result.stdout)
    groups = [g for g in svg.iter("{http://www.w3.org/2000/svg}g")]
    assert sum(g.get("class") == "node" for g in groups) == doc["graph"]["node_count"]
    assert sum(g.get("class") == "edge" for g in groups) == doc["graph"]["edge_count"]


def test_dot_leaf_labels_carry_name_shape_and_gradient(agrad):
    dot = agrad("linear", "--format", "dot", "--precision", "6").stdout
    labels = dict(DOT_NODE.findall(dot))
    leaves = {
        lab.split("\\n")[1]: lab for lab in labels.values() if lab.startswith("AccumulateGrad")
    }
    assert set(leaves) == {"w (5, 3)", "b (3,)"}
    expected = ", ".join(f"{v:.6f}" for v in _closed_form_linear_grad_b(0))
    assert leaves["b (3,)"].endswith(f"grad [{expected}]")
    # w.grad has 15 values: the label shows the first four, then an ellipsis.
    preview = leaves["w (5, 3)"].split("grad [")[1]
    assert preview.count(",") == 4 and preview.endswith("…]")


def test_mermaid_is_a_flowchart_with_every_node_and_edge(agrad, agrad_json):
    doc = agrad_json("jvp")
    text = agrad("jvp", "--format", "mermaid").stdout
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    for node in doc["graph"]["nodes"]:
        assert any(line.strip().startswith(f"{node['id']}[") for line in lines)
    arrows = [line.split() for line in lines if "-->" in line]
    assert [(a[0], a[-1]) for a in arrows] == [
        (e["source"], e["target"]) for e in doc["graph"]["edges"]
    ]
    leaf_line = next(line for line in lines if ":::leaf" in line)
    assert "inp (4, 5)" in leaf_line and "grad [4.0000, 2.0000, 2.0000, 2.0000, …]" in leaf_line


def test_mermaid_escapes_quotes_and_angle_brackets():
    from autograd_cli.model import Graph, GraphNode, LeafRef
    from autograd_cli.render.labels import graph_parts
    from autograd_cli.render.mermaid import graph_mermaid

    node = GraphNode("n0", "AccumulateGrad", LeafRef('x"<y>', (1,)))
    text = "".join(graph_mermaid(graph_parts(Graph.of("n0", (node,), ()), "x", {})))
    assert "#quot;" in text and "#lt;y#gt;" in text and 'x"<' not in text


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("linear.mmd", ["linear", "--format", "mermaid"]),
        ("jvp_saved.mmd", ["jvp", "--format", "mermaid", "--saved"]),
        ("linear_saved_tree.txt", ["linear", "--saved"]),
        ("chain_length3.txt", ["chain", "--length", "3", "--hidden", "2"]),
    ],
)
def test_graph_views_match_golden(agrad, golden, name, args):
    result = agrad(*args)
    assert result.exit_code == 0 and result.stderr == ""
    golden(name, result.stdout)


def test_saved_tensors_and_attributes_of_the_tutorial_graphs(agrad_json):
    linear = agrad_json("linear", "--saved")
    nodes = {n["grad_fn"]: n for n in linear["graph"]["nodes"]}
    z = next(t for t in linear["tensors"] if t["name"] == "z")
    bce = nodes["BinaryCrossEntropyWithLogitsBackward0"]
    saved = {t["name"]: t for t in bce["saved_tensors"]}
    assert saved["self"]["state"] == "available" and saved["self"]["value"] == z["value"]
    assert saved["target"]["value"] == [0.0, 0.0, 0.0]
    assert saved["weight"]["state"] == "none"  # no `weight=` was passed
    assert bce["saved_attributes"]["reduction"] == 1  # torch's code for "mean"
    assert nodes["AddBackward0"]["saved_attributes"]["alpha"] == 1

    jvp = {n["grad_fn"]: n for n in agrad_json("jvp", "--saved")["graph"]["nodes"]}
    pow_node = jvp["PowBackward0"]
    assert pow_node["saved_attributes"]["exponent"] == 2
    (self_tensor,) = pow_node["saved_tensors"]
    assert (self_tensor["shape"], self_tensor["dtype"]) == ([4, 5], "float32")
    assert self_tensor["value"] is None  # 20 elements: more than "tiny"


def test_saved_tensors_freed_by_backward_are_reported_not_raised():
    x = torch.tensor([0.5, 1.5], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()  # frees what the graph saved
    graph = graph_report(y, {"x": x}, WalkRequest(saved=True))
    states = {t.state for n in graph.nodes for t in n.saved_tensors}
    assert states == {"freed"}


def test_missing_or_broken_private_attributes_are_unavailable():
    class OddNode:
        next_functions = ()

        @property
        def _saved_weird(self):
            raise ValueError("this torch does not expose it")

        @property
        def _raw_saved_weird(self):  # marks `weird` as a tensor slot
            return None

        _saved_alpha = math.inf

    tensors, attributes = saved_facts(OddNode())
    assert [(name, state) for name, state, *_ in tensors] == [("weird", "unavailable")]
    assert attributes == (("alpha", math.inf),)


def test_chain_graph_shape_and_leaves(agrad_json):
    n = 7
    graph = agrad_json("chain", "--length", str(n))["graph"]
    assert graph["node_count"] == 3 * n + 4  # Mm, Add, Tanh per step; Sum; 3 leaves
    assert graph["edge_count"] == 5 * n + 1
    leaves = {node["leaf"]["name"]: node for node in graph["nodes"] if node["leaf"]}
    assert set(leaves) == {"h0", "a", "b"}
    # a and b feed every step, yet each has one AccumulateGrad node with n edges in.
    into = {
        name: sum(e["target"] == node["id"] for e in graph["edges"])
        for name, node in leaves.items()
    }
    assert into == {"h0": 1, "a": n, "b": n}


def test_chain_gradients_match_float64_finite_differences(agrad_json):
    doc = agrad_json("chain", "--length", "5", "--hidden", "3", "--seed", "11")
    tensors = {t["name"]: np.array(t["value"], dtype=np.float64) for t in doc["tensors"]}

    def loss(h0, a, b):
        h = h0
        for _ in range(5):
            h = np.tanh(h @ a + b)
        return h.sum()

    point = {"h0": tensors["h0"], "a": tensors["a"], "b": tensors["b"]}
    step = 1e-6
    for gradient in doc["gradients"]:
        base = point[gradient["name"]]
        fd = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            bump = np.zeros_like(base)
            bump[idx] = step
            plus = loss(**{**point, gradient["name"]: base + bump})
            minus = loss(**{**point, gradient["name"]: base - bump})
            fd[idx] = (plus - minus) / (2 * step)
        np.testing.assert_allclose(gradient["value"], fd, atol=1e-5, err_msg=gradient["name"])


def test_max_nodes_keeps_the_first_nodes_and_edges_between_them(agrad_json):
    whole = agrad_json("chain", "--length", "30")["graph"]
    capped = agrad_json("chain", "--length", "30", "--max-nodes", "10")["graph"]
    assert [n["id"] for n in capped["nodes"]] == [f"n{i}" for i in range(10)]
    assert capped["nodes"] == whole["nodes"][:10]
    kept = {f"n{i}" for i in range(10)}
    assert capped["edges"] == [
        e for e in whole["edges"] if e["source"] in kept and e["target"] in kept
    ]
    assert (capped["node_count"], capped["omitted_nodes"]) == (3 * 30 + 4, 3 * 30 + 4 - 10)


def test_tree_view_caps_at_200_nodes_and_says_how_many_it_left(agrad):
    text = agrad("chain", "--length", "1000").stdout
    node_lines = [line for line in text.splitlines() if re.search(r"\bn\d+ [A-Z]", line)]
    assert len(node_lines) == 200
    assert "… 2,804 more nodes not shown (--max-nodes 200)" in text
    assert "3,004 nodes" in text
    five = agrad("chain", "--length", "1000", "--max-nodes", "5").stdout
    assert "… 2,999 more nodes not shown (--max-nodes 5)" in five
    # Deep trees fold their guides instead of running off the screen.
    assert max(len(line) for line in text.splitlines()) <= 100


def test_a_shared_leaf_is_one_node_in_every_format(agrad, agrad_json):
    doc = agrad_json("chain", "--length", "4")
    a_nodes = [n for n in doc["graph"]["nodes"] if n["leaf"] and n["leaf"]["name"] == "a"]
    assert len(a_nodes) == 1
    assert agrad("chain", "--length", "4", "-f", "dot").stdout.count("\\na (4, 4)\\n") == 1
    assert agrad("chain", "--length", "4", "-f", "mermaid").stdout.count("<br/>a (4, 4)<br/>") == 1
    tree = agrad("chain", "--length", "4").stdout
    assert tree.count("AccumulateGrad → a (4, 4)") == 1
    assert tree.count("AccumulateGrad → a (shown above)") == 3


def test_saved_int64_attributes_keep_their_sign(agrad_json):
    doc = agrad_json("expr", "softmax(x, dim=-1)", "--var", "x=ones(2,3)", "--saved")
    softmax = next(n for n in doc["graph"]["nodes"] if n["grad_fn"] == "SoftmaxBackward0")
    assert softmax["saved_attributes"]["dim"] == -1
