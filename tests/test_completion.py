"""Shell completion, driven as the shells drive it: a subprocess with Typer's
completion variables set (`_AGRAD_COMPLETE=complete_bash` with COMP_WORDS and
COMP_CWORD, `complete_zsh` / `complete_fish` with _TYPER_COMPLETE_ARGS)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_cli.completion import bash_words, one_line

ROOT = Path(__file__).resolve().parents[1]
AGRAD = [sys.executable, "-m", "autograd_cli"]
# What `_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION` turns on: --show-completion and
# --install-completion take the shell's name instead of detecting the running shell.
NAMED_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


def _env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("_AGRAD", "_TYPER", "COMP_", "AGRAD_", "LC_", "LANG"))
    }
    return {**env, **extra}


def _run(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGRAD, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def bash(line: str, cwd: Path = ROOT) -> list[str]:
    """What bash's completion function puts in COMPREPLY for `line` (cursor at its end).

    As bash does, COMP_WORDS is split at spaces and at `:` (COMP_WORDBREAKS), and
    Typer's script joins the words with newlines."""
    words = line.replace(":", " : ").split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    env = _env(_AGRAD_COMPLETE="complete_bash", COMP_WORDS="\n".join(words), COMP_CWORD=str(cword))
    result = _run(env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


def fish(line: str, cwd: Path = ROOT) -> list[str]:
    """The values fish lists for `line` (each `value<TAB>help`)."""
    env = _env(
        _AGRAD_COMPLETE="complete_fish",
        _TYPER_COMPLETE_FISH_ACTION="get-args",
        _TYPER_COMPLETE_ARGS=line,
    )
    result = _run(env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [row.split("\t")[0] for row in result.stdout.splitlines() if row]


def zsh(line: str) -> str:
    env = _env(_AGRAD_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=line)
    result = _run(env)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_a_script_for_each_shell(shell):
    result = _run(_env(**NAMED_SHELL), "--show-completion", shell)
    assert result.returncode == 0, result.stderr
    assert "_AGRAD_COMPLETE" in result.stdout
    assert f"complete_{shell}" in result.stdout
    assert result.stderr == "" or shell == "bash"  # bash's checks its version on stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_variable_prints_the_same_script(shell):
    # Click's way, which Typer keeps: `_AGRAD_COMPLETE=source_zsh agrad`.
    shown = _run(_env(**NAMED_SHELL), "--show-completion", shell)
    sourced = _run(_env(_AGRAD_COMPLETE=f"source_{shell}"))
    assert sourced.returncode == 0, sourced.stderr
    assert sourced.stdout.strip() == shown.stdout.strip()


def test_install_completion_writes_the_bash_script_under_home(tmp_path):
    result = _run(_env(**NAMED_SHELL, HOME=str(tmp_path)), "--install-completion", "bash")
    assert result.returncode == 0, result.stderr
    scripts = list(tmp_path.rglob("*agrad*"))
    assert scripts, result.stdout
    assert "_AGRAD_COMPLETE=complete_bash" in scripts[0].read_text()
    assert scripts[0].name in (tmp_path / ".bashrc").read_text()


def test_root_help_lists_the_completion_options():
    result = _run(_env(), "--help")
    assert result.returncode == 0
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


def test_a_command_name_completes():
    assert bash("agrad li") == ["linear"]
    assert bash("agrad g") == ["gradcheck"]
    assert fish("agrad ch") == ["chain"]
    assert '"linear"' in zsh("agrad li")


def test_every_command_is_offered_after_agrad():
    from autograd_cli.scenarios import REGISTRY

    assert bash("agrad ") == [*REGISTRY, "batch"]
    # --version's callback does not run (nor print, nor import torch) while completing.
    assert bash("agrad --version ") == [*REGISTRY, "batch"]


def test_format_values_complete():
    assert bash("agrad linear --format ") == ["table", "json", "dot", "mermaid"]
    assert bash("agrad jvp -f m") == ["mermaid"]
    assert fish("agrad linear --format ") == ["table", "json", "dot", "mermaid"]


def test_lang_device_dtype_and_color_values_complete():
    from autograd_cli.devices import DEVICES

    assert bash("agrad linear --lang ") == ["en", "vi"]
    assert bash("agrad --lang ") == ["en", "vi"]
    assert bash("agrad linear --device ") == list(DEVICES)
    assert "cpu" in DEVICES
    assert bash("agrad jvp --dtype f") == ["float32", "float64"]
    assert bash("agrad chain --color a") == ["auto", "always"]


def test_option_names_complete():
    assert bash("agrad expr --re") == ["--repeat", "--retain-grad"]
    assert bash("agrad --l") == ["--lang"]
    assert "--install-completion" in bash("agrad --")
    assert fish("agrad linear --pre") == ["--precision"]


def test_a_target_file_completes():
    assert bash("agrad inspect examples/m") == ["examples/mlp.py"]
    assert bash("agrad gradcheck examples/gradcheck_o") == ["examples/gradcheck_ok.py"]
    assert "examples/" in bash("agrad inspect ex")
    assert fish("agrad inspect examples/m") == ["examples/mlp.py"]


def test_a_target_callable_completes_in_each_shell():
    # bash replaces only the text after the last `:` of the word: the names alone.
    assert bash("agrad inspect examples/mlp.py:") == ["build"]
    assert bash("agrad inspect examples/mlp.py:b") == ["build"]
    assert bash("agrad gradcheck examples/gradcheck_ok.py:") == ["MulSin", "build"]
    assert fish("agrad inspect examples/mlp.py:") == ["examples/mlp.py:build"]
    assert fish("agrad gradcheck examples/gradcheck_ok.py:M") == ["examples/gradcheck_ok.py:MulSin"]
    # zsh's _arguments needs the colon escaped.
    assert "examples/mlp.py\\\\:build" in zsh("agrad inspect examples/mlp.py:")


SIDE_EFFECT = """\
from pathlib import Path

Path(__file__).with_name("ran.txt").write_text("imported")


def build():
    return 1


async def later():
    return 2


class Model:
    def method(self):
        return 3


def _helper():
    return 4


value = 5
"""


def test_a_target_file_is_read_not_run(tmp_path):
    (tmp_path / "side.py").write_text(SIDE_EFFECT)
    assert fish("agrad inspect side.py:", cwd=tmp_path) == [
        "side.py:build",
        "side.py:later",
        "side.py:Model",
    ]
    assert fish("agrad inspect side.py:_", cwd=tmp_path) == ["side.py:_helper"]
    assert bash("agrad gradcheck side.py:M", cwd=tmp_path) == ["Model"]
    assert not (tmp_path / "ran.txt").exists()
    # The same code does run when agrad inspects it for real: the check above means something.
    result = _run(_env(), "inspect", "side.py:build", "--json", cwd=tmp_path)
    assert (tmp_path / "ran.txt").read_text() == "imported"
    assert result.returncode == 2  # build returns 1, not a loss


@pytest.mark.parametrize(
    "source",
    ["def build(:\n    pass\n", "\x00def build(): pass\n", b"\xff\xfe def build(): pass\n"],
)
def test_a_target_file_that_does_not_parse_completes_nothing(tmp_path, source):
    path = tmp_path / "broken.py"
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        path.write_text(source)
    assert bash("agrad inspect broken.py:", cwd=tmp_path) == []
    assert fish("agrad inspect broken.py:b", cwd=tmp_path) == []


def test_a_target_under_home_keeps_its_tilde(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "net.py").write_text("def build():\n    return 1\n")
    env = _env(
        HOME=str(tmp_path),
        _AGRAD_COMPLETE="complete_fish",
        _TYPER_COMPLETE_FISH_ACTION="get-args",
    )
    for line, expected in [
        ("agrad inspect ~/mo", "~/models/"),
        ("agrad inspect ~/models/n", "~/models/net.py"),
        ("agrad inspect ~/models/net.py:", "~/models/net.py:build"),
    ]:
        assert _run({**env, "_TYPER_COMPLETE_ARGS": line}).stdout.split() == [expected]


def test_module_targets_and_missing_files_complete_nothing(tmp_path):
    assert fish("agrad inspect os.path:", cwd=tmp_path) == []
    assert fish("agrad inspect missing.py:", cwd=tmp_path) == []
    assert fish("agrad inspect nowhere/m", cwd=tmp_path) == []


PROBE = """
import sys
from autograd_cli.cli import app
try:
    app([])
except SystemExit:
    pass
print("torch" in sys.modules, "rich" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "env",
    [
        {"_AGRAD_COMPLETE": "complete_bash", "COMP_WORDS": "agrad\ninspect\nexamples/mlp.py\n:"},
        {
            "_AGRAD_COMPLETE": "complete_zsh",
            "_TYPER_COMPLETE_ARGS": "agrad inspect examples/mlp.py:",
        },
        {"_AGRAD_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": "agrad li"},
        {"_AGRAD_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "agrad linear --"},
    ],
)
def test_completing_imports_neither_torch_nor_rich(env):
    # examples/mlp.py imports torch: read as a syntax tree, it costs nothing. Help
    # texts are not rendered through Rich (Typer's classes would import it).
    env = _env(COMP_CWORD="3", _TYPER_COMPLETE_FISH_ACTION="get-args", **env)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip()
    assert result.stderr.split() == ["False", "False"]


def test_fish_and_zsh_list_each_candidate_on_one_line():
    env = _env(
        _AGRAD_COMPLETE="complete_fish",
        _TYPER_COMPLETE_FISH_ACTION="get-args",
        _TYPER_COMPLETE_ARGS="agrad linear --",
    )
    rows = _run(env).stdout.splitlines()
    assert len(rows) > 10
    assert all(row.startswith("-") and "\t" in row for row in rows), rows
    seed = next(row for row in rows if row.startswith("--seed\t"))
    # The first sentence of --seed's help, whole: "-9223372036854775808 to 18446744073709551615."
    assert seed.endswith(f"to {2**64 - 1}.")
    zsh_lines = zsh("agrad linear --").splitlines()
    assert all(line.startswith(("_arguments", '"-')) for line in zsh_lines), zsh_lines
    assert '"--lang":"Language of the human text\\\\: en or vi."' in zsh_lines


@pytest.mark.parametrize(
    ("help", "expected"),
    [
        ("One. Two.", "One."),
        (
            "Default: the locale (LANG, e.g. vi_VN.UTF-8), else en. JSON never changes.",
            "Default: the locale (LANG, e.g. vi_VN.UTF-8), else en.",
        ),
        ("wrapped\n  over   lines", "wrapped over lines"),
        ("Một câu. Đây là câu hai.", "Một câu."),
        (None, ""),
    ],
)
def test_one_line_keeps_the_first_sentence_on_one_line(help, expected):
    assert one_line(help) == expected


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        (["agrad", "inspect", "a.py", ":", "b"], 4, (["agrad", "inspect", "a.py:b"], 2, "a.py:")),
        (["agrad", "inspect", "a.py", ":"], 3, (["agrad", "inspect", "a.py:"], 2, "a.py:")),
        (["agrad", "inspect", "a.py", ":"], 4, (["agrad", "inspect", "a.py:"], 2, "a.py:")),
        (
            ["agrad", "linear", "--format", "=", "j"],
            4,
            (["agrad", "linear", "--format=j"], 2, "--format="),
        ),
        (["agrad", "li"], 1, (["agrad", "li"], 1, "")),
        (["agrad", "linear"], 2, (["agrad", "linear", ""], 2, "")),
    ],
)
def test_bash_words_split_at_colons_are_joined_again(words, cword, expected):
    assert bash_words(words, cword) == expected


def test_lang_vi_completes_the_same_values():
    env = {"AGRAD_LANG": "vi"}
    words = "agrad\nlinear\n--format\n"
    result = _run(_env(_AGRAD_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD="3", **env))
    assert result.stdout.split() == ["table", "json", "dot", "mermaid"]


def test_the_help_beside_a_candidate_speaks_agrad_lang():
    line = "agrad li"
    env = _env(
        _AGRAD_COMPLETE="complete_fish",
        _TYPER_COMPLETE_FISH_ACTION="get-args",
        _TYPER_COMPLETE_ARGS=line,
        AGRAD_LANG="vi",
    )
    result = _run(env)
    assert result.returncode == 0, result.stderr
    value, help = result.stdout.rstrip("\n").split("\t")
    assert value == "linear"
    assert help.startswith("Mạng z = x·w + b")
    options = _run({**env, "_TYPER_COMPLETE_ARGS": "agrad linear --lan"}).stdout
    assert options.startswith("--lang\tNgôn ngữ")
