"""Python files loaded by path, as agrad loads a TARGET's file, for the tests' own
oracles: the examples, and the models a test writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(path: str | Path, name: str | None = None) -> Any:
    """The module of the file at `path`, run once more (a new module each call)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(name or f"oracle_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example(name: str) -> Any:
    """examples/NAME.py's module."""
    return load(EXAMPLES / f"{name}.py", f"example_{name}")
