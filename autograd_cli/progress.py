"""Progress on long work: a bar on stderr while a graph walk, a render or a seed sweep
runs, for a person at a terminal.

The runner opens a display around a command's work (`shown`); the code that does the
long work opens a task and ticks it:

    with progress.task(_(progress.WALKING)) as tick:  # total=None: a count so far
        ...
        tick(done)  # every few thousand items

or, for items a generator makes as a sink reads them, `progress.counted(items, ...)`.

A task costs nothing to speak of when no bar can be shown (`shown` was not entered:
a batch line, --quiet, stderr not a terminal, a test): `task` returns one shared
object whose tick does nothing, and neither Rich nor a clock is touched. When a bar
can be shown, a tick only stores its count; a background thread draws at most
REFRESH_PER_S times a second, and only once the command has run SHOW_AFTER_S (so a
short command never shows anything) and the task has lasted SETTLE_S (so a quick
task late in a long command does not flash). Rich is imported by that thread, the
first time a bar is drawn.

One bar at a time: a task opened while another is open is not shown (a sweep's seeds
hide their walks). Nothing is shown `hidden`: the runner hides the display while the
output goes to the terminal stderr is on, since a live bar and the output's writes
would interleave. A bar vanishes (Rich's transient display) when its task ends, when
the display closes (the work ended, failed, or Ctrl-C reached the main thread, which
closes it before `agrad: error: interrupted` is written), and on SIGTERM, before
whatever handler was there runs (writes_guarded's message, or the default: killed by
the signal, as before) — so a message always starts on a clean line and the cursor
is visible again.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TextIO

from autograd_cli.i18n import N_, group, ngettext

Tick = Callable[[int], None]
Unit = Literal["nodes", "seeds", "steps"]

# What the long tasks are called, for the code that opens them: task(_(WALKING)).
WALKING = N_("walking the graph")
WRITING = N_("writing the graph")
SWEEPING = N_("running the seeds")

SHOW_AFTER_S = 1.0  # a command that ends sooner never shows a bar
SETTLE_S = 0.1  # nor does a task that ends sooner
REFRESH_PER_S = 10


def _no_tick(done: int) -> None:
    """The tick of a task that is not shown."""


class _Unshown:
    """The task of a display that shows nothing: one object, entered any number of
    times (also at once, from several threads), that holds no state."""

    __slots__ = ()

    def __enter__(self) -> Tick:
        return _no_tick

    def __exit__(self, *exc: object) -> None:
        return None


_UNSHOWN = _Unshown()
_display: Display | None = None  # the open display (shown); None: nothing can be shown


def task(description: str, total: int | None = None, unit: Unit = "nodes") -> Any:
    """A context manager around a long piece of work, which gives a tick: call
    `tick(done)` now and then (every ~4,096 items) with how many of `total` (or so
    far, if it is None) are done. `description` is human text, already translated."""
    display = _display
    if display is None:
        return _UNSHOWN
    return _Task(display, description, total, unit)


def counted(
    items: Iterable[Any],
    description: str,
    total: int | None = None,
    unit: Unit = "nodes",
    every: int = 4096,
) -> Iterator[Any]:
    """`items`, as they come, under a task that ticks every `every` items: for work
    done by a generator (the renderers' pieces, made while a sink writes them)."""
    if _display is None:  # nothing to count: the items themselves, as fast as they come
        yield from items
        return
    with task(description, total, unit) as tick:
        for done, item in enumerate(items, 1):
            yield item
            if not done % every:
                tick(done)


@contextmanager
def hidden(when: bool = True) -> Iterator[None]:
    """Inside, `when` it is true, no bar is on the screen: one shown is erased first,
    and tasks opened inside are not shown. Around output written to the terminal."""
    display = _display
    if display is None or not when:
        yield
        return
    display.hide(1)
    try:
        yield
    finally:
        display.hide(-1)


@contextmanager
def shown(enabled: bool, color: str = "auto") -> Iterator[None]:
    """Around a command's work: inside, long tasks show a bar on stderr, if `enabled`
    (not --quiet, not a batch line) and stderr is a terminal that can draw one."""
    stream = sys.stderr
    if not enabled or not can_draw(stream):
        yield
        return
    display = Display(lambda: _console(stream, color))
    with installed(display), _sigterm_clears(display):
        yield


def can_draw(stream: TextIO | None) -> bool:
    """`stream` is a terminal that understands cursor movement."""
    if stream is None or os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, OSError, ValueError):  # closed, or not a file
        return False


