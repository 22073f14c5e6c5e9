"""stdout and stderr as the caller left them (issue 14, items 9 to 12): a pipe closed
early, a closed stream, an encoding that cannot show the output, a COLUMNS that is
not a width. Real processes where the interpreter's start-up matters (its streams,
its encoding); the in-process runner where an environment variable is enough."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from autograd_cli.errors import ExitCode

AGRAD = [sys.executable, "-m", "autograd_cli"]
# 1.6 MB of JSON, 350 kB of DOT, 660 kB of tree: far more than a pipe holds (64 kB
# on Linux), so what the reader leaves unread cannot all fit: a write must fail.
LARGE = ["chain", "--length", "1500"]


def _env(**changes: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"AGRAD_LANG", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONIOENCODING", "COLUMNS"}
    }
    env.update(NO_COLOR="1", PYTHONUTF8="1")
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(args: list[str], *, shell_redirect: str = "", **env: str | None):
    """`agrad ARGS` in a fresh process; `shell_redirect` (e.g. `>&-`) applied by sh."""
    command = [*AGRAD, *args]
    if shell_redirect:
        command = ["sh", "-c", f'exec "$@" {shell_redirect}', "sh", *command]
    return subprocess.run(command, capture_output=True, env=_env(**env), timeout=300)


@functools.cache
def _utf8_run(*args: str) -> subprocess.CompletedProcess[bytes]:
    """`agrad ARGS` under UTF-8: what the other encodings are compared with (once)."""
    return _run(list(args))


# Item 9: the reader of a pipe leaves after 10 bytes, as `| head -c 10` does.


@pytest.mark.parametrize("unbuffered", ["1", None], ids=["PYTHONUNBUFFERED=1", "buffered"])
@pytest.mark.parametrize(
    "view", [["--json"], ["--format", "dot"], ["--max-nodes", "5000"]], ids=["json", "dot", "tree"]
)
def test_a_large_output_into_a_pipe_closed_early_exits_1_quietly(view, unbuffered):
    process = subprocess.Popen(
        [*AGRAD, *LARGE, *view],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(PYTHONUNBUFFERED=unbuffered),
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.read(10)
    process.stdout.close()
    err = process.stderr.read()
    code = process.wait(timeout=300)
    assert len(first) == 10
    assert code == ExitCode.RUNTIME, err.decode()
    assert err == b""


def test_a_large_output_into_a_pipe_read_to_the_end_is_whole():
    """The loop that writes until all bytes are out loses none on the way."""
    result = _run([*LARGE, "--json"], PYTHONUNBUFFERED="1")
    assert result.returncode == 0, result.stderr
    graph = json.loads(result.stdout)["graph"]
    assert graph["node_count"] == len(graph["nodes"]) == 3 * 1500 + 4


# Item 10: a closed stdout or stderr (`>&-`, `2>&-`).


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["linear", "--seed", "x"], ExitCode.USAGE, "--seed"),
        (["linear"], ExitCode.RUNTIME, "stdout is closed"),
        (["linear", "--json"], ExitCode.RUNTIME, "stdout is closed"),
        (["--help"], ExitCode.RUNTIME, "stdout is closed"),
        (["--version"], ExitCode.RUNTIME, "stdout is closed"),
    ],
)
def test_a_closed_stdout_gives_the_right_exit_code_and_one_line(args, code, words):
    result = _run(args, shell_redirect=">&-")
    err = result.stderr.decode()
    assert result.returncode == code, err
    assert len(err.splitlines()) == 1 and err.startswith("agrad: error: "), err
    assert words in err
    assert "Traceback" not in err


def test_a_closed_stdout_is_no_error_when_the_output_goes_to_a_file(tmp_path: Path):
    target = tmp_path / "out.json"
    result = _run(["linear", "--json", "-o", str(target)], shell_redirect=">&-")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert json.loads(target.read_text(encoding="utf-8"))["command"] == "linear"


@pytest.mark.parametrize(
    ("args", "code"),
    [(["linear", "--seed", "x"], ExitCode.USAGE), (["linear", "--nope"], ExitCode.USAGE)],
)
def test_a_closed_stderr_keeps_error_lines_off_stdout(args, code):
    result = _run(args, shell_redirect="2>&-")
    assert result.returncode == code
    assert result.stdout == b""


def test_a_closed_stderr_leaves_the_output_whole():
    result = _run(["linear", "--json"], shell_redirect="2>&-")
    assert result.returncode == 0
    assert json.loads(result.stdout)["command"] == "linear"


def test_both_closed_still_give_the_exit_code():
    assert _run(["linear", "--seed", "x"], shell_redirect=">&- 2>&-").returncode == ExitCode.USAGE
    assert _run(["linear"], shell_redirect=">&- 2>&-").returncode == ExitCode.RUNTIME


# Item 11: a stdout whose encoding cannot show the output.

NOT_UTF8 = [
    {"PYTHONIOENCODING": "ascii"},
    {"LC_ALL": "C", "PYTHONUTF8": "0"},
]
# The test's own ASCII spelling, to compare with: accents off, then a few signs.
SIGNS = {"·": ".", "đ": "d", "Đ": "D", "→": "->", "×": "x", "…": "...", "—": "-", "–": "-"}


def _ascii_spelling(text: str) -> str:
    out = []
    for char in text:
        if char in SIGNS:
            out.append(SIGNS[char])
        elif char.isascii():
            out.append(char)
        else:
            bare = "".join(c for c in unicodedata.normalize("NFKD", char) if c.isascii())
            out.append(bare or "?")
    return "".join(out)


@pytest.mark.parametrize("env", NOT_UTF8, ids=["PYTHONIOENCODING=ascii", "LC_ALL=C"])
@pytest.mark.parametrize("lang", ["en", "vi"])
@pytest.mark.parametrize("args", [["linear"], ["chain", "--length", "3"]], ids=["linear", "tree"])
def test_a_human_view_falls_back_to_ascii(args, lang, env):
    utf8 = _utf8_run(*args, "--lang", lang)
    assert utf8.returncode == 0, utf8.stderr
    result = _run([*args, "--lang", lang], **env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    text = result.stdout.decode("ascii")  # ASCII, every byte
    # The words are the UTF-8 view's, spelled in ASCII (boxes and guides aside).
    words = set(re.findall(r"\w+", _ascii_spelling(utf8.stdout.decode("utf-8")), re.ASCII))
    assert words and words <= set(re.findall(r"\w+", text, re.ASCII))


@pytest.mark.parametrize("env", NOT_UTF8, ids=["PYTHONIOENCODING=ascii", "LC_ALL=C"])
@pytest.mark.parametrize("fmt", ["json", "dot", "mermaid"])
def test_machine_output_is_utf8_and_whole_whatever_the_encoding(fmt, env):
    args = ["linear", "--lang", "vi", "--format", fmt]
    utf8 = _utf8_run(*args)
    result = _run(args, **env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout == utf8.stdout
    if fmt == "json":
        json.loads(result.stdout.decode("utf-8"))


@pytest.mark.parametrize("env", NOT_UTF8, ids=["PYTHONIOENCODING=ascii", "LC_ALL=C"])
def test_an_error_line_falls_back_to_ascii(env):
    utf8 = _utf8_run("linear", "--lang", "vi", "--seed", "x")
    result = _run(["linear", "--lang", "vi", "--seed", "x"], **env)
    assert result.returncode == utf8.returncode == ExitCode.USAGE
    assert result.stderr.decode("ascii") == _ascii_spelling(utf8.stderr.decode("utf-8"))


# Item 12: COLUMNS that is not a width.


@pytest.mark.parametrize("columns", ["0", "-5", "abc", "", " ", "1e3", "٨٠"])
def test_a_columns_that_is_not_a_width_falls_back(agrad, columns, tmp_path: Path):
    unset = agrad("linear", env={"COLUMNS": None})
    result = agrad("linear", env={"COLUMNS": columns})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == unset.stdout != ""


@pytest.mark.parametrize("columns", ["0", "-5", "abc"])
@pytest.mark.parametrize("suffix", [".txt", ".html", ".svg"])
def test_an_export_with_a_columns_that_is_not_a_width_falls_back(
    agrad, columns, suffix, tmp_path: Path
):
    unset, bad = tmp_path / f"unset{suffix}", tmp_path / f"bad{suffix}"
    assert agrad("linear", "--export", str(unset), env={"COLUMNS": None}).exit_code == 0
    result = agrad("linear", "--export", str(bad), env={"COLUMNS": columns})
    assert result.exit_code == 0, result.stderr
    assert bad.read_text(encoding="utf-8") == unset.read_text(encoding="utf-8")
    assert bad.stat().st_size > 1000


@pytest.mark.parametrize("columns", ["0", "abc"])
def test_an_output_file_with_a_columns_that_is_not_a_width_falls_back(
    agrad, columns, tmp_path: Path
):
    unset, bad = tmp_path / "unset.txt", tmp_path / "bad.txt"
    assert agrad("linear", "-o", str(unset), env={"COLUMNS": None}).exit_code == 0
    assert agrad("linear", "-o", str(bad), env={"COLUMNS": columns}).exit_code == 0
    assert bad.read_text(encoding="utf-8") == unset.read_text(encoding="utf-8") != ""
