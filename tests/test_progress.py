"""Progress on long work (issue 15, item 3): a bar on stderr, for a person at a
terminal, only after a second of work; never on a pipe, never on stdout, never in a
batch line, off with --quiet; gone (transient) however the work ends.

The display's rules are driven here by a fake clock and a Rich console writing to a
string as a terminal would receive it; what a terminal then shows is worked out by
`screen`, a small terminal of the few controls Rich's live display uses. Real
processes on a pseudo-terminal check the whole path: stderr on the terminal, stdout
a pipe of pure JSON Lines.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograd_cli import progress
from autograd_cli.i18n import _, speaking
from autograd_cli.render.formats import Format
from autograd_cli.render.output import Memory, OutputRequest, plan_output

# What a terminal shows: the controls Rich's live display writes (colours, carriage
# return, line feed, cursor up, erase in line, cursor shown/hidden). Anything else is
# a failure: the screen would not be what this says.
_CONTROL = re.compile(r"\x1b\[(\??)([0-9;]*)([A-Za-z])")


def screen(data: str) -> tuple[list[str], bool]:
    """(the lines a terminal shows after `data`, trailing blank ones dropped; whether
    the cursor is visible)."""
    rows: list[list[str]] = [[]]
    row = column = 0
    visible = True
    at = 0
    while at < len(data):
        char = data[at]
        if char == "\x1b":
            found = _CONTROL.match(data, at)
            assert found, f"an unknown escape sequence: {data[at : at + 12]!r}"
            private, parameters, final = found.groups()
            count = int(parameters) if parameters.isdigit() else None
            if private and parameters == "25" and final in "hl":
                visible = final == "h"
            elif final == "m":  # colours: nothing on the grid
                pass
            elif final == "A":
                row = max(0, row - (count or 1))
            elif final == "K" and count in (None, 0, 2):
                line = rows[row]
                del line[0 if count == 2 else column :]
            else:
                raise AssertionError(f"an unexpected control: {found.group()!r}")
            at = found.end()
            continue
        if char == "\r":
            column = 0
        elif char == "\n":
            row += 1
            while len(rows) <= row:
                rows.append([])
        else:
            line = rows[row]
            while len(line) < column:
                line.append(" ")
            if column < len(line):
                line[column] = char
            else:
                line.append(char)
            column += 1
        at += 1
    lines = ["".join(line).rstrip() for line in rows]
    while lines and not lines[-1]:
        lines.pop()
    return lines, visible


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    """What a terminal receives, as text."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def display() -> Iterator[tuple[progress.Display, Terminal, Clock]]:
    from rich.console import Console

    terminal, clock = Terminal(), Clock()
    console = Console(file=terminal, force_terminal=True, width=80, color_system=None)
    shown = progress.Display(lambda: console, clock=clock, background=False)
    with progress.installed(shown):
        yield shown, terminal, clock


def test_no_bar_before_a_second_of_work_then_one_that_vanishes(display):
    shown, terminal, clock = display
    with progress.task("walking the graph") as tick:
        tick(4096)
        clock.now += 0.9
        shown.refresh()
        assert terminal.getvalue() == ""  # under a second: nothing at all
        clock.now += 0.2
        tick(8192)
        shown.refresh()
        lines, visible = screen(terminal.getvalue())
        assert len(lines) == 1 and not visible
        assert "walking the graph" in lines[0]
        assert "8,192 nodes" in lines[0]
        assert lines[0].endswith("0:01")
    assert screen(terminal.getvalue()) == ([], True)  # erased, the cursor back


def test_a_task_begun_after_a_second_shows_at_once_unless_it_is_quick(display):
    shown, terminal, clock = display
    clock.now += 3.0  # the graph took 3 s to build
    with progress.task("quick"):
        shown.refresh()
        clock.now += progress.SETTLE_S / 2
        shown.refresh()
    assert terminal.getvalue() == ""  # never a flash
    with progress.task("walking the graph") as tick:
        clock.now += progress.SETTLE_S + 0.01
        tick(5)
        shown.refresh()
        assert screen(terminal.getvalue())[0][0].startswith("⠋ walking the graph")


def test_a_bar_counts_against_its_total(display):
    shown, terminal, clock = display
    with progress.task("running the seeds", total=300, unit="seeds") as tick:
        tick(150)
        clock.now += 2
        shown.refresh()
        (line,), _ = screen(terminal.getvalue())
    assert "150 of 300 seeds" in line
    assert "━" * 12 in line  # half of the 24 cells


