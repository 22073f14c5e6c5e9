"""agrad inspect on the shipped examples: every flag raised exactly where it should be,
and the numbers behind it recomputed here, independently.

The oracles: backpropagation written out in NumPy float64 (MLP, RNN), closed forms
(the dead-ReLU network's one live gradient), torch.func.grad over functional_call
(CNN), and the test's own walk of the graph. The examples are imported here by path,
not through agrad, and seeded as agrad documents: torch.manual_seed(S) before NAME.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pytest
import torch

from autograd_cli.errors import ExitCode
from tests.user_modules import EXAMPLES, example


def _built(name: str, function: str = "build", seed: int = 0, **kwargs: Any) -> Any:
    module = example(name)
    torch.manual_seed(seed)
    return getattr(module, function)(**kwargs)


def _by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in document["parameters"]}


def _flagged(document: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in document["parameters"]:
        for flag in p["flags"]:
            out.setdefault(flag, set()).add(p["name"])
    return out


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()


def _mlp_gradients(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Backpropagation through Linear-ReLU-Linear-ReLU-Linear and MSE, by hand."""
    w1, b1 = _np(model.fc1.weight), _np(model.fc1.bias)
    w2, b2 = _np(model.fc2.weight), _np(model.fc2.bias)
    w3, b3 = _np(model.out.weight), _np(model.out.bias)
    xs, ys = _np(x), _np(y)
    a1 = xs @ w1.T + b1
    h1 = np.maximum(a1, 0)
    a2 = h1 @ w2.T + b2
    h2 = np.maximum(a2, 0)
    o = h2 @ w3.T + b3
    d_o = 2 * (o - ys) / o.size
    d_a2 = (d_o @ w3) * (a2 > 0)
    d_a1 = (d_a2 @ w2) * (a1 > 0)
    return {
        "out.weight": d_o.T @ h2,
        "out.bias": d_o.sum(0),
        "fc2.weight": d_a2.T @ h1,
        "fc2.bias": d_a2.sum(0),
        "fc1.weight": d_a1.T @ xs,
        "fc1.bias": d_a1.sum(0),
    }


