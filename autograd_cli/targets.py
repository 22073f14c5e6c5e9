"""`agrad inspect`'s TARGET: a Python file or an importable module, and a name in it.

Plain parsing, shared by the command line (which parses TARGET) and the code that
loads it (scenarios/user_code.py); neither torch nor Typer here.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from autograd_cli.i18n import N_, _


class TargetSpec(NamedTuple):
    text: str  # as typed
    path: Path | None  # a file to run, or None for a module
    module: str | None  # a dotted module name, or None for a file
    name: str


TARGET_FORMS = N_("PATH.py:NAME or module.path:NAME, e.g. examples/mlp.py:build")


def parse_target(text: str) -> TargetSpec:
    """PATH.py:NAME or module.path:NAME; ValueError naming the forms otherwise."""
    where, colon, name = text.rpartition(":")
    if not colon or not where or not name:
        raise ValueError(
            _("{value!r} names no callable; expected {forms}.").format(
                value=text, forms=_(TARGET_FORMS)
            )
        )
    if not name.isidentifier():
        raise ValueError(
            _("{name!r} is not a Python name; expected {forms}.").format(
                name=name, forms=_(TARGET_FORMS)
            )
        )
    if where.endswith(".py") or "/" in where or "\\" in where:
        return TargetSpec(text, Path(where), None, name)
    if all(part.isidentifier() for part in where.split(".")):
        return TargetSpec(text, None, where, name)
    raise ValueError(
        _("{where!r} is neither a .py file nor a dotted module name; expected {forms}.").format(
            where=where, forms=_(TARGET_FORMS)
        )
    )
