"""`--help` that teaches: what a command shows, its examples, its own options, then the
shared ones under their own headings; and every example in every --help runs.

The expected split is computed here from the scenario's own signature and
options.SHARED_OPTIONS, not read back from the help; each example is run for real
(in-process) and its `| jq FILTER` is evaluated on the JSON it wrote, so an example
with a stale key or a command that fails cannot ship.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from autograd_cli.cli import OUTPUT_GROUPS, app
from autograd_cli.options import GRAPH_ONLY, SHARED_OPTIONS
from autograd_cli.scenarios import REGISTRY, scenario

ROOT = Path(__file__).parent.parent
GROUP = typer.main.get_command(app)
COMMANDS = list(GROUP.list_commands(None))  # type: ignore[attr-defined]
HEADINGS = {
    "en": ("Examples", "Arguments", "Options", "Tensor options", "Common options"),
    "vi": ("Ví dụ", "Đối số", "Tùy chọn", "Tùy chọn tensor", "Tùy chọn chung"),
}
TENSOR_GROUPS = ("seed", "tensor", "check")


def _help(*args: str, lang: str = "en") -> str:
    result = CliRunner().invoke(
        app, [*args, "--help"], env={"COLUMNS": "80", "AGRAD_LANG": lang, "LC_ALL": None}
    )
    assert result.exit_code == 0 and result.stderr == "", result.output
    return result.stdout


def _sections(text: str) -> dict[str, list[str]]:
    """Heading -> its lines, up to the first blank one (after it: the details of what
    the command shows, or the epilog); "" holds what comes before the first heading."""
    sections: dict[str, list[str]] = {"": []}
    current: str | None = ""
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
            sections[current] = []
        elif not line.strip() and current:
            current = None
        elif current is not None:
            sections[current].append(line)
    return sections


def _flags(lines: list[str]) -> set[str]:
    """The long option names a help section lists (at the start of its rows)."""
    return {m.group(1) for line in lines if (m := re.match(r"  (?:-\w, )?(--[\w-]+)", line))}


def _flag(parameter: inspect.Parameter) -> str:
    option = typer.models.OptionInfo
    metadata = getattr(parameter.annotation, "__metadata__", ())
    (info,) = [m for m in metadata if isinstance(m, (option, typer.models.ArgumentInfo))]
    # typer.Option("--seed", ...) keeps its first name in `default`, the rest in param_decls.
    declared = (info.default, *(info.param_decls or ()))
    return next((d for d in declared if isinstance(d, str) and d.startswith("--")), "")


def _expected(command: str) -> tuple[set[str], set[str], set[str]]:
    """(own, tensor, common) long option names, from the scenario's declarations."""
    if command == "batch":
        return set(), set(), {"--lang", "--help"}
    found = scenario(command)
    own = {
        _flag(p)
        for p in inspect.signature(found.options, eval_str=True).parameters.values()
        if _flag(p)
    }
    tensor = {_flag(p) for group, p in SHARED_OPTIONS if group in TENSOR_GROUPS}
    tensor &= {_flag(p) for group, p in SHARED_OPTIONS if group in found.shared}
    common = {_flag(p) for group, p in SHARED_OPTIONS if group in OUTPUT_GROUPS} | {"--help"}
    if not found.graph:  # no options that only shape a graph it does not draw
        common -= {_flag(p) for _group, p in SHARED_OPTIONS if p.name in GRAPH_ONLY}
    return own, tensor, common


