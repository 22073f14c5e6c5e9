"""Builds the Rich console for one run, with colour decided once.

Order of precedence: --color always/never > NO_COLOR > FORCE_COLOR > is stdout a
terminal. Built per run (never at import time) so tests and pipes that swap
sys.stdout get what they expect.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from rich.console import Console, RenderableType


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


def make_console(mode: str) -> Console:
    color = wants_color(mode)
    return Console(
        file=sys.stdout,
        # Without colour there are no escape codes at all: not even bold.
        force_terminal=color,
        color_system="auto" if color else None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
    )


def print_all(console: Console, renderables: Iterable[RenderableType]) -> None:
    for renderable in renderables:
        console.print(renderable)
    console.file.flush()


def offscreen_console(color: bool) -> Console:
    """A recording console for files: COLUMNS wide (else 100), never a terminal's."""
    import io

    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 100
    return Console(
        file=io.StringIO(),
        record=True,
        width=width,
        color_system="truecolor" if color else None,
        force_terminal=color,
        highlight=False,
        markup=False,
        emoji=False,
    )


def recorded_text(renderables: Iterable[RenderableType]) -> str:
    """The human view as plain text, for --output FILE: no colour, a fixed width."""
    console = offscreen_console(color=False)
    for renderable in renderables:
        console.print(renderable)
    return console.export_text()
