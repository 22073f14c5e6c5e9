"""`agrad expr --order N` and `--hessian` from the command line: orders against closed
forms and float64 finite differences, the Hessian against
torch.autograd.functional.hessian, the printed statements run here on torch, and the
refusals (exit 2). tests/test_higher_order.py checks the inspection module itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograd_cli.errors import ExitCode

CUBE = ["expr", "(x ** 3).sum()", "--var", "x=tensor([-1.5, 0.5, 2.0])", "--dtype", "float64"]
POINT = np.array([-1.5, 0.5, 2.0])
TANH = "h = w @ x\nout = h.tanh().sum()"
W = [[0.5, -1.0, 0.25], [1.5, 0.75, -0.5]]
TANH_ARGS = [
    "expr",
    TANH,
    "--var",
    "x=tensor([0.3, -0.2, 0.9])",
    "--var",
    f"w=tensor({W})",
    "--dtype",
    "float64",
]


def _orders(doc: dict) -> dict[tuple[int, str], np.ndarray | None]:
    return {
        (o["order"], o["name"]): None if o["value"] is None else np.array(o["value"])
        for o in doc["orders"]
    }


def test_the_orders_of_x_cubed_are_its_derivatives(agrad_json):
    doc = agrad_json(*CUBE, "--order", "4")
    orders = _orders(doc)
    closed = [3 * POINT**2, 6 * POINT, 6 * np.ones(3), np.zeros(3)]
    for k, expected in enumerate(closed, start=1):
        np.testing.assert_allclose(orders[(k, "x")], expected, rtol=1e-12, atol=1e-12)
    assert doc["order"] == 4
    by_order = {o["order"]: o for o in doc["orders"]}
    assert by_order[4]["grad_fn"] is None  # zeros: no graph, so no graph is drawn
    assert doc["order_graphs"] == []


def test_order_two_is_the_finite_difference_of_order_one(agrad_json):
    """∂/∂x of sum(∂out/∂x), by central differences in float64 of the closed-form first
    derivative: ∂out/∂x = wᵀ(1 - tanh²(w x))."""
    doc = agrad_json(*TANH_ARGS, "--order", "2")
    w = np.array(W)
    x = np.array([0.3, -0.2, 0.9])

    def first_sum(v: np.ndarray) -> float:
        return float((w.T @ (1 - np.tanh(w @ v) ** 2)).sum())

    step = 1e-6
    fd = np.array(
        [(first_sum(x + step * e) - first_sum(x - step * e)) / (2 * step) for e in np.eye(3)]
    )
    orders = _orders(doc)
    np.testing.assert_allclose(orders[(1, "x")], w.T @ (1 - np.tanh(w @ x) ** 2), rtol=1e-12)
    np.testing.assert_allclose(orders[(2, "x")], fd, rtol=1e-6, atol=1e-8)


def test_the_hessian_equals_torch_autograd_functional_hessian(agrad_json):
    doc = agrad_json(*TANH_ARGS, "--hessian")
    x = torch.tensor([0.3, -0.2, 0.9], dtype=torch.float64)
    w = torch.tensor(W, dtype=torch.float64)
    blocks = torch.autograd.functional.hessian(lambda a, b: (b @ a).tanh().sum(), (x, w))
    expected = torch.cat(
        [
            torch.cat([blocks[i][j].reshape(t.numel(), u.numel()) for j, u in enumerate((x, w))], 1)
            for i, t in enumerate((x, w))
        ]
    )
    hessian = doc["hessian"]
    assert hessian["leaves"] == ["x", "w"] and hessian["shapes"] == [[3], [2, 3]]
    np.testing.assert_allclose(hessian["matrix"], expected.numpy(), rtol=1e-10, atol=1e-12)
    assert hessian["func_error"] is None and hessian["repeated_grad_max_abs_diff"] < 1e-12


def test_the_printed_statements_compute_the_last_order(agrad_json):
    """Run agrad's "Run as" lines here, on torch: the loop leaves g = the last leaf's
    last order, which must equal what agrad reports."""
    doc = agrad_json(*TANH_ARGS, "--order", "3")
    lines = [s for s in doc["statements"] if not s.startswith("out.backward")]
    namespace: dict = {"torch": torch}
    exec("\n".join(lines), namespace)  # the test's own code: agrad never runs text
    np.testing.assert_allclose(
        namespace["g"].detach().numpy(), _orders(doc)[(3, "w")], rtol=1e-12, atol=1e-12
    )


def test_the_last_order_graph_is_what_create_graph_records(agrad_json):
    """What the view says: create_graph=True records the backward pass as a graph (its
    grad_fn is torch's own class here), and without it the gradient has none."""
    doc = agrad_json(*TANH_ARGS, "--order", "2")
    x = torch.tensor([0.3, -0.2, 0.9], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(W, dtype=torch.float64, requires_grad=True)
    out = (w @ x).tanh().sum()
    (g1,) = torch.autograd.grad(out, x, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), x, create_graph=True)
    (plain,) = torch.autograd.grad((w @ x).tanh().sum(), x)
    assert plain.grad_fn is None and g1.grad_fn is not None
    graphs = {item["leaf"]: item["graph"] for item in doc["order_graphs"]}
    assert set(graphs) == {"x", "w"}
    root = graphs["x"]["nodes"][0]
    assert root["grad_fn"] == type(g2.grad_fn).__name__
    # it reaches back into the forward pass: the node that made h is in it, named
    named = [n for n in graphs["x"]["nodes"] if n.get("tensor") == "h"]
    assert [n["grad_fn"] for n in named] == [type((w @ x).grad_fn).__name__]


def test_a_constant_order_has_no_grad_fn_and_the_next_are_zero(agrad_json):
    x = torch.ones(3, requires_grad=True)
    (g1,) = torch.autograd.grad(x.sum(), x, create_graph=True)
    assert g1.grad_fn is None and not g1.requires_grad  # what the view's note says
    doc = agrad_json("expr", "x.sum()", "--var", "x=ones(3)", "--order", "3")
    by_order = {o["order"]: o for o in doc["orders"]}
    assert by_order[1]["grad_fn"] is None and by_order[1]["value"] == [1.0, 1.0, 1.0]
    assert by_order[2]["value"] == by_order[3]["value"] == [0.0, 0.0, 0.0]


def test_orders_leave_grad_as_backward_makes_it(agrad_json):
    plain = agrad_json(*TANH_ARGS)
    ordered = agrad_json(*TANH_ARGS, "--order", "4", "--hessian")
    assert plain["gradients"] == ordered["gradients"]


def test_an_unused_leaf_has_zero_orders(agrad_json):
    doc = agrad_json(
        "expr", "(x ** 2).sum()", "--var", "x=ones(2)", "--var", "y=ones(2)", "--order", "2"
    )
    orders = _orders(doc)
    assert orders[(1, "y")].tolist() == orders[(2, "y")].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(orders[(2, "x")], [2.0, 2.0])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["x * 2", "--var", "x=ones(3)", "--order", "2"], "--order 2 needs a scalar out"),
        (["x * 2", "--var", "x=ones(3)", "--hessian"], "--hessian needs a scalar out"),
        (["x.sum()", "--var", "x=ones(65)", "--hessian"], "the cap is 64"),
        (["x.sum()", "--var", "x=ones(3)", "--order", "5"], "--order"),
        (["x.sum()", "--var", "x=ones(3)", "--order", "0"], "--order"),
        (["(x @ x.t()).sum()", "--var", "x=randn(1000,1000)", "--order", "4"], "--order 4"),
    ],
)
def test_refusals_exit_2_with_one_line(agrad, args, words):
    result = agrad("expr", *args)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert result.stdout == ""
    assert words in result.stderr and len(result.stderr.splitlines()) == 1


