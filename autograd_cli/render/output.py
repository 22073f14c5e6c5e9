"""Where output goes: the plan made at parse time, and the sinks that write it
(stdout, a text file, an image drawn by Graphviz's `dot`, a batch's memory).

A regular file (or a new name) is written whole or not at all: to a temporary file
beside it, then renamed over it, with its permission bits kept. What a rename would
replace instead of writing into (a device, a FIFO, /dev/stdout, a file with other hard
links) is written in place: see `_examine`. An interrupted command leaves no temporary
file and no `dot` behind (`writes_guarded`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from autograd_cli.errors import AgradError, RuntimeProblem, UsageProblem
from autograd_cli.i18n import N_, _, group
from autograd_cli.model import WalkRequest
from autograd_cli.render.formats import TREE_MAX_NODES, Format, LiveText, Rendered, Style

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
    quiet: bool = False


@dataclass(frozen=True)
class OutputPlan:
    """Where a command's output goes, and in which format: decided and validated
    while the command line is parsed, before any work."""

    format: Format
    style: Style
    color: str
    sink: Sink
    export: Path | None = None  # the human view, also written to this .svg/.html/.txt
    progress: bool = False  # a bar on stderr for long work, if it is a terminal (progress.py)

    @property
    def writes_files(self) -> bool:
        return isinstance(self.sink, TextFile | Image) or self.export is not None

    @property
    def walk(self) -> WalkRequest:
        """What the graph walk keeps: facts of as many nodes as the view shows (the
        tree's cap for the tree view, all of them for the machine formats and images),
        and their saved tensors with --saved."""
        cap = self.style.max_nodes
        if cap is None and self.format is Format.TABLE:
            cap = TREE_MAX_NODES
        return WalkRequest(max_nodes=cap, saved=self.style.saved)


def plan_output(
    request: OutputRequest, *, sweep: bool, batch: Memory | None, graph: bool = True
) -> OutputPlan:
    """Checks every combination of --format, --json, --output and --export (and a
    sweep's and a batch line's limits); UsageProblem (or RuntimeProblem for a missing
    `dot`) names the first that cannot work. `graph`: the command draws a backward
    graph (agrad gradcheck has none: no DOT, Mermaid or picture)."""
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
    picture = request.output is not None and request.output.suffix.lower() in IMAGE_SUFFIXES
    if not graph and (fmt in (Format.DOT, Format.MERMAID) or picture):
        raise UsageProblem(
            _("this command draws no backward graph: --format table or json, not {format}").format(
                format=request.output.suffix if picture and request.output else fmt
            )
        )
    sink: Sink = Stdout()
    if request.output is not None:
        sink = _file_sink(request.output, fmt)
        if isinstance(sink, Image):
            fmt = Format.DOT  # the picture is drawn from DOT
    if request.export is not None:
        _check_export(request.export)
    return OutputPlan(fmt, style, request.color, sink, request.export, not request.quiet)


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
    _examine(option, path)


@dataclass(frozen=True)
class _Target:
    """How a file target is written, decided from what is there now."""

    write_to: Path  # symbolic links followed: the file that receives the bytes
    how: Literal["replace", "in place", "descriptor"]
    regular: bool = True  # "in place": a regular file (truncated first) or not (written into)
    mode: int | None = None  # "replace": the existing file's permission bits, kept
    gid: int | None = None  # "replace": the existing file's group, kept where allowed
    descriptor: int | None = None  # "descriptor": this process's open file descriptor


def _examine(option: str, path: Path) -> _Target:
    """What `path` is now, and so how it is written; an AgradError when it cannot be.

    A new name or a regular file: a temporary file beside it, renamed over it (whole or
    not at all), keeping the existing file's permission bits and group. Written in place
    instead: what a rename would replace rather than write into (a device such as
    /dev/null, a FIFO, which blocks until a reader opens it, as `echo > fifo` does), an
    open descriptor of this process (/dev/stdout, /dev/fd/N: written as `>&N` would), and
    a regular file a rename would change in other ways (one with other hard links, one
    owned by another user, one in a directory where no file can be created). Symbolic
    links are followed, not replaced.
    """
    descriptor = _own_descriptor(path)
    if descriptor is not None:
        return _Target(path, "descriptor", regular=False, descriptor=descriptor)
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _path_problem(option, path, e) from None
    write_to = Path(os.path.realpath(path)) if os.path.islink(path) else path
    parent = write_to.parent if str(write_to.parent) else Path(".")
    denied = RuntimeProblem(
        _("{option} {path}: not writable (permission denied)").format(option=option, path=path)
    )
    if st is None:
        if not parent.is_dir():
            raise UsageProblem(
                _("{option} {path}: directory {parent} does not exist").format(
                    option=option, path=path, parent=parent
                )
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            raise denied
        return _Target(write_to, "replace")
    if stat.S_ISDIR(st.st_mode):
        raise UsageProblem(
            _("{option} {path}: is a directory; give a file name").format(option=option, path=path)
        )
    if stat.S_ISSOCK(st.st_mode):
        raise UsageProblem(
            _("{option} {path}: is a socket; give a file name").format(option=option, path=path)
        )
    if not stat.S_ISREG(st.st_mode):  # a device or a FIFO: written into, never replaced
        if not os.access(write_to, os.W_OK):
            raise denied
        return _Target(write_to, "in place", regular=False)
    if not st.st_mode & 0o222:  # refused even where root could write it anyway
        raise RuntimeProblem(
            _(
                "{option} {path}: the file is read-only; make it writable (chmod u+w) or "
                "choose another name"
            ).format(option=option, path=path)
        )
    if not os.access(write_to, os.W_OK):
        raise denied
    if (
        st.st_nlink > 1  # a rename would split the links
        or st.st_uid != os.geteuid()  # ... give the file to us
        or not os.access(parent, os.W_OK | os.X_OK)  # ... need a new file beside it
    ):
        return _Target(write_to, "in place")
    return _Target(write_to, "replace", mode=stat.S_IMODE(st.st_mode) & 0o777, gid=st.st_gid)


# /proc/PID/fd or /proc/PID/task/TID/fd: where /dev/fd, /dev/stdout and /proc/self/fd lead.
_DESCRIPTOR_DIR = re.compile(r"/proc/(\d+)(?:/task/\d+)?/fd")


def _own_descriptor(path: Path) -> int | None:
    """N when `path` names this process's open descriptor N: /dev/stdout, /dev/fd/N,
    /proc/self/fd/N, or a symbolic link to one (Linux; elsewhere these are devices,
    written in place all the same)."""
    current = os.path.abspath(path)
    for _hop in range(40):  # the kernel's own limit on links followed
        head, name = os.path.split(current)
        found = _DESCRIPTOR_DIR.fullmatch(os.path.realpath(head))
        if found and int(found.group(1)) == os.getpid() and name.isascii() and name.isdigit():
            return int(name)
        try:
            link = os.readlink(current)
        except (OSError, ValueError):  # not a link (or not a name at all)
            return None
        current = os.path.normpath(os.path.join(head, link))
    return None


def _path_problem(option: str, path: Path, error: OSError) -> AgradError:
    """What is wrong with a name the system refuses to look up."""
    if error.errno == errno.ENAMETOOLONG:
        limit = _name_max(_existing_directory(path))
        longest = max(len(os.fsencode(part)) for part in path.parts)
        if longest > limit:
            return UsageProblem(
                _(
                    "{option} {path}: file name too long: a name of {length} bytes, where this "
                    "file system allows at most {limit}"
                ).format(option=option, path=path, length=group(longest), limit=group(limit))
            )
        return UsageProblem(
            _("{option} {path}: path too long for the system ({reason})").format(
                option=option, path=path, reason=error.strerror
            )
        )
    if error.errno == errno.ENOTDIR:
        return UsageProblem(
            _("{option} {path}: directory {parent} does not exist").format(
                option=option, path=path, parent=path.parent
            )
        )
    return RuntimeProblem(
        _("{option} {path}: cannot write there ({reason})").format(
            option=option, path=path, reason=error.strerror or error
        )
    )


def _existing_directory(path: Path) -> Path:
    for directory in path.absolute().parents:
        if os.path.isdir(directory):
            return directory
    return Path("/")


def _name_max(directory: Path) -> int:
    """The longest file name, in bytes, that the file system of `directory` allows."""
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255  # NAME_MAX of Linux's file systems


# The sinks: each takes what a renderer returned (text, or the table's renderables)
# and writes it. A file or a pipe gets whole lines.


class Sink(Protocol):
    def deliver(self, rendered: Rendered, color: str) -> None: ...


def whole(rendered: Rendered) -> str:
    """The text of a machine format's pieces, joined."""
    assert not isinstance(rendered, list), "a table, not text"
    return "".join(rendered)


STDOUT_BUFFER = 1 << 20  # characters of text held before they are written


class Stdout:
    def deliver(self, rendered: Rendered, color: str) -> None:
        if isinstance(rendered, list):
            from autograd_cli.render.console import make_console, print_all

            print_all(make_console(color), rendered)
            return
        from autograd_cli.render.emit import write_text

        if isinstance(rendered, LiveText):  # each line as soon as it is made
            for piece in rendered:
                write_text(piece)
            return
        # Written as it is made, a mebibyte at a time: a long document is never whole
        # in memory, and one that fits is one write, so that an interrupt leaves
        # stdout empty or holding the whole of it (tests/test_signals.py).
        held: list[str] = []
        size = 0
        for piece in rendered:
            held.append(piece)
            size += len(piece)
            if size >= STDOUT_BUFFER:
                write_text("".join(held))
                held.clear()
                size = 0
        if held:
            write_text("".join(held))

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

    def deliver(self, rendered: Rendered, color: str) -> None:
        if isinstance(rendered, list):
            from autograd_cli.render.console import recorded_text

            text = recorded_text(rendered)  # no colour, a fixed width
            rendered = iter([text if text.endswith("\n") else text + "\n"])
        write_file(self.path, (piece.encode("utf-8") for piece in rendered))


# The largest drawing asked of Graphviz, in the nodes its layout places: the graph's
# nodes plus one for each layer a long edge crosses (dot routes edges through such
# "virtual" nodes, and its ordering work grows much faster than their number).
# Measured with Graphviz 2.42 (notes/reliability-files.md): `agrad chain`, whose
# leaves a and b feed every step, lays out 79 nodes as 1,879 for --length 25 (1.7 s),
# 94 as 2,704 for --length 30 (5.9 s), 124 as 4,804 for --length 40 (43 s); --length
# 3000 ran until it was killed (issue 14). 9,000 nodes with short edges take 6.8 s.
IMAGE_MAX_LAYOUT = 2_000
_DOT_NODE = re.compile(r"^\s*(n\d+) \[", re.MULTILINE)  # render/dot.py's `n0 [label=...]`
_DOT_EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)", re.MULTILINE)  # ... and `n0 -> n1`


