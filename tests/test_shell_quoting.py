"""Every agrad command line shown to a user pastes into bash as it is.

The code blocks and inline code of the README and of every page under docs/ (the
hand-written ones and the generated reference), and every --help text (English and
Vietnamese), are scanned for agrad command lines; each must pass `bash -n`, so an
unquoted `--var x=eye(4,5)` (a bash syntax error) cannot come back.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from autograd_cli.cli import app

ROOT = Path(__file__).parent.parent
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SUBCOMMANDS = sorted(typer.main.get_command(app).list_commands(None))  # type: ignore[attr-defined]
START = re.compile(r"\bagrad (?:" + "|".join(SUBCOMMANDS) + r")\b")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def _until_delimiter(text: str) -> str:
    """The command at the start of `text`: up to the first `; `, `, `, `: `, ` (` or
    sentence end that is outside quotes - where prose takes over again."""
    quote = ""
    for index, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
            continue
        rest = text[index : index + 2]
        if rest in ("; ", ", ", ": ", " (") or ch == "\n":
            return text[:index]
        if ch == "." and (index + 1 == len(text) or text[index + 1] == " "):
            return text[:index]
    return text


def _commands_in_prose(text: str) -> list[str]:
    flat = " ".join(text.split())  # help texts are wrapped; a command may span lines
    return [_until_delimiter(flat[m.start() :]) for m in START.finditer(flat)]


def _page_snippets(text: str) -> list[str]:
    snippets: list[str] = []
    fences = re.compile(r"```(\w*)\n(.*?)```", re.S)
    for kind, body in fences.findall(text):
        if kind == "sh":
            snippets.append(body)  # a whole shell block
        else:
            snippets += [line[2:] for line in body.splitlines() if line.startswith("$ agrad")]
    prose = fences.sub("", text)
    for span in re.findall(r"`([^`\n]+)`", prose):
        if START.search(span):
            snippets.append(span.replace("\\|", "|"))  # Markdown's escape in tables
    return snippets


def _doc_snippets() -> dict[str, list[str]]:
    return {
        page.relative_to(ROOT).as_posix(): _page_snippets(page.read_text(encoding="utf-8"))
        for page in DOC_PAGES
    }


def _help_texts() -> list[str]:
    from typer.testing import CliRunner

    texts = []
    for lang in ("en", "vi"):
        for command in ([], *([c] for c in SUBCOMMANDS)):
            result = CliRunner().invoke(
                app, [*command, "--help"], env={"AGRAD_LANG": lang, "COLUMNS": "80"}
            )
            assert result.exit_code == 0, result.output
            texts.append(result.stdout)
    return texts


def _bash_syntax_error(snippet: str) -> str:
    result = subprocess.run(["bash", "-n", "-c", snippet], capture_output=True, text=True)
    return result.stderr.strip() if result.returncode else ""


def test_doc_commands_paste_into_bash():
    pages = _doc_snippets()
    assert len(pages["README.md"]) >= 5  # the first five commands, at least
    assert len(pages["docs/guide.md"]) > 20  # the scan found the guide's commands
    failures = {
        (page, s): err
        for page, snippets in pages.items()
        for s in snippets
        if (err := _bash_syntax_error(s))
    }
    assert failures == {}


def _help_commands(text: str) -> list[str]:
    """The Examples section's lines, each a whole command line as it stands, and the
    commands in the prose around it."""
    section = re.compile(r"^(?:Examples|Ví dụ):\n((?:  .*\n)+)", re.M)
    examples = [line.strip() for block in section.findall(text) for line in block.splitlines()]
    return examples + _commands_in_prose(section.sub("", text))


def test_help_commands_paste_into_bash():
    commands = [c for text in _help_texts() for c in _help_commands(text)]
    assert len(commands) > 10
    failures = {c: err for c in commands if (err := _bash_syntax_error(c))}
    assert failures == {}


def test_the_scan_catches_an_unquoted_parenthesis():
    # The check itself can fail: the README's old line is a bash syntax error.
    (command,) = _commands_in_prose('Example: agrad expr "(x + 1).pow(2)" --var x=eye(4,5).')
    assert command == 'agrad expr "(x + 1).pow(2)" --var x=eye(4,5)'
    assert _bash_syntax_error(command)
    assert not _bash_syntax_error("agrad expr \"(x + 1).pow(2)\" --var 'x=eye(4,5)'")
