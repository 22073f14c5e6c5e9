"""Where a NaN comes from: one more run under torch.autograd.detect_anomaly().

In anomaly mode, autograd records the forward call stack of every node it creates,
checks each backward Function's output for NaN, and raises naming the first one
that returned NaN ("Function 'SqrtBackward0' returned nan values..."), after
warning with the forward stack of the node. agrad keeps both, in plain words.

That error stops backward() with the other branches of the graph still queued in the
engine's per-thread ReadyQueue, freed only when agrad's worker thread exits. On a
thread that is not the main one, that used to race with the interpreter's shutdown
and abort the process (SIGABRT) in about half the runs of a two-branch loss:
autograd_cli/worker.py waits for the thread's exit and says why.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import torch

from autograd_cli.i18n import N_
from autograd_cli.model import ForwardFrame, NanOrigin

# English in the JSON; the table view translates it.
NO_NAN_FOUND = N_(
    "no backward Function returned NaN: the non-finite values are ±inf, which anomaly "
    "mode does not trace"
)

_FUNCTION = re.compile(r"Function '(?P<name>\w+)' returned nan")
_ERROR_DETECTED = re.compile(r"Error detected in (?P<name>\w+)\.")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>.+)$')


def nan_origin(backward_again: Callable[[], Any], is_user_file: Callable[[str], bool]) -> NanOrigin:
    """Runs `backward_again` (a fresh forward and backward) in anomaly mode.

    `is_user_file` picks, from the forward stack, the line to blame: the innermost
    one in the user's code rather than inside torch.nn.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with torch.autograd.detect_anomaly(check_nan=True):
                backward_again()
        except RuntimeError as e:
            match = _FUNCTION.search(str(e))
            if match is None:
                raise
            trace = _forward_trace(caught, match["name"])
            user = [frame for frame in trace if is_user_file(frame.file)]
            return NanOrigin(
                grad_fn=match["name"],
                message=str(e).strip().splitlines()[0],
                origin=user[-1] if user else (trace[-1] if trace else None),
                forward_trace=trace,
            )
    return NanOrigin(
        grad_fn=None,
        message=NO_NAN_FOUND,
        origin=None,
        forward_trace=(),
    )


def _forward_trace(caught: list[warnings.WarningMessage], name: str) -> tuple[ForwardFrame, ...]:
    """The forward stack from torch's 'Error detected in NAME' warning, outermost first."""
    for warning in caught:
        text = str(warning.message)
        found = _ERROR_DETECTED.search(text)
        if found is None or found["name"] != name:
            continue
        frames: list[ForwardFrame] = []
        lines = text.splitlines()
        for number, line in enumerate(lines):
            match = _FRAME.match(line)
            if match:
                code = lines[number + 1].strip() if number + 1 < len(lines) else ""
                code = "" if _FRAME.match(code) or code.startswith("(Triggered") else code
                frames.append(
                    ForwardFrame(match["file"], int(match["line"]), match["function"], code)
                )
        return tuple(frames)
    return ()
