"""Golden files of the human view at pinned widths (100 and 80 columns), colour off.

Rewrite them on purpose with `pytest --update-goldens`, then read the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CASES = {
    "linear_seed0.txt": ["linear", "--seed", "0"],
    "jvp_repeat2.txt": ["jvp"],
    "jvp_repeat3_precision1.txt": ["jvp", "--repeat", "3", "--precision", "1"],
    "inspect_dead_relu.txt": ["inspect", "examples/dead_relu.py:build"],
    "linear_seed0_vi.txt": ["linear", "--seed", "0", "--lang", "vi"],
    "jvp_vi.txt": ["jvp", "--lang", "vi"],
    "inspect_nan_sqrt_anomaly.txt": ["inspect", "examples/nan_sqrt.py:loss", "--anomaly"],
}


EXPR_STATEMENTS = ["expr", "h = x * x; g = h.exp(); out = (g * h).sum()", "--var", "x=ones(3)"]
EXPR_ORDER = ["expr", "h = w @ x\nout = h.tanh().sum()", "--var", "x=ones(2)", "--var", "w=eye(2)"]

# The width people read at: a number whole or not at all, names broken at . or _ only.
CASES_80 = {
    "linear_80.txt": ["linear"],
    "linear_80_vi.txt": ["linear", "--lang", "vi"],
    "jvp_80.txt": ["jvp"],
    "jvp_80_vi.txt": ["jvp", "--lang", "vi"],
    "inspect_rnn_80.txt": ["inspect", "examples/rnn.py:build"],
    "inspect_rnn_80_vi.txt": ["inspect", "examples/rnn.py:build", "--lang", "vi"],
    "inspect_steps_80.txt": ["inspect", "examples/explode_lr.py:build", "--steps", "200"],
    "inspect_steps_80_vi.txt": [
        *("inspect", "examples/explode_lr.py:build", "--steps", "200", "--every", "4"),
        *("--lang", "vi"),
    ],
    "dynamic_80.txt": ["dynamic"],
    "dynamic_80_vi.txt": ["dynamic", "--lang", "vi"],
    "pitfalls_80.txt": ["pitfalls"],
    "pitfalls_80_vi.txt": ["pitfalls", "--lang", "vi"],
    "pitfalls_all_80.txt": ["pitfalls", "--all"],
    "pitfalls_all_80_vi.txt": ["pitfalls", "--all", "--lang", "vi"],
    **{
        f"expr_{name}_80{suffix}.txt": [*args, *lang]
        for name, args in (
            ("statements", [*EXPR_STATEMENTS, "--retain-grad", "all"]),
            ("order", [*EXPR_ORDER, "--order", "2", "--hessian", "--retain-grad", "h"]),
        )
        for suffix, lang in (("", []), ("_vi", ["--lang", "vi"]))
    },
}
# agrad gradcheck exits 3 on a failed check: these views are checked with that code.
CASES_80_FAILING = {
    "gradcheck_factor_80.txt": ["gradcheck", "examples/gradcheck_factor.py:build"],
    "gradcheck_factor_80_vi.txt": [
        "gradcheck",
        "examples/gradcheck_factor.py:build",
        "--lang",
        "vi",
    ],
    "gradcheck_swapped_80.txt": ["gradcheck", "examples/gradcheck_swapped.py:build"],
    "gradcheck_kink_80_vi.txt": ["gradcheck", "examples/gradcheck_kink.py:build", "--lang", "vi"],
}


@pytest.mark.parametrize("name", CASES)
def test_human_view_matches_golden(agrad, golden, name):
    result = agrad(*CASES[name])
    assert result.exit_code == 0 and result.stderr == ""
    golden(name, result.stdout)


@pytest.mark.parametrize("name", CASES_80)
def test_human_view_at_80_columns_matches_golden(agrad, golden, name):
    result = agrad(*CASES_80[name], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and result.stderr == ""
    golden(name, result.stdout)


@pytest.mark.parametrize("name", CASES_80_FAILING)
def test_failing_check_view_at_80_columns_matches_golden(agrad, golden, name):
    result = agrad(*CASES_80_FAILING[name], env={"COLUMNS": "80"})
    assert result.exit_code == 3 and len(result.stderr.splitlines()) == 1
    golden(name, result.stdout)


def test_no_golden_line_ends_with_spaces():
    """Every committed view: Rich pads cells and wrapped lines, agrad trims them."""
    views = [p for p in (Path(__file__).parent / "golden").iterdir() if p.suffix == ".txt"]
    assert len(views) >= len(CASES) + len(CASES_80) + len(CASES_80_FAILING)
    for path in views:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert line == line.rstrip(), f"{path.name}:{number} ends with spaces"


def test_linear_sections_come_in_the_issue_order(agrad):
    text = agrad("linear").stdout
    marks = [
        "Tensors",
        "z.grad_fn    = AddBackward0",
        "loss.grad_fn = BinaryCrossEntropyWithLogitsBackward0",
        "AccumulateGrad → w (5, 3)",
        "AccumulateGrad → b (3,)",
        "w.grad",
        "b.grad",
        "torch.no_grad()",
        "z.detach()",
    ]
    positions = [text.index(mark) for mark in marks]
    assert positions == sorted(positions)


def test_jvp_shows_the_notebooks_three_calls_and_the_chain(agrad):
    text = agrad("jvp").stdout
    marks = [
        "TBackward0",
        "PowBackward0",
        "AddBackward0",
        "AccumulateGrad → inp (4, 5)",
        "vᵀ·J",
        "retain_graph=True",
        "First call",
        "Second call",
        "Call after zeroing gradients",
    ]
    positions = [text.index(mark) for mark in marks]
    assert positions == sorted(positions)
