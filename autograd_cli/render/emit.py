"""The one place where output leaves agrad."""

from __future__ import annotations

import sys


def write_text(text: str) -> None:
    """Machine output: plain text straight to stdout, never through Rich.

    `text` ends with a newline; callers add it (json, dot, mermaid all do).
    """
    sys.stdout.write(text)
    sys.stdout.flush()
