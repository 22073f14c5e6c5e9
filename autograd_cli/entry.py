"""The Click entry point around the Typer app: every outcome becomes an exit code
and, on failure, one `agrad: error: ...` line on stderr.

Also the fast path for option values: see `_DirectCoercion`.
"""

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from autograd_cli.errors import AgradError, ExitCode
from autograd_cli.i18n import (
    N_,
    UnknownLanguage,
    _,
    choose_language,
    language_from_argv,
    ngettext,
    speaking,
)


class _DirectCoercion:
    """Stands in for Typer's pydantic-based coercion of one option.

    Typer 0.29 coerces every option value through pydantic, and importing it costs
    ~150 ms per run: more than all of agrad's own work. agrad's options are either
    flags or have their own `parser=`, so this does the same job directly. Where a
    later Typer lacks the private hook, nothing is replaced and Typer's path runs.
    """

    def __init__(self, parser: Any) -> None:
        self.parser = parser

    def coerce(self, value: Any, *, param: Any, ctx: Any) -> Any:
        # Defaults arrive here too (as declared, e.g. 0 or "table"): parsers take both.
        if self.parser is not None and value is not None:
            return self.parser(value)
        return value


def _with_direct_coercion(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "_runtime_param", False) is not None:
            continue  # already set, or not a Typer parameter
        info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
        parser = getattr(info, "parser", None)
        # Flags arrive as bools and repeated options (--var) as tuples of str: as is.
        if parser is not None or getattr(param, "is_flag", False) or param.multiple:
            param._runtime_param = _DirectCoercion(parser)
    return params


@contextlib.contextmanager
def _translated_help(command: Any, ctx: Any, subcommands: Sequence[Any] = ()) -> Iterator[None]:
    """The command's help, epilog and option help in the current language, while its
    help is formatted. The English texts are the catalog's msgids; they come back after."""
    texts = [(command, "help"), (command, "epilog"), (command, "short_help")]
    texts += [(param, "help") for param in command.get_params(ctx)]
    texts += [(sub, "short_help") for sub in subcommands]
    saved = [(owner, name, getattr(owner, name, None)) for owner, name in texts]
    for owner, name, text in saved:
        if isinstance(text, str) and text:
            setattr(owner, name, _(text))
    try:
        yield
    finally:
        for owner, name, text in saved:
            setattr(owner, name, text)


def _format_usage(command: Any, ctx: Any, formatter: Any) -> None:
    pieces = command.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=_("Usage: "))


def _with_plain_arguments(params: list[Any]) -> list[Any]:
    """Arguments named by their metavar alone in help and usage: Typer would add the
    Python type of the parameter (`TARGET <TargetSpec>`, `EXPR <str>`), which is
    agrad's code, not something the reader types, and write a required one `{TARGET}`
    where Click and POSIX write `TARGET` (and `[EXPR]` for an optional one)."""
    for param in params:
        if getattr(param, "param_type_name", None) == "argument" and param.metavar:
            piece = param.metavar if param.required else f"[{param.metavar}]"
            param.display_type_rich = lambda ctx: None
            param.get_usage_pieces = lambda ctx, piece=piece: [piece]
    return params


class AgradCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _with_plain_arguments(_with_direct_coercion(super().get_params(ctx)))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # Click says "Got unexpected extra argument(s) (...)" in English; agrad counts
        # them itself, so the message has the right plural and is in the catalog.
        allowed = ctx.allow_extra_args
        ctx.allow_extra_args = True
        try:
            rest = super().parse_args(ctx, args)
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            ctx.fail(
                ngettext(
                    "Got an unexpected extra argument ({extra})",
                    "Got unexpected extra arguments ({extra})",
                    len(rest),
                ).format(extra=" ".join(_printable(arg) for arg in rest))
            )
        return rest

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _translated_help(self, ctx):
            super().format_help(ctx, formatter)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _format_usage(self, ctx, formatter)


