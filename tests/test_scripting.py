"""Scripting at scale: seed sweeps, agrad batch, clean pipes, Ctrl-C, --export."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

from autograd_cli.errors import ExitCode

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize(
    ("args", "seeds"),
    [
        (["linear"], ["0", "1", "2", "3", "4"]),
        (["chain", "--length", "3"], ["1", "5"]),
        (["expr", "(x * w).sum()", "--var", "x=randn(3)", "--var", "w=rand(3)"], ["2", "3", "9"]),
    ],
)
def test_sweep_json_lines_equal_the_single_runs(agrad, args, seeds):
    spec = f"{seeds[0]}..{seeds[-1]}" if seeds == [str(n) for n in range(5)] else ",".join(seeds)
    sweep = agrad(*args, "--seed", spec, "--json")
    assert sweep.exit_code == 0 and sweep.stderr == ""
    singles = "".join(agrad(*args, "--seed", seed, "--json").stdout for seed in seeds)
    assert sweep.stdout == singles
    assert len(sweep.stdout.splitlines()) == len(seeds)


def test_mixed_ranges_and_lists(agrad):
    out = agrad("linear", "--seed", "0..2,7,10..11", "--json").stdout
    assert [json.loads(line)["seed"] for line in out.splitlines()] == [0, 1, 2, 7, 10, 11]


def test_sweep_summary_rows_hold_the_loss_and_gradient_norms(agrad):
    text = agrad("linear", "--seed", "0..3", "--precision", "6").stdout
    header, _rule, *rows = text.splitlines()
    assert header.split() == ["seed", "loss", "‖w.grad‖", "‖b.grad‖"]
    assert len(rows) == 4
    for row in rows:
        seed, loss, w_norm, b_norm = row.split()
        torch.manual_seed(int(seed))
        w, b = torch.randn(5, 3).double().numpy(), torch.randn(3).double().numpy()
        z = w.sum(axis=0) + b  # x = ones(5), y = zeros(3)
        dl_dz = 1.0 / (1.0 + np.exp(-z)) / 3.0
        assert float(loss) == pytest.approx(np.mean(np.logaddexp(0.0, z)), abs=2e-6)
        assert float(w_norm) == pytest.approx(np.sqrt(5) * np.linalg.norm(dl_dz), abs=2e-6)
        assert float(b_norm) == pytest.approx(np.linalg.norm(dl_dz), abs=2e-6)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("5..1", ["empty range"]),
        ("a..b", ["'a' is not an integer"]),
        ("1..", ["not a range"]),
        ("..3", ["not a range"]),
        ("0..100000", ["more than 100,000 seeds"]),
        ("1,,2", ["'' is not an integer"]),
        ("0..18446744073709551616", ["out of range"]),
    ],
)
def test_malformed_seed_specs(agrad, spec, words):
    result = agrad("linear", "--seed", spec, "--json")
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: Invalid value for '--seed'")
    assert all(word in line for word in words)


@pytest.mark.parametrize(
    "extra", [["--format", "dot"], ["--output", "x.json"], ["--export", "x.svg"]]
)
def test_sweeps_refuse_single_document_options(agrad, extra):
    result = agrad("linear", "--seed", "0..2", *extra)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""


BATCH = """\
# a comment, then a blank line

