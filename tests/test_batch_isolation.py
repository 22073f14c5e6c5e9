"""A batch line cannot reach `batch` however it is spelled, an over-long line is an error
record, and each line starts from torch's global state as it was (issue 14, items 6
and 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from autograd_cli.batch import MAX_LINE, _torch_state_kept
from autograd_cli.errors import ExitCode


def _records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize(
    "line",
    ["--lang en batch -", "agrad --lang vi batch -", "--lang=en batch", "batch"],
)
def test_batch_is_refused_however_a_line_spells_it(agrad, line):
    result = agrad("batch", input=f"{line}\nlinear\n")
    refused, after = _records(result.stdout)
    assert refused["exit_code"] == ExitCode.USAGE
    assert refused["error"] == "a batch line cannot run batch"
    assert after["exit_code"] == 0 and after["result"]["command"] == "linear"
    assert result.exit_code == ExitCode.USAGE


def test_a_file_that_names_itself_is_refused_not_recursed(agrad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("self.txt").write_text("--lang en batch self.txt\n")
    result = agrad("batch", "self.txt")
    assert result.exit_code == ExitCode.USAGE
    (record,) = _records(result.stdout)
    assert record["error"] == "a batch line cannot run batch"
    assert result.stderr == ""


def test_a_line_over_the_cap_is_an_error_record_and_the_batch_goes_on(agrad, tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("linear --seed 1\n" + "linear " + "x" * (3 * MAX_LINE) + "\nchain\n")
    result = agrad("batch", str(path))
    first, long, last = _records(result.stdout)
    assert first["exit_code"] == 0 and last["exit_code"] == 0
    assert (first["line"], long["line"], last["line"]) == (1, 2, 3)
    assert long["exit_code"] == ExitCode.USAGE
    assert f"{MAX_LINE:,} characters" in long["error"]
    assert long["command"].startswith("linear xxx") and len(long["command"]) < 200
    assert result.exit_code == ExitCode.USAGE


def test_a_line_exactly_at_the_cap_is_read(agrad, tmp_path):
    # A comment pads the line to exactly MAX_LINE characters before its newline.
    line = "linear --seed 2 #"
    path = tmp_path / "lines.txt"
    path.write_text(line + "x" * (MAX_LINE - len(line)) + "\n")
    (record,) = _records(agrad("batch", str(path)).stdout)
    assert record["exit_code"] == 0 and record["result"]["seed"] == 2


# Runs agrad's entry point and says the process's peak resident memory on stderr.
PEAK_PROBE = """
import atexit, resource, runpy, sys
atexit.register(
    lambda: sys.stderr.write(f"PEAK {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
)
sys.argv = ["agrad", "batch", "-"]
runpy.run_module("autograd_cli", run_name="__main__")
"""


def _batch_peak_kib(tmp_path: Path, stdin: bytes) -> tuple[list[dict], int]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    process = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    peak = [line for line in process.stderr.decode().splitlines() if line.startswith("PEAK ")]
    assert peak, process.stderr
    return _records(process.stdout.decode()), int(peak[-1].split()[1])


def test_an_endless_line_through_a_pipe_is_dropped_as_it_comes(tmp_path):
    # A line of 128 MiB without a newline, then one more line, through a pipe: the
    # reader drops it in chunks, so the process's peak memory stays that of a batch
    # without it (reading the line whole would add at least its 128 MiB).
    huge = 128 << 20
    records, peak = _batch_peak_kib(tmp_path, b"a" * huge + b"\nlinear\n")
    long, last = records
    assert long["exit_code"] == ExitCode.USAGE and "cap on a batch line" in long["error"]
    assert last["exit_code"] == 0 and last["result"]["command"] == "linear"
    _, baseline = _batch_peak_kib(tmp_path, b"linear\n")
    assert (peak - baseline) * 1024 < huge // 2, (peak, baseline)


# Isolation -----------------------------------------------------------------------------

STATE_CODE = """
import torch


def mutate():
    w = torch.ones(3, requires_grad=True)
    loss = (w * 2).sum()
    torch.set_grad_enabled(False)
    torch.set_default_dtype(torch.float64)
    torch.autograd.set_detect_anomaly(True)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(1 if torch.get_num_threads() != 1 else 2)
    return loss


def probe(threads):
    changed = []
    if not torch.is_grad_enabled():
        changed.append("grad mode")
    if torch.get_default_dtype() != torch.float32:
        changed.append("default dtype")
    if torch.is_anomaly_enabled():
        changed.append("anomaly mode")
    if torch.are_deterministic_algorithms_enabled():
        changed.append("deterministic algorithms")
    if torch.get_num_threads() != threads:
        changed.append("threads")
    if changed:
        raise ValueError("changed: " + ", ".join(changed))
    w = torch.ones(3, requires_grad=True)
    return (w * 3).sum()
"""


@pytest.fixture
def torch_state_back() -> Iterator[None]:
    """Whatever a failing test leaves, the next test gets torch as it was."""
    threads = torch.get_num_threads()
    yield
    torch.set_default_dtype(torch.float32)
    torch.autograd.set_detect_anomaly(False)
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)


def test_torch_state_a_line_changes_is_restored_before_the_next(
    agrad, tmp_path, monkeypatch, torch_state_back
):
    monkeypatch.chdir(tmp_path)
    Path("state.py").write_text(textwrap.dedent(STATE_CODE))
    threads = torch.get_num_threads()
    lines = f"inspect state.py:mutate\ninspect state.py:probe --arg threads={threads}\nlinear\n"
    result = agrad("batch", input=lines)
    mutated, probed, linear = _records(result.stdout)
    assert mutated["exit_code"] == 0, mutated
    assert probed["exit_code"] == 0, probed.get("error")
    assert probed["result"]["loss"] == 9.0  # (w * 3).sum() with w = ones(3)
    assert linear["exit_code"] == 0, linear.get("error")
    # And the process itself is as it was.
    assert torch.get_default_dtype() == torch.float32
    assert not torch.is_anomaly_enabled()
    assert torch.get_num_threads() == threads


def test_random_numbers_drawn_inside_a_line_do_not_move_the_generator():
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    with _torch_state_kept():
        torch.rand(100)
        torch.manual_seed(99)
    assert torch.equal(torch.rand(4), expected)


def test_grad_mode_and_default_device_are_restored_even_on_error(torch_state_back):
    with pytest.raises(RuntimeError), _torch_state_kept():
        torch.set_grad_enabled(False)
        torch.set_default_device("meta")
        raise RuntimeError("the line failed")
    assert torch.is_grad_enabled()
    assert torch.ones(1).device == torch.device("cpu")


def test_batch_with_stdin_closed_is_a_usage_error():
    """`agrad batch <&-`: one line naming the problem, exit 2, never an internal error."""
    import subprocess
    import sys

    # The child closes its stdin, then becomes agrad (as a shell's `<&-` does).
    start = (
        "import os, sys; os.close(0); "
        "os.execv(sys.executable, [sys.executable, '-m', 'autograd_cli', 'batch'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", start], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "agrad: error: batch reads stdin, which is closed; give a FILE of command lines\n"
    )


def test_batch_stdin_that_is_not_utf8_is_refused_as_a_file_is():
    """Python decodes stdin with surrogateescape; a batch reads it as strict UTF-8, so an
    undecodable byte is the same usage error as in a file, not an internal error."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "autograd_cli", "batch"],
        input=b"linear --seed \xff\n",
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr == b"agrad: error: batch input is not UTF-8 text (invalid start byte)\n"
