"""The README stays true: its example is real output, its test command is CI's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_example_lines_are_real_output_in_order(agrad):
    examples = re.findall(
        r"<!-- example:(.*?) -->\n```(\w+)\n(.*?)```\n<!-- /example -->", README, re.S
    )
    assert len(examples) >= 2
    for args, kind, block in examples:
        result = agrad(*shlex.split(args))
        if kind == "mermaid":  # a whole document: it must be exactly what agrad prints
            assert result.stdout == block
            continue
        assert result.exit_code == 0
        actual = [line.rstrip() for line in result.stdout.splitlines()]
        position = 0
        for line in (raw for raw in block.splitlines() if raw.strip()):
            assert line in actual[position:], f"README line not in output (in order): {line!r}"
            position = actual.index(line, position) + 1


def test_readme_has_exactly_the_two_setup_commands_and_ci_runs_the_test_one():
    blocks = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    assert len(blocks) == 2
    run, test = blocks
    assert run.endswith("agrad linear --seed 0")
    assert "-r requirements/torch-cpu.txt" in run and "-r requirements/torch-cpu.txt" in test
    assert "'.[test]'" in test and test.endswith("python -m pytest")
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_documented_caps_match_the_cli():
    from autograd_cli import options

    assert f"| `--repeat` | 1 to {options.MAX_REPEAT} |" in README
    assert f"| `--precision` | 0 to {options.MAX_PRECISION} |" in README


def test_ci_installs_nothing_the_readme_does_not_ask_for():
    # CI must see what a fresh machine sees: no apt, no Graphviz, no extra pip install.
    lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    installs = [line for line in lines if re.search(r"\b(apt|apt-get|brew|pip|conda)\b", line)]
    _, test = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    assert installs == [test]
