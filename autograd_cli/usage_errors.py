"""Click's usage errors, said again from agrad's catalog.

Typer's vendored Click writes its usage errors as English f-strings (it has no
gettext). agrad says them again in the reader's language, adding where to look
("See 'agrad linear --help'.").
"""

from __future__ import annotations

import re
from typing import Any

import typer

from autograd_cli.i18n import N_, _

# Matched against Click's English and said again from the catalog. Typer's own
# ("No such command ...") already come translated through gettext.
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


def usage_message(e: typer.TyperException) -> str:
    """The one line for a Click usage error, in the current language."""
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
