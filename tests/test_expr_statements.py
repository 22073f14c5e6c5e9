"""`agrad expr` with named intermediates ("h = x * x; out = h.sum()") and
--retain-grad: values against closed forms in float64, names against what torch
itself builds here, and the statements' own safety (the hostile cases and the audit
hook are in test_expr_safety.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from autograd_cli.errors import ExitCode
from tests.test_expr_safety import AUDIT_PROBE, FUZZ

# out = sum(g * h), h = x², g = exp(h): d out/dh = e^h (1 + h), d out/dg = h,
# d out/dx = 2x e^{x²} (1 + x²).
PROGRAM = "h = x * x; g = h.exp(); out = (g * h).sum()"
X = ["--var", "x=linspace(-1, 1, 5)", "--dtype", "float64"]
POINT = np.linspace(-1, 1, 5)


def _closed_forms() -> dict[str, np.ndarray]:
    h = POINT**2
    return {
        "x": 2 * POINT * np.exp(h) * (1 + h),
        "h": np.exp(h) * (1 + h),
        "g": h,
        "out": np.array(1.0),
    }


def _gradients(doc: dict) -> dict[str, np.ndarray]:
    return {g["name"]: np.array(g["value"]) for g in doc["gradients"]}


@pytest.mark.parametrize(
    "text",
    [
        PROGRAM,
        "h = x * x\ng = h.exp()\nout = (g * h).sum()",
        "\n    h = x * x\n    g = h.exp()\n    (g * h).sum()\n",  # indented, result bare
        "h = x * x;\ng = h.exp();\nout = (g\n  * h).sum()",  # a statement over two lines
    ],
    ids=["semicolons", "lines", "indented", "continued"],
)
def test_statements_give_the_closed_form_gradients(agrad_json, text):
    doc = agrad_json("expr", text, *X, "--retain-grad", "all")
    expected = _closed_forms()
    got = _gradients(doc)
    assert list(got) == ["x", "h", "g", "out"]  # leaves first, then in statement order
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-12, atol=1e-12)
    assert doc["intermediates"] == ["h", "g"]
    assert doc["retained"] == ["h", "g", "out"]
    assert doc["statements"][2:5] == ["h = x * x", "g = h.exp()", "out = (g * h).sum()"]


def test_a_lone_expression_equals_its_statements(agrad_json):
    lone = agrad_json("expr", "((x * x).exp() * (x * x)).sum()", *X)
    split = agrad_json("expr", PROGRAM, *X)
    assert _gradients(lone)["x"].tolist() == _gradients(split)["x"].tolist()
    assert lone["intermediates"] == [] and lone["retained"] == []


def _torch_names() -> dict[str, str]:
    """What torch itself records for PROGRAM: each intermediate's grad_fn class."""
    x = torch.linspace(-1, 1, 5, dtype=torch.float64, requires_grad=True)
    h = x * x
    g = h.exp()
    out = (g * h).sum()
    return {name: type(t.grad_fn).__name__ for name, t in (("h", h), ("g", g), ("out", out))}


def test_the_graph_names_the_nodes_that_made_each_intermediate(agrad_json):
    doc = agrad_json("expr", PROGRAM, *X)
    torch_names = _torch_names()
    nodes = doc["graph"]["nodes"]
    named = {n["tensor"]: n for n in nodes if "tensor" in n}
    assert set(named) == {"h", "g"}
    for name, node in named.items():
        assert node["grad_fn"] == torch_names[name]
    # g = h.exp() reads h: the edge g's node -> h's node is in the graph
    edges = {(e["source"], e["target"]) for e in doc["graph"]["edges"]}
    assert (named["g"]["id"], named["h"]["id"]) in edges
    tensors = {t["name"]: t for t in doc["tensors"]}
    assert [t["name"] for t in doc["tensors"]] == ["x", "h", "g", "out"]
    assert tensors["h"]["grad_fn"] == torch_names["h"] and tensors["h"]["is_leaf"] is False


def test_the_names_show_in_the_tree_dot_and_mermaid(agrad):
    torch_names = _torch_names()
    tree = agrad("expr", PROGRAM, *X, env={"COLUMNS": "80"})
    assert tree.exit_code == 0, tree.stderr
    assert f"{torch_names['h']}  (h.grad_fn)" in tree.stdout
    assert f"{torch_names['g']}  (g.grad_fn)" in tree.stdout
    assert f"h.grad_fn   = {torch_names['h']}" in tree.stdout  # the grad_fn chain
    for form in ("dot", "mermaid"):
        picture = agrad("expr", PROGRAM, *X, "--format", form)
        assert picture.exit_code == 0, picture.stderr
        assert "h.grad_fn" in picture.stdout and "g.grad_fn" in picture.stdout


