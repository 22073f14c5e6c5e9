"""Typer 0.29's option coercion without pydantic: the one private hook agrad keeps.

Typer 0.29 coerces every option value through a pydantic TypeAdapter, and importing
pydantic costs ~150 ms a run: more than all of agrad's own work for `agrad --help`.
agrad's options are flags, repeated strings, or have their own `parser=` (public
Typer API), so the same coercion can be done directly: `parser(value)`.

Typer keeps the coercion object of a parameter in the private attribute
`_runtime_param`, built on first use. Only for the Typer versions this was read
against (`HOOKED`; pyproject.toml pins typer below the next minor) is it set in
advance; on any other version, or with AGRAD_TYPER_COERCION=typer, nothing is
touched and Typer's own (pydantic) path runs. tests/test_coercion.py runs the CLI
both ways and compares.
"""

from __future__ import annotations

import os
from typing import Any

import typer

HOOKED = ("0.29.",)


def enabled() -> bool:
    """Whether the direct path replaces Typer's: a known version, not switched off."""
    if os.environ.get("AGRAD_TYPER_COERCION") == "typer":
        return False
    return typer.__version__.startswith(HOOKED)


class _DirectCoercion:
    """Stands in for Typer's coercion of one parameter: the parser, or the value as is."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser

    def coerce(self, value: Any, *, param: Any, ctx: Any) -> Any:
        if self.parser is not None and value is not None:
            return self.parser(value)
        return value


def direct(params: list[Any]) -> list[Any]:
    """`params` with the direct coercion set where it does Typer's job exactly."""
    if not enabled():
        return params
    for param in params:
        if getattr(param, "_runtime_param", False) is not None:
            continue  # already set, or not a Typer parameter
        info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
        parser = getattr(info, "parser", None)
        # Flags arrive as bools and repeated options (--var) as tuples of str: as is.
        if parser is not None or getattr(param, "is_flag", False) or param.multiple:
            param._runtime_param = _DirectCoercion(parser)
    return params
