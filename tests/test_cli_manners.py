"""Errors, help, colour and exit codes, through the real Typer app."""

from __future__ import annotations

import re

import pytest

from autograd_cli import __version__
from autograd_cli.errors import ExitCode

BAD_USAGE = [
    # (args, words the one error line must contain)
    (["linear", "--seed", "abc"], ["--seed", "-9223372036854775808", "18446744073709551615"]),
    (["linear", "--seed", "1.5"], ["--seed", "integer"]),
    (["linear", "--seed", str(2**64)], ["--seed", "out of range", "18446744073709551615"]),
    (["linear", "--seed", str(-(2**63) - 1)], ["--seed", "out of range"]),
    (["linear", "--precision", "13"], ["--precision", "0 to 12"]),
    (["linear", "--precision", "-1"], ["--precision", "0 to 12"]),
    (["jvp", "--precision", "x"], ["--precision", "0 to 12"]),
    (["jvp", "--repeat", "0"], ["--repeat", "1 to 1000"]),
    (["jvp", "--repeat", "-3"], ["--repeat", "1 to 1000"]),
    (["jvp", "--repeat", "1001"], ["--repeat", "1 to 1000"]),
    (["jvp", "--seed", "1"], ["--seed", "agrad jvp --help"]),
    (["linear", "--color", "purple"], ["--color", "auto", "always", "never"]),
    (["linear", "--nope"], ["--nope"]),
    (["linear", "extra"], ["extra"]),
    (["frobnicate"], ["frobnicate", "linear", "jvp"]),
    (["--nope"], ["--nope"]),
    (["linear", "--seed"], ["--seed"]),
    (["chain", "--length", "0"], ["--length", "1 to 200000"]),
    (["chain", "--length", "-4"], ["--length", "1 to 200000"]),
    (["chain", "--length", "200001"], ["--length", "1 to 200000"]),
    (["chain", "--hidden", "257"], ["--hidden", "1 to 256"]),
    (["chain", "--max-nodes", "0"], ["--max-nodes", "1 to"]),
    (["jvp", "--max-nodes", "-1"], ["--max-nodes", "1 to"]),
    (["linear", "--format", "xml"], ["--format", "table", "json", "dot", "mermaid"]),
    (["linear", "--json", "--format", "dot"], ["--json", "--format dot"]),
]