class AgradGroup(TyperGroup):
    """Runs Click non-standalone so every failure becomes one `agrad: error:` line."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> NoReturn:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            language = choose_language(language_from_argv(argv), os.environ)
        except UnknownLanguage as e:
            sys.exit(_fail(e.message(), ExitCode.USAGE))
        with speaking(language):
            # A bare `agrad` (or `agrad --lang vi`) teaches instead of failing.
            bare = (
                not argv
                or (len(argv) == 2 and argv[0] == "--lang")
                or (len(argv) == 1 and argv[0].startswith("--lang="))
            )
            code = _guarded(
                lambda: super(AgradGroup, self).main(
                    args=[*argv, "--help"] if bare else argv,
                    prog_name="agrad",
                    standalone_mode=False,
                    **extra,
                )
            )
        from autograd_cli.worker import worker_left_running

        if worker_left_running():  # interrupted mid-work: see worker.py
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)

    def get_params(self, ctx: Any) -> list[Any]:
        return _with_direct_coercion(super().get_params(ctx))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        subcommands = [self.get_command(ctx, name) for name in self.list_commands(ctx)]
        with _translated_help(self, ctx, [c for c in subcommands if c is not None]):
            super().format_help(ctx, formatter)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _format_usage(self, ctx, formatter)


def _guarded(call: Any) -> int:
    """Calls the Click entry point; maps every outcome to an exit code and a message."""
    code, lines = outcome(call)
    if lines:
        _fail(lines[0], code, lines[1:])
    elif code == ExitCode.RUNTIME and lines is None:
        _quiet_broken_pipe()
    return code


def outcome(call: Any) -> tuple[int, tuple[str, ...] | None]:
    """Runs `call`; returns (exit code, error lines), without printing anything.

    Error lines are () on success and None when the reader of stdout went away.
    """
    try:
        rv = call()
    except typer.TyperException as e:  # Click's usage errors are TyperExceptions
        return getattr(e, "exit_code", ExitCode.USAGE), (_usage_message(e),)
    except AgradError as e:
        return e.exit_code, e.report_lines()
    except typer.Abort:
        return ExitCode.RUNTIME, (_("aborted"),)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED, (_("interrupted"),)
    except BrokenPipeError:
        return ExitCode.RUNTIME, None
    except Exception as e:  # a bug or an environment failure: still one line, no traceback
        return ExitCode.RUNTIME, (
            _("internal error: {kind}: {error}").format(kind=type(e).__name__, error=e),
        )
    # Non-standalone Click returns the exit code of an Exit (e.g. 0 after --help);
    # Ctrl-C arrives here too, already turned into Exit(130) by Click.
    if rv == ExitCode.INTERRUPTED:
        return ExitCode.INTERRUPTED, (_("interrupted"),)
    return (rv if isinstance(rv, int) else ExitCode.OK), ()


# Click's usage errors are English f-strings (Typer's vendored Click has no gettext):
# matched here and said again from the catalog. Typer's own ("No such command ...")
# already come translated through gettext.
CLICK_MESSAGES = (
    (
        r"Invalid value for (?P<hint>.+?): (?P<message>.*)",
        N_("Invalid value for {hint}: {message}"),
    ),
    (r"Invalid value: (?P<message>.*)", N_("Invalid value: {message}")),
    (r"Missing argument (?P<hint>.+)\.", N_("Missing argument {hint}.")),
    (r"Missing option (?P<hint>.+)\.", N_("Missing option {hint}.")),
    (r"No such option: (?P<name>\S+)(?P<rest>.*)", N_("No such option: {name}{rest}")),
    (r"Option (?P<name>'.+') requires an argument\.", N_("Option {name} requires an argument.")),
    (
        r"Option (?P<name>'.+') requires (?P<count>\d+) arguments\.",
        N_("Option {name} requires {count} arguments."),
    ),
    (r"Option (?P<name>'.+') does not take a value\.", N_("Option {name} does not take a value.")),
    # Typer's suggestion after its (already translated) "No such command": said as
    # an aside, so that the list of commands can follow it after a semicolon.
    (
        r"(?P<message>.*)\. Did you mean (?P<suggestion>.+)\?",
        N_("{message} (did you mean {suggestion}?)"),
    ),
)


def _translated_click_message(message: str) -> str:
    for pattern, msgid in CLICK_MESSAGES:
        match = re.fullmatch(pattern, message, flags=re.S)
        if match:
            return _(msgid).format(**match.groupdict())
    return message


def _usage_message(e: typer.TyperException) -> str:
    message = _translated_click_message(e.format_message())
    ctx = getattr(e, "ctx", None)
    no_such_command = _("No such command {name!r}.").partition("{")[0]
    if ctx is not None and message.startswith(no_such_command):
        message = _("{message}; commands: {commands}").format(
            message=message.rstrip("."), commands=", ".join(ctx.command.list_commands(ctx))
        )
    if ctx is not None:
        message = _("{message}. See '{command} --help'.").format(
            message=message.rstrip("."), command=ctx.command_path
        )
    return message


def _printable(text: str) -> str:
    """User text for an error line, control characters escaped (as Click does)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _fail(message: str, code: int, context: Sequence[str] = ()) -> int:
    """One line `agrad: error: ...`; then, for expressions, the input and a caret."""
    one_line = " ".join(message.split())
    with contextlib.suppress(BrokenPipeError, ValueError):
        sys.stdout.flush()  # keep whatever was written before the error in order
    print(f"agrad: error: {one_line}", *context, sep="\n", file=sys.stderr)
    return int(code)


def _quiet_broken_pipe() -> None:
    # The reader went away (`| head`): stop writing, and keep Python from
    # complaining about the unflushed stdout at exit. Exit 1 without a message,
    # as Rich does for the table view, so both views end the same way.
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