def test_one_bar_at_a_time_the_outer_task_is_shown(display):
    shown, terminal, clock = display
    with progress.task("running the seeds", total=10, unit="seeds") as outer:
        outer(3)
        with progress.task("walking the graph") as inner:
            inner(999_999)
            clock.now += 2
            shown.refresh()
            (line,), _ = screen(terminal.getvalue())
            assert "3 of 10 seeds" in line and "walking" not in line
        shown.refresh()  # the inner task's end leaves the outer one's bar up
        assert len(screen(terminal.getvalue())[0]) == 1
    assert screen(terminal.getvalue()) == ([], True)


def test_hidden_erases_the_bar_and_shows_nothing_inside(display):
    shown, terminal, clock = display
    with progress.task("walking the graph") as tick:
        tick(1)
        clock.now += 2
        shown.refresh()
        assert shown.showing
        with progress.hidden():
            assert screen(terminal.getvalue()) == ([], True)
            with progress.task("writing") as writing:
                writing(5)
                clock.now += 1
                shown.refresh()
            assert screen(terminal.getvalue()) == ([], True)
        shown.refresh()  # shown again once the output is written
        assert "walking the graph" in screen(terminal.getvalue())[0][0]
    # Not to the terminal: nothing hidden.
    with progress.hidden(when=False), progress.task("writing"):
        clock.now += 1
        shown.refresh()
        assert "writing" in screen(terminal.getvalue())[0][0]


def test_closing_erases_the_bar_and_nothing_is_drawn_after(display):
    """Ctrl-C: the main thread closes the display while the worker still ticks."""
    shown, terminal, clock = display
    with progress.task("walking the graph") as tick:
        clock.now += 2
        shown.refresh()
        shown.close()
        assert screen(terminal.getvalue()) == ([], True)
        written = terminal.getvalue()
        tick(10)
        clock.now += 1
        shown.refresh()
        with progress.task("writing"):
            shown.refresh()
    assert terminal.getvalue() == written


def test_sigterm_erases_the_bar_then_runs_the_handler_that_was_there(display):
    shown, terminal, clock = display
    said: list[str] = []

    def previous(signum: int, frame: Any) -> None:  # as writes_guarded's handler
        said.append("bar still up" if screen(terminal.getvalue())[0] else "clean line")

    before = signal.signal(signal.SIGTERM, previous)
    try:
        with progress._sigterm_clears(shown), progress.task("walking the graph"):
            clock.now += 2
            shown.refresh()
            assert shown.showing
            signal.raise_signal(signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, before)
    assert said == ["clean line"]
    assert screen(terminal.getvalue()) == ([], True)


@pytest.mark.parametrize("width", [80, 60, 45, 30, 20, 8])
def test_a_narrow_terminal_gets_what_fits_whole(width):
    from rich.console import Console

    terminal, clock = Terminal(), Clock()
    console = Console(file=terminal, force_terminal=True, width=width, color_system=None)
    shown = progress.Display(lambda: console, clock=clock, background=False)
    with progress.installed(shown), progress.task("running the seeds", 300_000, "seeds") as tick:
        tick(123_456)
        clock.now += 75
        shown.refresh()
        lines, _ = screen(terminal.getvalue())
    line = lines[0] if lines else ""
    assert len(line) < width and "…" not in line
    for number in re.findall(r"[\d,:]+", line):  # each number whole, or none of it
        assert number in ("123,456", "300,000", "1:15")
    assert ("123,456 of 300,000 seeds" in line) == (width > len("123,456 of 300,000 seeds"))


