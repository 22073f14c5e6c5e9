"""Version strings, read from package metadata so that torch is never imported."""

from __future__ import annotations

import functools
import platform
from importlib import metadata

from autograd_cli import __version__


@functools.cache  # reading package metadata costs ~2 ms; every JSON document asks
def torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "not installed"


def version_line() -> str:
    return f"agrad {__version__} (torch {torch_version()}, Python {platform.python_version()})"
