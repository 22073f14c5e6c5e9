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


def recorded_text(renderables: Iterable[RenderableType]) -> str:
    """The human view as plain text, for --output FILE: no colour, a fixed width."""
    import io

    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 100
    console = Console(
        file=io.StringIO(),
        width=width,
        color_system=None,
        highlight=False,
        markup=False,
        emoji=False,
    )
    for renderable in renderables:
        console.print(renderable)
    return console.file.getvalue()
