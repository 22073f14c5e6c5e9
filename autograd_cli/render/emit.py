"""The one place where output leaves agrad.

Bytes go to stdout's binary layer in a loop until all are written. Python's text
layer does not do that when stdout is unbuffered (PYTHONUNBUFFERED=1, `python -u`):
TextIOWrapper hands the whole text to the raw file once, and a partial write (a
pipe whose reader left mid-output: `agrad chain --length 20000 --json | head -c 10`)
drops the rest without an error, so the command exited 0. Here the next write meets
EPIPE and the command ends as a broken pipe does (exit 1, quietly).

Machine output (JSON, dot, Mermaid) is UTF-8 whatever the locale says. The human
view follows stdout's encoding; where it cannot show a character (LC_ALL=C,
PYTHONIOENCODING=ascii) it is spelled in ASCII: accents dropped, a few signs spelled
out, anything else `?`.
"""

from __future__ import annotations

import codecs
import sys
from typing import Any

from autograd_cli.errors import RuntimeProblem
from autograd_cli.i18n import _

_FALLBACK = "agrad-ascii"
# Signs whose NFKD form is not ASCII, spelled as a reader of ASCII would.
_SPELLED = {
    "·": ".",
    "×": "x",
    "→": "->",
    "←": "<-",
    "↔": "<->",
    "…": "...",
    "—": "-",
    "–": "-",
    "−": "-",
    "≈": "~",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "±": "+-",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "đ": "d",
    "Đ": "D",
    "∂": "d",
    "∇": "grad",
    "✓": "ok",
    "✗": "x",
    "•": "*",
    # agrad inspect --steps's sparklines: the eight levels as digits.
    **{block: str(level) for level, block in enumerate("▁▂▃▄▅▆▇█", 1)},
}


def _spelled_in_ascii(error: UnicodeError) -> tuple[str, int]:
    import unicodedata

    if not isinstance(error, UnicodeEncodeError):
        raise error
    spelled = []
    for char in error.object[error.start : error.end]:
        ascii_form = _SPELLED.get(char)
        if ascii_form is None:
            decomposed = unicodedata.normalize("NFKD", char)
            ascii_form = decomposed.encode("ascii", "ignore").decode("ascii") or "?"
        spelled.append(ascii_form)
    return "".join(spelled), error.end


def _fallback() -> str:
    try:
        codecs.lookup_error(_FALLBACK)
    except LookupError:
        codecs.register_error(_FALLBACK, _spelled_in_ascii)
    return _FALLBACK


def stream_encoding(stream: Any) -> str:
    return getattr(stream, "encoding", None) or "utf-8"


def showable(text: str, stream: Any) -> str:
    """`text` as `stream` can encode it: itself, or with ASCII spellings."""
    encoding = stream_encoding(stream)
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        return text.encode(encoding, _fallback()).decode(encoding)
    except LookupError:  # an encoding Python does not know: ASCII is safe
        return text.encode("ascii", _fallback()).decode("ascii")


def _closed() -> RuntimeProblem:
    return RuntimeProblem(
        _("cannot write the output: stdout is closed (give --output FILE to write a file)")
    )


class ClosedStdout:
    """sys.stdout when the caller closed it (`agrad ... >&-`; Python sets None): a
    write, by agrad or by Click (--help), is an error, not output lost in silence."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise _closed()

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def stdout() -> Any:
    """sys.stdout, or the error of a closed one."""
    if sys.stdout is None or isinstance(sys.stdout, ClosedStdout):
        raise _closed()
    return sys.stdout


def write_bytes(stream: Any, data: bytes, encoding: str = "utf-8") -> None:
    """All of `data` (in `encoding`) to `stream`'s binary layer, after what its text
    layer holds."""
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text-only stream (io.StringIO in a test)
        stream.write(data.decode(encoding))
        stream.flush()
        return
    try:
        view = memoryview(data)
        while view:
            written = buffer.write(view)
            if written is None:  # a non-blocking stdout that is full: wait for room
                import select

                select.select([], [buffer], [])
                continue
            view = view[written:]
        buffer.flush()
    except BrokenPipeError:
        raise  # the reader went away: exit 1 quietly (outcome.py)
    except OSError as e:
        raise RuntimeProblem(
            _("cannot write the output to stdout: {reason}").format(reason=e.strerror or e)
        ) from None


def write_text(text: str) -> None:
    """Machine output: plain text straight to stdout, never through Rich, in UTF-8.

    `text` ends with a newline; callers add it (json, dot, mermaid all do).
    """
    write_bytes(stdout(), text.encode("utf-8"))


def write_human(stream: Any, text: str) -> None:
    """Human text to `stream` in its own encoding, spelled in ASCII where it must."""
    encoding = stream_encoding(stream)
    try:
        data = text.encode(encoding)  # the common case: one encoding, no copy more
    except UnicodeEncodeError:
        data = text.encode(encoding, _fallback())
    except LookupError:  # an encoding Python does not know: ASCII is safe
        encoding = "ascii"
        data = text.encode(encoding, _fallback())
    write_bytes(stream, data, encoding)