def layout_size(dot_text: str) -> tuple[int, int]:
    """(nodes, nodes dot's layout places) for the DOT text of render/dot.py: each node
    ranked one below its lowest parent (longest path from the root, dot's first ranking),
    and an edge across k ranks adds k - 1 virtual nodes."""
    nodes = _DOT_NODE.findall(dot_text)
    edges = _DOT_EDGE.findall(dot_text)
    children: dict[str, list[str]] = {node: [] for node in nodes}
    parents = dict.fromkeys(nodes, 0)
    for source, target in edges:
        children.setdefault(source, []).append(target)
        parents[target] = parents.get(target, 0) + 1
        parents.setdefault(source, 0)
    rank = dict.fromkeys(parents, 0)
    ready = [node for node, count in parents.items() if count == 0]
    while ready:  # Kahn's algorithm: a node is ranked once all its parents are
        node = ready.pop()
        for child in children.get(node, ()):
            rank[child] = max(rank[child], rank[node] + 1)
            parents[child] -= 1
            if parents[child] == 0:
                ready.append(child)
    virtual = sum(max(rank[target] - rank[source] - 1, 0) for source, target in edges)
    return len(nodes), len(nodes) + virtual


@dataclass(frozen=True)
class Image:
    """A picture of the graph, drawn from DOT text by Graphviz's `dot`."""

    path: Path
    kind: str  # "svg" or "png"

    def deliver(self, rendered: Rendered | str, color: str) -> None:
        dot_text = rendered if isinstance(rendered, str) else whole(rendered)
        self.check_size(dot_text)
        write_file(self.path, _draw(dot_text, self.kind))

    def check_size(self, dot_text: str) -> None:
        """UsageProblem for a graph too big for Graphviz to draw in reasonable time."""
        nodes, layout = layout_size(dot_text)
        if layout > IMAGE_MAX_LAYOUT:
            raise UsageProblem(
                _(
                    "--output {path}: too big for Graphviz to draw in reasonable time: {nodes} "
                    "nodes, {layout} with the layers its long edges cross (at most {limit}); "
                    "draw part of it with --max-nodes, or write the DOT text with --format dot "
                    "--output FILE.dot"
                ).format(
                    path=self.path,
                    nodes=group(nodes),
                    layout=group(layout),
                    limit=group(IMAGE_MAX_LAYOUT),
                )
            )


