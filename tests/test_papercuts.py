"""Small things a newcomer hit: where the caret points, what a graph-less run says."""

from __future__ import annotations

import pytest

from autograd_cli.errors import ExitCode


@pytest.mark.parametrize("expression", ["x +", "x ** ", "  x * ", "(x + 1) -"])
def test_a_missing_last_operand_is_pointed_at_the_end(agrad, expression):
    result = agrad("expr", expression, "--var", "x=ones(3)")
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    message, source, caret = result.stderr.splitlines()
    assert "operand is missing" in message
    # The caret sits just past the last character typed, where the operand should be.
    assert caret.index("^") == len(source.rstrip())
    assert f"(column {len(expression.rstrip()) + 1})" in message


def test_no_float_leaf_means_no_graph_and_no_sentence_about_running_it(agrad, agrad_json):
    doc = agrad_json("expr", "x.sum()", "--var", "x=arange(3)")
    assert doc["graph"]["root"] is None and doc["graph"]["node_count"] == 0
    text = " ".join(agrad("expr", "x.sum()", "--var", "x=arange(3)").stdout.split())
    assert "there is no graph" in text
    assert "backward() runs this graph" not in text
    assert "0 nodes" not in text
