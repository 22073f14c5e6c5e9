"""`agrad batch`: many command lines, one process, one JSON record per result."""

from __future__ import annotations

import io
import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from typer.core import TyperGroup

from autograd_cli.errors import ExitCode, UsageProblem
from autograd_cli.i18n import _
from autograd_cli.worker import run_work

NO_TEXT_OUTPUT = {"-h", "--help", "--version", "--grammar"}
# A longer line is an error record, read on in chunks of this size and dropped: a
# stream without newlines (agrad batch /dev/zero) costs constant memory, not all of it.
MAX_LINE = 65_536  # characters
_SHOWN = 100  # characters of an over-long line its record repeats


def run_batch(path: str, group: Any) -> int:
    source = _open(path)
    worst = ExitCode.OK

    def work() -> None:
        nonlocal worst
        from autograd_cli.render.emit import write_text

        for number, text, whole in _lines(source):
            records = _isolated(group, number, text) if whole else _too_long(number, text)
            for record, code in records:
                write_text(record + "\n")
                worst = max(worst, code)
                if code == ExitCode.INTERRUPTED:
                    raise KeyboardInterrupt

    try:
        # One worker thread for every line, not one per line (see worker.py).
        run_work(work)
    finally:
        if path == "-" and source is not sys.stdin:
            source.detach()  # stdin's own buffer stays open, as stdin itself does
        elif source is not sys.stdin:
            source.close()
    return int(worst)


def _open(path: str) -> TextIO:
    if path == "-":
        if sys.stdin is None:  # started with stdin closed (`<&-`)
            raise UsageProblem(
                _("batch reads stdin, which is closed; give a FILE of command lines")
            )
        # Strict UTF-8, as for a file: Python reads stdin with surrogateescape, which
        # would carry undecodable bytes into the records as lone surrogates.
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            return sys.stdin
        return io.TextIOWrapper(buffer, encoding="utf-8", errors="strict")
    try:
        return open(path, encoding="utf-8")  # closed by run_batch
    except OSError as e:
        raise UsageProblem(
            _("batch file {path}: cannot read it ({reason})").format(
                path=path, reason=e.strerror or e
            )
        ) from None


def _lines(source: TextIO) -> Iterator[tuple[int, str, bool]]:
    """(number, text, whole) of each line to run; a line over MAX_LINE is not whole,
    and its text is its first characters."""
    number = 0
    try:
        while raw := source.readline(MAX_LINE + 1):
            number += 1
            if len(raw) > MAX_LINE and not raw.endswith("\n"):
                while (rest := source.readline(MAX_LINE)) and not rest.endswith("\n"):
                    pass  # dropped as it comes
                yield number, raw[:_SHOWN], False
                continue
            text = raw.strip()
            if text and not text.startswith("#"):
                yield number, text, True
    except UnicodeDecodeError as e:
        raise UsageProblem(
            _("batch input is not UTF-8 text ({reason})").format(reason=e.reason)
        ) from None


def _too_long(number: int, start: str) -> Iterator[tuple[str, int]]:
    """The record of a line over MAX_LINE: its command is its first characters."""
    head = f'{{"line":{number},"command":{json.dumps(start + "...", ensure_ascii=False)}'
    message = (
        f"the line is longer than {MAX_LINE:,} characters, the cap on a batch line; it was skipped"
    )
    yield _error(head, ExitCode.USAGE, message), ExitCode.USAGE


def _isolated(group: Any, number: int, text: str) -> Iterator[tuple[str, int]]:
    """The line's records; torch's global state as it was before the line, after it."""
    with _torch_state_kept():
        records = list(_run_line(group, number, text))
    yield from records


def _run_line(group: Any, number: int, text: str) -> Iterator[tuple[str, int]]:
    from autograd_cli.i18n import speaking
    from autograd_cli.outcome import outcome
    from autograd_cli.render.output import Memory

    head = f'{{"line":{number},"command":{json.dumps(text, ensure_ascii=False)}'
    try:
        argv = shlex.split(text, comments=True)
    except ValueError as e:
        yield _error(head, ExitCode.USAGE, f"cannot split the line: {e}"), ExitCode.USAGE
        return
    if argv[:1] == ["agrad"]:
        argv = argv[1:]
    problem = _refusal(argv)
    if problem:
        yield _error(head, ExitCode.USAGE, problem), ExitCode.USAGE
        return
    # Records are machine output: English whatever --lang says, like the JSON in them.
    # The line's JSON goes to an in-memory sink, handed down as Click's context object.
    sink = Memory()
    with speaking("en"):
        code, lines = outcome(
            lambda: TyperGroup.main(
                group, args=argv, prog_name="agrad", standalone_mode=False, obj=sink
            )
        )
    documents = sink.documents
    message = (lines or ("no output",))[0]
    if not documents:
        yield _error(head, code, message), code
        return
    # Results despite a non-zero code: a failed --check (exit 3) still has its result.
    error = "" if code == ExitCode.OK else f',"error":{json.dumps(message, ensure_ascii=False)}'
    for document in documents:
        yield f'{head},"exit_code":{int(code)}{error},"result":{document}}}', code


def _refusal(argv: list[str]) -> str | None:
    if not argv:
        return "the line has no command"
    if NO_TEXT_OUTPUT.intersection(argv):
        return "--help, --version and --grammar print text, not JSON; not in a batch"
    return None


def _error(head: str, code: int, message: str) -> str:
    return (
        f'{head},"exit_code":{int(code)},'
        f'"error":{json.dumps(" ".join(message.split()), ensure_ascii=False)}}}'
    )


@contextmanager
def _torch_state_kept() -> Iterator[None]:
    """torch's global state put back as it was: a line's code (inspect runs the user's)
    may switch grad mode off, change the default dtype or device, turn on anomaly
    detection or deterministic algorithms, draw random numbers, or set the number of
    threads, and the next line must not inherit any of it. Grad mode is per thread:
    this runs on the thread that runs the lines (worker.py)."""
    import torch

    grad = torch.is_grad_enabled()
    dtype = torch.get_default_dtype()
    device = torch.get_default_device()
    anomaly = (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled())
    deterministic = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    threads = torch.get_num_threads()
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.set_grad_enabled(grad)
        torch.set_default_dtype(dtype)
        if torch.get_default_device() != device:
            torch.set_default_device(None if device == torch.device("cpu") else device)
        torch.autograd.set_detect_anomaly(*anomaly)
        if (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ) != deterministic:
            torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