def test_without_retain_grad_torch_keeps_no_gradient_for_an_intermediate(agrad_json):
    # What the view's note says: a non-leaf's .grad is None, and torch warns.
    x = torch.ones(3, requires_grad=True)
    h = x * x
    h.sum().backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert h.grad is None
    assert any("not a leaf" in str(w.message) for w in caught)
    # and agrad shows the leaves' gradients only
    doc = agrad_json("expr", PROGRAM, *X)
    assert [g["name"] for g in doc["gradients"]] == ["x"]


def test_retain_grad_names_one_and_its_note_is_shown(agrad, agrad_json):
    doc = agrad_json("expr", PROGRAM, *X, "--retain-grad", "h")
    assert [g["name"] for g in doc["gradients"]] == ["x", "h"]
    assert doc["statements"][5] == "h.retain_grad()"
    human = agrad("expr", PROGRAM, *X, "--retain-grad", "h", env={"COLUMNS": "80"})
    assert "h.grad is kept because retain_grad() was called" in human.stdout


def test_retained_gradients_accumulate_and_are_zeroed_with_the_leaves(agrad_json):
    doc = agrad_json("expr", PROGRAM, *X, "--retain-grad", "h", "--repeat", "3")
    h_grad = _closed_forms()["h"]
    for k, step in enumerate(doc["steps"][:3], start=1):
        np.testing.assert_allclose(step["grads"]["h"], k * h_grad, rtol=1e-12)
    np.testing.assert_allclose(doc["steps"][3]["grads"]["h"], h_grad, rtol=1e-12)


def test_check_verifies_the_leaves_and_passes_the_retained_over(agrad_json):
    doc = agrad_json("expr", PROGRAM, *X, "--retain-grad", "all", "--check")
    assert doc["check"]["ok"] is True
    assert [leaf["name"] for leaf in doc["check"]["leaves"]] == ["x"]


def test_retain_grad_all_passes_over_what_has_no_gradient(agrad_json):
    doc = agrad_json("expr", "d = x.detach(); h = x * d; out = h.sum()", *X, "--retain-grad", "all")
    assert doc["retained"] == ["h", "out"]
    np.testing.assert_allclose(_gradients(doc)["h"], np.ones(5))


def test_an_unused_intermediate_is_shown_but_not_reached(agrad_json):
    doc = agrad_json("expr", "h = x * 2; out = x.sum()", *X, "--retain-grad", "h")
    assert doc["gradients"][1] == {"name": "h", "shape": [5], "value": None}
    assert all("tensor" not in n for n in doc["graph"]["nodes"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--retain-grad", "x"], "x is a variable"),
        (["--retain-grad", "nope"], "no such intermediate"),
        (["--retain-grad", "d"], "d does not require grad"),
    ],
)
def test_retain_grad_refuses_what_it_cannot_keep(agrad, args, words):
    result = agrad("expr", "d = x.detach(); h = x * d; out = h.sum()", *X, *args)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert result.stderr.startswith("agrad: error: --retain-grad ")
    assert words in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_error_in_a_later_line_shows_that_line_and_its_caret(agrad):
    result = agrad("expr", "h = x * x\nout = (h + y).sum()", "--var", "x=ones(3)")
    assert result.exit_code == ExitCode.USAGE
    message, line, caret = result.stderr.splitlines()
    assert "unknown name y" in message and "(line 2, column 12)" in message
    assert line == "  out = (h + y).sum()"
    assert caret.index("^") == line.index("y")


def test_a_shape_error_points_into_its_statement(agrad):
    result = agrad(
        "expr", "h = x * 2; g = h + y; out = g.sum()", "--var", "x=ones(3)", "--var", "y=ones(4)"
    )
    assert result.exit_code == ExitCode.USAGE
    _, line, caret = result.stderr.splitlines()
    assert caret.index("^") == line.index("+")


def test_accepted_statements_execute_nothing(tmp_path):
    """The audit hook of test_expr_safety.py, on statements that run: they are
    evaluated by agrad's walker, never compiled."""
    cases = [
        ["expr", PROGRAM, "--var", "x=ones(3)", "--json"],
        ["expr", "h = x @ w\nout = h.tanh().sum()", "--var", "x=ones(3)", "--var", "w=eye(3)"],
    ]
    result = subprocess.run(
        [sys.executable, "-c", AUDIT_PROBE, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert all(code in (0, None) for code in report["codes"]), report["codes"]
    assert report["events"] == []


ALPHABET = "xhg=;\n*+.()sumexp2 "


@FUZZ
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_random_statements_only_ever_exit_0_or_2(agrad, text):
    result = agrad("expr", text, "--var", "x=ones(3)", "--json")
    assert result.exit_code in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.exit_code == 0:
        json.loads(result.stdout)
    else:
        assert result.stdout == "" and result.stderr.startswith("agrad: error: ")
        assert len(result.stderr.splitlines()) in (1, 3)