@contextmanager
def installed(display: Display) -> Iterator[Display]:
    """`display` is where tasks go, inside; closed (its bar erased) however it ends."""
    global _display
    previous, _display = _display, display
    try:
        yield display
    finally:
        _display = previous
        display.close()


class _Task:
    """A task that may be shown: entering it makes it the display's current task,
    unless another is (then it is not shown, and its tick does nothing)."""

    __slots__ = ("description", "display", "done", "started", "total", "unit")

    def __init__(self, display: Display, description: str, total: int | None, unit: Unit):
        self.display = display
        self.description = description
        self.total = total
        self.unit = unit
        self.started = 0.0
        self.done = 0

    def __enter__(self) -> Tick:
        return self.tick if self.display.begin(self) else _no_tick

    def __exit__(self, *exc: object) -> None:
        self.display.end(self)

    def tick(self, done: int) -> None:
        self.done = done  # read by the drawing thread; a store is all a tick costs


class Display:
    """Draws the current task's bar, when due, on the console `make_console` returns
    (made when the first bar is drawn). With `background`, a thread of its own calls
    `refresh` REFRESH_PER_S times a second once a task has begun; without, whoever
    holds the display calls it (tests, with their own clock)."""

    def __init__(
        self,
        make_console: Callable[[], Any],
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self._make_console = make_console
        self._console: Any = None
        self._clock = clock
        self._started = clock()
        # Re-entrant: a SIGTERM handler (on the main thread) may close the display
        # while the main thread is inside one of these methods.
        self._lock = threading.RLock()
        self._current: _Task | None = None
        self._hidden = 0
        self._closed = False
        self._bar: _Bar | None = None
        self._background = background
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def showing(self) -> bool:
        """A bar is on the screen now."""
        return self._bar is not None

    def begin(self, task: _Task) -> bool:
        with self._lock:
            if self._closed or self._hidden or self._current is not None:
                return False
            task.started = self._clock()
            self._current = task
            if self._background and self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="agrad-progress", daemon=True
                )
                self._thread.start()
            return True

    def end(self, task: _Task) -> None:
        with self._lock:
            if self._current is task:
                self._current = None
                self._erase()

    def hide(self, change: int) -> None:
        with self._lock:
            self._hidden += change
            if self._hidden:
                self._erase()

    def refresh(self) -> None:
        """Draws the current task, if it is due."""
        with self._lock:
            task = self._current
            if self._closed or self._hidden or task is None:
                return
            now = self._clock()
            if now - self._started < SHOW_AFTER_S or now - task.started < SETTLE_S:
                return
            try:
                if self._bar is None:
                    if self._console is None:
                        self._console = self._make_console()
                    self._bar = _Bar(self._console, task, now)  # drawn as it starts
                else:
                    self._bar.draw(task, now)
            except (OSError, ValueError):  # the terminal went away: show nothing more
                self._bar = None
                self._closed = True

    def close(self, timeout: float = 2.0) -> None:
        """No bar on the screen, and none from now on; the drawing thread gone."""
        if self._lock.acquire(timeout=timeout):  # never hang an exit on a stuck terminal
            try:
                self._closed = True
                self._erase()
            finally:
                self._lock.release()
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _erase(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            try:
                bar.stop()
            except (OSError, ValueError):
                self._closed = True

    def _run(self) -> None:
        while not self._stop.wait(1 / REFRESH_PER_S):
            try:
                self.refresh()
            except Exception:  # never a traceback from a progress bar over the output
                with self._lock:
                    self._closed = True
                return


BAR_WIDTH = 24  # the bar's cells, where the line has room; at least MIN_BAR_WIDTH
MIN_BAR_WIDTH = 10


class _Bar:
    """One task's bar: a Rich Progress with one task, drawn when asked (no thread of
    Rich's own), erased when stopped, never touching sys.stdout or sys.stderr.

    The line holds what fits the terminal's width, whole: the bar goes first (shorter,
    then not at all), then the time, the spinner, the description; never a number cut
    short."""

    def __init__(self, console: Any, task: _Task, now: float) -> None:
        from rich.progress import Progress

        self.now = now
        self.console = console
        self.started = task.started
        self.spinner = "dots" if console.encoding.lower().startswith("utf") else "line"
        self.progress = Progress(
            console=console,
            auto_refresh=False,
            transient=True,
            # agrad writes stdout's bytes itself (render/emit.py): never through Rich
            redirect_stdout=False,
            redirect_stderr=False,
            get_time=lambda: self.now,  # the spinner turns with the display's clock
        )
        self.id = self.progress.add_task("", total=task.total, what="", count="", elapsed="")
        self.update(task, now)
        self.progress.start()  # draws it

    def update(self, task: _Task, now: float) -> None:
        from autograd_cli.render.emit import showable

        self.now = now
        stream = self.console.file
        texts = {
            "what": showable(task.description, stream),
            "count": showable(count_text(task.unit, task.done, task.total), stream),
            "elapsed": elapsed_text(now - self.started),
        }
        self.progress.columns = self._columns(texts)
        self.progress.update(self.id, completed=task.done, **texts)

    def _columns(self, texts: dict[str, str]) -> tuple[Any, ...]:
        from rich.cells import cell_len
        from rich.progress import BarColumn, SpinnerColumn, TextColumn
        from rich.table import Column

        # One cell short of the width: a line that fills the last column would wrap
        # on some terminals, and the bar would be drawn again one line lower.
        room = self.console.width - 1
        widths = {"spinner": 1, "bar": BAR_WIDTH, **{k: cell_len(v) for k, v in texts.items()}}
        order = ("spinner", "what", "bar", "count", "elapsed")
        bar = BAR_WIDTH
        for drop in ((), ("bar",), ("bar", "elapsed"), ("bar", "elapsed", "spinner")):
            kept = [name for name in order if name not in drop]
            spare = room - sum(widths[name] for name in kept) - (len(kept) - 1)
            if spare >= 0:
                break
            if "bar" in kept and BAR_WIDTH + spare >= MIN_BAR_WIDTH:
                bar = BAR_WIDTH + spare  # a shorter bar
                break
        else:  # the count alone, if it fits; else nothing
            kept = ["count"] if widths["count"] <= room else []

        def whole() -> Any:  # a number is shown whole or not at all
            return Column(no_wrap=True, overflow="crop")

        made = {
            "spinner": lambda: SpinnerColumn(self.spinner, table_column=whole()),
            "bar": lambda: BarColumn(bar_width=bar, table_column=whole()),
            "elapsed": lambda: TextColumn(
                "{task.fields[elapsed]}", "progress.elapsed", markup=False, table_column=whole()
            ),
        }
        return tuple(
            made[name]()
            if name in made
            else TextColumn(f"{{task.fields[{name}]}}", markup=False, table_column=whole())
            for name in kept
        )

    def draw(self, task: _Task, now: float) -> None:
        self.update(task, now)
        self.progress.refresh()

    def stop(self) -> None:
        self.progress.stop()


def count_text(unit: Unit, done: int, total: int | None) -> str:
    """`12,288 nodes`, `45 of 300 seeds`, in the reader's language."""
    if unit == "steps":  # agrad inspect --steps: the total is always known
        text = ngettext("{count} of {total} step", "{count} of {total} steps", total or 0)
    elif unit == "seeds":
        if total is None:
            text = ngettext("{count} seed", "{count} seeds", done)
        else:
            text = ngettext("{count} of {total} seed", "{count} of {total} seeds", total)
    elif total is None:
        text = ngettext("{count} node", "{count} nodes", done)
    else:
        text = ngettext("{count} of {total} node", "{count} of {total} nodes", total)
    return text.format(count=group(done), total=group(total or 0))


def elapsed_text(seconds: float) -> str:
    """`0:07`, `12:34`: minutes and seconds of the work so far."""
    whole = max(int(seconds), 0)
    return f"{whole // 60}:{whole % 60:02d}"


def _console(stream: TextIO, color: str) -> Any:
    """A Rich console on `stream` (a terminal), colour decided as for stdout's
    (--color > NO_COLOR > FORCE_COLOR > a terminal)."""
    from rich.console import Console

    from autograd_cli.render.console import stdout_width, wants_color

    return Console(
        file=stream,
        force_terminal=True,
        color_system="auto" if wants_color(color, stream) else None,
        width=stdout_width(),
        highlight=False,
        markup=False,
        emoji=False,
    )


@contextmanager
def _sigterm_clears(display: Display) -> Iterator[None]:
    """SIGTERM erases the bar first, then does what it did before: the handler that
    was there (writes_guarded's `agrad: error: terminated`), or the default (killed by
    the signal). An ignored SIGTERM stays ignored; only the main thread sets handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None or previous == signal.SIG_IGN:  # None: set outside Python
        yield
        return

    def terminated(signum: int, frame: Any) -> None:
        display.close()
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
