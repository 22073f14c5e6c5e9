"""jvp's forward and reverse modes and the full Jacobian, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograd_cli.errors import ExitCode

INP = np.eye(4, 5)


def _closed_form_jacobian() -> np.ndarray:
    """out = (inp + 1)² transposed: out[r, c] depends on inp[c, r] only, slope 2(inp + 1)."""
    jacobian = np.zeros((20, 20))
    for r in range(5):
        for c in range(4):
            jacobian[r * 4 + c, c * 5 + r] = 2.0 * (INP[c, r] + 1.0)
    return jacobian


def test_jacobian_matches_its_closed_form_and_the_reverse_product(agrad_json):
    doc = agrad_json("jvp", "--jacobian")
    facts = doc["jacobian"]
    assert (facts["output_shape"], facts["input_shape"]) == ([5, 4], [4, 5])
    matrix = np.array(facts["matrix"])
    np.testing.assert_array_equal(matrix, _closed_form_jacobian())
    assert facts["jacfwd_max_abs_diff"] == 0.0 and facts["vjp_max_abs_diff"] == 0.0
    # backward(ones) is vᵀ·J with v = ones: the first call's inp.grad.
    np.testing.assert_allclose(np.ones(20) @ matrix, np.ravel(doc["steps"][0]["grad"]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_products_with_random_vectors_agree_with_the_jacobian(agrad_json, seed):
    matrix = np.array(agrad_json("jvp", "--jacobian")["jacobian"]["matrix"])
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(20)
    inp = torch.eye(4, 5, dtype=torch.float64, requires_grad=True)
    out = (inp + 1).pow(2).t()
    (vjp,) = torch.autograd.grad(out, inp, torch.tensor(v).reshape(5, 4))
    np.testing.assert_allclose(v @ matrix, vjp.numpy().ravel(), rtol=1e-12)


@pytest.mark.parametrize("tangent", ["ones", "randn", "onehot:1,2", "onehot:3,4"])
def test_forward_mode_computes_j_times_t(agrad_json, tangent):
    doc = agrad_json("jvp", "--mode", "forward", "--tangent", tangent)
    forward = doc["forward"]
    t = np.array(forward["tangent_value"])
    if tangent.startswith("onehot"):
        i, j = (int(n) for n in tangent.split(":")[1].split(","))
        expected_t = np.zeros((4, 5))
        expected_t[i, j] = 1.0
        np.testing.assert_array_equal(t, expected_t)
    np.testing.assert_allclose(
        np.ravel(forward["product"]), _closed_form_jacobian() @ t.ravel(), rtol=1e-6
    )
    assert doc["steps"] == [] and doc["mode"] == "forward"  # no backward pass at all


def test_both_modes_side_by_side(agrad, agrad_json):
    doc = agrad_json("jvp", "--mode", "both")
    assert len(doc["steps"]) == 3 and doc["forward"] is not None
    text = agrad("jvp", "--mode", "both").stdout
    assert "Forward mode: J·t" in text and "Which is which" in text and "vᵀ·J" in text


def test_vjp_is_jvp_in_reverse_mode(agrad):
    assert agrad("vjp", "--json").stdout == agrad("jvp", "--mode", "reverse", "--json").stdout
    assert agrad("vjp", "--repeat", "3").stdout == agrad("jvp", "--repeat", "3").stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--mode", "sideways"], ["--mode", "reverse, forward, both"]),
        (["--tangent", "zeros"], ["--tangent", "onehot:I,J"]),
        (["--tangent", "onehot:4,0"], ["--tangent", "outside"]),
        (["--tangent", "onehot:1"], ["--tangent", "onehot:I,J"]),
    ],
)
def test_bad_mode_or_tangent(agrad, args, words):
    result = agrad("jvp", *args)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert all(word in line for word in words)


def test_expr_jacobian_per_leaf(agrad_json):
    doc = agrad_json("expr", "(x + 1).pow(2).t()", "--var", "x=eye(4,5)", "--jacobian")
    (facts,) = doc["jacobians"]
    np.testing.assert_array_equal(np.array(facts["matrix"]), _closed_form_jacobian())

    doc = agrad_json(
        "expr",
        "(x * w).sum()",
        "--var",
        "x=randn(3)",
        "--var",
        "w=randn(3)",
        "--jacobian",
        "--dtype",
        "float64",
    )
    values = {t["name"]: t["value"] for t in doc["tensors"]}
    jacobians = {j["leaf"]: j["matrix"] for j in doc["jacobians"]}
    assert jacobians == {"x": [values["w"]], "w": [values["x"]]}  # ∂(x·w)/∂x = w, and back


def test_expr_jacobian_above_the_cap_is_refused(agrad):
    result = agrad(
        "expr", "x @ w", "--var", "x=randn(600,500)", "--var", "w=randn(500,2)", "--jacobian"
    )
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert "the cap is 250,000" in result.stderr
