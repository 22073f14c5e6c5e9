"""The one place where output leaves agrad."""

from __future__ import annotations

import sys


def write_text(text: str) -> None:
    """Machine output: plain text straight to stdout, never through Rich."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
