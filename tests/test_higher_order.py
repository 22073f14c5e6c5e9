"""Higher orders and the Hessian (inspection/higher_order.py) against maths written here.

Closed forms (x³ → 3x², 6x, 6, 0; sin → cos, −sin, −cos, sin; two-leaf products),
float64 central differences of a closed-form first derivative, and
torch.autograd.functional.hessian (reverse-over-reverse by another implementation)
for the Hessian.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from autograd_cli.inspection.graph import graph_report
from autograd_cli.inspection.higher_order import (
    MAX_ORDER,
    hessian_facts,
    higher_orders,
)
from autograd_cli.model import OrderGradient

X = [0.5, -1.25, 2.0, 3.0]


def _leaf(values, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def _by_order(facts: tuple[OrderGradient, ...], name: str) -> list[OrderGradient]:
    return [f for f in facts if f.name == name]


def test_cube_orders_are_3x2_6x_6_0():
    x = _leaf(X)
    facts, last = higher_orders((x**3).sum(), {"x": x}, MAX_ORDER)
    xs = np.array(X)
    expected = [3 * xs**2, 6 * xs, np.full(4, 6.0), np.zeros(4)]
    assert [f.order for f in facts] == [1, 2, 3, 4]
    for fact, want in zip(facts, expected, strict=True):
        assert (fact.name, fact.shape) == ("x", (4,))
        np.testing.assert_allclose(fact.value, want, rtol=0, atol=1e-12)
    # Orders 1..3 still depend on x through a recorded graph; order 4 has none.
    assert all(f.grad_fn is not None for f in facts[:3])
    assert facts[3].grad_fn is None
    np.testing.assert_array_equal(last["x"].numpy(), np.zeros(4))


def test_sin_orders_cycle_cos_minus_sin_minus_cos_sin():
    x = _leaf(X)
    facts, _ = higher_orders(torch.sin(x).sum(), {"x": x}, 4)
    xs = np.array(X)
    for fact, want in zip(facts, [np.cos(xs), -np.sin(xs), -np.cos(xs), np.sin(xs)], strict=True):
        np.testing.assert_allclose(fact.value, want, rtol=0, atol=1e-12)
        assert fact.grad_fn is not None


def test_order_stops_where_asked_and_is_order_major():
    x, y = _leaf(X), _leaf([1.0, 2.0])
    facts, last = higher_orders((x**3).sum() * y.sum(), {"x": x, "y": y}, 2)
    assert [(f.order, f.name) for f in facts] == [(1, "x"), (1, "y"), (2, "x"), (2, "y")]
    assert set(last) == {"x", "y"}
    np.testing.assert_allclose(last["x"].detach().numpy(), 6 * np.array(X) * 3.0, atol=1e-12)


def test_two_leaves_x_squared_times_y():
    # out = Σ x²·y: ∂x = 2xy, ∂x² (of Σ 2xy) = 2y, then 0; ∂y = x², then 0 (x² has a
    # graph, but not through y).
    xs, ys = np.array([1.5, -2.0, 0.25]), np.array([0.5, 3.0, -1.0])
    x, y = _leaf(xs.tolist()), _leaf(ys.tolist())
    facts, _ = higher_orders((x**2 * y).sum(), {"x": x, "y": y}, 3)
    fx, fy = _by_order(facts, "x"), _by_order(facts, "y")
    for fact, want in zip(fx, [2 * xs * ys, 2 * ys, np.zeros(3)], strict=True):
        np.testing.assert_allclose(fact.value, want, rtol=0, atol=1e-12)
    for fact, want in zip(fy, [xs**2, np.zeros(3), np.zeros(3)], strict=True):
        np.testing.assert_allclose(fact.value, want, rtol=0, atol=1e-12)
    assert fx[2].grad_fn is None and fy[1].grad_fn is None and fy[2].grad_fn is None


def test_quadratic_form_with_a_matrix_leaf():
    # out = xᵀWx: ∂x = (W + Wᵀ)x, ∂x of Σ(W + Wᵀ)x = column sums of (W + Wᵀ), then 0;
    # ∂W = x xᵀ (a 2-D leaf keeps its shape), then 0.
    rng = np.random.default_rng(3)
    xs, ws = rng.normal(size=3), rng.normal(size=(3, 3))
    x, w = _leaf(xs.tolist()), _leaf(ws.tolist())
    facts, _ = higher_orders(x @ w @ x, {"x": x, "W": w}, 3)
    fx, fw = _by_order(facts, "x"), _by_order(facts, "W")
    sym = ws + ws.T
    for fact, want in zip(fx, [sym @ xs, sym.sum(axis=0), np.zeros(3)], strict=True):
        np.testing.assert_allclose(fact.value, want, rtol=0, atol=1e-12)
    assert [f.shape for f in fw] == [(3, 3)] * 3
    for fact, want in zip(fw, [np.outer(xs, xs), np.zeros((3, 3)), np.zeros((3, 3))], strict=True):
        np.testing.assert_allclose(fact.value, want, rtol=0, atol=1e-12)


def test_order_two_is_the_finite_difference_of_the_first_derivative():
    # out = Σ tanh(Wx); its first derivative in closed form, g(x) = Wᵀ(1 − tanh²(Wx)).
    # Order 2 is ∂/∂x Σ g(x), by central differences of that closed form in float64.
    rng = np.random.default_rng(7)
    ws, xs = rng.normal(size=(8, 8)) / 3, rng.normal(size=8)

    def total_first(v: np.ndarray) -> float:
        return float(np.sum(ws.T @ (1 - np.tanh(ws @ v) ** 2)))

    h = 1e-6
    eye = np.eye(8)
    by_differences = np.array(
        [(total_first(xs + h * e) - total_first(xs - h * e)) / (2 * h) for e in eye]
    )
    x, w = _leaf(xs.tolist()), torch.tensor(ws)
    facts, _ = higher_orders(torch.tanh(w @ x).sum(), {"x": x}, 2)
    np.testing.assert_allclose(facts[0].value, ws.T @ (1 - np.tanh(ws @ xs) ** 2), atol=1e-12)
    np.testing.assert_allclose(facts[1].value, by_differences, rtol=0, atol=1e-7)


def test_a_constant_gradient_has_no_graph_and_zero_next_orders():
    x = _leaf(X)
    facts, last = higher_orders((2 * x).sum(), {"x": x}, 3)
    np.testing.assert_array_equal(facts[0].value, [2.0] * 4)
    assert [f.grad_fn for f in facts] == [None, None, None]
    for fact in facts[1:]:
        np.testing.assert_array_equal(fact.value, [0.0] * 4)
    assert last["x"].grad_fn is None


def test_an_unused_leaf_has_zeros_at_every_order():
    # As torch.autograd.grad(..., allow_unused=True, materialize_grads=True) gives them.
    x, unused = _leaf(X), _leaf([[1.0, 2.0]])
    facts, last = higher_orders((x**2).sum(), {"x": x, "u": unused}, 3)
    fu = _by_order(facts, "u")
    assert [(f.order, f.shape, f.value, f.grad_fn) for f in fu] == [
        (k, (1, 2), [[0.0, 0.0]], None) for k in (1, 2, 3)
    ]
    (materialized,) = torch.autograd.grad(
        (x**2).sum(), unused, allow_unused=True, materialize_grads=True
    )
    assert materialized.tolist() == [[0.0, 0.0]]
    assert set(last) == {"x", "u"}


def test_the_last_order_graph_reaches_the_leaf():
    # What the caller shows: create_graph=True recorded order 2 as a graph ending at x.
    x = _leaf(X)
    _, last = higher_orders(torch.sin(x).sum(), {"x": x}, 2)
    graph = graph_report(last["x"], {"x": x})
    assert graph.root is not None
    assert any(node.leaf is not None and node.leaf.name == "x" for node in graph.nodes)


def test_non_scalar_out_is_refused():
    x = _leaf(X)
    with pytest.raises(AssertionError):
        higher_orders(x * 2, {"x": x}, 2)


def _hessian_of(function, inputs: tuple[torch.Tensor, ...]) -> np.ndarray:
    """torch.autograd.functional.hessian's blocks joined into one n x n matrix."""
    blocks = torch.autograd.functional.hessian(function, inputs)
    sizes = [t.numel() for t in inputs]
    return np.block(
        [
            [blocks[i][j].reshape(sizes[i], sizes[j]).numpy() for j in range(len(inputs))]
            for i in range(len(inputs))
        ]
    )


