"""Every kind of usage error, in both languages: one line, exit 2, nothing on stdout.

The messages are said from the exception's fields (its kind, option name,
possibilities, parameter), never by reading Click's English: the expected lines
here are written out whole, and a kind agrad does not know keeps Click's words.
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer

from autograd_cli import usage_errors
from autograd_cli.cli import app
from autograd_cli.errors import ExitCode
from autograd_cli.i18n import speaking
from autograd_cli.usage_errors import usage_message

# Every command, in the order `agrad --help` lists them.
COMMANDS = ", ".join(typer.main.get_command(app).list_commands(None))  # type: ignore[attr-defined]
SEED_RANGE = "-9223372036854775808"

# (arguments, English line, Vietnamese line), each line after "agrad: error: ".
CASES = {
    "no such option": (
        ["linear", "--bogus"],
        "No such option: --bogus. See 'agrad linear --help'.",
        "Không có tùy chọn: --bogus. Xem 'agrad linear --help'.",
    ),
    "no such option, with a suggestion": (
        ["linear", "--colr", "never"],
        "No such option: --colr (Possible options: --color). See 'agrad linear --help'.",
        "Không có tùy chọn: --colr (các tùy chọn gần giống: --color). Xem 'agrad linear --help'.",
    ),
    "no such option, two suggestions sorted": (
        ["linear", "--h"],
        "No such option: --h (Possible options: --check, --help). See 'agrad linear --help'.",
        "Không có tùy chọn: --h (các tùy chọn gần giống: --check, --help). "
        "Xem 'agrad linear --help'.",
    ),
    "no such option before the command": (
        ["--bogus", "linear"],
        "No such option: --bogus. See 'agrad --help'.",
        "Không có tùy chọn: --bogus. Xem 'agrad --help'.",
    ),
    "no such option where a command goes": (
        ["--", "--bogus"],
        "No such option: --bogus. See 'agrad --help'.",
        "Không có tùy chọn: --bogus. Xem 'agrad --help'.",
    ),
    "option requires an argument": (
        ["linear", "--seed"],
        "Option '--seed' requires an argument. See 'agrad linear --help'.",
        "Tùy chọn '--seed' cần một đối số. Xem 'agrad linear --help'.",
    ),
    "short option requires an argument": (
        ["linear", "-o"],
        "Option '-o' requires an argument. See 'agrad linear --help'.",
        "Tùy chọn '-o' cần một đối số. Xem 'agrad linear --help'.",
    ),
    "flag given a value": (
        ["linear", "--json=1"],
        "Option '--json' does not take a value. See 'agrad linear --help'.",
        "Tùy chọn '--json' không nhận giá trị. Xem 'agrad linear --help'.",
    ),
    "missing argument": (
        ["inspect"],
        "Missing argument 'TARGET'. See 'agrad inspect --help'.",
        "Thiếu đối số 'TARGET'. Xem 'agrad inspect --help'.",
    ),
    "bad value from agrad's parser": (
        ["linear", "--seed", "abc"],
        "Invalid value for '--seed': 'abc' is not an integer; allowed: an integer from "
        f"{SEED_RANGE} to 18446744073709551615 (what torch.manual_seed accepts). "
        "See 'agrad linear --help'.",
        "Giá trị không hợp lệ cho '--seed': 'abc' không phải số nguyên; được phép: một số "
        f"nguyên từ {SEED_RANGE} đến 18446744073709551615 (giá trị torch.manual_seed chấp "
        "nhận). Xem 'agrad linear --help'.",
    ),
    "bad choice from agrad's parser": (
        ["linear", "--color", "rainbow"],
        "Invalid value for '--color': 'rainbow' is not one of: auto, always, never. "
        "See 'agrad linear --help'.",
        "Giá trị không hợp lệ cho '--color': 'rainbow' không phải một trong: auto, always, "
        "never. Xem 'agrad linear --help'.",
    ),
    "unknown command with a suggestion": (
        ["lineer"],
        f"No such command 'lineer' (did you mean 'linear'?); commands: {COMMANDS}. "
        "See 'agrad --help'.",
        f"Không có lệnh 'lineer' (có phải ý bạn là 'linear'?); các lệnh: {COMMANDS}. "
        "Xem 'agrad --help'.",
    ),
    "unknown command without a suggestion": (
        ["xyzzy"],
        f"No such command 'xyzzy'; commands: {COMMANDS}. See 'agrad --help'.",
        f"Không có lệnh 'xyzzy'; các lệnh: {COMMANDS}. Xem 'agrad --help'.",
    ),
    "unknown command with a control character": (
        ["lin\x1bear"],
        f"No such command 'lin\\x1bear' (did you mean 'linear'?); commands: {COMMANDS}. "
        "See 'agrad --help'.",
        f"Không có lệnh 'lin\\x1bear' (có phải ý bạn là 'linear'?); các lệnh: {COMMANDS}. "
        "Xem 'agrad --help'.",
    ),
    "one extra argument": (
        ["linear", "extra"],
        "Got an unexpected extra argument (extra). See 'agrad linear --help'.",
        "Có đối số thừa ngoài dự kiến (extra). Xem 'agrad linear --help'.",
    ),
    "extra arguments": (
        ["linear", "extra", "more"],
        "Got unexpected extra arguments (extra more). See 'agrad linear --help'.",
        "Có đối số thừa ngoài dự kiến (extra more). Xem 'agrad linear --help'.",
    ),
    # A plain UsageError (Typer's own, through gettext) is a kind agrad does not
    # say again: its message stays as raised, with the pointer to --help.
    "fallback: missing command": (
        ["--lang", "{lang}", "--lang", "{lang}"],
        "Missing command. See 'agrad --help'.",
        "Thiếu lệnh. Xem 'agrad --help'.",
    ),
}


def _one_error_line(result) -> str:
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert result.stdout == ""
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: ")
    return line.removeprefix("agrad: error: ")


@pytest.mark.parametrize("kind", list(CASES))
def test_each_usage_error_in_english_and_vietnamese(agrad, kind):
    args, english, vietnamese = CASES[kind]
    said_en, said_vi = (
        _one_error_line(agrad(*(a.replace("{lang}", lang) for a in args), env={"AGRAD_LANG": lang}))
        for lang in ("en", "vi")
    )
    assert said_en == english
    assert said_vi == vietnamese
    assert said_vi != said_en


def test_the_language_flag_after_the_mistake_still_counts(agrad):
    said = _one_error_line(agrad("linear", "--json=1", "--lang", "vi"))
    assert said == "Tùy chọn '--json' không nhận giá trị. Xem 'agrad linear --help'."


# Exceptions built here by hand, named as Click names its kinds: the message is
# chosen by the class's name and the fields, whatever the exception's text says.
class NoSuchOption(typer.TyperException):
    def __init__(self, option_name: str, possibilities: list[str], ctx: object) -> None:
        super().__init__("ignored text")
        self.option_name, self.possibilities, self.ctx = option_name, possibilities, ctx


class MissingParameter(typer.TyperException):
    def __init__(self, param: object, ctx: object) -> None:
        super().__init__("")
        self.param, self.ctx = param, ctx
        self.param_hint = self.param_type = None


class BadOptionUsage(typer.TyperException):
    def __init__(self, option_name: str, ctx: object) -> None:
        super().__init__("ignored text")
        self.option_name, self.ctx = option_name, ctx


class SomeNewUsageError(typer.TyperException):
    """A kind agrad does not know, whose English reads like one it does."""

    def __init__(self, message: str, ctx: object) -> None:
        super().__init__(message)
        self.ctx = ctx


def _option(*opts: str, nargs: int = 1, is_flag: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        param_type_name="option",
        opts=list(opts),
        secondary_opts=[],
        nargs=nargs,
        is_flag=is_flag,
        count=False,
        metavar=None,
        name=opts[-1].lstrip("-"),
        type_descriptor=SimpleNamespace(is_choice=False),
    )


def _context(*params: SimpleNamespace) -> SimpleNamespace:
    command = SimpleNamespace(get_params=lambda ctx: list(params))
    return SimpleNamespace(command=command, command_path="agrad demo")


def _said(e: typer.TyperException, language: str) -> str:
    with speaking(language):
        return usage_message(e)


def test_the_message_comes_from_the_fields_not_the_text():
    e = NoSuchOption("--colr", ["--color", "--check"], _context())
    assert _said(e, "en") == (
        "No such option: --colr (Possible options: --check, --color). See 'agrad demo --help'."
    )
    assert _said(e, "vi") == (
        "Không có tùy chọn: --colr (các tùy chọn gần giống: --check, --color). "
        "Xem 'agrad demo --help'."
    )


def test_an_option_taking_several_values_says_how_many():
    e = BadOptionUsage("--size", _context(_option("--size", nargs=2)))
    assert _said(e, "en") == "Option '--size' requires 2 arguments. See 'agrad demo --help'."
    assert _said(e, "vi") == "Tùy chọn '--size' cần 2 đối số. Xem 'agrad demo --help'."


def test_a_missing_option_is_named_by_all_its_names():
    e = MissingParameter(_option("-n", "--nodes"), _context())
    assert _said(e, "en") == "Missing option '-n' / '--nodes'. See 'agrad demo --help'."
    assert _said(e, "vi") == "Thiếu tùy chọn '-n' / '--nodes'. Xem 'agrad demo --help'."


def test_bad_option_usage_for_an_option_the_command_lacks_keeps_clicks_words():
    e = BadOptionUsage("--gone", _context(_option("--seed")))
    assert _said(e, "vi") == "ignored text. Xem 'agrad demo --help'."


@pytest.mark.parametrize(
    "text",
    [
        "No such option: --zz",
        "Option '--zz' requires an argument.",
        "Invalid value: 3",
        "Missing argument 'X'.",
        "Thing failed. Did you mean 'linear'?",
    ],
)
def test_a_kind_agrad_does_not_know_keeps_clicks_words(text):
    """Read as English text, these would be said again in Vietnamese; they are not."""
    e = SomeNewUsageError(text, _context())
    assert _said(e, "vi") == text.rstrip(".") + ". Xem 'agrad demo --help'."
    assert _said(e, "en") == text.rstrip(".") + ". See 'agrad demo --help'."


def test_a_kind_agrad_does_not_know_without_a_context_is_its_message():
    assert _said(SomeNewUsageError("Something odd.", None), "vi") == "Something odd."


def test_usage_errors_never_read_clicks_english():
    """No regular expressions and no Click import: the kind and fields decide."""
    source = Path(usage_errors.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert "re" not in imported
    assert not any(name in imported for name in ("click", "typer._click", "fnmatch"))
    assert "_click" not in source
    assert "CLICK_MESSAGES" not in source and "format_message()" in source


@pytest.mark.parametrize(
    ("args", "english"),
    [
        (["--version=1"], "Option '--version' does not take a value. See 'agrad --help'."),
        (["--lang"], "Option '--lang' requires an argument. See 'agrad --help'."),
    ],
)
def test_the_root_options_errors_name_the_root_help(agrad, args, english):
    """As a command's: the option's kind from its declaration, then where to look."""
    result = agrad(*args)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert result.stderr == f"agrad: error: {english}\n"
