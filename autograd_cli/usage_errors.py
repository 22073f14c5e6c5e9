"""Click's usage errors, said again in the reader's language.

Typer's vendored Click writes its usage errors as English f-strings (it has no
gettext). agrad says each one again from the exception's structured fields: its
kind (the class), the option name, the possibilities, the parameter, the bad
value's message; never by reading Click's English. It adds where to look
("See 'agrad linear --help'.").

An unknown command is reported by agrad's group itself (`UnknownCommand`), because
Typer adds an English "Did you mean ...?" to its own message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import typer

from autograd_cli.errors import ExitCode
from autograd_cli.i18n import _


class UnknownCommand(typer.TyperException):
    """A command name the group does not have, with the facts to say so."""

    exit_code = ExitCode.USAGE

    def __init__(
        self, name: str, suggestions: Sequence[str], commands: Sequence[str], ctx: Any
    ) -> None:
        super().__init__(f"No such command {name!r}.")
        self.name = name
        self.suggestions = tuple(suggestions)
        self.commands = tuple(commands)
        self.ctx = ctx


def usage_message(e: typer.TyperException) -> str:
    """The one line for a usage error, in the current language."""
    message = None
    for kind in type(e).__mro__:
        say = _SAYINGS.get(kind.__name__)
        if say is not None:
            message = say(e)
            break
    if message is None:  # a kind agrad does not know: Click's words, as they are
        message = e.format_message()
    ctx = getattr(e, "ctx", None)
    if ctx is not None:
        message = _("{message}. See '{command} --help'.").format(
            message=message.rstrip("."), command=ctx.command_path
        )
    return message


def with_context(e: typer.TyperException, ctx: Any) -> None:
    """Gives a usage error the context it was raised in, where Click left it out.

    Click's parser raises BadOptionUsage ("requires an argument", "does not take a
    value") without one; Click's `augment_usage_errors` fills it in the same way for
    errors raised later on. With it the error names its option and points to --help.
    """
    if hasattr(e, "ctx") and e.ctx is None:
        e.ctx = ctx


def printable(text: str) -> str:
    """User text for an error line, control characters escaped (as Click does)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _unknown_command(e: Any) -> str:
    # {name!r} escapes what a terminal cannot show, as Typer's message did.
    facts = {"name": e.name, "commands": ", ".join(e.commands)}
    if e.suggestions:
        suggestions = ", ".join(repr(s) for s in e.suggestions)
        return _(
            "No such command {name!r} (did you mean {suggestions}?); commands: {commands}"
        ).format(suggestions=suggestions, **facts)
    return _("No such command {name!r}; commands: {commands}").format(**facts)


def _no_such_option(e: Any) -> str:
    name = printable(e.option_name)
    if e.possibilities:
        return _("No such option: {name} (Possible options: {possibilities})").format(
            name=name, possibilities=", ".join(sorted(e.possibilities))
        )
    return _("No such option: {name}").format(name=name)


def _bad_option_usage(e: Any) -> str | None:
    """Click raises BadOptionUsage for an option given no value where it takes one,
    and for a value given to one that takes none (`--json=1`): the option says which."""
    option = _option_named(e.option_name, e.ctx)
    if option is None:
        return None
    name = repr(e.option_name)
    if option.is_flag or option.count:
        return _("Option {name} does not take a value.").format(name=name)
    if option.nargs == 1:
        return _("Option {name} requires an argument.").format(name=name)
    return _("Option {name} requires {count} arguments.").format(name=name, count=option.nargs)


def _missing_parameter(e: Any) -> str | None:
    kind = e.param_type or getattr(e.param, "param_type_name", None)
    hint = _hint(e)
    if e.message or hint is None or kind not in ("argument", "option"):
        return None
    if _choices(e.param):
        return None  # Typer adds an English "Choose from: ..."
    if kind == "argument":
        return _("Missing argument {hint}.").format(hint=hint)
    return _("Missing option {hint}.").format(hint=hint)


def _bad_parameter(e: Any) -> str:
    # The message is agrad's own, already in the reader's language: its parsers
    # raise it (coercion.py calls them in Typer's place).
    hint = _hint(e)
    if hint is None:
        return _("Invalid value: {message}").format(message=e.message)
    return _("Invalid value for {hint}: {message}").format(hint=hint, message=e.message)


_SAYINGS: dict[str, Callable[[Any], str | None]] = {
    "UnknownCommand": _unknown_command,
    "NoSuchOption": _no_such_option,
    "BadOptionUsage": _bad_option_usage,
    "MissingParameter": _missing_parameter,
    "BadParameter": _bad_parameter,
}


def _option_named(name: str, ctx: Any) -> Any:
    if ctx is None:
        return None
    for param in ctx.command.get_params(ctx):
        if getattr(param, "param_type_name", None) != "option":
            continue
        if name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _hint(e: Any) -> str | None:
    """How Click names the parameter: 'TARGET', '--seed', '-n' / '--nodes'."""
    if e.param_hint is not None:
        if isinstance(e.param_hint, str):
            return e.param_hint
        return " / ".join(repr(x) for x in e.param_hint)
    param = e.param
    if param is None:
        return None
    if param.param_type_name == "option" and param.opts:
        return " / ".join(f"'{opt}'" for opt in param.opts)
    return f"'{param.metavar or param.name}'"


def _choices(param: Any) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    return bool(getattr(descriptor, "is_choice", False))
