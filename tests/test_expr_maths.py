"""`agrad expr` results against maths written here (closed forms, float64 finite
differences of NumPy re-implementations), and the presets it must agree with."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd_cli.expression.grammar import FUNCTIONS, GRAMMAR, METHODS

LINEAR_AS_EXPR = [
    "expr",
    "binary_cross_entropy_with_logits(x @ w + b, y)",
    "--var",
    "x=ones(5)",
    "--var",
    "y=zeros(3)",
    "--var",
    "w=randn(5,3)",
    "--var",
    "b=randn(3)",
    "--no-grad",
    "x",
    "--no-grad",
    "y",
]


@pytest.mark.parametrize("seed", ["0", "3", "-7"])
def test_the_linear_preset_written_as_an_expression_gives_the_same_gradients(agrad_json, seed):
    expr = agrad_json(*LINEAR_AS_EXPR, "--seed", seed)
    linear = agrad_json("linear", "--seed", seed)
    assert expr["gradients"] == linear["gradients"]  # bit for bit
    by_name = {t["name"]: t for t in expr["tensors"]}
    assert (
        by_name["out"]["value"]
        == next(t for t in linear["tensors"] if t["name"] == "loss")["value"]
    )


def test_the_jvp_preset_written_as_an_expression_accumulates_the_same_way(agrad_json):
    doc = agrad_json("expr", "(x + 1).pow(2).t()", "--var", "x=eye(4,5)", "--repeat", "3")
    closed_form = 2.0 * (np.eye(4, 5) + 1.0)
    assert doc["vector"] == "torch.ones_like(out)"
    assert [s["call"] for s in doc["steps"]] == [1, 2, 3, 4]
    for k, step in enumerate(doc["steps"][:3], start=1):
        np.testing.assert_allclose(step["grads"]["x"], k * closed_form)
    assert doc["steps"][-1]["zeroed_before"] is True
    np.testing.assert_allclose(doc["steps"][-1]["grads"]["x"], closed_form)
    np.testing.assert_allclose(doc["gradients"][0]["value"], closed_form)


def test_random_variables_follow_the_seed_in_var_order(agrad_json):
    doc = agrad_json(
        "expr", "a.sum() + b.sum()", "--var", "a=randn(2,3)", "--var", "b=rand(4)", "--seed", "42"
    )
    torch.manual_seed(42)
    a, b = torch.randn(2, 3), torch.rand(4)
    values = {t["name"]: t["value"] for t in doc["tensors"]}
    assert values["a"] == a.tolist() and values["b"] == b.tolist()


def test_non_finite_results_are_results(agrad, agrad_json):
    doc = agrad_json("expr", "x / 0", "--var", "x=ones(3)")
    out = next(t for t in doc["tensors"] if t["name"] == "out")
    assert out["value"] == ["Infinity"] * 3
    assert doc["gradients"][0]["value"] == ["Infinity"] * 3  # d(x/0)/dx = 1/0
    doc = agrad_json("expr", "log(x - 1)", "--var", "x=ones(2)")
    assert next(t for t in doc["tensors"] if t["name"] == "out")["value"] == ["-Infinity"] * 2
    table = agrad("expr", "x / 0", "--var", "x=ones(3)")
    assert table.exit_code == 0 and table.stderr == "" and "inf" in table.stdout


def test_scalar_output_needs_no_vector(agrad_json):
    doc = agrad_json("expr", "(x * x).sum()", "--var", "x=arange(3.0)")
    assert doc["vector"] is None
    assert doc["gradients"] == [{"name": "x", "shape": [3], "value": [0.0, 2.0, 4.0]}]


def test_no_grad_integers_and_unreached_leaves(agrad_json):
    doc = agrad_json(
        "expr",
        "(w * k).sum()",
        "--var",
        "w=ones(3)",
        "--var",
        "k=arange(3)",
        "--var",
        "u=ones(2)",
        "--no-grad",
        "u",
    )
    facts = {t["name"]: t for t in doc["tensors"]}
    assert facts["k"]["dtype"] == "int64" and facts["k"]["requires_grad"] is False
    assert facts["u"]["requires_grad"] is False
    assert [g["name"] for g in doc["gradients"]] == ["w"]
    assert doc["gradients"][0]["value"] == [0.0, 1.0, 2.0]

    unreached = agrad_json("expr", "x.sum()", "--var", "x=ones(2)", "--var", "y=ones(2)")
    assert {g["name"]: g["value"] for g in unreached["gradients"]} == {"x": [1.0, 1.0], "y": None}

    frozen = agrad_json("expr", "k.sum()", "--var", "k=arange(4)")
    assert frozen["graph"]["root"] is None and frozen["steps"] == [] and frozen["gradients"] == []


def test_dtype_float64(agrad_json):
    doc = agrad_json("expr", "x.exp().sum()", "--var", "x=linspace(0,1,5)", "--dtype", "float64")
    assert {t["dtype"] for t in doc["tensors"]} == {"float64"}
    expected = np.exp(np.linspace(0.0, 1.0, 5))
    np.testing.assert_allclose(doc["gradients"][0]["value"], expected, rtol=1e-15)


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_graph_views_of_an_expression(agrad, fmt):
    result = agrad("expr", "(x + 1).pow(2).t()", "--var", "x=eye(4,5)", "--format", fmt)
    assert result.exit_code == 0
    assert "x (4, 5)" in result.stdout and "grad [4.0000, 2.0000, 2.0000, 2.0000, …]" in (
        result.stdout
    )


def test_expr_view_matches_golden(agrad, golden):
    result = agrad("expr", "(x + 1).pow(2).t()", "--var", "x=eye(4,5)", "--repeat", "2")
    assert result.exit_code == 0 and result.stderr == ""
    golden("expr_tutorial_jvp.txt", result.stdout)


def test_grammar_is_documented_in_help_and_by_flag(agrad):
    grammar = agrad("expr", "--grammar")
    assert grammar.exit_code == 0
    help_text = agrad("expr", "--help").stdout
    for name in [*FUNCTIONS, *METHODS]:
        assert name in GRAMMAR and name in grammar.stdout and name in help_text


# One working call of every whitelisted function and method, so none of the
# whitelist is dead or broken on this torch.
SAMPLES = {
    "pow": "pow(x, 2)",
    "clamp": "clamp(x, min=-0.5, max=0.5)",
    "maximum": "maximum(x, y)",
    "minimum": "minimum(x, y)",
    "logsumexp": "logsumexp(x, dim=1)",
    "norm": "norm(x, p=2)",
    "std": "std(x, dim=0, correction=1)",
    "var": "var(x, dim=1)",
    "matmul": "matmul(x, y.t())",
    "mm": "mm(x, y.t())",
    "mv": "mv(x, v)",
    "dot": "dot(v, v)",
    "outer": "outer(v, v)",
    "transpose": "transpose(x, 0, 1)",
    "reshape": "reshape(x, (4, 3))",
    "flatten": "flatten(x, start_dim=0)",
    "cat": "cat((x, y), dim=0)",
    "stack": "stack((x, y))",
    "softmax": "softmax(x, dim=-1)",
    "log_softmax": "log_softmax(x, dim=0)",
    "softplus": "softplus(x, beta=2)",
    "elu": "elu(x, alpha=0.5)",
    "leaky_relu": "leaky_relu(x, negative_slope=0.1)",
    "hardtanh": "hardtanh(x, min_val=-0.5)",
    "mse_loss": "mse_loss(x, y)",
    "l1_loss": "l1_loss(x, y)",
    "smooth_l1_loss": "smooth_l1_loss(x, y)",
    "binary_cross_entropy": "binary_cross_entropy(sigmoid(x), sigmoid(y))",
    "binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits(x, sigmoid(y))",
    "cross_entropy": "cross_entropy(x, k)",
    "nll_loss": "nll_loss(log_softmax(x, dim=1), k)",
    "sqrt": "sqrt(x.abs() + 1)",
    "log1p": "log1p(x.abs())",
    "rsqrt": "rsqrt(x.abs() + 1)",
    "log": "log(x.abs() + 1)",
}
METHOD_SAMPLES = {
    "pow": "x.pow(3)",
    "matmul": "x.matmul(y.t())",
    "mm": "x.mm(y.t())",
    "mv": "x.mv(v)",
    "dot": "v.dot(v)",
    "reshape": "x.reshape((2, 6))",
    "view": "x.view((12,))",
    "transpose": "x.transpose(0, 1)",
    "permute": "x.permute((1, 0))",
    "expand": "v.unsqueeze(0).expand((3, 4))",
    "squeeze": "v.unsqueeze(0).squeeze(0)",
    "unsqueeze": "x.unsqueeze(1)",
    "logsumexp": "x.logsumexp(dim=0)",
    "clamp": "x.clamp(min=0)",
    "flatten": "x.flatten(start_dim=0)",
    "softmax": "x.softmax(dim=1)",
    "log_softmax": "x.log_softmax(dim=1)",
    "norm": "x.norm(p=1)",
    "std": "x.std(dim=1)",
    "var": "x.var()",
    "amax": "x.amax(dim=1)",
    "amin": "x.amin(dim=0, keepdim=True)",
    "sum": "x.sum(dim=(0, 1))",
    "log": "(x.abs() + 1).log()",
    "sqrt": "(x.abs() + 1).sqrt()",
    "log1p": "x.abs().log1p()",
}
VARS = [
    "--var",
    "x=randn(3,4)",
    "--var",
    "y=randn(3,4)",
    "--var",
    "v=randn(4)",
    "--var",
    "k=tensor([0, 3, 1])",
    "--dtype",
    "float64",
]


@pytest.mark.parametrize(
    "expression",
    [SAMPLES.get(name, f"{name}(x)") for name in FUNCTIONS]
    + [METHOD_SAMPLES.get(name, f"x.{name}()") for name in METHODS],
)
def test_every_whitelisted_call_runs_and_its_gradient_checks_out(agrad_json, expression):
    doc = agrad_json("expr", expression, *VARS)
    grads = {g["name"]: g["value"] for g in doc["gradients"] if g["value"] is not None}
    assert grads or expression.endswith("detach()")
    # An independent oracle: the same call built here, checked by gradcheck in float64.
    values = {
        t["name"]: torch.tensor(t["value"], dtype=getattr(torch, t["dtype"]))
        for t in doc["tensors"]
        if t["name"] != "out"
    }
    for name, grad in grads.items():
        leaf = values[name].clone().requires_grad_()

        def f(t, name=name):
            env = {**values, name: t}
            return _torch_eval(expression, env).sum()

        (expected,) = torch.autograd.grad(f(leaf), leaf)
        np.testing.assert_allclose(grad, expected.numpy(), rtol=1e-10, atol=1e-12)
        assert torch.autograd.gradcheck(f, (leaf,), eps=1e-6, atol=1e-5)


def _torch_eval(expression: str, env: dict[str, torch.Tensor]) -> torch.Tensor:
    """The test's own evaluator: Python's eval over a namespace of torch functions,
    on the test's fixed strings only (never on agrad's input)."""
    import torch.nn.functional as F

    namespace = {
        name: getattr(torch if home == "torch" else F, name)
        for name, (home, _) in FUNCTIONS.items()
    }
    return eval(expression, {"__builtins__": {}}, {**namespace, **env})


# Property test: random expressions over x and w (shape (3,)) from a small grammar,
# each paired with a NumPy implementation; agrad's gradients must match float64
# central differences of sum(f).
UNARY = {
    "exp": np.exp,
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "square": np.square,
    "neg": np.negative,
}
leaf = st.sampled_from([("x", lambda env: env["x"]), ("w", lambda env: env["w"])])
constant = st.sampled_from([("0.5", lambda env: 0.5), ("2", lambda env: 2.0)])


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    unary = st.tuples(st.sampled_from(sorted(UNARY)), children).map(
        lambda t: (f"{t[0]}({t[1][0]})", lambda env, f=UNARY[t[0]], g=t[1][1]: f(g(env)))
    )
    binary = st.tuples(st.sampled_from(["+", "-", "*"]), children, children | constant).map(
        lambda t: (
            f"({t[1][0]} {t[0]} {t[2][0]})",
            lambda env, op=t[0], a=t[1][1], b=t[2][1]: {
                "+": np.add,
                "-": np.subtract,
                "*": np.multiply,
            }[op](a(env), b(env)),
        )
    )
    return unary | binary


expressions = st.recursive(leaf, _extend, max_leaves=6)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(expressions)
def test_random_expressions_match_finite_differences(agrad_json, case):
    text, f = case
    doc = agrad_json(
        "expr",
        text,
        "--var",
        "x=randn(3)",
        "--var",
        "w=randn(3)",
        "--seed",
        "5",
        "--dtype",
        "float64",
    )
    env = {t["name"]: np.array(t["value"], dtype=np.float64) for t in doc["tensors"]}
    h = 1e-6
    for gradient in doc["gradients"]:
        name = gradient["name"]
        if gradient["value"] is None:
            assert not re.search(rf"\b{name}\b", text)  # only an unused variable has none
            continue
        fd = []
        for i in range(3):
            bump = np.zeros(3)
            bump[i] = h
            plus = np.sum(np.broadcast_to(f({**env, name: env[name] + bump}), (3,)))
            minus = np.sum(np.broadcast_to(f({**env, name: env[name] - bump}), (3,)))
            fd.append((plus - minus) / (2 * h))
        np.testing.assert_allclose(gradient["value"], fd, rtol=1e-5, atol=1e-6, err_msg=text)
    assert math.isfinite(sum(np.ravel(env["out"])))
