"""Real subprocesses: start-up stays free of torch, success is silent on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import sys
from autograd_cli.cli import app
try:
    app({args!r})
except SystemExit as e:
    code = e.code
print("torch" in sys.modules, "rich" in sys.modules, code, file=sys.stderr)
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_the_cli_leaves_torch_unloaded():
    result = _python("import sys, autograd_cli.cli; print('torch' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["linear", "--help"],
        ["jvp", "-h"],
        ["--version"],
        ["jvp", "--repeat", "0"],
        ["expr", "--grammar"],
        ["inspect", "--help"],
        ["inspect", "model.py"],  # no NAME: refused before torch is needed
        ["expr", "x.__class__", "--var", "x=ones(3)"],  # rejected before torch is needed
    ],
)
def test_help_version_and_usage_errors_do_not_import_torch_or_rich(args):
    result = _python(PROBE.format(args=args))
    torch_loaded, rich_loaded, _code = result.stderr.strip().splitlines()[-1].split()
    assert (torch_loaded, rich_loaded) == ("False", "False")


@pytest.mark.parametrize(
    "args",
    [
        ["linear", "--seed", "0", "--json"],
        ["jvp", "--repeat", "2"],
        ["chain", "--format", "dot"],
        ["expr", "mse_loss(x, y)", "--var", "x=ones(3,1)", "--var", "y=zeros(3)"],  # warns
    ],
)
def test_success_writes_nothing_to_stderr(args):
    result = subprocess.run(
        [sys.executable, "-m", "autograd_cli", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout


def test_python_dash_m_matches_the_console_script():
    result = subprocess.run(
        [sys.executable, "-m", "autograd_cli", "linear", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(result.stdout)["command"] == "linear"


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_closed_pipe_ends_quietly(extra):
    # `agrad jvp | head -c 0`: the reader is gone before agrad writes. (Reading a
    # little first is not reliable: pipes here can buffer megabytes.)
    code = (
        "import subprocess, sys;"
        "p = subprocess.Popen([sys.executable, '-m', 'autograd_cli', 'jvp', '--repeat', '1000',"
        f" *{extra!r}],"
        " stdout=subprocess.PIPE, stderr=subprocess.PIPE);"
        "p.stdout.close(); err = p.stderr.read(); p.wait();"
        "print(p.returncode, repr(err.decode()))"
    )
    result = _python(code)
    returncode, err = result.stdout.strip().split(" ", 1)
    assert err == "''"
    assert returncode == "1"  # documented: a closed stdout ends agrad silently with 1


def test_a_real_run_does_not_import_pydantic():
    # Typer's default option coercion imports pydantic (~150 ms); agrad's options
    # bypass it. If a Typer upgrade breaks that, this fails before the benchmark does.
    probe = PROBE.replace('"rich" in sys.modules', '"pydantic" in sys.modules')
    args = ["linear", "--seed", "3", "--precision", "2", "--color", "never", "--json"]
    result = _python(probe.format(args=args))
    torch_loaded, pydantic_loaded, code = result.stderr.strip().splitlines()[-1].split()
    assert (torch_loaded, pydantic_loaded, code) == ("True", "False", "0")


@pytest.mark.parametrize(
    "args",
    [["linear", "--json"], ["chain", "--format", "dot"], ["linear", "--seed", "0..3", "--json"]],
)
def test_machine_output_never_loads_rich(args):
    result = _python(PROBE.format(args=args))
    torch_loaded, rich_loaded, code = result.stderr.strip().splitlines()[-1].split()
    assert (torch_loaded, rich_loaded, code) == ("True", "False", "0")
