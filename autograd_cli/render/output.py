"""Where rendered text goes: stdout, a file, or an image drawn by Graphviz's `dot`.

Files are written whole or not at all: to a temporary file beside the target, then
renamed over it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd_cli.errors import RuntimeProblem, UsageProblem
from autograd_cli.i18n import N_, _

IMAGE_SUFFIXES = (".svg", ".png")
INSTALL_DOT = N_(
    "install Graphviz (Debian/Ubuntu: apt install graphviz; macOS: brew install graphviz), "
    "or write DOT text instead with --format dot --output FILE.dot"
)


@dataclass(frozen=True)
class Target:
    path: Path | None  # None: stdout
    image: str | None = None  # "svg" or "png" when dot draws the file


def check_target(path: Path | None, fmt: str) -> Target:
    """Validates --output before any work, so a bad path costs nothing."""
    if path is None:
        return Target(path=None)
    suffix = path.suffix.lower()
    image = suffix[1:] if suffix in IMAGE_SUFFIXES else None
    if image and fmt not in ("table", "dot"):
        raise UsageProblem(
            _(
                "--output {path}: a .{image} file is a picture of the graph, drawn from DOT; "
                "it cannot hold --format {format}. Use --format dot, or a .json/.mmd/.txt file."
            ).format(path=path, image=image, format=fmt)
        )
    _check_writable_path("--output", path)
    if image and shutil.which("dot") is None:
        raise RuntimeProblem(
            _(
                "--output {path}: drawing .{image} needs Graphviz's `dot` program, which is not "
                "installed; {install}"
            ).format(path=path, image=image, install=_(INSTALL_DOT))
        )
    return Target(path=path, image=image)


EXPORT_SUFFIXES = (".svg", ".html", ".txt")


def check_export(path: Path | None) -> Path | None:
    """Validates --export before any work, like --output."""
    if path is None:
        return None
    if path.suffix.lower() not in EXPORT_SUFFIXES:
        raise UsageProblem(
            _("--export {path}: unknown kind of file {suffix}; allowed: {allowed}").format(
                path=path,
                suffix=path.suffix or _("(no extension)"),
                allowed=", ".join(EXPORT_SUFFIXES),
            )
        )
    # A picture of the terminal view, drawn by Rich: no Graphviz involved.
    _check_writable_path("--export", path)
    return path


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


def deliver(text: str | None, target: Target) -> None:
    if text is None:  # the table view printed itself
        return
    if not text.endswith("\n"):
        text += "\n"  # a file or a pipe gets whole lines
    if target.path is None:
        from autograd_cli.render.emit import write_text

        write_text(text)
    elif target.image:
        _write_atomically(target.path, lambda tmp: _draw(text, target.image, tmp))
    else:
        _write_atomically(target.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


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