@pytest.mark.parametrize(
    ("args", "words"),
    BAD_USAGE,
    ids=lambda v: (
        " ".join(v)
        if isinstance(v, list)
        and v
        and isinstance(v[0], str)
        and v[0] in {"linear", "jvp", "frobnicate", "--nope"}
        else None
    ),
)
def test_bad_usage_is_one_line_exit_2_and_empty_stdout(agrad, args, words):
    result = agrad(*args)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("agrad: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def test_runtime_failure_is_one_line_exit_1(agrad, monkeypatch):
    from autograd_cli import runner

    def broken(scenario, params, max_nodes):
        raise RuntimeError("simulated failure\nwith a second line")

    monkeypatch.setattr(runner, "build_report", broken)
    result = agrad("linear", "--json")
    assert result.exit_code == ExitCode.RUNTIME
    assert result.stdout == ""
    assert (
        result.stderr
        == "agrad: error: internal error: RuntimeError: simulated failure with a second line\n"
    )


@pytest.mark.parametrize("args", [[], ["-h"], ["--help"], ["linear", "-h"], ["jvp", "--help"]])
def test_help_everywhere(agrad, args):
    result = agrad(*args)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "Usage: agrad" in result.stdout


@pytest.mark.parametrize("command", ["linear", "jvp", "chain"])
def test_every_command_has_help_text_and_an_example(agrad, command):
    text = agrad(command, "--help").stdout
    for option in (
        "--json",
        "--format",
        "--output",
        "--saved",
        "--max-nodes",
        "--precision",
        "--color",
    ):
        assert option in text
    assert "Examples:" in text
    assert command in agrad("--help").stdout


def test_version_names_agrad_torch_and_python(agrad):
    import platform
    from importlib.metadata import version

    result = agrad("--version")
    assert result.exit_code == 0
    assert result.stdout == (
        f"agrad {__version__} (torch {version('torch')}, Python {platform.python_version()})\n"
    )


@pytest.mark.parametrize("command", ["linear", "jvp"])
def test_no_escape_codes_unless_asked(agrad, command):
    plain = agrad(command)
    assert plain.exit_code == 0 and plain.stderr == ""
    assert "\x1b" not in plain.stdout
    assert "\x1b[" in agrad(command, "--color", "always").stdout
    assert "\x1b[" in agrad(command, env={"FORCE_COLOR": "1"}).stdout
    # NO_COLOR beats FORCE_COLOR; --color always beats NO_COLOR.
    assert "\x1b" not in agrad(command, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "\x1b[" in agrad(command, "--color", "always", env={"NO_COLOR": "1"}).stdout


@pytest.mark.parametrize("precision", [0, 2, 4, 6])
def test_precision_rounds_the_table(agrad, precision):
    import math

    import torch

    torch.manual_seed(0)
    w, b = torch.randn(5, 3).double(), torch.randn(3).double()
    z = w.sum(0) + b  # x = ones(5)
    dl_dz = [1 / (1 + math.exp(-v)) / 3 for v in z.tolist()]  # y = zeros(3)
    args = ["linear"] if precision == 4 else ["linear", "--precision", str(precision)]
    text = agrad(*args).stdout
    for value in dl_dz:
        assert f" {value:.{precision}f} " in text


def test_precision_twelve_shows_twelve_decimals(agrad):
    import re

    text = agrad("jvp", "--precision", "12").stdout
    assert re.search(r" 4\.0{12} ", text)
    assert not re.search(r" 4\.0{13}", text)


def test_ctrl_c_is_exit_130_with_one_line(agrad, monkeypatch):
    from autograd_cli import runner

    def interrupted(scenario, params, max_nodes):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "build_report", interrupted)
    result = agrad("jvp")
    assert result.exit_code == ExitCode.INTERRUPTED
    assert result.stdout == ""
    assert result.stderr == "agrad: error: interrupted\n"


def test_a_mistyped_command_gets_a_suggestion_then_the_commands(agrad):
    """The suggestion is an aside, then one list of commands: no "?;" or "?." joins."""
    for args, said in (
        (["lineer"], "No such command 'lineer' (did you mean 'linear'?); commands: linear, "),
        (
            ["lineer", "--lang", "vi"],
            "Không có lệnh 'lineer' (có phải ý bạn là 'linear'?); các lệnh: linear, ",
        ),
        (["frobnicate"], "No such command 'frobnicate'; commands: linear, "),
    ):
        result = agrad(*args)
        assert result.exit_code == ExitCode.USAGE and result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith("agrad: error: " + said), line
        assert "?;" not in line and "?." not in line and ".;" not in line
        assert line.endswith(". See 'agrad --help'.") or line.endswith(". Xem 'agrad --help'.")


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["a"], "Got an unexpected extra argument (a)"),
        (["a", "b"], "Got unexpected extra arguments (a b)"),
    ],
)
def test_extra_arguments_are_counted(agrad, extra, said):
    result = agrad("linear", *extra)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert result.stderr == f"agrad: error: {said}. See 'agrad linear --help'.\n"
    vi = agrad("linear", *extra, "--lang", "vi")
    assert "Có đối số thừa ngoài dự kiến" in vi.stderr and "(s)" not in vi.stderr


# What the reader types, not agrad's Python: no type names in usage or help lines.
COMMANDS = ["linear", "jvp", "vjp", "chain", "expr", "batch", "inspect"]
INTERNAL = re.compile(r"<[A-Za-z_][\w.\[\], |]*>|\{[A-Z_]+\}|TargetSpec|SeedSpec|NoneType")


@pytest.mark.parametrize("language", ["en", "vi"])
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_no_internal_type_names(agrad, command, language):
    args = ["--help"] if command is None else [command, "--help"]
    result = agrad(*args, "--lang", language)
    assert result.exit_code == 0 and result.stderr == ""
    leaks = INTERNAL.findall(result.stdout)
    assert leaks == [], leaks
    usage = result.stdout.splitlines()[0]
    expected = {
        None: "agrad [OPTIONS] COMMAND [ARGS]...",
        "expr": "agrad expr [OPTIONS] [EXPR]",
        "batch": "agrad batch [OPTIONS] [FILE]",
        "inspect": "agrad inspect [OPTIONS] TARGET",
    }.get(command, f"agrad {command} [OPTIONS]")
    assert usage.endswith(expected), usage
    if command in ("expr", "batch", "inspect"):
        name = {"expr": "EXPR", "batch": "FILE", "inspect": "TARGET"}[command]
        lines = result.stdout.splitlines()
        heading = lines.index("Arguments:" if language == "en" else "Đối số:")
        row = lines[heading + 1]
        assert row.startswith(f"  {name}  ") and row.split()[1] != "<str>", row


@pytest.mark.parametrize(
    "args",
    [
        ["inspect"],
        ["inspect", "nocolon"],
        ["expr"],
        ["batch", "a", "b"],
        ["linear", "--seed"],
        ["jvp", "--repeat", "x"],
        ["chain", "--nope"],
    ],
)
@pytest.mark.parametrize("language", ["en", "vi"])
def test_error_lines_show_no_internal_type_names(agrad, args, language):
    result = agrad(*args, "--lang", language)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert INTERNAL.findall(result.stderr) == [], result.stderr
