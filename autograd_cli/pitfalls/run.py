"""Runs a pitfall on the installed torch: the mistake, then the fix, each as shown,
and captures what torch said (its exception or warning, in its own words).

Only agrad's own code from cases.py is run here, never user input. torch's global
state (grad mode, anomaly mode) is as it was afterwards, whatever the code did.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from autograd_cli.model import Graph
from autograd_cli.pitfalls.cases import Case
from autograd_cli.pitfalls.facts import ERROR, SILENT, WARNING, Fact, Fix, Outcome, Pitfall, Trace

FILENAME = "<agrad pitfall>"  # the code's "file" in tracebacks and anomaly traces
_ERROR_DETECTED = re.compile(r"Error detected in (?P<name>\w+)\.")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)')


def run_pitfall(case: Case, max_nodes: int | None = None) -> Pitfall:
    import torch

    grad_mode = torch.is_grad_enabled()
    anomaly = (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled())
    try:
        return _run(case, max_nodes)
    finally:
        torch.set_grad_enabled(grad_mode)
        torch.set_anomaly_enabled(*anomaly)


def _run(case: Case, max_nodes: int | None) -> Pitfall:
    from autograd_cli.inspection.graph import graph_report
    from autograd_cli.model import WalkRequest

    namespace = _namespace()
    error, caught = _execute(case.code, namespace)
    outcome = _outcome(error, caught, case.expects)
    facts = tuple(_fact(expression, namespace) for expression in case.facts)
    graph = Graph(root=None)
    root = namespace.get(case.graph_of) if case.graph_of else None
    if _is_tensor(root):
        named = {name: t for name, t in namespace.items() if _is_tensor(t)}
        # What the nodes saved is always read: a pitfall's view may be about it.
        graph = graph_report(root, named, WalkRequest(max_nodes, saved=True))
    return Pitfall(
        name=case.name,
        symptom=case.symptom,
        code=case.code,
        outcome=outcome,
        facts=facts,
        why=case.why,
        anomaly=_anomaly_trace(case.code) if case.anomaly else None,
        fix=_fix(case),
        graph=graph,
    )


def _namespace() -> dict[str, Any]:
    import torch

    return {"torch": torch, "__name__": "__agrad_pitfall__"}


def _execute(lines: tuple[str, ...], namespace: dict[str, Any]) -> tuple[Exception | None, list]:
    """Runs the code; the exception it raised (None if it ran through) and every
    warning it gave, each recorded (never printed)."""
    compiled = compile("\n".join(lines) + "\n", FILENAME, "exec")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(compiled, namespace)  # agrad's own code, from cases.py
        except Exception as error:
            return error, list(caught)
    return None, list(caught)


def _outcome(error: Exception | None, caught: list, expects: str) -> Outcome:
    from autograd_cli.inspection.tensors import torch_words

    if error is not None:
        kind, type_name, message = ERROR, type(error).__name__, str(error)
    elif caught:
        kind, type_name, message = WARNING, caught[0].category.__name__, str(caught[0].message)
    else:
        return Outcome(SILENT, None, None, expects == SILENT)
    return Outcome(kind, type_name, torch_words(message), expects == kind)


def _fact(expression: str, namespace: dict[str, Any]) -> Fact:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # z.grad warns again: the outcome already said so
        try:
            value = eval(compile(expression, FILENAME, "eval"), namespace)
        except Exception as error:
            return Fact(expression, None, f"{type(error).__name__}: {error}")
    return Fact(expression, _plain(value))


def _plain(value: Any) -> Any:
    """A value as JSON-ready data: a tensor's values, a dtype's or grad_fn's name."""
    import torch

    from autograd_cli.inspection.tensors import values_of

    if isinstance(value, torch.Tensor):
        return values_of(value)
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    if isinstance(value, list | tuple):  # torch.Size too
        return [_plain(item) for item in value]
    if hasattr(value, "next_functions"):  # a node of the graph
        return type(value).__name__
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return type(value).__name__


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def _fix(case: Case) -> Fix:
    namespace = _namespace()
    error, _caught = _execute(case.fix, namespace)
    if error is not None:  # the fix did not work on this torch: say so, never fail
        return Fix(case.fix, (), f"{type(error).__name__}: {error}")
    return Fix(case.fix, tuple(_fact(expression, namespace) for expression in case.result))


def _anomaly_trace(lines: tuple[str, ...]) -> Trace:
    """The mistake again, in anomaly mode: the node it names, and the lines of the
    code in the forward stack it recorded for that node."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Anomaly Detection has been enabled"
        with torch.autograd.detect_anomaly():
            _error, caught = _execute(lines, _namespace())
    for warning in caught:
        text = str(warning.message)
        found = _ERROR_DETECTED.search(text)
        if found is None:
            continue
        numbers = [
            int(match["line"])
            for match in map(_FRAME.match, text.splitlines())
            if match and match["file"] == FILENAME
        ]
        return Trace(found["name"], tuple(lines[n - 1] for n in numbers if 0 < n <= len(lines)))
    return Trace(None, ())
