"""Ctrl-C at any moment: exit 130 and one line `agrad: error: interrupted`.

Python turns SIGINT into a KeyboardInterrupt wherever the main thread happens to be.
In agrad that can be inside `import typer` (a traceback), inside `import torch`'s C++
extension start-up (pybind11 meets the pending exception: "terminate called after
throwing an instance of 'pybind11::error_already_set'", SIGABRT; or a half-imported
torch that later says "cannot load module more than once"), or in Click's parsing.

So the agrad process records a SIGINT instead of raising it, from the moment its
package is imported, and acts on it at safe points only: while the main thread waits
for the worker (worker.py: the work runs there, and leaving by os._exit is safe), and
at the end of AgradGroup.main. Both the console script and `python -m autograd_cli`
install it; a program that imports agrad (pytest, a notebook) keeps its own handler.
A SIGINT that the parent set to be ignored (`agrad ... &` in a script) stays ignored.

Before this module has run, an interrupt meets Python's own start-up (site, the
console script's imports): CPython prints its traceback or "Fatal Python error". So
it imports only modules the interpreter has already loaded.
"""

from __future__ import annotations

import os
import signal
import sys

_installed = False
_deferring = True
_pending = False


def _on_sigint(signum: int, frame: object) -> None:
    global _pending
    if _deferring:
        _pending = True
        return
    raise KeyboardInterrupt


def _running_as_agrad() -> bool:
    """The process is the `agrad` console script or `python -m autograd_cli`."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        return spec.name == "autograd_cli.__main__"
    name = os.path.basename(getattr(main, "__file__", None) or "")
    return os.path.splitext(name)[0] in ("agrad", "agrad-script")  # the script, not agrad_x.py


def defer_interrupts() -> None:
    """From now on a SIGINT is recorded, to be acted on at a safe point.

    Only in agrad's own process, on the main thread, and only over Python's default
    handler (not over SIG_IGN, nor over a handler someone else installed)."""
    global _installed
    if _installed or not _running_as_agrad():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return
    try:
        signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread
        return
    _installed = True


def ignore_from_now() -> None:
    """Once the exit code is decided: Python's finalization would put SIGINT back to
    SIG_DFL, and a Ctrl-C in the last milliseconds would kill a finished command
    with no message. It leaves SIG_IGN alone, so the decided exit code stands."""
    if signal.getsignal(signal.SIGINT) is _on_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def interrupted() -> bool:
    """A SIGINT came while it was deferred and has not been acted on."""
    return _pending


class interruptible:  # lower case: used like contextlib.suppress
    """Inside, a SIGINT raises KeyboardInterrupt at once (one recorded before
    included). Only where the main thread merely waits: never around imports or
    torch's C++ code. A no-op where the handler is not agrad's."""

    def __enter__(self) -> None:
        global _deferring, _pending
        if signal.getsignal(signal.SIGINT) is not _on_sigint:
            return
        _deferring = False
        if _pending:
            _pending = False
            _deferring = True
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        global _deferring
        _deferring = True
