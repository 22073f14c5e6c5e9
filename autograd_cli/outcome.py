"""Every way a command can end, as an exit code and at most one `agrad: error:` line."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer

from autograd_cli.errors import AgradError, ExitCode
from autograd_cli.i18n import _
from autograd_cli.result import Result
from autograd_cli.usage_errors import usage_message


def outcome(call: Callable[[], Any]) -> tuple[int, tuple[str, ...] | None]:
    """Runs `call`; returns (exit code, error lines), without printing anything.

    Error lines are () on success and None when the reader of stdout went away.
    """
    try:
        rv = call()
    except typer.TyperException as e:  # Click's usage errors are TyperExceptions
        return getattr(e, "exit_code", ExitCode.USAGE), (usage_message(e),)
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
    if isinstance(rv, Result):  # a command's own verdict: 0, or 3 and why
        return rv.exit_code, rv.message_lines()
    # Non-standalone Click returns the exit code of an Exit (e.g. 0 after --help);
    # Ctrl-C arrives here too, already turned into Exit(130) by Click.
    if rv == ExitCode.INTERRUPTED:
        return ExitCode.INTERRUPTED, (_("interrupted"),)
    return (rv if isinstance(rv, int) else ExitCode.OK), ()


def report(code: int, lines: tuple[str, ...] | None) -> int:
    """Says an outcome on stderr (or quiets a broken pipe); returns the exit code."""
    if lines:
        fail(lines[0], code, lines[1:])
    elif code == ExitCode.RUNTIME and lines is None:
        _quiet_broken_pipe()
    return code


def fail(message: str, code: int, context: Sequence[str] = ()) -> int:
    """One line `agrad: error: ...`; then, for expressions, the input and a caret."""
    one_line = " ".join(message.split())
    if sys.stdout is not None:  # None: stdout closed (`>&-`)
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()  # keep whatever was written before the error in order
    if sys.stderr is None:  # stderr closed (`2>&-`): the exit code alone says it
        return int(code)
    from autograd_cli.render.emit import showable

    text = "\n".join((f"agrad: error: {one_line}", *context))
    with contextlib.suppress(OSError, ValueError):  # a stderr that fails: the code stays
        print(showable(text, sys.stderr), file=sys.stderr, flush=True)
    return int(code)


def _quiet_broken_pipe() -> None:
    # The reader went away (`| head`): stop writing, and keep Python from
    # complaining about the unflushed stdout at exit. Exit 1 without a message,
    # as Rich does for the table view, so both views end the same way.
    if sys.stdout is None:
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no descriptor
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