def test_the_view_names_every_order_and_the_hessian_check(agrad):
    result = agrad(*TANH_ARGS, "--order", "2", "--hessian", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for mark in ("order 1 · x", "order 2 · w", "(h.grad_fn)", "Hessian of out: 9 × 9"):
        assert mark in text
    assert "x 0–2, w 3–8" in " ".join(text.split())  # however the note wraps


# Found in review: what --order and --hessian print must run, and must not change .grad.


@pytest.mark.parametrize("extra", [["--order", "2"], ["--order", "3"], ["--hessian"]])
def test_retained_grads_are_one_backwards_even_with_higher_orders(agrad_json, extra):
    # out = sum(x * x): one backward gives out.grad = 1, h.grad = ones, x.grad = 2x.
    doc = agrad_json(
        "expr",
        "h = x * x; out = h.sum()",
        "--var",
        "x=tensor([0.5, 2.0])",
        "--retain-grad",
        "all",
        *extra,
    )
    grads = {g["name"]: g["value"] for g in doc["gradients"]}
    assert grads == {"x": [1.0, 4.0], "h": [1.0, 1.0], "out": 1.0}


def test_autograd_grad_would_fill_a_retained_grad():
    """Why agrad calls retain_grad() after the higher orders: on this torch,
    torch.autograd.grad fills a retained tensor's .grad (and not a leaf's)."""
    x = torch.ones(3, requires_grad=True)
    h = x * x
    h.retain_grad()
    torch.autograd.grad(h.sum(), x, create_graph=True, retain_graph=True)
    assert x.grad is None
    assert h.grad is not None and h.grad.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "args",
    [
        ["(2*x).sum()", "--var", "x=tensor([1.0, -2.0])", "--order", "3"],
        [
            "(x*y).sum()",
            "--var",
            "x=tensor([1.0, 2.0])",
            "--var",
            "y=tensor([3.0, 4.0])",
            "--order",
            "2",
        ],
        ["x.sum()", "--var", "x=ones(3)", "--var", "y=ones(2)", "--order", "2"],
        [
            "g = x * x; out = (g * x).sum()",
            "--var",
            "x=tensor([1.0, 2.0])",
            "--order",
            "2",
            "--hessian",
        ],
        [TANH, "--var", "x=tensor([0.3, -0.2])", "--var", "w=eye(2)", "--order", "4", "--hessian"],
    ],
)
def test_the_printed_program_runs_on_torch_and_gives_the_numbers(agrad_json, args):
    doc = agrad_json("expr", *args)
    namespace: dict = {"torch": torch}
    exec("\n".join(doc["statements"]), namespace)  # the test's own code runs agrad's text
    orders = doc["orders"]
    if orders:
        last = orders[-1]  # the last leaf's last order: what the loop leaves in its g
        g = next(name for name in ("g", "g2", "g3") if name not in doc["intermediates"])
        np.testing.assert_allclose(namespace[g].detach().numpy(), last["value"], atol=1e-6)
    if doc["hessian"] is not None:
        blocks = namespace["hessian"]
        leaves = doc["hessian"]["leaves"]
        rows = [
            torch.cat(
                [
                    torch.as_tensor(blocks if len(leaves) == 1 else blocks[i][j]).reshape(
                        namespace[a].numel(), namespace[b].numel()
                    )
                    for j, b in enumerate(leaves)
                ],
                1,
            )
            for i, a in enumerate(leaves)
        ]
        matrix = torch.cat(rows).detach().numpy()
        np.testing.assert_allclose(matrix, doc["hessian"]["matrix"], atol=1e-6)


