"""Shared fixtures: a CLI runner pinned to a width, and golden-file handling."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from autograd_cli.cli import app

GOLDEN_DIR = Path(__file__).parent / "golden"
# Pinned so golden files do not depend on the terminal that runs the tests.
# The locale is pinned too: English unless a test asks for --lang or AGRAD_LANG.
PINNED_ENV = {
    "COLUMNS": "100",
    "NO_COLOR": None,
    "FORCE_COLOR": None,
    "AGRAD_LANG": None,
    "LC_ALL": None,
    "LC_MESSAGES": None,
    "LANG": None,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite tests/golden/* from the current output instead of comparing.",
    )


@pytest.fixture
def agrad() -> Callable[..., Result]:
    """Runs `agrad ARGS...` in-process; stdout and stderr stay separate."""

    def invoke(
        *args: str, env: dict[str, str | None] | None = None, input: str | None = None
    ) -> Result:
        return CliRunner().invoke(app, list(args), env={**PINNED_ENV, **(env or {})}, input=input)

    return invoke


@pytest.fixture
def agrad_json(agrad: Callable[..., Result]) -> Callable[..., dict[str, Any]]:
    """Runs `agrad ARGS... --json`, asserts success, returns the parsed document."""

    def run(*args: str) -> dict[str, Any]:
        result = agrad(*args, "--json")
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""
        return json.loads(result.stdout, parse_constant=_reject_constant)

    return run


def _reject_constant(name: str) -> None:
    raise AssertionError(f"non-strict JSON constant {name} in output")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    update = request.config.getoption("--update-goldens")

    def check(name: str, actual: str) -> None:
        path = GOLDEN_DIR / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"missing golden file {path}; run pytest --update-goldens"
        assert actual == path.read_text(encoding="utf-8")

    return check
