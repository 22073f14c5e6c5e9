"""Budgets on memory and arithmetic for `expr`, --check, --jacobian and --repeat
(issue 14, item 6): estimated on the meta device before any real work; a run over
budget is refused with exit 2, one line that gives the estimate, and empty stdout.

Every case here was accepted before, and ran: seconds to hours, up to gigabytes.
The estimates are checked against counts written out here (multiply-adds of a
matrix product, elements kept per backward() call).
"""

from __future__ import annotations

import re

import pytest

from autograd_cli.errors import ExitCode

MIB = 2**20
BUDGET_BYTES = 512 * MIB  # as notes/reliability-memory.md states it
BUDGET_OPERATIONS = 2e10
KEPT_BYTES = 64  # bytes per gradient element kept per call, as the notes state it


def _refused(result) -> str:
    assert result.exit_code == ExitCode.USAGE, (result.exit_code, result.stderr)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: expr would ")
    assert "Traceback" not in result.stderr
    return line


def _mib(line: str) -> float:
    number, unit = re.search(r"about ([0-9.]+) (MiB|GiB)", line).groups()
    return float(number) * (1024 if unit == "GiB" else 1)


def _operations(line: str) -> float:
    return float(re.search(r"about ([0-9.]+e\+[0-9]+) element operations", line).group(1))


def test_repeat_refuses_keeping_more_gradient_copies_than_the_budget(agrad):
    # 100 calls, then zero_() and one more: 101 copies of x's 100,000 elements.
    line = _refused(agrad("expr", "x.sum()", "--var", "x=randn(100000)", "--repeat", "100"))
    assert "--repeat 100 keeps 101 copies of 100,000 gradient elements" in line
    expected = 101 * 100_000 * KEPT_BYTES / MIB  # plus x and out themselves: 0.4 MiB
    assert expected > BUDGET_BYTES / MIB
    assert _mib(line) == pytest.approx(expected, rel=0.01)
    assert "the budget is 512 MiB" in line


def test_repeat_refuses_more_arithmetic_than_the_budget(agrad):
    # Leaves of 1,000 elements, but a 1000 x 1000 x 1000 product: 1e9 multiply-adds
    # forward, about twice that for each of the 11 backward() calls.
    line = _refused(
        agrad(
            "expr",
            "(x.expand(1000, 1000) @ w.expand(1000, 1000)).sum()",
            "--var",
            "x=randn(1000)",
            "--var",
            "w=randn(1000)",
            "--repeat",
            "10",
        )
    )
    expected = 1e9 * (1 + 2 * 11)
    assert expected > BUDGET_OPERATIONS
    assert _operations(line) == pytest.approx(expected, rel=0.01)
    assert "11 backward() calls" in line and "the budget is 2e+10" in line


def test_check_refuses_a_large_matrix_product(agrad):
    # 20,000 evaluations (x's 10,000 elements, each twice) of a 10,000,000 multiply-add
    # product: 2e11, refused; it was accepted (the graph has 3 nodes).
    line = _refused(
        agrad(
            "expr",
            "(x @ w).sum()",
            "--var",
            "x=randn(10,1000)",
            "--var",
            "w=randn(1000,1000)",
            "--no-grad",
            "w",
            "--check",
        )
    )
    assert "--check evaluates the expression 20,001 times" in line
    assert _operations(line) == pytest.approx(20_001 * 10 * 1000 * 1000, rel=0.01)


def test_jacobian_refuses_a_batch_over_the_memory_budget(agrad):
    # jacfwd runs the expression on x's 1,000 elements at once: 1,000 copies of the
    # 250,000-element product (the expanded view itself costs nothing), float32:
    # 954 MiB (out is a scalar, within the 250,000-entry cap of the Jacobian itself).
    line = _refused(
        agrad("expr", "(x.expand(250, 1000) * 2).sum()", "--var", "x=randn(1000)", "--jacobian")
    )
    assert "--jacobian runs the expression on 1,000 elements at once" in line
    expected = 1000 * (250_000 + 1) * 4 / MIB
    assert _mib(line) == pytest.approx(expected, rel=0.01)


def test_the_refusal_is_in_vietnamese_too(agrad):
    result = agrad("expr", "x.sum()", "--var", "x=randn(100000)", "--repeat", "100", "--lang", "vi")
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "expr would" not in line and "617" in line


def test_a_batch_line_over_budget_is_an_error_record(agrad):
    import json

    result = agrad("batch", input="expr 'x.sum()' --var 'x=randn(100000)' --repeat 100\njvp\n")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["exit_code"] for r in records] == [2, 0]
    assert "617 MiB" in records[0]["error"]


@pytest.mark.parametrize(
    "args",
    [
        ["(x @ w).sum()", "--var", "x=randn(1000,1000)", "--var", "w=randn(1000,1000)"],
        ["x.sum()", "--var", "x=randn(100000)", "--repeat", "3"],
        ["(x * y).sum()", "--var", "x=randn(20,30)", "--var", "y=randn(20,30)", "--check"],
        ["x.expand(20, 1000).sum()", "--var", "x=randn(1000)", "--jacobian"],
        # A view batched by vmap stays a view: 1,000 x 250,000 elements never exist.
        ["x.expand(250, 1000).sum()", "--var", "x=randn(1000)", "--jacobian"],
    ],
)
def test_runs_inside_the_budget_are_accepted(agrad, args):
    result = agrad("expr", *args, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
