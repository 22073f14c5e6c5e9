"""`agrad jvp` against maths written here.

out = (inp + 1).pow(2).t() and v = ones_like(out), so vᵀ·J = d/dinp Σ (inp + 1)² =
2·(inp + 1); k accumulating backward() calls leave k·2·(inp + 1) in inp.grad.
"""

from __future__ import annotations

import numpy as np
import pytest

INP = np.eye(4, 5)


def _vjp_by_finite_differences() -> np.ndarray:
    """vᵀ·J with v = ones, by central differences of Σ out in float64."""

    def total(inp: np.ndarray) -> float:
        return float(np.sum(((inp + 1.0) ** 2).T))

    h = 1e-6
    grad = np.zeros_like(INP)
    for idx in np.ndindex(INP.shape):
        step = np.zeros_like(INP)
        step[idx] = h
        grad[idx] = (total(INP + step) - total(INP - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("repeat", [1, 2, 5])
def test_each_call_adds_the_vector_jacobian_product(agrad_json, repeat):
    doc = agrad_json("jvp", "--repeat", str(repeat))
    steps = doc["steps"]
    assert [s["call"] for s in steps] == list(range(1, repeat + 2))
    assert [s["zeroed_before"] for s in steps] == [False] * repeat + [True]
    closed_form = 2.0 * (INP + 1.0)
    for k, step in enumerate(steps[:repeat], start=1):
        np.testing.assert_allclose(step["grad"], k * closed_form, rtol=0, atol=1e-6)
    np.testing.assert_allclose(steps[-1]["grad"], closed_form, rtol=0, atol=1e-6)


def test_first_call_matches_finite_differences(agrad_json):
    first = agrad_json("jvp")["steps"][0]["grad"]
    np.testing.assert_allclose(first, _vjp_by_finite_differences(), atol=1e-5)


def test_tutorial_numbers_four_and_two_then_eight_and_four(agrad_json):
    steps = agrad_json("jvp")["steps"]
    assert steps[0]["grad"][0][:2] == [4.0, 2.0]
    assert steps[1]["grad"][0][:2] == [8.0, 4.0]
    assert steps[2]["grad"][0][:2] == [4.0, 2.0]


def test_tensors_and_chain(agrad_json):
    doc = agrad_json("jvp")
    inp, out = doc["tensors"]
    assert (inp["name"], inp["shape"], inp["is_leaf"], inp["requires_grad"]) == (
        "inp",
        [4, 5],
        True,
        True,
    )
    np.testing.assert_array_equal(inp["value"], INP)
    assert (out["name"], out["shape"], out["is_leaf"]) == ("out", [5, 4], False)
    np.testing.assert_array_equal(out["value"], ((INP + 1.0) ** 2).T)

    graph = doc["graph"]
    nodes = {n["id"]: n for n in graph["nodes"]}
    chain, node_id = [], graph["root"]
    while node_id is not None:  # a pure chain: follow the single edge out of each node
        chain.append(nodes[node_id])
        nxt = [e["target"] for e in graph["edges"] if e["source"] == node_id]
        assert len(nxt) <= 1
        node_id = nxt[0] if nxt else None
    assert [n["grad_fn"] for n in chain] == [
        "TBackward0",
        "PowBackward0",
        "AddBackward0",
        "AccumulateGrad",
    ]
    assert chain[-1]["leaf"] == {"name": "inp", "shape": [4, 5]}
    assert doc["vector"] == "torch.ones_like(out)"