@dataclass
class Memory:
    """A batch line's documents, kept for the batch to wrap in its records."""

    documents: list[str] = field(default_factory=list)

    def deliver(self, rendered: Rendered, color: str) -> None:
        # JSON Lines: a report of several documents (agrad pitfalls --all) gives one
        # line each, and JSON text never holds a raw newline.
        self.documents.extend(whole(rendered).removesuffix("\n").split("\n"))


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
    write_file(path, text.encode("utf-8"), "--export")


# What an interrupted command must not leave behind: the temporary files and the `dot`
# children of the writes under way. The work (and so every write) runs on the worker
# thread, and an interrupted CLI leaves without waiting for it (worker.py); so the main
# thread abandons them (`writes_guarded`), and no new one starts after that.


class _InFlight:
    def __init__(self) -> None:
        self.lock = threading.RLock()  # re-entered by a signal handler on the same thread
        self.closed = False
        self.temporary: set[str] = set()
        self.children: set[subprocess.Popen[bytes]] = set()

    def abandon(self) -> None:
        with self.lock:
            self.closed = True
            temporary, children = list(self.temporary), list(self.children)
        for child in children:
            with contextlib.suppress(OSError):
                child.kill()
        for name in temporary:
            with contextlib.suppress(OSError):
                os.unlink(name)
        for child in children:  # reaped here, so no zombie outlives agrad's exit
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                child.wait(timeout=5)


