"""--output FILE.svg|png and its `dot` child: the node cap, a killed `dot`, and
interrupts (SIGINT, SIGTERM) that leave neither a temporary file nor `dot` behind.

Graphviz is not needed: a fake `dot` (a shell script first on PATH) sleeps, kills
itself, or prints a tiny picture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograd_cli.errors import ExitCode

IMAGE_MAX_LAYOUT = 2_000  # the documented cap (notes/reliability-files.md)
FAKE_SVG = '<svg xmlns="http://www.w3.org/2000/svg"/>'


def _fake_dot(tmp_path: Path, body: str) -> dict[str, str]:
    """An environment whose PATH finds a `dot` that runs `body` (sh)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dot = bin_dir / "dot"
    dot.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    dot.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}


def _drawing_dot(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `dot` that reads its input, leaves a mark that it ran, and prints FAKE_SVG."""
    ran = tmp_path / "dot-ran"
    env = _fake_dot(tmp_path, f"cat > /dev/null\ntouch '{ran}'\nprintf '%s' '{FAKE_SVG}'")
    return env, ran


def _chain_nodes(length: int) -> int:
    """Nodes of `agrad chain --length N`'s backward graph, walked here with torch."""
    import torch

    h0 = torch.randn(1, 4, requires_grad=True)
    a = torch.randn(4, 4, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    h = h0
    for _ in range(length):
        h = torch.tanh(h @ a + b)
    seen: dict[int, object] = {}  # holding each node keeps its id from being reused
    stack = [h.sum().grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(next_fn for next_fn, _slot in node.next_functions)
    return len(seen)


# Item 7: a graph too big to draw is refused before `dot` runs --------------------------
#
# What dot lays out is the graph's nodes plus one "virtual" node for each layer a long
# edge crosses. In `agrad chain --length N`, ranked from the root, step k from the end
# holds TanhBackward0, AddBackward0 and MmBackward0 at ranks 3k-2, 3k-1 and 3k; the leaf
# a (fed by every MmBackward0) sits at 3N+1 and b (fed by every AddBackward0) at 3N, so
# their edges cross 3(N-k) layers each: 3N+4 nodes, 3N(N-1) virtual ones.


def _chain_layout(length: int) -> int:
    return 3 * length + 4 + 3 * length * (length - 1)


def test_a_graph_above_the_cap_is_refused_before_dot_runs(agrad, tmp_path):
    env, ran = _drawing_dot(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "chain.svg"
    result = agrad("chain", "--length", "3000", "--output", str(target), env=env)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    nodes = _chain_nodes(3000)
    assert nodes == 3 * 3000 + 4
    assert line.startswith(
        f"agrad: error: --output {target}: too big for Graphviz to draw in reasonable time: "
        f"{nodes:,} nodes, {_chain_layout(3000):,} with the layers"
    )
    assert f"(at most {IMAGE_MAX_LAYOUT:,})" in line
    assert "--max-nodes" in line and "--format dot" in line
    assert not ran.exists() and list(out.iterdir()) == []


def test_a_refused_picture_writes_no_export_either(agrad, tmp_path):
    """The command stops at the refusal: the --export beside it is not written."""
    env, ran = _drawing_dot(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    args = ["chain", "--length", "3000", "--output", str(out / "c.svg")]
    result = agrad(*args, "--export", str(out / "c.txt"), env=env)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert not ran.exists() and list(out.iterdir()) == []


@pytest.mark.parametrize("length", [10, 25, 26])
def test_the_cap_counts_what_dot_lays_out(agrad, tmp_path, length):
    env, ran = _drawing_dot(tmp_path)
    target = tmp_path / "chain.png"
    result = agrad("chain", "--length", str(length), "-o", str(target), env=env)
    drawn = _chain_layout(length) <= IMAGE_MAX_LAYOUT
    assert drawn == (length <= 25)  # 1,879 and 2,032 places: either side of the cap
    assert result.exit_code == (0 if drawn else ExitCode.USAGE), result.stderr
    assert ran.exists() == drawn
    assert target.exists() == drawn
    if drawn:
        assert target.read_text(encoding="utf-8") == FAKE_SVG  # dot's stdout, as it printed it
    else:
        assert f"{_chain_nodes(length):,} nodes, {_chain_layout(length):,} with" in result.stderr


def test_the_advice_works_part_of_a_big_graph_is_drawn(agrad, tmp_path):
    # --max-nodes keeps the nodes nearest the root: the shared leaves, and so the long
    # edges, are left out.
    env, ran = _drawing_dot(tmp_path)
    target = tmp_path / "chain.svg"
    args = ("chain", "--length", "3000", "--max-nodes", str(IMAGE_MAX_LAYOUT), "-o", str(target))
    result = agrad(*args, env=env)
    assert result.exit_code == 0, result.stderr
    assert ran.exists() and target.read_text(encoding="utf-8") == FAKE_SVG


def test_a_dot_killed_by_a_signal_is_named(agrad, tmp_path):
    env = _fake_dot(tmp_path, "kill -KILL $$")
    target = tmp_path / "graph.svg"
    result = agrad("linear", "--output", str(target), env=env)
    assert result.exit_code == ExitCode.RUNTIME
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "SIGKILL" in line and "no reason given" not in line
    assert [p.name for p in tmp_path.iterdir()] == ["bin"]


def test_a_silent_dot_failure_gives_its_exit_status(agrad, tmp_path):
    env = _fake_dot(tmp_path, "exit 3")
    result = agrad("linear", "--output", str(tmp_path / "graph.svg"), env=env)
    assert result.exit_code == ExitCode.RUNTIME
    (line,) = result.stderr.splitlines()
    assert "exit status 3" in line
    assert [p.name for p in tmp_path.iterdir()] == ["bin"]


# Item 3: interrupts while `dot` draws -------------------------------------------------


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for(condition, seconds: float) -> bool:
    """Polls `condition` (a guard against hanging, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="watches processes in /proc")
@pytest.mark.parametrize(
    ("sent", "code", "message"),
    [
        (signal.SIGINT, ExitCode.INTERRUPTED, "interrupted"),
        (signal.SIGTERM, 128 + signal.SIGTERM, "terminated"),
    ],
)
def test_an_interrupt_while_dot_draws_leaves_nothing_behind(tmp_path, sent, code, message):
    pid_file = tmp_path / "dot.pid"
    env = _fake_dot(
        tmp_path, f"echo $$ > '{pid_file}.tmp'\nmv '{pid_file}.tmp' '{pid_file}'\nexec sleep 300"
    )
    out = tmp_path / "out"
    out.mkdir()
    agrad = subprocess.Popen(
        [sys.executable, "-m", "autograd_cli", "linear", "--output", str(out / "graph.svg")],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    dot_pid = None
    try:
        assert _wait_for(pid_file.exists, 120), "the fake dot never started"
        dot_pid = int(pid_file.read_text(encoding="ascii"))
        assert _alive(dot_pid)
        agrad.send_signal(sent)
        stdout, stderr = agrad.communicate(timeout=120)
        assert agrad.returncode == code, stderr
        assert stdout == b""
        assert stderr.decode() == f"agrad: error: {message}\n"
        assert _wait_for(lambda: not _alive(dot_pid), 30), "dot outlived agrad"
        assert list(out.iterdir()) == []  # no .graph.svg.XXXXXXXX, no graph.svg
    finally:
        agrad.kill()
        agrad.wait()
        if dot_pid is not None and _alive(dot_pid):
            os.kill(dot_pid, signal.SIGKILL)