def test_hessian_matches_autograd_functional_hessian():
    def function(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x * y).sum() + (x**2).sum() * y[0] + torch.sin(x * y).sum()

    x, y = _leaf([0.3, -1.1, 2.0]), _leaf([1.5, 0.7, -0.4])
    facts = hessian_facts(function, {"x": x, "y": y}, function(x, y))
    oracle = _hessian_of(function, (x.detach(), y.detach()))
    matrix = np.array(facts.matrix)
    assert (facts.leaves, facts.shapes) == (("x", "y"), ((3,), (3,)))
    assert matrix.shape == (6, 6)
    np.testing.assert_allclose(matrix, oracle, rtol=0, atol=1e-12)
    np.testing.assert_allclose(matrix, matrix.T, rtol=0, atol=1e-12)
    assert facts.func_error is None
    assert facts.repeated_grad_max_abs_diff is not None
    assert facts.repeated_grad_max_abs_diff < 1e-12


def test_hessian_flattens_a_matrix_leaf_row_major():
    # f(x, W) = xᵀWx: ∂²f/∂x_i∂W_jk = δij·x_k + δik·x_j, W_jk at column 2 + 2j + k.
    xs = np.array([1.5, -2.0])
    x, w = _leaf(xs.tolist()), _leaf([[1.0, 2.0], [3.0, 4.0]])

    def function(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b @ a

    matrix = np.array(hessian_facts(function, {"x": x, "W": w}, function(x, w)).matrix)
    for i in range(2):
        for j in range(2):
            for k in range(2):
                want = (i == j) * xs[k] + (i == k) * xs[j]
                assert matrix[i, 2 + 2 * j + k] == pytest.approx(want, abs=1e-12)
                assert matrix[2 + 2 * j + k, i] == pytest.approx(want, abs=1e-12)
    ws = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(matrix[:2, :2], ws + ws.T, atol=1e-12)
    np.testing.assert_array_equal(matrix[2:, 2:], np.zeros((4, 4)))


def test_hessian_rows_without_a_graph_are_zero():
    # ∂/∂x of (2x).sum() is the constant 2: no graph, so x's rows are zero.
    def function(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (2 * a).sum() + (b**3).sum()

    x, y = _leaf([1.0, 2.0]), _leaf([0.5, -1.0])
    facts = hessian_facts(function, {"x": x, "y": y}, function(x, y))
    want = np.zeros((4, 4))
    want[2, 2], want[3, 3] = 6 * 0.5, 6 * -1.0
    np.testing.assert_allclose(facts.matrix, want, rtol=0, atol=1e-12)
    assert facts.repeated_grad_max_abs_diff == 0.0


class _Cube(torch.autograd.Function):
    """x³ with a backward that autograd can differentiate again, but no setup_context,
    jvp or vmap rule: reverse mode works, torch.func cannot run it."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


def test_hessian_falls_back_when_torch_func_cannot_run():
    def function(a: torch.Tensor) -> torch.Tensor:
        return _Cube.apply(a).sum()

    x = _leaf(X)
    with pytest.raises(Exception) as raised:  # what torch.func says, in this test's own run
        torch.func.hessian(function)(x.detach())
    facts = hessian_facts(function, {"x": x}, function(x))
    assert facts.func_error == str(raised.value).strip().splitlines()[0]
    assert facts.repeated_grad_max_abs_diff is None
    np.testing.assert_allclose(facts.matrix, np.diag(6 * np.array(X)), rtol=0, atol=1e-12)


def test_hessian_fallback_takes_the_first_line_of_any_error():
    def function(a: torch.Tensor) -> torch.Tensor:
        raise ValueError("first line\nsecond line")

    x = _leaf([1.0, 2.0])
    facts = hessian_facts(function, {"x": x}, (x**2).prod())
    assert facts.func_error == "first line"
    # out = x₀²·x₁² by hand: ∂²/∂x₀² = 2x₁², ∂²/∂x₀∂x₁ = 4x₀x₁, ∂²/∂x₁² = 2x₀².
    np.testing.assert_allclose(facts.matrix, [[8.0, 8.0], [8.0, 2.0]], rtol=0, atol=1e-12)


def test_hessian_of_the_norm_at_zero_disagrees_and_says_so():
    # ‖x‖ has no Hessian at 0. On torch 2.13 reverse-over-reverse (repeated grad, and
    # torch.autograd.functional.hessian) gives NaN there; torch.func.hessian
    # (forward-over-reverse) gives 0. The difference is NaN, not hidden.
    def function(a: torch.Tensor) -> torch.Tensor:
        return torch.norm(a)

    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    facts = hessian_facts(function, {"x": x}, function(x))
    assert np.isnan(_hessian_of(function, (x.detach(),))).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        func = torch.func.hessian(function)(x.detach())
    np.testing.assert_array_equal(facts.matrix, func.numpy())
    assert np.isnan(facts.repeated_grad_max_abs_diff)


def test_hessian_nan_against_nan_agrees():
    # √x at 0: both ways give −inf on the diagonal and NaN (0·inf) off it.
    def function(a: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(a).sum()

    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    facts = hessian_facts(function, {"x": x}, function(x))
    matrix = np.array(facts.matrix)
    assert np.isneginf(np.diag(matrix)).all() and np.isnan(matrix[0, 1])
    assert facts.repeated_grad_max_abs_diff == 0.0


def test_grad_untouched_and_backward_still_runs_afterwards():
    # tanh's backward reads its saved result, a node of out's own graph: order 2 and the
    # Hessian run back through that graph, which must survive for out.backward().
    rng = np.random.default_rng(11)
    ws, xs = rng.normal(size=(4, 4)), rng.normal(size=4)
    w, x = _leaf(ws.tolist()), _leaf(xs.tolist())

    def function(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.tanh(a @ b).sum()

    out = function(w, x)
    higher_orders(out, {"W": w, "x": x}, 4)
    hessian_facts(function, {"W": w, "x": x}, out)
    assert w.grad is None and x.grad is None
    out.backward()
    np.testing.assert_allclose(
        x.grad.numpy(), ws.T @ (1 - np.tanh(ws @ xs) ** 2), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        w.grad.numpy(), np.outer(1 - np.tanh(ws @ xs) ** 2, xs), rtol=0, atol=1e-12
    )


def test_a_one_element_out_of_any_shape_counts_as_scalar():
    # out = xᵀx as a 1 x 1 matrix: ∂ = 2x, then 2, and the Hessian 2·I.
    def function(a: torch.Tensor) -> torch.Tensor:
        return a.reshape(1, -1) @ a.reshape(-1, 1)

    x = _leaf(X)
    out = function(x)
    assert out.shape == (1, 1)
    facts, _ = higher_orders(out, {"x": x}, 2)
    np.testing.assert_allclose(facts[0].value, 2 * np.array(X), rtol=0, atol=1e-12)
    np.testing.assert_allclose(facts[1].value, [2.0] * 4, rtol=0, atol=1e-12)
    hessian = hessian_facts(function, {"x": x}, out)
    np.testing.assert_allclose(hessian.matrix, 2 * np.eye(4), rtol=0, atol=1e-12)
    assert hessian.func_error is None