@pytest.mark.parametrize("lang", ["en", "vi"])
@pytest.mark.parametrize("command", COMMANDS)
def test_help_leads_with_what_it_shows_and_examples_then_own_options_then_shared(command, lang):
    text = _help(command, lang=lang)
    sections = _sections(text)
    examples, _arguments, own_heading, tensor_heading, common_heading = HEADINGS[lang]
    headings = [h for h in sections if h]
    # What it shows comes first: the usage line, then the summary, then the examples.
    assert headings[0] == examples, headings
    summary = [line for line in sections[""][1:] if line.strip()]
    assert summary, f"{command}: no summary before the examples"
    # Then its arguments and own options, then the shared ones: nothing else, in order.
    assert headings == [h for h in HEADINGS[lang] if h in headings]
    own, tensor, common = _expected(command)
    assert _flags(sections.get(own_heading, [])) == own
    assert _flags(sections.get(tensor_heading, [])) == tensor
    assert _flags(sections[common_heading]) == common
    if own:  # what is special about the command is listed before what is shared
        assert headings.index(own_heading) < headings.index(common_heading)


def test_the_headings_split_for_real():
    # The check above can fail: linear's --seed is shared, expr's --var is its own.
    linear = _sections(_help("linear"))
    assert "--seed" in _flags(linear["Tensor options"]) and "Options" not in linear
    expr = _sections(_help("expr"))
    assert "--var" in _flags(expr["Options"]) and "--var" not in _flags(expr["Common options"])
    assert "--format" in _flags(expr["Common options"]) and "--format" not in _flags(
        expr["Options"]
    )


def test_root_help_shows_first_commands_then_commands_then_options():
    text = _help()
    headings = [h for h in _sections(text) if h]
    assert headings == ["Examples", "Commands", "Options"]
    listed = {line.split()[0] for line in _sections(text)["Commands"] if line[2:3].isalpha()}
    assert listed == set(COMMANDS)


# Examples ------------------------------------------------------------------------


def _examples(text: str) -> list[str]:
    sections = _sections(text)
    return [line.strip() for line in sections.get("Examples", sections.get("Ví dụ", []))]


ALL_EXAMPLES = sorted({e for c in [None, *COMMANDS] for e in _examples(_help(*([c] if c else [])))})


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_one_to_five_examples_that_fit_80_columns(command):
    examples = _examples(_help(*([command] if command else [])))
    assert 1 <= len(examples) <= (5 if command is None else 3)
    for example in examples:
        assert len(example) + 2 <= 80, example  # never wrapped: it pastes as it stands
        assert command is None or f"agrad {command}" in example
    assert _examples(_help(*([command] if command else []), lang="vi")) == examples


