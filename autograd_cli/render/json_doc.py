"""The JSON view: one strict JSON document per report.

Strict means `json.dumps(..., allow_nan=False)` succeeds: NaN and infinities, which
JSON cannot hold, are written as the strings "NaN", "Infinity" and "-Infinity".
"""

from __future__ import annotations

import json
import math
from typing import Any

from autograd_cli import __version__
from autograd_cli.model import SCHEMA_VERSION, Report
from autograd_cli.versions import torch_version

NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def report_document(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "agrad_version": __version__,
        "torch_version": torch_version(),
        **report.to_dict(),
    }


def report_json(report: Report) -> str:
    document = report_document(report)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    # Fast path: only when the loose encoder may have written a NaN/Infinity token
    # (or a string that merely contains the word) is the document rebuilt strictly.
    if "NaN" in text or "Infinity" in text:
        text = json.dumps(
            _finite(document), allow_nan=False, ensure_ascii=False, separators=(",", ":")
        )
    return text


def _finite(data: Any) -> Any:
    """A copy of `data` with non-finite floats replaced by their string names.

    Iterative, because nested tensor values and long node lists should not meet
    Python's recursion limit.
    """
    root: list[Any] = [data]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        value = parent[key]
        if isinstance(value, float) and not math.isfinite(value):
            parent[key] = NON_FINITE[repr(value)]
        elif isinstance(value, dict):
            copy = dict(value)
            parent[key] = copy
            stack.extend((copy, k) for k in copy)
        elif isinstance(value, list | tuple):
            copy_list = list(value)
            parent[key] = copy_list
            stack.extend((copy_list, i) for i in range(len(copy_list)))
    return root[0]
