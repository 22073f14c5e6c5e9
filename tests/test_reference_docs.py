"""docs/reference/ is what `python tools/reference.py` generates from the CLI now, and
the limits it states are the ones the CLI enforces (run here, not read back)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SPEC = importlib.util.spec_from_file_location("reference", ROOT / "tools" / "reference.py")
reference = importlib.util.module_from_spec(SPEC)  # type: ignore[arg-type]
sys.modules["reference"] = reference
SPEC.loader.exec_module(reference)  # type: ignore[union-attr]
LIMITS = (ROOT / "docs" / "reference" / "limits.md").read_text(encoding="utf-8")


def test_generated_pages_are_current():
    stale = reference.stale()
    assert stale == [], f"stale pages {stale}: run `python tools/reference.py`"


def test_the_staleness_check_can_fail(tmp_path, monkeypatch):
    monkeypatch.setattr(reference, "OUT", tmp_path)
    pages = reference.pages()
    for name, text in pages.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert reference.stale() == []
    (tmp_path / "limits.md").write_text(pages["limits.md"].replace("1 to 1000", "1 to 999"))
    (tmp_path / "grammar.md").unlink()
    (tmp_path / "old.md").write_text("a page nothing generates\n")
    assert sorted(reference.stale()) == ["grammar.md", "limits.md", "old.md"]


def test_every_exit_code_has_its_meaning_on_the_page():
    from autograd_cli.errors import ExitCode

    assert set(reference.EXIT_MEANINGS) == {code.name for code in ExitCode}
    page = (ROOT / "docs" / "reference" / "exit-codes.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert f"| {code.value} | `{code.name}` |" in page


def test_every_command_and_its_help_is_on_the_commands_page():
    from typer.testing import CliRunner

    from autograd_cli.cli import app

    page = (ROOT / "docs" / "reference" / "commands.md").read_text(encoding="utf-8")
    for name, _line in reference._commands():
        assert f"\n## agrad {name}\n" in page
        env = {"COLUMNS": "80", "AGRAD_LANG": "en", "LC_ALL": None}
        help_text = CliRunner().invoke(app, [name, "--help"], env=env).stdout
        assert help_text.rstrip() in page


def _range(option: str) -> tuple[int, int]:
    """The range the limits page states for `option`: "| `--repeat` | 1 to 1000 |"."""
    match = re.search(rf"\| `{re.escape(option)}`[^|]*\| ([\d,]+) to ([\d,]+) \|", LIMITS)
    assert match, f"{option} is not on the limits page"
    low, high = (int(part.replace(",", "")) for part in match.groups())
    return low, high


# (option, a command line taking it at N): the cheapest command that takes each.
RANGED = {
    "--repeat": ("jvp", "--json", "--repeat"),
    "--precision": ("linear", "--json", "--precision"),
    "--hidden": ("chain", "--length", "1", "--json", "--hidden"),
    "--max-nodes": ("linear", "--json", "--max-nodes"),
    "expr --order": ("expr", "(x * x).sum()", "--var", "x=ones(2)", "--json", "--order"),
}


@pytest.mark.parametrize("option", list(RANGED))
def test_the_ranges_on_the_limits_page_are_what_the_cli_accepts(agrad, option):
    low, high = _range(option)
    *args, flag = RANGED[option]
    for accepted in (low, high):
        result = agrad(*args, flag, str(accepted))
        assert result.exit_code == 0, (option, accepted, result.stderr)
    for refused in (low - 1, high + 1):
        result = agrad(*args, flag, str(refused))
        assert result.exit_code == 2 and result.stdout == "", (option, refused)
        assert flag in result.stderr and str(high) in result.stderr.replace(",", "")


def test_the_chain_length_cap_on_the_page_is_refused_one_above(agrad):
    _low, high = _range("--length")
    result = agrad("chain", "--length", str(high + 1), "--json")
    assert result.exit_code == 2 and "--length" in result.stderr


def test_the_seed_count_on_the_page_is_the_sweeps_cap(agrad):
    cap = int(re.search(r"at most ([\d,]+) seeds", LIMITS).group(1).replace(",", ""))
    result = agrad("linear", "--seed", f"0..{cap}", "--json")  # cap + 1 seeds
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{cap:,}" in result.stderr or str(cap) in result.stderr
