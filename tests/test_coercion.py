"""Option values reach the commands the same way on both coercion paths: agrad's
direct one (coercion.py, Typer 0.29's private hook) and Typer's own (pydantic),
which runs on any other Typer version or with AGRAD_TYPER_COERCION=typer."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from autograd_cli import coercion

# Every kind of option: flags, choices, integers, seeds and sweeps, paths, repeated
# options, arguments, floats; good values, bad values and defaults.
LINES = [
    ["linear", "--seed", "3", "--precision", "2", "--dtype", "FLOAT64", "--json"],
    ["linear", "--seed", "0..2,7", "--json"],
    ["linear", "--seed", "0..2", "--color", "never"],
    ["linear", "--format", "mermaid", "--max-nodes", "3", "--saved"],
    ["jvp", "--repeat", "3", "--mode", "both", "--tangent", "onehot:1,2", "--json"],
    ["vjp", "--jacobian", "--check", "--json"],
    ["chain", "--length", "4", "--hidden", "2", "-f", "dot"],
    ["expr", "(x * y).sum()", "--var", "x=randn(2)", "--var", "y=ones(2)", "--no-grad", "y"],
    ["inspect", "examples/mlp.py:build", "--arg", "hidden=8", "--vanish", "1e-9", "--json"],
    ["inspect", "examples/dead_relu.py:build", "--fail-on", "any", "--json"],
    ["linear", "--seed", "x"],
    ["linear", "--precision", "13"],
    ["linear", "--format", "xml"],
    ["jvp", "--tangent", "onehot:9,9"],
    ["inspect", "examples/mlp.py:build", "--explode", "-1"],
    ["inspect", "nocolon"],
    ["linear", "--output", "/nonexistent-dir/x.json"],
    ["linear", "--lang", "vi", "--seed", "y"],
]


@pytest.mark.parametrize("line", LINES, ids=" ".join)
def test_both_coercion_paths_give_the_same_result(agrad, line):
    direct = agrad(*line)
    through_typer = agrad(*line, env={"AGRAD_TYPER_COERCION": "typer"})
    assert (through_typer.exit_code, through_typer.stdout, through_typer.stderr) == (
        direct.exit_code,
        direct.stdout,
        direct.stderr,
    )


def test_the_hook_is_only_set_for_the_typer_it_was_read_against(monkeypatch):
    monkeypatch.delenv("AGRAD_TYPER_COERCION", raising=False)
    assert coercion.enabled() == typer.__version__.startswith(coercion.HOOKED)
    monkeypatch.setattr(typer, "__version__", "0.30.0")
    assert not coercion.enabled()
    monkeypatch.setattr(typer, "__version__", "0.29.9")
    assert coercion.enabled()
    monkeypatch.setenv("AGRAD_TYPER_COERCION", "typer")
    assert not coercion.enabled()


PROBE = """
import sys
from autograd_cli.cli import app
try:
    app(["linear", "--seed", "3", "--precision", "2", "--json"])
except SystemExit as e:
    code = e.code
print("pydantic" in sys.modules, code, file=sys.stderr)
"""


@pytest.mark.parametrize(("switch", "pydantic"), [(None, "False"), ("typer", "True")])
def test_each_path_really_runs(switch, pydantic):
    """The direct path never imports pydantic; the fallback really is Typer's."""
    env = {"PATH": "/usr/bin:/bin"} | ({"AGRAD_TYPER_COERCION": switch} if switch else {})
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.stderr.strip().splitlines()[-1].split() == [pydantic, "0"]
