"""What one pitfall's run found, as plain data (no tensors): model.Report's kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autograd_cli.model import Report
from autograd_cli.pitfalls import NAME

# Outcome kinds: torch raised, torch warned, torch said nothing.
ERROR, WARNING, SILENT = "error", "warning", "silent"


@dataclass(frozen=True)
class Outcome:
    """What torch did when the mistake ran: its exception or warning, in its words
    (`type` and `message` are None when it said nothing)."""

    kind: str  # ERROR, WARNING or SILENT
    type: str | None  # "RuntimeError", "UserWarning"
    message: str | None
    expected: bool  # the kind this pitfall expects (another torch version may differ)


@dataclass(frozen=True)
class Fact:
    """An expression of the code, evaluated after it ran, and its value as plain data
    (a tensor's values as nested lists, a grad_fn by its class name); `error` when the
    expression itself raised (type: message)."""

    code: str
    value: Any
    error: str | None = None


@dataclass(frozen=True)
class Trace:
    """Where anomaly mode says it happened: the node whose backward failed, and the
    lines of the mistake's code in the forward call stack it recorded."""

    grad_fn: str | None  # "SigmoidBackward0"
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Fix:
    """The fix, as code, run: what it gives, or what went wrong running it."""

    code: tuple[str, ...]
    result: tuple[Fact, ...]
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Pitfall(
    Report,
    command=NAME,
    layout="name symptom code outcome facts why anomaly fix graph",
):
    """One pitfall, run: its JSON document (English) and its human view's facts.
    `graph` is the graph the mistake's code built (root None where it built none)."""

    name: str
    symptom: str
    code: tuple[str, ...]
    outcome: Outcome
    facts: tuple[Fact, ...]  # what the mistake left behind
    why: str
    anomaly: Trace | None  # only where anomaly mode is the way to find it
    fix: Fix
