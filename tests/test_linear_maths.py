"""`agrad linear` against maths written here, not against agrad's own output.

Oracles: the tutorial's own statements re-run under the same seed (for the
inputs), and the closed form of BCE-with-logits in float64 NumPy (for z, the loss
and the gradients): dL/dz = (σ(z) − y)/3, w.grad = outer(x, dL/dz), b.grad = dL/dz.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

SEEDS = ["0", "1", "42", "-5", str(2**64 - 1), str(-(2**63))]


def _by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


@pytest.mark.parametrize("seed", SEEDS)
def test_inputs_are_the_tutorials_statements_after_manual_seed(agrad_json, seed):
    doc = agrad_json("linear", "--seed", seed)
    tensors = _by_name(doc["tensors"])
    torch.manual_seed(int(seed))
    w = torch.randn(5, 3)
    b = torch.randn(3)
    assert doc["seed"] == int(seed)
    assert tensors["w"]["value"] == w.tolist()
    assert tensors["b"]["value"] == b.tolist()
    assert tensors["x"]["value"] == [1.0] * 5
    assert tensors["y"]["value"] == [0.0] * 3


@pytest.mark.parametrize("seed", SEEDS)
def test_values_and_gradients_match_the_closed_form(agrad_json, seed):
    doc = agrad_json("linear", "--seed", seed)
    tensors = _by_name(doc["tensors"])
    x = np.array(tensors["x"]["value"], dtype=np.float64)
    y = np.array(tensors["y"]["value"], dtype=np.float64)
    w = np.array(tensors["w"]["value"], dtype=np.float64)
    b = np.array(tensors["b"]["value"], dtype=np.float64)

    z = x @ w + b
    sigma = 1.0 / (1.0 + np.exp(-z))
    loss = np.mean(np.logaddexp(0.0, z) - y * z)  # BCE with logits, mean over 3
    dl_dz = (sigma - y) / 3.0

    np.testing.assert_allclose(tensors["z"]["value"], z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tensors["loss"]["value"], loss, rtol=1e-5, atol=1e-6)
    grads = _by_name(doc["gradients"])
    assert list(grads) == ["w", "b"]
    np.testing.assert_allclose(grads["w"]["value"], np.outer(x, dl_dz), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads["b"]["value"], dl_dz, rtol=1e-5, atol=1e-7)
    assert grads["w"]["shape"] == [5, 3]
    assert grads["b"]["shape"] == [3]


def test_gradients_match_float64_finite_differences(agrad_json):
    doc = agrad_json("linear", "--seed", "7")
    tensors = _by_name(doc["tensors"])
    x = np.array(tensors["x"]["value"])
    w0 = np.array(tensors["w"]["value"])
    b0 = np.array(tensors["b"]["value"])

    def loss(w: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(np.logaddexp(0.0, x @ w + b)))  # y = 0

    h = 1e-6
    fd_w = np.zeros_like(w0)
    for idx in np.ndindex(w0.shape):
        step = np.zeros_like(w0)
        step[idx] = h
        fd_w[idx] = (loss(w0 + step, b0) - loss(w0 - step, b0)) / (2 * h)
    fd_b = np.array([(loss(w0, b0 + h * e) - loss(w0, b0 - h * e)) / (2 * h) for e in np.eye(3)])
    grads = _by_name(doc["gradients"])
    np.testing.assert_allclose(grads["w"]["value"], fd_w, atol=1e-6)
    np.testing.assert_allclose(grads["b"]["value"], fd_b, atol=1e-6)


def test_tensor_facts_are_those_the_tutorial_describes(agrad_json):
    tensors = _by_name(agrad_json("linear")["tensors"])
    assert list(tensors) == ["x", "y", "w", "b", "z", "loss"]
    expected = {  # name: (shape, requires_grad, is_leaf, grad_fn)
        "x": ([5], False, True, None),
        "y": ([3], False, True, None),
        "w": ([5, 3], True, True, None),
        "b": ([3], True, True, None),
        "z": ([3], True, False, "AddBackward0"),
        "loss": ([], True, False, "BinaryCrossEntropyWithLogitsBackward0"),
    }
    for name, (shape, requires_grad, is_leaf, grad_fn) in expected.items():
        t = tensors[name]
        assert (t["shape"], t["requires_grad"], t["is_leaf"], t["grad_fn"]) == (
            shape,
            requires_grad,
            is_leaf,
            grad_fn,
        ), name
        assert t["dtype"] == "float32"


def test_graph_runs_from_loss_to_the_two_named_leaves(agrad_json):
    graph = agrad_json("linear")["graph"]
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert [n["id"] for n in graph["nodes"]] == [f"n{i}" for i in range(len(nodes))]
    assert nodes[graph["root"]]["grad_fn"] == "BinaryCrossEntropyWithLogitsBackward0"

    leaves = [n for n in graph["nodes"] if n["grad_fn"] == "AccumulateGrad"]
    assert sorted((n["leaf"]["name"], n["leaf"]["shape"]) for n in leaves) == [
        ("b", [3]),
        ("w", [5, 3]),
    ]
    assert all(n["leaf"] is None for n in graph["nodes"] if n["grad_fn"] != "AccumulateGrad")

    # Every edge joins known nodes; every node but the root is reached; leaves end paths.
    targets = {e["target"] for e in graph["edges"]}
    assert {e["source"] for e in graph["edges"]} | targets <= set(nodes)
    assert targets == set(nodes) - {graph["root"]}
    assert not any(e["source"] in {n["id"] for n in leaves} for e in graph["edges"])
    # The root's only differentiable input is z, whose grad_fn adds x·w and b.
    root_edges = [e for e in graph["edges"] if e["source"] == graph["root"]]
    assert [nodes[e["target"]]["grad_fn"] for e in root_edges] == ["AddBackward0"]


def test_freezing_section_matches_torch_semantics(agrad_json):
    freezing = {f["case"]: f["requires_grad"] for f in agrad_json("linear")["freezing"]}
    assert freezing == {"built": True, "no_grad": False, "detach": False}
