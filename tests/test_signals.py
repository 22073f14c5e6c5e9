"""Ctrl-C at any moment ends agrad with exit 130 and one line (issue 14, item 8).

A real `agrad linear --json` process gets SIGINT after delays spread from 0 to ~2 s:
during Python's start-up, `import typer`, `import torch` (whose C++ start-up used to
abort: pybind11::error_already_set), parsing, the work, the output and the exit.
Which phase a delay meets depends on the machine, so every trial is judged by its
outcome alone, never by its timing:

- it finished first: exit 0, the whole JSON document, nothing on stderr;
- it was interrupted: exit 130, stderr exactly `agrad: error: interrupted`, stdout
  empty or (the interrupt came after it was written) the whole document;
- it was interrupted before agrad's first line of code ran (the interpreter's own
  start-up: site, the console script's first import): Python's behaviour, which no
  program can change; accepted only while it shows that no agrad code, typer, click
  or torch had started (no frame of theirs, no agrad message, stdout empty).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# Start-up is short, so it gets its own delays; then every 0.1 s to 2.5 s.
DELAYS = [0.0, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15] + [0.2 + 0.1 * i for i in range(24)]
AT_ONCE = 4  # trials run side by side, to keep the test's time down

SCRIPT = Path(sys.executable).with_name("agrad")
COMMANDS = [[str(SCRIPT)], [sys.executable, "-m", "autograd_cli"]]
# The frames an interrupt may show before agrad's handler is installed: the console
# script's import line, the package's __init__ importing interrupts.py.
BEFORE_AGRAD = re.compile(
    r"autograd_cli/(__init__|interrupts)\.py|/bin/agrad\b|<frozen |<string>|/lib/python"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"AGRAD_LANG", "LANG", "LC_ALL"}}
    env.update(COLUMNS="100", NO_COLOR="1")
    return env


def _interrupted_run(command: list[str], delay: float) -> tuple[float, int, str, str]:
    process = subprocess.Popen(
        [*command, "linear", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    return delay, process.returncode, out, err


def _judge(delay: float, code: int, out: str, err: str) -> str:
    where = f"SIGINT after {delay:.3f} s: exit {code}, stderr {err[-800:]!r}"
    if code == 0:
        document = json.loads(out)
        assert document["command"] == "linear", where
        assert err == "", where
        return "finished"
    if code == 130:
        assert err == "agrad: error: interrupted\n", where
        if out:  # the interrupt came once the output was out: whole, never a part
            assert json.loads(out)["command"] == "linear", where
        return "interrupted"
    # Killed by SIGINT or failed inside the interpreter's own start-up.
    assert code in (1, -signal.SIGINT), where
    assert out == "", where
    assert "agrad: error" not in err and "pybind11" not in err, where
    for frame in re.findall(r'File "([^"]+)"', err):
        assert BEFORE_AGRAD.search(frame), where
        assert not re.search(r"/(typer|click|torch|rich)/", frame), where
    return "before agrad"


@pytest.mark.skipif(not SCRIPT.exists(), reason="the agrad console script is not installed")
def test_sigint_at_any_moment_exits_130_with_one_line():
    trials = [(COMMANDS[i % 2], delay) for i, delay in enumerate(DELAYS)]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(pool.map(lambda trial: _interrupted_run(*trial), trials))
    outcomes = [_judge(*result) for result in results]
    # What each trial met, for a reader of a failure or of -rA.
    print({kind: outcomes.count(kind) for kind in set(outcomes)})


def test_an_interrupt_deferred_at_start_up_is_acted_on_once_the_work_waits():
    """The handler only records; the wait for the worker raises KeyboardInterrupt."""
    code = """
import signal, sys
sys.modules["__main__"].__spec__ = type("S", (), {"name": "autograd_cli.__main__"})()
from autograd_cli import interrupts
interrupts.defer_interrupts()
signal.raise_signal(signal.SIGINT)
print("deferred", interrupts.interrupted())
try:
    with interrupts.interruptible():
        print("not reached")
except KeyboardInterrupt:
    print("raised at the safe point", interrupts.interrupted())
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["deferred True", "raised at the safe point False"]


def test_a_program_that_imports_agrad_keeps_its_own_sigint_handler():
    """pytest, a notebook: Ctrl-C stays theirs."""
    code = (
        "import signal, autograd_cli.cli; "
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_an_ignored_sigint_stays_ignored():
    """`agrad ... &` in a script: the shell set SIGINT to be ignored; agrad keeps that."""
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "sys.argv = ['agrad']; "
        "sys.modules['__main__'].__spec__ = type('S', (), {'name': 'autograd_cli.__main__'})(); "
        "from autograd_cli import interrupts; interrupts.defer_interrupts(); "
        "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert result.stdout.strip() == "True", result.stderr