linear --seed 1
agrad jvp --repeat 3   # trailing comments are comments too
linear --seed abc
expr "x +" --var x=ones(2)
batch
chain --length 2 --seed 0..1
linear --format mermaid
"""


def test_batch_records_exit_code_and_errors_as_alone(agrad, tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text(BATCH)
    for result in (agrad("batch", str(path)), agrad("batch", input=BATCH)):
        assert result.exit_code == ExitCode.USAGE  # the highest of its lines
        assert result.stderr == ""
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(r["line"], r["exit_code"]) for r in records] == [
            (3, 0),
            (4, 0),
            (5, 2),
            (6, 2),
            (7, 2),
            (8, 0),
            (8, 0),
            (9, 2),
        ]
        assert records[0]["result"] == json.loads(agrad("linear", "--seed", "1", "--json").stdout)
        assert (
            records[1]["command"] == "agrad jvp --repeat 3   # trailing comments are comments too"
        )
        assert records[1]["result"]["repeat"] == 3
        alone = agrad("linear", "--seed", "abc").stderr.splitlines()[0]
        assert "agrad: error: " + records[2]["error"] == alone
        assert records[4]["error"] == "a batch line cannot run batch"
        assert [r["result"]["seed"] for r in records[5:7]] == [0, 1]
        assert "--format mermaid" in records[7]["error"]


def test_batch_of_good_lines_exits_0(agrad):
    result = agrad("batch", "-", input="linear\njvp\n")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2


def test_unreadable_batch_file(agrad, tmp_path):
    result = agrad("batch", str(tmp_path / "missing.txt"))
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "missing.txt" in line and "cannot read" in line


def test_sweep_through_head_ends_quietly():
    # `agrad linear --seed 0..2999 --json | head -1`, with a real pipe between them.
    producer = subprocess.Popen(
        [sys.executable, "-m", "autograd_cli", "linear", "--seed", "0..2999", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    head = subprocess.Popen(["head", "-1"], stdin=producer.stdout, stdout=subprocess.PIPE)
    producer.stdout.close()  # only head reads it now
    first, _ = head.communicate(timeout=120)
    errors = producer.stderr.read().decode()
    producer.wait(timeout=120)
    assert json.loads(first)["seed"] == 0
    assert errors == ""  # no traceback, no "Exception ignored"
    assert producer.returncode in (ExitCode.RUNTIME, -signal.SIGPIPE)


def test_ctrl_c_mid_sweep_exits_130_with_one_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "autograd_cli", "linear", "--seed", "0..99999", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert json.loads(process.stdout.readline())["seed"] == 0  # streamed, not buffered
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED
    assert errors.decode() == "agrad: error: interrupted\n"


@pytest.mark.parametrize("kind", ["svg", "html", "txt"])
def test_export_writes_the_human_view_while_stdout_is_unchanged(agrad, tmp_path, kind):
    target = tmp_path / f"view.{kind}"
    result = agrad("jvp", "--json", "--export", str(target))
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["command"] == "jvp"  # stdout as --json asks
    text = target.read_text(encoding="utf-8")
    if kind == "svg":
        assert ET.fromstring(text).tag == "{http://www.w3.org/2000/svg}svg"
        assert "Call&#160;after&#160;zeroing&#160;gradients" in text or (
            "Call after zeroing gradients" in text
        )
    elif kind == "html":
        assert text.lstrip().lower().startswith("<!doctype html") and "First call" in text
    else:
        assert text == agrad("jvp").stdout  # the same view, without colour


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("view.png", ["unknown kind of file .png", ".svg, .html, .txt"]),
        ("missing/view.svg", ["does not exist"]),
    ],
)
def test_bad_export_paths(agrad, tmp_path, name, words):
    result = agrad("linear", "--export", str(tmp_path / name))
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert all(word in line for word in words)
    assert list(tmp_path.iterdir()) == []


def test_readme_picture_is_up_to_date(agrad, tmp_path):
    fresh = tmp_path / "agrad-jvp.svg"
    assert agrad("jvp", "--export", str(fresh)).exit_code == 0  # COLUMNS=100 (conftest)
    committed = ROOT / "docs" / "agrad-jvp.svg"
    assert fresh.read_bytes() == committed.read_bytes(), (
        "regenerate: COLUMNS=100 agrad jvp --export docs/agrad-jvp.svg > /dev/null"
    )


def test_export_caps_the_tree_whatever_the_format(agrad, tmp_path):
    target = tmp_path / "chain.txt"
    result = agrad("chain", "--length", "1000", "--json", "--export", str(target))
    assert json.loads(result.stdout)["graph"]["node_count"] == 3004  # stdout: every node
    text = target.read_text(encoding="utf-8")
    assert "… 2,804 more nodes not shown (--max-nodes 200)" in text


def test_batch_lines_cannot_write_files(agrad, tmp_path):
    result = agrad("batch", input=f"linear --export {tmp_path / 'x.svg'}\n")
    record = json.loads(result.stdout)
    assert record["exit_code"] == 2 and "--export is not allowed" in record["error"]
    assert list(tmp_path.iterdir()) == []


# Intra-op threads: a sweep, or a batch line, whose tensors all have at most 4,096 elements
# runs on one thread and gives the count back; anything else keeps torch's threads.


@pytest.fixture
def three_threads():
    """Three intra-op threads (whatever the machine has), so one thread is telling."""
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(previous)


def threads_of_a_new_thread() -> int:
    """What the next command's worker starts with: torch sets a thread's count on its
    first use, from the process-wide setting (the asking thread's own may differ)."""
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return seen[0]


@pytest.fixture
def threads_seen(monkeypatch):
    """Wraps the builder: each build records torch.get_num_threads() as it starts."""
    from autograd_cli import runner

    seen: list[tuple[str, int]] = []

    real = runner.build_report

    def spy(scenario, params, walk):
        seen.append((scenario.name, torch.get_num_threads()))
        if getattr(params, "seed", None) == 13:
            raise RuntimeError("seed 13 fails, on purpose")
        return real(scenario, params, walk)

    monkeypatch.setattr(runner, "build_report", spy)
    return seen


@pytest.mark.parametrize("fmt", ["--json", "--color=never"])
def test_a_tiny_sweep_runs_on_one_thread_and_restores_the_count(
    agrad, three_threads, threads_seen, fmt
):
    result = agrad("linear", "--seed", "0..2", fmt)
    assert result.exit_code == 0, result.stderr
    assert threads_seen == [("linear", 1)] * 3
    assert threads_of_a_new_thread() == 3  # process-wide, so given back


def test_a_single_run_keeps_torch_threads(agrad, three_threads, threads_seen):
    for args in (["linear", "--seed", "0"], ["jvp"], ["chain", "--length", "2"]):
        assert agrad(*args, "--json").exit_code == 0
    assert threads_seen == [("linear", 3), ("jvp", 3), ("chain", 3)]


def test_the_count_is_restored_when_a_sweep_fails(agrad, three_threads, threads_seen):
    result = agrad("linear", "--seed", "12..14", "--json")
    assert result.exit_code == ExitCode.RUNTIME
    assert threads_seen == [("linear", 1), ("linear", 1)]  # 12, then 13 raises
    assert threads_of_a_new_thread() == 3
    assert agrad("linear", "--seed", "0", "--json").exit_code == 0
    assert threads_seen[-1] == ("linear", 3)


def test_batch_lines_by_size(agrad, three_threads, threads_seen):
    mlp = ROOT / "examples" / "mlp.py"
    lines = [
        "linear --seed 1",
        "linear --seed 12..14",  # fails at 13: the next lines must see 3 threads again
        f"inspect {mlp}:build",  # the user's model: its size cannot be known beforehand
        "jvp --jacobian",  # 20 x 20
        "chain --hidden 64 --length 2",  # a: 64 x 64 = 4,096 elements, the most for one
        "chain --hidden 65 --length 2",  # 4,225
        "expr 'x * y' --var x=randn(64,1) --var y=randn(1,64)",  # x * y: 4,096
        "expr 'x * y' --var x=randn(64,1) --var y=randn(1,65)",  # variables of 64, 65; x * y 4,160
        "expr 'x.sum()' --var x=randn(65,65)",  # 4,225
        "expr 'x.exp()' --var x=randn(64) --jacobian",  # 64 x 64 under jacrev/jacfwd
        "expr 'x.exp()' --var x=randn(65) --jacobian",  # 65 x 65
        "expr 'x @ y' --var x=randn(2,3) --var y=randn(4,5)",  # fails on meta: threads kept
    ]
    result = agrad("batch", input="".join(line + "\n" for line in lines))
    codes = [json.loads(record)["exit_code"] for record in result.stdout.splitlines()]
    assert codes == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]  # line 2: seed 12's result, then 1
    assert threads_seen == [
        ("linear", 1),
        ("linear", 1),
        ("linear", 1),
        ("inspect", 3),
        ("jvp", 1),
        ("chain", 1),
        ("chain", 3),
        ("expr", 1),
        ("expr", 3),
        ("expr", 3),
        ("expr", 1),
        ("expr", 3),
        ("expr", 3),
    ]
    assert threads_of_a_new_thread() == 3