_in_flight = _InFlight()


@contextlib.contextmanager
def writes_guarded(plan: OutputPlan) -> Iterator[None]:
    """Around a command's work when it writes files: however it ends (Ctrl-C's
    KeyboardInterrupt, an error, SIGTERM), no temporary file and no `dot` is left.

    SIGTERM, whose default would end agrad at once, is handled while the work runs:
    the writes are abandoned, then the handler that was there runs; in place of the
    default, one line `agrad: error: terminated` and exit 143 (128 + 15, as shells
    report it). An ignored SIGTERM stays ignored.
    """
    global _in_flight
    if not plan.writes_files:
        yield
        return
    flight = _in_flight = _InFlight()  # a command's own: nothing abandoned earlier carries over
    previous = _handle_sigterm(flight)
    try:
        yield
    except BaseException:
        flight.abandon()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _handle_sigterm(flight: _InFlight) -> Any:
    """Installs the SIGTERM handler of `writes_guarded`; the one it replaced, or None."""
    if threading.current_thread() is not threading.main_thread():
        return None  # only the main thread may set handlers (and a batch line writes no file)
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None or previous == signal.SIG_IGN:  # None: set outside Python
        return None

    def terminated(signum: int, frame: Any) -> None:
        flight.abandon()
        if callable(previous):
            previous(signum, frame)
            return
        from autograd_cli.outcome import fail

        code = 128 + signum
        with contextlib.suppress(OSError, ValueError):
            fail(_("terminated"), code)
            sys.stderr.flush()
        os._exit(code)  # as an interrupted command leaves (worker.py): the worker may still run

    signal.signal(signal.SIGTERM, terminated)
    return previous