def _pipeline(example: str) -> list[list[str]]:
    """The example's commands, split at `|` outside quotes (as bash does)."""
    lexer = shlex.shlex(example, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token == "|":
            commands.append([])
        else:
            commands[-1].append(token)
    return commands


def _jq(value: Any, program: str) -> list[Any]:
    """jq's result for the filters the examples use: paths (.a.b, .a[0], .a[-2],
    .a[]) and object construction ({a, b}); an unknown filter fails the test."""
    if program.startswith("{") and program.endswith("}"):
        keys = [key.strip() for key in program[1:-1].split(",")]
        assert all(key in value for key in keys), (keys, list(value))
        return [{key: value[key] for key in keys}]
    assert program.startswith("."), program
    values = [value]
    for name, index in re.findall(r"\.(\w+)|\[(-?\d*)\]", program):
        step: list[Any] = []
        for current in values:
            if name:
                assert isinstance(current, dict) and name in current, (name, program)
                step.append(current[name])
            elif index == "":
                step.extend(current)
            else:
                step.append(current[int(index)])
        values = step
    assert re.fullmatch(r"(?:\.\w+|\[-?\d*\])+|\.", program), f"unsupported filter {program}"
    return values


def _stdin_of(command: list[str]) -> str:
    assert command[0] == "printf", command
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("example", ALL_EXAMPLES)
def test_every_example_in_help_runs_and_its_jq_filter_finds_values(example, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples name examples/*.py from the repository root
    commands = _pipeline(example)
    stdin = None
    if commands[0][0] != "agrad":
        stdin = _stdin_of(commands.pop(0))
    agrad, *rest = commands
    args = agrad[1:]
    result = CliRunner().invoke(app, args, input=stdin, env={"COLUMNS": "80", "AGRAD_LANG": "en"})
    # 3: a check that fails on purpose (gradcheck's factor bug, inspect --fail-on).
    failing = args[0] == "gradcheck" or "--fail-on" in args
    assert result.exit_code in ((0, 3) if failing else (0,)), result.output
    assert result.stdout.strip(), example
    for command in rest:
        assert command[0] == "jq", example
        program = command[-1]
        for line in result.stdout.splitlines():
            found = _jq(json.loads(line), program)
            assert found and all(v is not None for v in found), (example, found)


def test_the_jq_check_can_fail():
    document = {"gradients": [{"value": 1.0}], "steps": [{"grad": 2}, {"grad": 3}]}
    assert _jq(document, ".gradients[0].value") == [1.0]
    assert _jq(document, ".steps[-2].grad") == [2]
    assert _jq(document, ".steps[].grad") == [2, 3]
    with pytest.raises(AssertionError):
        _jq(document, ".gradient[0].value")
    with pytest.raises(AssertionError):
        _jq(document, ".steps | length")


def test_registry_commands_all_have_examples():
    assert all(scenario(name).examples for name in REGISTRY)


def test_saved_help_says_what_the_json_does(agrad):
    # --saved's help says the JSON carries saved_tensors only with it: run both.
    assert "(left out without it)" in _help("linear")
    plain = json.loads(agrad("linear", "--json").stdout)["graph"]["nodes"]
    saved = json.loads(agrad("linear", "--json", "--saved").stdout)["graph"]["nodes"]
    assert not any("saved_tensors" in node for node in plain)
    assert all("saved_tensors" in node for node in saved)


def test_a_command_without_a_graph_lists_only_what_it_takes(agrad):
    # gradcheck draws no graph: its help offers table|json and no --saved or --max-nodes,
    # and the options it lists are the ones it accepts.
    text = _help("gradcheck")
    assert "[table|json]" in text and "mermaid" not in text and "FILE.svg or" not in text
    flags = _flags(_sections(text)["Common options"])
    assert "--saved" not in flags and "--max-nodes" not in flags
    target = "examples/gradcheck_ok.py:build"
    for flag in ("--saved", "--max-nodes"):
        result = agrad("gradcheck", target, flag, *(["3"] if flag == "--max-nodes" else []))
        assert result.exit_code == 2 and "No such option" in result.stderr
    refused = agrad("gradcheck", target, "--format", "dot")
    assert refused.exit_code == 2 and "draws no backward graph" in refused.stderr
    assert agrad("gradcheck", target, "--format", "json").exit_code == 0


# Help under hostile streams: written as agrad writes every human text (subprocesses).


def _agrad_process(*args: str, env: dict[str, str], stdout: Any) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "autograd_cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "80", **env},
        check=False,
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
@pytest.mark.parametrize("args", [["--help"], ["linear", "--help", "--lang", "vi"], []])
def test_help_on_a_full_disk_is_one_line_exit_1(args):
    with open("/dev/full", "wb") as full:
        result = _agrad_process(*args, env={}, stdout=full)
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    (line,) = stderr.splitlines()  # one line, in the language asked for
    assert line.startswith("agrad: error: ") and line.endswith("stdout: No space left on device")


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "ascii"])
def test_help_in_a_narrow_encoding_is_spelled_in_it(encoding):
    result = _agrad_process(
        "jvp", "--help", "--lang", "vi", env={"PYTHONIOENCODING": encoding}, stdout=subprocess.PIPE
    )
    assert result.returncode == 0 and result.stderr == b""
    text = result.stdout.decode(encoding)  # every byte is of that encoding
    assert text.startswith(
        "Cách dùng: agrad jvp" if encoding != "ascii" else "Cach dung: agrad jvp"
    )
    assert "agrad jvp --repeat 3" in text
