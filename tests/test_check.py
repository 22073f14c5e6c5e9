"""--check: passes on every built-in scenario, fails (exit 3) on a wrong gradient."""

from __future__ import annotations

import json

import pytest
import torch

from autograd_cli.errors import ExitCode
from autograd_cli.scenarios import linear

SCENARIOS = {
    "linear": ["linear", "--seed", "3"],
    "jvp": ["jvp"],
    "chain": ["chain", "--length", "20"],
    "expr": [
        "expr",
        "softmax(x @ w, dim=-1)[0].sum() + (x * x).mean()",
        "--var",
        "x=randn(2,3)",
        "--var",
        "w=randn(3,4)",
    ],
    "expr64": ["expr", "exp(x).pow(2).t()", "--var", "x=rand(2,3)", "--dtype", "float64"],
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_check_passes_on_every_builtin_scenario(agrad, agrad_json, name):
    doc = agrad_json(*SCENARIOS[name], "--check")
    check = doc["check"]
    assert check["ok"] is True
    leaves = {leaf["name"] for leaf in check["leaves"]}
    assert leaves == {
        g["name"] for g in doc.get("gradients", [{"name": "inp"}]) if g.get("value", 0) is not None
    }
    assert all(leaf["max_abs_diff"] <= check["atol"] + 1e-3 for leaf in check["leaves"])
    table = agrad(*SCENARIOS[name], "--check")
    assert table.exit_code == 0 and table.stderr == "" and "--check" in table.stdout


def test_linear_check_includes_the_closed_form(agrad_json):
    check = agrad_json("linear", "--check")["check"]
    assert [(c["name"], c["ok"]) for c in check["closed_form"]] == [("w", True), ("b", True)]


def test_no_check_no_check_key_value(agrad_json):
    assert agrad_json("linear")["check"] is None


class WrongMatmul(torch.autograd.Function):
    """x @ w with a deliberately wrong backward: twice the true gradient for w."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, grad):
        x, _w = ctx.saved_tensors
        grad_w = torch.outer(x, grad) * 2.0  # the bug
        return None, grad_w


@pytest.fixture
def broken_linear(monkeypatch):
    monkeypatch.setattr(linear, "logits", lambda x, w, b: WrongMatmul.apply(x, w) + b)


def test_a_wrong_gradient_fails_the_check_with_exit_3(agrad, broken_linear):
    result = agrad("linear", "--check", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    doc = json.loads(result.stdout)  # the output is still written
    verdicts = {leaf["name"]: leaf["ok"] for leaf in doc["check"]["leaves"]}
    assert verdicts == {"w": False, "b": True}
    assert doc["check"]["closed_form"][0] == {**doc["check"]["closed_form"][0], "ok": False}
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: gradient check failed: w (max abs diff")


def test_a_wrong_gradient_in_a_sweep_and_a_batch(agrad, broken_linear):
    sweep = agrad("linear", "--seed", "0..2", "--check")
    assert sweep.exit_code == ExitCode.CHECK_FAILED
    assert sweep.stdout.count("FAILED") == 3
    batch = agrad("batch", input="linear --check\njvp --check\n")
    records = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["exit_code"] for r in records] == [3, 0]
    assert records[0]["result"]["check"]["ok"] is False and "gradient check" in records[0]["error"]
    assert batch.exit_code == ExitCode.CHECK_FAILED


def test_check_refuses_graphs_too_big_to_difference(agrad):
    result = agrad("chain", "--length", "100000", "--check")
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert "--check would evaluate" in result.stderr