def _draw(dot_text: str, image: str) -> bytes:
    """The picture `dot` draws from `dot_text`: read from its stdout, so that `dot` never
    writes a file itself."""
    flight = _in_flight
    with flight.lock:
        if flight.closed:
            raise RuntimeProblem(_("interrupted"))
        try:
            # In agrad's process group: Ctrl-C at a terminal reaches it too.
            child = subprocess.Popen(
                ["dot", f"-T{image}"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as e:
            raise RuntimeProblem(
                _("cannot run Graphviz's `dot` ({reason}); {install}").format(
                    reason=e.strerror or e, install=_(INSTALL_DOT)
                )
            ) from None
        flight.children.add(child)
    try:
        picture, errors = child.communicate(dot_text.encode("utf-8"))
    finally:
        if child.returncode is None:  # interrupted while it draws
            child.kill()
            child.wait()
        with flight.lock:
            flight.children.discard(child)
    if child.returncode < 0:
        raise RuntimeProblem(
            _("dot was killed by signal {signal} before it finished drawing {image}").format(
                signal=_signal_name(-child.returncode), image=image
            )
        )
    if child.returncode != 0:
        reason = errors.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeProblem(
            _("dot failed to draw {image}: {reason}").format(
                image=image,
                reason=reason[0]
                if reason
                else _("exit status {code}, no message").format(code=child.returncode),
            )
        )
    return picture


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def write_file(path: Path, data: bytes | Iterable[bytes], option: str = "--output") -> None:
    """`data` (or its pieces, written as they come) into `path` as `_examine` says; an
    OSError becomes exit 1 with the path and the system's reason (ENOSPC, EPIPE from a
    FIFO whose reader left, ...)."""
    target = _examine(option, path)  # again: what is there may have changed since the plan
    pieces = [data] if isinstance(data, bytes) else data
    try:
        if target.descriptor is not None:
            _write_all(target.descriptor, pieces)
        elif target.how == "in place":
            _write_in_place(target, pieces)
        else:
            _replace(target, pieces)
    except OSError as e:
        raise RuntimeProblem(
            _("{option} {path}: cannot write there ({reason})").format(
                option=option, path=path, reason=e.strerror or e
            )
        ) from None


def _write_all(fd: int, pieces: Iterable[bytes]) -> None:
    for piece in pieces:
        view = memoryview(piece)
        while view:
            view = view[os.write(fd, view) :]


def _write_in_place(target: _Target, pieces: Iterable[bytes]) -> None:
    # No O_TRUNC for a device or a FIFO; O_NOCTTY: a terminal named here never
    # becomes agrad's controlling terminal.
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | (os.O_TRUNC if target.regular else 0)
    fd = os.open(target.write_to, flags)
    try:
        _write_all(fd, pieces)
    finally:
        os.close(fd)


def _replace(target: _Target, pieces: Iterable[bytes]) -> None:
    """Whole or not at all: a temporary file beside the target, renamed over it."""
    flight = _in_flight
    parent = target.write_to.parent
    with flight.lock:  # created and registered at once, so an interrupt finds it
        if flight.closed:
            raise RuntimeProblem(_("interrupted"))
        fd, name = tempfile.mkstemp(
            prefix=_temporary_prefix(target.write_to.name, parent), dir=parent
        )
        flight.temporary.add(name)
    try:
        try:
            _write_all(fd, pieces)
            if target.gid is not None:
                with contextlib.suppress(OSError):  # the group, where we may set it
                    os.fchown(fd, -1, target.gid)
            # mkstemp makes 0600: an existing file's bits are kept, a new file follows umask
            os.fchmod(fd, target.mode if target.mode is not None else 0o666 & ~_umask())
        finally:
            os.close(fd)
        os.replace(name, target.write_to)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    finally:
        with flight.lock:
            flight.temporary.discard(name)


def _temporary_prefix(name: str, directory: Path) -> str:
    """`.NAME.` for mkstemp, NAME shortened so that the temporary name (8 random
    characters added) fits the file system's limit on a name."""
    room = _name_max(directory) - len(b"..") - 8
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return f".{name}."


def _umask() -> int:
    """The process's umask, read without setting it (os.umask's read-by-setting would
    race with another thread creating a file)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
