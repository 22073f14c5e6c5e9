"""`agrad batch`: many command lines, one process, one JSON record per result."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from typer.core import TyperGroup

from autograd_cli.errors import ExitCode, UsageProblem
from autograd_cli.i18n import _
from autograd_cli.worker import run_work

REFUSED = {"batch": "a batch line cannot run batch"}
NO_TEXT_OUTPUT = {"-h", "--help", "--version", "--grammar"}


def run_batch(path: str, group: Any) -> int:
    source = _open(path)
    worst = ExitCode.OK

    def work() -> None:
        nonlocal worst
        from autograd_cli.render.emit import write_text

        for number, text in _lines(source):
            for record, code in _run_line(group, number, text):
                write_text(record + "\n")
                worst = max(worst, code)
                if code == ExitCode.INTERRUPTED:
                    raise KeyboardInterrupt

    try:
        # One worker thread for every line, not one per line (see worker.py).
        run_work(work)
    finally:
        if source is not sys.stdin:
            source.close()
    return int(worst)


def _open(path: str) -> TextIO:
    if path == "-":
        return sys.stdin
    try:
        return open(path, encoding="utf-8")  # closed by run_batch
    except OSError as e:
        raise UsageProblem(
            _("batch file {path}: cannot read it ({reason})").format(
                path=path, reason=e.strerror or e
            )
        ) from None


def _lines(source: TextIO) -> Iterator[tuple[int, str]]:
    try:
        for number, raw in enumerate(source, start=1):
            text = raw.strip()
            if text and not text.startswith("#"):
                yield number, text
    except UnicodeDecodeError as e:
        raise UsageProblem(
            _("batch input is not UTF-8 text ({reason})").format(reason=e.reason)
        ) from None


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
    if argv[0] in REFUSED:
        return REFUSED[argv[0]]
    if NO_TEXT_OUTPUT.intersection(argv):
        return "--help, --version and --grammar print text, not JSON; not in a batch"
    return None


def _error(head: str, code: int, message: str) -> str:
    return (
        f'{head},"exit_code":{int(code)},'
        f'"error":{json.dumps(" ".join(message.split()), ensure_ascii=False)}}}'
    )