def test_colour_follows_color_and_no_color_as_the_tables_do(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert progress._console(Terminal(), "auto").color_system is not None
    assert progress._console(Terminal(), "never").color_system is None
    monkeypatch.setenv("NO_COLOR", "1")
    assert progress._console(Terminal(), "auto").color_system is None
    assert progress._console(Terminal(), "always").color_system is not None


class AsciiTerminal(Terminal):
    encoding = "ascii"  # LC_ALL=C


def test_a_terminal_that_cannot_show_unicode_gets_ascii():
    from rich.console import Console

    terminal, clock = AsciiTerminal(), Clock()
    console = Console(file=terminal, force_terminal=True, width=80, color_system=None)
    shown = progress.Display(lambda: console, clock=clock, background=False)
    with speaking("vi"), progress.installed(shown), progress.task(_(progress.WALKING)) as tick:
        tick(12_288)
        clock.now += 2
        shown.refresh()
        (line,), _visible = screen(terminal.getvalue())
    assert line.isascii()
    assert "dang duyet do thi" in line and "12.288" in line


def test_the_texts_speak_the_readers_language():
    with speaking("vi"):
        vietnamese = progress.count_text("nodes", 12_288, None)
        of_total = progress.count_text("seeds", 45, 3000)
    assert "12.288" in vietnamese and "nodes" not in vietnamese
    assert "45" in of_total and "3.000" in of_total and "seeds" not in of_total
    assert progress.count_text("nodes", 1, None) == "1 node"
    assert progress.count_text("seeds", 2, 3) == "2 of 3 seeds"
    assert progress.elapsed_text(754.9) == "12:34"


def test_without_a_display_a_task_is_one_shared_object_that_does_nothing():
    assert progress._display is None
    first, second = progress.task("a"), progress.task("b", 10, "seeds")
    assert first is second
    with first as tick:
        assert tick(5) is None
    assert list(progress.counted(iter(range(10_000)), "x")) == list(range(10_000))


def test_counted_ticks_every_so_many_items(display):
    shown, terminal, clock = display
    seen = []
    for item in progress.counted(range(10), "writing the graph", total=10, every=4):
        seen.append(item)
        if item == 8:
            clock.now += 2
            shown.refresh()
            assert "8 of 10 nodes" in screen(terminal.getvalue())[0][0]
    assert seen == list(range(10))
    assert screen(terminal.getvalue()) == ([], True)


def test_shown_only_on_a_terminal_and_only_when_enabled(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.setenv("TERM", "xterm")
    with progress.shown(enabled=False):
        assert progress._display is None
    with progress.shown(enabled=True):
        assert progress._display is not None
    assert progress._display is None
    monkeypatch.setenv("TERM", "dumb")  # no cursor movement: a bar would scroll
    with progress.shown(enabled=True):
        assert progress._display is None
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a file
    with progress.shown(enabled=True):
        assert progress._display is None


def test_the_plan_says_no_progress_for_quiet_and_for_a_batch_line():
    assert plan_output(OutputRequest(), sweep=False, batch=None).progress
    assert not plan_output(OutputRequest(quiet=True), sweep=False, batch=None).progress
    batch = plan_output(OutputRequest(fmt=Format.JSON), sweep=False, batch=Memory())
    assert not batch.progress


@pytest.mark.parametrize("to_terminal", [True, False])
def test_output_written_to_the_terminal_is_written_with_no_bar(
    display, agrad, monkeypatch, to_terminal
):
    """A renderer's task while the sink writes: shown when the output goes to a pipe
    or a file, hidden when it goes to the terminal (agrad's table or JSON there)."""
    from autograd_cli import runner
    from autograd_cli.render.output import Stdout

    shown, terminal, clock = display
    seen: list[list[str]] = []
    real = Stdout.deliver

    def deliver(self: Stdout, rendered: Any, color: str) -> None:
        with progress.task("writing the graph") as tick:
            tick(4096)
            clock.now += 2
            shown.refresh()
            seen.append(screen(terminal.getvalue())[0])
        real(self, rendered, color)

    monkeypatch.setattr(Stdout, "deliver", deliver)
    monkeypatch.setattr(runner, "output_on_terminal", lambda plan: to_terminal)
    result = agrad("linear", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["command"] == "linear"
    assert len(seen) == 1
    assert (seen[0] == []) == to_terminal


def test_output_on_terminal_knows_a_pipe_and_a_file(monkeypatch, tmp_path):
    from autograd_cli.runner import output_on_terminal

    plan = plan_output(OutputRequest(), sweep=False, batch=None)
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert output_on_terminal(plan)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert not output_on_terminal(plan)
    to_file = plan_output(OutputRequest(output=tmp_path / "g.json"), sweep=False, batch=None)
    assert not output_on_terminal(to_file)


@pytest.fixture
def asked(monkeypatch) -> list[bool]:
    """What the runner asked of progress.shown, run after run."""
    calls: list[bool] = []
    real = progress.shown

    def recording(enabled: bool, color: str = "auto") -> Any:
        calls.append(enabled)
        return real(enabled, color)

    monkeypatch.setattr(progress, "shown", recording)
    return calls


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["linear", "--json"], [True]),
        (["linear", "--json", "--quiet"], [False]),
        (["linear", "--seed", "0..2", "--json"], [True]),
        (["linear", "--seed", "0..2", "--quiet"], [False]),
        (["batch"], [False, False]),  # a batch line never shows one
    ],
)
def test_quiet_and_batch_reach_the_runner(agrad, asked, args, expected):
    result = agrad(*args, input="linear\nchain --seed 0..1\n")
    assert result.exit_code == 0, result.stderr
    assert asked == expected
    assert result.stderr == ""


def test_quiet_is_in_every_commands_help(agrad):
    for command in ("linear", "chain", "inspect", "expr"):
        result = agrad(command, "--help")
        assert result.exit_code == 0
        assert "--quiet" in result.stdout and "No progress bar on stderr." in result.stdout


# Real processes: stderr on a pseudo-terminal, stdout a pipe.

