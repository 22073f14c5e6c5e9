"""`agrad dynamic`: each forward pass records its own graph (the tutorial's "DAGs are
dynamic in PyTorch"), checked against torch run here and closed forms by hand."""

from __future__ import annotations

import json

import pytest
import torch


def _inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x and y as the statements make them, in float32 (the tutorial's dtype)."""
    torch.manual_seed(seed)
    x = torch.randn(4)
    return x, -x


def _f(t: torch.Tensor) -> torch.Tensor:
    h = t * 2
    if h.sum() > 0:
        return h.pow(2).sum()
    return h.abs().sum()


def _classes(fn) -> list[str]:
    """The graph's nodes by class, depth first in next_functions order (tiny graphs)."""
    seen, order, stack = set(), [], [fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        order.append(type(node).__name__)
        stack.extend(reversed([f for f, _ in node.next_functions]))
    return order


@pytest.mark.parametrize("seed", range(6))
def test_gradients_are_the_closed_form_of_the_branch_taken(agrad_json, seed):
    doc = agrad_json("dynamic", "--seed", str(seed))
    x, y = _inputs(seed)
    for gradient, t in zip(doc["gradients"], (x, y), strict=True):
        t64 = t.double()
        expected = 8 * t64 if float((2 * t64).sum()) > 0 else 2 * torch.sign(t64)
        assert torch.allclose(torch.tensor(gradient["value"], dtype=torch.float64), expected)


def test_both_branches_are_seen_and_each_call_says_why(agrad_json):
    branches = set()
    for seed in range(6):
        doc = agrad_json("dynamic", "--seed", str(seed))
        x, y = _inputs(seed)
        for facts, t in zip(doc["passes"], (x, y), strict=True):
            h_sum = float((t * 2).sum())
            assert facts["h_sum"] == pytest.approx(h_sum)
            assert facts["branch"] == ("h.pow(2).sum()" if h_sum > 0 else "h.abs().sum()")
            branches.add(facts["branch"])
        # y = -x: the two calls of one run never take the same branch (sum != 0).
        assert doc["passes"][0]["branch"] != doc["passes"][1]["branch"]
    assert branches == {"h.pow(2).sum()", "h.abs().sum()"}


def test_each_call_records_its_own_graph_as_torch_does(agrad_json):
    doc = agrad_json("dynamic", "--seed", "3")
    x, y = (t.requires_grad_() for t in _inputs(3))
    out_x, out_y = _f(x), _f(y)
    assert [p["grad_fns"] for p in doc["passes"]] == [
        _classes(out_x.grad_fn),
        _classes(out_y.grad_fn),
    ]
    assert doc["same_grad_fn"] is (out_x.grad_fn is out_y.grad_fn) is False
    graphs = (doc["graph"], doc["second_graph"])
    assert [[n["grad_fn"] for n in g["nodes"]] for g in graphs] == [
        p["grad_fns"] for p in doc["passes"]
    ]
    assert {"PowBackward0", "AbsBackward0"} == {
        c for p in doc["passes"] for c in p["grad_fns"] if c in ("PowBackward0", "AbsBackward0")
    }


def test_check_passes_against_finite_differences_and_the_closed_forms(agrad_json):
    check = agrad_json("dynamic", "--check", "--dtype", "float64")["check"]
    assert check["ok"] is True
    assert [leaf["name"] for leaf in check["leaves"]] == ["x", "y"]
    assert [leaf["name"] for leaf in check["closed_form"]] == ["x", "y"]


def test_json_keys(agrad_json):
    doc = agrad_json("dynamic")
    assert list(doc)[3:] == [
        "command",
        "seed",
        "statements",
        "tensors",
        "graph",
        "gradients",
        "passes",
        "second_graph",
        "same_grad_fn",
        "check",
        "device",
        "dtype",
    ]
    assert doc["command"] == "dynamic"
    assert set(doc["passes"][0]) == {"input", "output", "h_sum", "branch", "grad_fns"}


def test_the_view_says_what_torch_says(agrad):
    result = agrad("dynamic", "--seed", "3")
    assert result.exit_code == 0 and result.stderr == ""
    x, y = (t.requires_grad_() for t in _inputs(3))
    same = _f(x).grad_fn is _f(y).grad_fn
    assert f"out_x.grad_fn is out_y.grad_fn = {same}" in result.stdout
    h_sum = float((x.detach() * 2).sum())
    branch, form = ("h.pow(2).sum()", "8·x") if h_sum > 0 else ("h.abs().sum()", "2·sign(x)")
    assert f"f(x): h.sum() = {h_sum:.4g}, so Python ran {branch}" in result.stdout
    assert f"x.grad = {form}" in result.stdout


def test_a_sweep_and_the_graph_formats(agrad):
    lines = agrad("dynamic", "--seed", "0..3", "--json").stdout.splitlines()
    assert [json.loads(line)["seed"] for line in lines] == [0, 1, 2, 3]
    dot = agrad("dynamic", "--format", "dot").stdout
    assert "backward graph of out_x" in dot and "AccumulateGrad" in dot
