"""--check at its limits (issue 14, item 18): where central differences cannot judge
a gradient (the function overflows, or curves so sharply that the difference is off
by more than the tolerance), the check says "cannot verify" and why, instead of
failing a correct gradient with exit 3.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from autograd_cli.errors import ExitCode

STEP = 1e-6  # --check's step, as the README states it
ATOL, RTOL = 1e-5, 1e-3  # float32's tolerance, as the README states it


def _central(f, x: float, h: float) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


def test_x_to_the_millionth_cannot_be_verified_but_is_not_failed(agrad, agrad_json):
    p = 1_000_000
    doc = agrad_json("expr", f"x ** {p}", "--var", "x=ones(3)", "--check")
    # The gradient is right: d/dx x^p = p x^(p-1) = p at x = 1.
    assert doc["gradients"][0]["value"] == [float(p)] * 3
    # Central differences are not: ((1+h)^p - (1-h)^p) / 2h = sinh(1)/h at this step,
    # 17.5% off, and the step twice as wide differs from it by far more than the tolerance.
    at_step = _central(lambda x: x**p, 1.0, STEP)
    assert abs(at_step - math.sinh(1) / STEP) < 1e-3 * at_step
    assert abs(at_step - p) > ATOL + RTOL * abs(at_step)
    assert abs(_central(lambda x: x**p, 1.0, 2 * STEP) - at_step) > ATOL + RTOL * abs(at_step)
    (leaf,) = doc["check"]["leaves"]
    assert leaf["ok"] is True and doc["check"]["ok"] is True
    unverified = leaf["cannot_verify"]
    assert unverified["elements"] == 3 and unverified["reasons"] == ["inaccurate"]
    assert unverified["estimated_error"] > ATOL + RTOL * abs(at_step)
    table = agrad("expr", f"x ** {p}", "--var", "x=ones(3)", "--check", "--color", "never")
    assert table.exit_code == 0 and table.stderr == ""
    assert "cannot verify" in table.stdout
    assert "3 elements cannot be verified by finite differences" in table.stdout


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_norm_of_huge_order_cannot_be_verified(agrad_json, dtype):
    p = 1_000_000
    doc = agrad_json("expr", f"x.norm(p={p})", "--var", "x=ones(3)", "--check", "--dtype", dtype)
    if dtype == "float64":  # float32's rounding of the norm is raised to the power p - 1
        # d‖x‖_p/dx_i = (|x_i| / ‖x‖_p)^(p-1) = 3^(-(p-1)/p) at x = (1, 1, 1).
        expected = 3.0 ** (-(p - 1) / p)
        assert doc["gradients"][0]["value"] == pytest.approx([expected] * 3, rel=1e-6)
    # ‖x ± h‖_p moves by (1 ± h)^p-like factors: far from linear at the step.
    (leaf,) = doc["check"]["leaves"]
    assert leaf["ok"] is True and doc["check"]["ok"] is True
    assert leaf["cannot_verify"]["reasons"] == ["inaccurate"]


def test_an_overflowing_function_cannot_be_verified(agrad_json):
    # 1.5^1000000 overflows float64 too: every difference is inf - inf.
    with pytest.raises(OverflowError):
        _ = 1.5**1_000_000
    doc = agrad_json("expr", "x ** 1000000", "--var", "x=full((3,), 1.5)", "--check")
    assert doc["gradients"][0]["value"] == ["Infinity"] * 3
    (leaf,) = doc["check"]["leaves"]
    assert leaf["ok"] is True
    assert leaf["cannot_verify"] == {
        "elements": 3,
        "reasons": ["nonfinite"],
        "estimated_error": None,
    }


def test_a_float32_overflow_of_a_gradient_float64_can_hold(agrad_json):
    # d/dx x^1000 = 1000 * 1.5^999, about 1e179: beyond float32's 3.4e38, inside float64's.
    reference = 1000 * 1.5**999
    assert torch.finfo(torch.float32).max < reference < torch.finfo(torch.float64).max
    doc = agrad_json("expr", "x.pow(1000)", "--var", "x=full((2,), 1.5)", "--check")
    (leaf,) = doc["check"]["leaves"]
    assert doc["gradients"][0]["value"] == ["Infinity"] * 2
    assert leaf["ok"] is True and leaf["cannot_verify"]["reasons"] == ["overflow"]
    verified = agrad_json(
        "expr", "x.pow(1000)", "--var", "x=full((2,), 1.5)", "--check", "--dtype", "float64"
    )
    assert verified["gradients"][0]["value"] == pytest.approx([reference] * 2, rel=1e-12)
    assert verified["check"]["leaves"][0]["cannot_verify"] is None


def test_a_smooth_function_is_verified_and_says_so(agrad_json):
    doc = agrad_json("expr", "x.pow(3).sum()", "--var", "x=rand(4)", "--check")
    (leaf,) = doc["check"]["leaves"]
    assert set(leaf) == {"name", "max_abs_diff", "max_rel_diff", "ok", "cannot_verify"}
    assert leaf["ok"] is True and leaf["cannot_verify"] is None


def test_a_wrong_gradient_is_still_failed_where_differences_can_judge(agrad, monkeypatch):
    """A smooth function whose backward is wrong: the differences are trusted, exit 3."""
    from autograd_cli.inspection import gradient_check as module

    real = module.gradient_check

    def doubled(forward, leaves, gradients, *args, **kwargs):
        wrong = {name: [2 * v for v in value] for name, value in gradients.items()}
        return real(forward, leaves, wrong, *args, **kwargs)

    monkeypatch.setattr(module, "gradient_check", doubled)
    result = agrad("expr", "x.pow(3).sum()", "--var", "x=full((3,), 2.0)", "--check", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    (leaf,) = json.loads(result.stdout)["check"]["leaves"]
    assert leaf["ok"] is False and leaf["cannot_verify"] is None


def test_a_sweep_says_cannot_verify_as_the_check_section_does(agrad):
    """The sweep's summary column agrees with the single run's verdict."""
    single = agrad("expr", "x ** 1000000", "--var", "x=ones(2)", "--check")
    assert single.exit_code == 0 and "cannot verify" in single.stdout
    sweep = agrad("expr", "x ** 1000000", "--var", "x=ones(2)", "--seed", "0..1", "--check")
    assert sweep.exit_code == 0
    rows = sweep.stdout.splitlines()[2:]
    assert len(rows) == 2 and all(row.endswith("cannot verify") for row in rows)
