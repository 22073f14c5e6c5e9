"""Builds the Rich console for one run, with colour decided once.

Order of precedence: --color always/never > NO_COLOR > FORCE_COLOR > is stdout a
terminal. Built per run (never at import time) so tests and pipes that swap
sys.stdout get what they expect.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console, RenderableType

# Spaces at the end of a line, before any closing colour codes: Rich pads table cells
# and wrapped lines to their width, which is noise in a pipe, a diff or a golden file.
_LINE_END = re.compile(r"(?: |\x1b\[[0-9;]*m)+$", re.MULTILINE)


def trim_lines(text: str) -> str:
    """Every line without the spaces at its end, colour codes among them kept."""
    return _LINE_END.sub(lambda end: end.group().replace(" ", ""), text)


class TrimmedStream:
    """A text stream that writes whole lines without their trailing spaces, all of
    them, in an encoding the stream can take (render/emit.py)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        from autograd_cli.render.emit import write_human

        lines, newline, self._pending = (self._pending + text).rpartition("\n")
        if newline:
            write_human(self._stream, trim_lines(lines) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            from autograd_cli.render.emit import write_human

            pending, self._pending = self._pending, ""
            write_human(self._stream, pending)
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno...
        return getattr(self._stream, name)


class _TrimmedConsole(Console):
    def export_text(self, *, clear: bool = True, styles: bool = False) -> str:
        return trim_lines(super().export_text(clear=clear, styles=styles))


def wants_color(mode: str, stream: object = None) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


# User text (names, expressions) is printed as is: markup ("[/]") and emoji codes off.
_AS_IS = {"highlight": False, "markup": False, "emoji": False}


def columns() -> int | None:
    """COLUMNS when it is a width (a whole number from 1); None when it is absent,
    0, negative or not a number."""
    raw = os.environ.get("COLUMNS", "").strip()
    if raw.isascii() and raw.isdigit() and int(raw) > 0:
        return int(raw)
    return None


def stdout_width() -> int | None:
    """The width for stdout: None lets Rich decide (COLUMNS, else the terminal's,
    else 80). Rich takes COLUMNS=0 as a width of 0 (empty output), so a COLUMNS that
    is not a width is set aside, and the width is found as Rich finds it without
    one: the terminal's of stdin, stdout or stderr, else 80."""
    if "COLUMNS" not in os.environ or columns() is not None:
        return None
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
        except (AttributeError, OSError, ValueError):
            continue
        if width > 0:
            return width
    return 80


def make_console(mode: str) -> Console:
    from autograd_cli.render.emit import stdout

    out = stdout()  # an error before any work is shown, if it is closed
    color = wants_color(mode, out)
    # Without colour there are no escape codes at all: not even bold.
    system = "auto" if color else None
    return Console(
        file=TrimmedStream(out),
        width=stdout_width(),
        force_terminal=color,
        color_system=system,
        soft_wrap=False,
        **_AS_IS,
    )


def print_all(console: Console, renderables: Iterable[RenderableType]) -> None:
    for renderable in renderables:
        console.print(renderable)
    console.file.flush()


def offscreen_console(color: bool) -> Console:
    """A recording console for files: COLUMNS wide (else 100), never a terminal's."""
    import io

    width = columns() or 100
    system = "truecolor" if color else None
    return _TrimmedConsole(
        file=io.StringIO(),
        record=True,
        width=width,
        color_system=system,
        force_terminal=color,
        **_AS_IS,
    )


def recorded_text(renderables: Iterable[RenderableType]) -> str:
    """The human view as plain text, for --output FILE: no colour, a fixed width."""
    console = offscreen_console(color=False)
    for renderable in renderables:
        console.print(renderable)
    return console.export_text()