def test_mlp_is_healthy_and_every_statistic_matches_hand_backprop(agrad_json):
    document = agrad_json("inspect", "examples/mlp.py:build")
    model, x, y, _ = _built("mlp")
    expected = _mlp_gradients(model, x, y)
    params = _by_name(document)
    assert list(params) == [name for name, _ in model.named_parameters()]
    for name, g in expected.items():
        p = params[name]
        assert p["flags"] == []
        assert p["shape"] == list(g.shape)
        assert p["numel"] == g.size
        assert p["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-5)
        assert p["mean_abs"] == pytest.approx(np.abs(g).mean(), rel=1e-5)
        assert p["max_abs"] == pytest.approx(np.abs(g).max(), rel=1e-5)
        assert p["zero_fraction"] == pytest.approx((g == 0).mean(), abs=1e-12)
        assert (p["nan_count"], p["inf_count"]) == (0, 0)
        param = dict(model.named_parameters())[name]
        assert p["ratio"] == pytest.approx(np.linalg.norm(g) / np.linalg.norm(_np(param)), rel=1e-5)
    assert document["flag_counts"] == dict.fromkeys(
        ("vanishing", "exploding", "dead", "nonfinite", "unused", "frozen", "round-off"), 0
    )
    assert document["form"] == "model"
    assert document["loss"] == pytest.approx(
        float(torch.nn.functional.mse_loss(model(x), y).detach())
    )


def test_mlp_scaled_up_explodes_exactly_where_the_norm_passes_the_threshold(agrad_json):
    document = agrad_json("inspect", "examples/mlp.py:build", "--arg", "scale=1000")
    model, x, y, _ = _built("mlp", scale=1000.0)
    norms = {n: float(np.linalg.norm(g)) for n, g in _mlp_gradients(model, x, y).items()}
    expected = {n for n, v in norms.items() if v > 1e3}
    assert expected, "the example should explode somewhere"
    assert _flagged(document) == {"exploding": expected}
    for name, norm in norms.items():
        assert _by_name(document)[name]["grad_norm"] == pytest.approx(norm, rel=1e-4)
    assert document["arguments"] == {"scale": 1000}


def test_explode_threshold_moves_the_flag(agrad_json):
    model, x, y, _ = _built("mlp")
    norms = {n: float(np.linalg.norm(g)) for n, g in _mlp_gradients(model, x, y).items()}
    threshold = sorted(norms.values())[2]  # between the third and fourth largest
    threshold = (threshold + sorted(norms.values())[3]) / 2
    document = agrad_json("inspect", "examples/mlp.py:build", "--explode", repr(threshold))
    assert _flagged(document) == {"exploding": {n for n, v in norms.items() if v > threshold}}


def test_cnn_flags_only_the_layer_forward_forgets(agrad_json):
    document = agrad_json("inspect", "examples/cnn.py:build")
    model, images, labels, loss_fn = _built("cnn")
    params = dict(model.named_parameters())
    # Oracle: torch.autograd.grad's allow_unused says which parameters loss never reaches.
    grads = torch.autograd.grad(
        loss_fn(model(images), labels), list(params.values()), allow_unused=True
    )
    unused = {n for n, g in zip(params, grads, strict=True) if g is None}
    assert unused == {"norm.weight", "norm.bias"}
    assert _flagged(document) == {"unused": unused}
    for name in unused:
        p = _by_name(document)[name]
        assert p["grad_norm"] is None and p["nan_count"] is None and p["ratio"] is None
    # Norms against torch.func.grad over a functional call of the same model.
    used = {n: t.detach() for n, t in params.items() if n not in unused}

    def loss_of(weights: dict[str, torch.Tensor]) -> torch.Tensor:
        everything = {**{n: t.detach() for n, t in params.items()}, **weights}
        return loss_fn(torch.func.functional_call(model, everything, (images,)), labels)

    oracle = torch.func.grad(loss_of)(used)
    for name, g in oracle.items():
        norm = float(torch.linalg.vector_norm(g.double()))
        assert _by_name(document)[name]["grad_norm"] == pytest.approx(norm, rel=1e-5)


def _rnn_gradient_of_h0(model: Any, sequence: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Backpropagation through time over every step, by hand, in float64."""
    w_ih, w_hh = _np(model.cell.weight_ih), _np(model.cell.weight_hh)
    b = _np(model.cell.bias_ih) + _np(model.cell.bias_hh)
    w_r, b_r = _np(model.readout.weight), _np(model.readout.bias)
    xs, ys = _np(sequence), _np(targets)
    h = np.repeat(_np(model.h0), xs.shape[1], axis=0)
    states = [h]
    for x in xs:
        h = np.tanh(x @ w_ih.T + h @ w_hh.T + b)
        states.append(h)
    out = h @ w_r.T + b_r
    dh = (2 * (out - ys) / out.size) @ w_r
    for t in range(len(xs), 0, -1):
        dh = (dh * (1 - states[t] ** 2)) @ w_hh
    return dh.sum(0, keepdims=True)  # h0 was expanded over the batch


def test_rnn_over_500_steps_flags_only_h0_as_vanishing(agrad_json):
    document = agrad_json("inspect", "examples/rnn.py:build")
    assert _flagged(document) == {"vanishing": {"h0"}}
    model, sequence, targets, _ = _built("rnn")
    expected = np.linalg.norm(_rnn_gradient_of_h0(model, sequence, targets))
    assert 0 < expected < 1e-7
    # float32 through 500 steps against float64: agreement to about 1e-3 relative.
    assert _by_name(document)["h0"]["grad_norm"] == pytest.approx(expected, rel=1e-3)


def test_rnn_short_sequence_does_not_vanish_and_vanish_threshold_applies(agrad_json):
    document = agrad_json("inspect", "examples/rnn.py:build", "--arg", "steps=20")
    assert _flagged(document) == {}
    model, sequence, targets, _ = _built("rnn", steps=20)
    norm = float(np.linalg.norm(_rnn_gradient_of_h0(model, sequence, targets)))
    assert _by_name(document)["h0"]["grad_norm"] == pytest.approx(norm, rel=1e-4)
    raised = agrad_json(
        "inspect", "examples/rnn.py:build", "--arg", "steps=20", "--vanish", repr(norm * 1.01)
    )
    assert "h0" in _flagged(raised)["vanishing"]


def test_dead_relu_flags_everything_behind_it_and_out_bias_matches_its_closed_form(agrad_json):
    document = agrad_json("inspect", "examples/dead_relu.py:build")
    model, x, y, _ = _built("dead_relu")
    with torch.no_grad():
        pre = model.fc2(torch.relu(model.fc1(x)))
    assert bool((pre < 0).all()), "the example's second ReLU must be off for every input"
    expected_dead = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "out.weight"}
    assert _flagged(document) == {"dead": expected_dead}
    # With the ReLU dead, out(x) = out.bias for every x: ∂mean((b - y)²)/∂b = 2·mean(b - y).
    b = float(model.out.bias.detach())
    expected = abs(2 * float((b - _np(y)).mean()))
    assert _by_name(document)["out.bias"]["grad_norm"] == pytest.approx(expected, rel=1e-5)
    for name in expected_dead:
        p = _by_name(document)[name]
        assert (p["grad_norm"], p["zero_fraction"], p["max_abs"]) == (0.0, 1.0, 0.0)


def _sqrt_line() -> int:
    lines = (EXAMPLES / "nan_sqrt.py").read_text().splitlines()
    (number,) = [n for n, line in enumerate(lines, start=1) if ".sqrt()" in line]
    return number


def test_nan_through_sqrt_is_nonfinite_and_anomaly_names_its_origin(agrad_json):
    document = agrad_json("inspect", "examples/nan_sqrt.py:loss", "--anomaly")
    assert document["form"] == "loss"
    assert _flagged(document) == {"nonfinite": {"weight", "bias"}}
    assert document["loss"] == "NaN"
    # Which gradient elements are NaN: column j of hidden has a negative entry, so
    # sqrt's gradient there is NaN and it spreads to weight[:, j] and bias[j].
    # The example's statements, replayed from the same seed.
    torch.manual_seed(0)
    weight = torch.randn(4, 3)
    bias = torch.zeros(3)
    inputs = torch.randn(16, 4)
    hidden = inputs @ weight + bias
    bad_columns = int((hidden < 0).any(dim=0).sum())
    params = _by_name(document)
    assert params["weight"]["nan_count"] == 4 * bad_columns
    assert params["bias"]["nan_count"] == bad_columns
    assert params["bias"]["ratio"] is None  # ‖bias‖ = 0
    anomaly = document["anomaly"]
    assert anomaly["grad_fn"] == "SqrtBackward0"
    assert anomaly["origin"]["file"] == "examples/nan_sqrt.py"
    assert anomaly["origin"]["line"] == _sqrt_line()
    assert anomaly["origin"]["function"] == "loss"
    assert ".sqrt()" in anomaly["origin"]["code"]
    assert all(f["file"] == "examples/nan_sqrt.py" for f in anomaly["forward_trace"])


def test_anomaly_is_not_run_without_nonfinite_gradients(agrad_json):
    assert agrad_json("inspect", "examples/mlp.py:build", "--anomaly")["anomaly"] is None
    assert agrad_json("inspect", "examples/nan_sqrt.py:loss")["anomaly"] is None


def test_anomaly_in_the_table_view_names_the_function_and_line(agrad):
    result = agrad("inspect", "examples/nan_sqrt.py:loss", "--anomaly")
    assert result.exit_code == 0, result.stderr
    assert "SqrtBackward0 is the first backward Function that returned NaN" in result.stdout
    assert f"examples/nan_sqrt.py:{_sqrt_line()}, in loss" in result.stdout
    assert "Flags: 0 vanishing · 0 exploding · 0 dead · 2 nonfinite · 0 unused" in result.stdout


def _own_walk(root: Any) -> tuple[int, int, dict[str, int]]:
    """Nodes, depth (nodes on the longest root-to-leaf path) and classes, by the test."""
    children: dict[Any, list[Any]] = {}
    stack = [root]
    while stack:
        fn = stack.pop()
        if fn in children:
            continue
        children[fn] = [t for t, _ in fn.next_functions if t is not None]
        stack.extend(children[fn])
    depth: dict[Any, int] = {}
    # Iterative post-order: a node's depth once all its children have theirs.
    stack = [root]
    while stack:
        fn = stack[-1]
        pending = [c for c in children[fn] if c not in depth]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        depth[fn] = 1 + max((depth[c] for c in children[fn]), default=0)
    classes: dict[str, int] = {}
    for fn in children:
        classes[type(fn).__name__] = classes.get(type(fn).__name__, 0) + 1
    return len(children), depth[root], classes


@pytest.mark.parametrize("name", ["mlp", "cnn", "rnn", "dead_relu"])
def test_graph_summary_matches_an_independent_walk(agrad_json, name):
    document = agrad_json("inspect", f"examples/{name}.py:build")
    model, inputs, targets, loss_fn = _built(name)
    nodes, depth, classes = _own_walk(loss_fn(model(inputs), targets).grad_fn)
    summary = document["graph_summary"]
    assert (summary["node_count"], summary["depth"], summary["grad_fn_counts"]) == (
        nodes,
        depth,
        classes,
    )
    assert document["graph"]["node_count"] == nodes
    if name == "rnn":  # deep: each of the 500 steps lies on the longest path
        assert depth > 3 * 500


def test_graph_views_carry_the_models_graph(agrad):
    dot = agrad("inspect", "examples/dead_relu.py:build", "--format", "dot")
    assert dot.exit_code == 0, dot.stderr
    assert dot.stdout.startswith("digraph agrad {")
    assert "fc2.weight" in dot.stdout and "ReluBackward0" in dot.stdout
    mermaid = agrad("inspect", "examples/rnn.py:build", "--format", "mermaid", "--max-nodes", "9")
    assert mermaid.exit_code == 0, mermaid.stderr
    assert mermaid.stdout.startswith("flowchart")
    assert len(re.findall(r"^\s+n\d+[\[(]", mermaid.stdout, flags=re.MULTILINE)) == 9


@pytest.mark.parametrize(
    ("target", "fail_on", "code"),
    [
        ("examples/dead_relu.py:build", "dead", ExitCode.CHECK_FAILED),
        ("examples/dead_relu.py:build", "vanishing,exploding,nonfinite,unused", ExitCode.OK),
        ("examples/dead_relu.py:build", "any", ExitCode.CHECK_FAILED),
        ("examples/rnn.py:build", "vanishing", ExitCode.CHECK_FAILED),
        ("examples/cnn.py:build", "unused", ExitCode.CHECK_FAILED),
        ("examples/cnn.py:build", "dead,vanishing", ExitCode.OK),
        ("examples/nan_sqrt.py:loss", "nonfinite", ExitCode.CHECK_FAILED),
        ("examples/mlp.py:build", "any", ExitCode.OK),
    ],
)
def test_fail_on_exits_3_only_when_a_named_flag_is_raised(agrad, target, fail_on, code):
    result = agrad("inspect", target, "--fail-on", fail_on, "--json")
    assert result.exit_code == code, result.stderr
    document = json.loads(result.stdout)  # the report is written either way
    raised = {f for f in fail_on.split(",") if document["flag_counts"].get(f)}
    if fail_on == "any":
        raised = {f for f, n in document["flag_counts"].items() if n}
    assert set(document["failing"]) == raised
    if code == ExitCode.CHECK_FAILED:
        (line,) = result.stderr.splitlines()
        assert line.startswith("agrad: error: --fail-on:")
    else:
        assert result.stderr == ""


def test_without_fail_on_flags_never_change_the_exit_code(agrad):
    for target in ("examples/dead_relu.py:build", "examples/nan_sqrt.py:loss"):
        assert agrad("inspect", target).exit_code == ExitCode.OK


def test_flags_are_exclusive_and_ordered():
    from autograd_cli.inspection.health import health_flags

    assert health_flags(float("nan"), 1, 1.0, 1e-7, 1e3) == ("nonfinite",)
    assert health_flags(0.0, 0, 1.0, 1e-7, 1e3) == ("dead",)
    assert health_flags(5e-8, 0, 0.5, 1e-7, 1e3) == ("vanishing",)
    assert health_flags(1e-7, 0, 0.5, 1e-7, 1e3) == ()  # the bounds themselves are fine
    assert health_flags(1e3, 0, 0.0, 1e-7, 1e3) == ()
    assert health_flags(math.nextafter(1e3, math.inf), 0, 0.0, 1e-7, 1e3) == ("exploding",)
    assert health_flags(math.inf, 1, 0.0, 1e-7, 1e3) == ("nonfinite",)
    # inf without a NaN or inf element: a norm past float64's range, of finite values
    assert health_flags(math.inf, 0, 0.0, 1e-7, 1e3) == ("exploding",)