@pytest.mark.parametrize(
    "text", ["h = (x *  # square\n  x)\nout = h.sum()", "h = x \\\n * x\nout = h.sum()"]
)
def test_statements_over_several_lines_print_as_python(agrad_json, text):
    doc = agrad_json("expr", text, "--var", "x=ones(3)")
    assert doc["statements"][2:4] == ["h = x * x", "out = h.sum()"]


def test_windows_line_ends_are_new_lines(agrad_json):
    doc = agrad_json("expr", "h = x * x\r\nout = h.sum()", "--var", "x=ones(3)")
    assert doc["intermediates"] == ["h"]


def test_all_cannot_name_an_intermediate(agrad):
    result = agrad("expr", "all = x * 2; out = all.sum()", "--var", "x=ones(3)")
    assert result.exit_code == ExitCode.USAGE and "--retain-grad all" in result.stderr


def test_a_user_g_does_not_collide_with_the_order_loops(agrad, agrad_json):
    args = ["expr", "h = x * x; g = h.exp(); out = (g * h).sum()", "--var", "x=ones(1)"]
    doc = agrad_json(*args, "--order", "2")
    assert any(line.startswith("g2 = out") for line in doc["statements"])
    view = agrad(*args, "--order", "2", env={"COLUMNS": "80"}).stdout
    assert "(g2.grad_fn)" in view and "gradient for x (g2)" in view


def test_a_hessian_that_repeated_grad_cannot_reproduce_is_said_to_differ(agrad, agrad_json):
    # The norm at 0 has no second derivative: torch.func.hessian says 0, repeated grad NaN.
    args = ["expr", "x.norm()", "--var", "x=zeros(2)", "--hessian", "--dtype", "float64"]
    x = torch.zeros(2, dtype=torch.float64)
    assert torch.func.hessian(torch.linalg.vector_norm)(x).abs().sum() == 0
    assert torch.autograd.functional.hessian(torch.linalg.vector_norm, x).isnan().any()
    assert agrad_json(*args)["hessian"]["repeated_grad_max_abs_diff"] in ("NaN", None)
    view = agrad(*args, env={"COLUMNS": "80"}).stdout
    assert "differ" in " ".join(view.split())
