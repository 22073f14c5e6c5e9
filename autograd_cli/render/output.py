"""Where output goes: the plan made at parse time, and the sinks that write it
(stdout, a text file, an image drawn by Graphviz's `dot`, a batch's memory).

Files are written whole or not at all: to a temporary file beside the target, then
renamed over it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from autograd_cli.errors import RuntimeProblem, UsageProblem
from autograd_cli.i18n import N_, _
from autograd_cli.render.formats import TREE_MAX_NODES, Format, Style

IMAGE_SUFFIXES = (".svg", ".png")
INSTALL_DOT = N_(
    "install Graphviz (Debian/Ubuntu: apt install graphviz; macOS: brew install graphviz), "
    "or write DOT text instead with --format dot --output FILE.dot"
)


@dataclass(frozen=True)
class OutputRequest:
    """The output options as typed on the command line."""

    fmt: Format = Format.TABLE
    json: bool = False
    output: Path | None = None
    export: Path | None = None
    precision: int = 4
    saved: bool = False
    max_nodes: int | None = None
    color: str = "auto"


@dataclass(frozen=True)
class OutputPlan:
    """Where a command's output goes, and in which format: decided and validated
    while the command line is parsed, before any work."""

    format: Format
    style: Style
    color: str
    sink: Sink
    export: Path | None = None  # the human view, also written to this .svg/.html/.txt

    @property
    def walk_cap(self) -> int | None:
        """Nodes whose facts the graph walk keeps: the tree's cap for the tree view,
        all of them for the machine formats (and for images)."""
        if self.style.max_nodes is None and self.format is Format.TABLE:
            return TREE_MAX_NODES
        return self.style.max_nodes


def plan_output(request: OutputRequest, *, sweep: bool, batch: Memory | None) -> OutputPlan:
    """Checks every combination of --format, --json, --output and --export (and a
    sweep's and a batch line's limits); UsageProblem (or RuntimeProblem for a missing
    `dot`) names the first that cannot work."""
    fmt = request.fmt
    if request.json:
        if fmt not in (Format.TABLE, Format.JSON):
            raise UsageProblem(
                _(
                    "--json means --format json; it cannot be combined with --format {format}"
                ).format(format=fmt)
            )
        fmt = Format.JSON
    file_option = "--output" if request.output is not None else "--export"
    has_file = request.output is not None or request.export is not None
    if sweep:
        if fmt not in (Format.TABLE, Format.JSON):
            raise UsageProblem(
                _("a --seed sweep writes json or table, not --format {format}").format(format=fmt)
            )
        if has_file:
            raise UsageProblem(
                _(
                    "a --seed sweep streams to stdout; redirect it (> sweep.jsonl) instead of "
                    "{option}"
                ).format(option=file_option)
            )
    style = Style(request.precision, request.saved, request.max_nodes)
    if batch is not None:  # JSON only (the default table view becomes JSON), no files
        if fmt not in (Format.TABLE, Format.JSON):
            raise UsageProblem(
                _("a batch line writes JSON; --format {format} is not allowed").format(format=fmt)
            )
        if has_file:
            raise UsageProblem(
                _("a batch line writes JSON to the batch; {option} is not allowed").format(
                    option=file_option
                )
            )
        return OutputPlan(Format.JSON, style, request.color, batch)
    sink: Sink = Stdout()
    if request.output is not None:
        sink = _file_sink(request.output, fmt)
        if isinstance(sink, Image):
            fmt = Format.DOT  # the picture is drawn from DOT
    if request.export is not None:
        _check_export(request.export)
    return OutputPlan(fmt, style, request.color, sink, request.export)


def _file_sink(path: Path, fmt: Format) -> Sink:
    suffix = path.suffix.lower()
    image = suffix[1:] if suffix in IMAGE_SUFFIXES else None
    if image and fmt not in (Format.TABLE, Format.DOT):
        raise UsageProblem(
            _(
                "--output {path}: a .{image} file is a picture of the graph, drawn from DOT; "
                "it cannot hold --format {format}. Use --format dot, or a .json/.mmd/.txt file."
            ).format(path=path, image=image, format=fmt)
        )
    _check_writable_path("--output", path)
    if not image:
        return TextFile(path)
    if shutil.which("dot") is None:
        raise RuntimeProblem(
            _(
                "--output {path}: drawing .{image} needs Graphviz's `dot` program, which is not "
                "installed; {install}"
            ).format(path=path, image=image, install=_(INSTALL_DOT))
        )
    return Image(path, image)


EXPORT_SUFFIXES = (".svg", ".html", ".txt")


def _check_export(path: Path) -> None:
    """--export: a picture of the terminal view, drawn by Rich; no Graphviz involved."""
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageProblem(
            _("--export {path}: unknown kind of file {suffix}; allowed: {allowed}").format(
                path=path,
                suffix=path.suffix or _("(no extension)"),
                allowed=", ".join(EXPORT_SUFFIXES),
            )
        )
    _check_writable_path("--export", path)


def _check_writable_path(option: str, path: Path) -> None:
    """The checks every file target gets before any work; errors name `option`."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageProblem(
            _("{option} {path}: directory {parent} does not exist").format(
                option=option, path=path, parent=parent
            )
        )
    if path.is_dir():
        raise UsageProblem(
            _("{option} {path}: is a directory; give a file name").format(option=option, path=path)
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RuntimeProblem(
            _("{option} {path}: not writable (permission denied)").format(option=option, path=path)
        )


# The sinks: each takes what a renderer returned (text, or the table's renderables)
# and writes it. A file or a pipe gets whole lines.


class Sink(Protocol):
    def deliver(self, rendered: str | list[Any], color: str) -> None: ...


class Stdout:
    def deliver(self, rendered: str | list[Any], color: str) -> None:
        if isinstance(rendered, str):
            from autograd_cli.render.emit import write_text

            write_text(rendered if rendered.endswith("\n") else rendered + "\n")
            return
        from autograd_cli.render.console import make_console, print_all

        print_all(make_console(color), rendered)

    def stream(self, renderables: Iterable[Any], color: str) -> None:
        """Each renderable printed and flushed as it comes (a sweep's rows)."""
        from autograd_cli.render.console import make_console

        console = make_console(color)
        for renderable in renderables:
            console.print(renderable, soft_wrap=True)
            console.file.flush()


@dataclass(frozen=True)
class TextFile:
    path: Path

    def deliver(self, rendered: str | list[Any], color: str) -> None:
        if not isinstance(rendered, str):
            from autograd_cli.render.console import recorded_text

            rendered = recorded_text(rendered)  # no colour, a fixed width
        text = rendered if rendered.endswith("\n") else rendered + "\n"
        _write_atomically(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@dataclass(frozen=True)
class Image:
    """A picture of the graph, drawn from DOT text by Graphviz's `dot`."""

    path: Path
    kind: str  # "svg" or "png"

    def deliver(self, rendered: str | list[Any], color: str) -> None:
        assert isinstance(rendered, str)
        _write_atomically(self.path, lambda tmp: _draw(rendered, self.kind, tmp))


@dataclass
class Memory:
    """A batch line's documents, kept for the batch to wrap in its records."""

    documents: list[str] = field(default_factory=list)

    def deliver(self, rendered: str | list[Any], color: str) -> None:
        assert isinstance(rendered, str)
        self.documents.append(rendered)


def export_view(path: Path, renderables: list[Any], title: str) -> None:
    """The human view as a picture (.svg), a page (.html) or plain text (.txt)."""
    from autograd_cli.render.console import offscreen_console

    console = offscreen_console(color=True)
    for renderable in renderables:
        console.print(renderable)
    kind = path.suffix.lower()
    if kind == ".svg":
        text = console.export_svg(title=title)
    elif kind == ".html":
        text = console.export_html()
    else:
        text = console.export_text()
    _write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), "--export")


def _draw(dot_text: str, image: str, destination: Path) -> None:
    result = subprocess.run(
        ["dot", f"-T{image}", "-o", str(destination)],
        input=dot_text.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeProblem(
            _("dot failed to draw {image}: {reason}").format(
                image=image, reason=reason[0] if reason else _("no reason given")
            )
        )


def _write_atomically(
    path: Path, write: Callable[[Path], object], option: str = "--output"
) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise RuntimeProblem(
            _("{option} {path}: cannot write there ({reason})").format(
                option=option, path=path, reason=e.strerror or e
            )
        ) from None
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp makes 0600; a new file should follow umask
        os.replace(tmp, path)
    except OSError as e:
        raise RuntimeProblem(f"{option} {path}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)