# A sweep long enough for a bar on any machine (about 3 s of work here; the bar
# needs 1 s): each seed's JSON document is written as it is made.
SWEEP = ["linear", "--seed", "0..5999", "--json"]
SEEDS = 6000


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"AGRAD_LANG", "LANG", "LC_ALL", "LC_MESSAGES", "NO_COLOR", "FORCE_COLOR"}
    }
    env.update(TERM="xterm", COLUMNS="80", PYTHONUTF8="1")
    return env


def _on_terminal(
    args: list[str],
    *,
    signal_once_shown: int | None = None,
    stderr_pipe: bool = False,
    stdout_too: bool = False,
) -> tuple[int, bytes, bytes]:
    """Runs agrad with stderr on a pseudo-terminal (or a pipe) and stdout a pipe (or
    the same terminal); (exit code, stdout, what the terminal received). With
    `signal_once_shown`, that signal is sent once the bar is on the terminal."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "autograd_cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_too else subprocess.PIPE,
        stderr=subprocess.PIPE if stderr_pipe else slave,
        env=_env(),
    )
    os.close(slave)
    out: list[bytes] = []
    reader = threading.Thread(
        target=lambda: out.append(process.stdout.read() if process.stdout else b"")
    )
    reader.start()
    received = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the last holder of the terminal's other end left
                    break
                if not chunk:
                    break
                received += chunk
                if signal_once_shown and b"\x1b[?25l" in received:
                    time.sleep(0.3)  # a few redraws
                    process.send_signal(signal_once_shown)
                    signal_once_shown = None
            elif process.poll() is not None:
                break
        process.wait(timeout=60)
        reader.join(60)
        if stderr_pipe:
            received = process.stderr.read()  # type: ignore[union-attr]
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return process.returncode, out[0], received


def _json_lines(out: bytes) -> list[dict[str, Any]]:
    lines = out.decode("utf-8").split("\n")
    assert lines[-1] == ""  # whole lines only
    return [json.loads(line) for line in lines[:-1]]


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals here")
def test_a_long_sweep_shows_a_bar_on_the_terminal_and_only_json_on_stdout():
    code, out, terminal = _on_terminal(SWEEP)
    assert code == 0
    documents = _json_lines(out)
    assert [d["seed"] for d in documents] == list(range(SEEDS))
    text = terminal.decode("utf-8")
    assert "running the seeds" in text and f"of {SEEDS:,} seeds" in text
    assert screen(text) == ([], True)  # gone at the end, the cursor back


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals here")
def test_the_same_sweep_with_stderr_a_pipe_writes_nothing_there():
    code, out, stderr = _on_terminal(SWEEP, stderr_pipe=True)
    assert code == 0
    assert len(_json_lines(out)) == SEEDS
    assert stderr == b""


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals here")
def test_quiet_shows_nothing_on_the_terminal():
    code, out, terminal = _on_terminal([*SWEEP, "--quiet"])
    assert code == 0
    assert len(_json_lines(out)) == SEEDS
    assert terminal == b""


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals here")
def test_no_bar_while_the_output_goes_to_the_same_terminal():
    """The sweep's rows are written as they come: a bar would be torn by them."""
    code, _out, terminal = _on_terminal(SWEEP[:-1], stdout_too=True)
    assert code == 0
    text = terminal.decode("utf-8")
    assert "running the seeds" not in text and "\x1b[?25l" not in text
    assert len(screen(text)[0]) > SEEDS  # the heading and one row per seed


LONG_SWEEP = ["linear", "--seed", "0..99999", "--json"]


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals here")
def test_ctrl_c_erases_the_bar_and_says_interrupted_on_a_clean_line():
    code, _out, terminal = _on_terminal(LONG_SWEEP, signal_once_shown=signal.SIGINT)
    assert code == 130
    assert "running the seeds" in terminal.decode("utf-8")
    assert screen(terminal.decode("utf-8")) == (["agrad: error: interrupted"], True)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminals here")
def test_sigterm_erases_the_bar_before_agrad_ends():
    code, _out, terminal = _on_terminal(LONG_SWEEP, signal_once_shown=signal.SIGTERM)
    assert code == -signal.SIGTERM  # as before: the default action, killed by it
    assert "running the seeds" in terminal.decode("utf-8")
    assert screen(terminal.decode("utf-8")) == ([], True)


def test_the_display_imports_rich_only_to_draw():
    """A display open around short work (under a second) never loads Rich."""
    code = """
import io, sys
from autograd_cli import progress
class Terminal(io.StringIO):
    def isatty(self): return True
sys.stderr = Terminal()
with progress.shown(enabled=True):
    assert progress._display is not None
    with progress.task("walking the graph") as tick:
        tick(4096)
print("rich" in sys.modules, sys.stderr.getvalue() == "", file=sys.__stdout__)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_env(), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
