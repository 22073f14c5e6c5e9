"""`inspect --anomaly` ends cleanly in every run (issue 12, item 6).

The failure was a race at interpreter exit, not a wrong answer: a backward() that
raised on agrad's worker thread with a branch still queued left tensors in that
thread's C++ thread_local state, freed after join() and, in about half the runs,
during Py_FinalizeEx: SIGABRT, "terminate called without an active exception"
(autograd_cli/worker.py says why). One process shows it or not, so each test runs
a fresh process RUNS times and wants every run whole.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

RUNS = 10

# Two branches: the error in SqrtBackward0 leaves the (w * 2) branch queued.
TWO_BRANCHES = """\
import torch


def f():
    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    v = torch.randn(3, requires_grad=True)
    return (w * 2).sum() + torch.sqrt(v - 10.0).sum()
"""
SQRT_CODE = "return (w * 2).sum() + torch.sqrt(v - 10.0).sum()"
SQRT_LINE = TWO_BRANCHES.splitlines().index("    " + SQRT_CODE) + 1

# The same race without anomaly mode: a backward Function that raises.
RAISING_BACKWARD = """\
import torch

from autograd_cli.worker import run_work


class Boom(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, grad):
        raise ValueError("boom")


def work():
    w = torch.randn(3, requires_grad=True)
    v = torch.randn(3, requires_grad=True)
    try:
        ((w * 2).sum() + Boom.apply(v).sum()).backward()
    except ValueError:
        print("caught")


run_work(work)
"""


def _python(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"AGRAD_LANG", "LANG", "LC_ALL"}}
    env.update(COLUMNS="100", NO_COLOR="1")
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _runs(args: list[str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    results = [_python(args, cwd) for _ in range(RUNS)]  # in a row, fresh processes
    codes = [r.returncode for r in results]
    failed = [r for r in results if r.returncode != 0]
    # How many runs aborted (-6: SIGABRT) is the point, so all codes are named.
    assert not failed, f"{len(failed)} of {RUNS} runs failed, codes {codes}: {failed[0].stderr}"
    assert all(r.stderr == "" for r in results), results[0].stderr
    return results


def _expected() -> dict[str, Any]:
    """What the user's f() does, by the test: the NaN comes from sqrt of v - 10 < 0."""
    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    v = torch.randn(3, requires_grad=True)
    root = torch.sqrt(v - 10.0)
    assert bool((v < 10.0).all())  # every element of sqrt's input is negative
    ((w * 2).sum() + root.sum()).backward()
    assert w.grad is not None and v.grad is not None
    return {
        "grad_fn": type(root.grad_fn).__name__,
        "w_norm": math.sqrt(3 * 2.0**2),  # d/dw sum(2w) = 2 in each of 3 elements
        "v_nan": int(v.grad.isnan().sum()),
    }


def _check_document(document: dict[str, Any], expected: dict[str, Any]) -> None:
    anomaly = document["anomaly"]
    assert anomaly["grad_fn"] == expected["grad_fn"] == "SqrtBackward0"
    assert anomaly["message"].startswith("Function 'SqrtBackward0' returned nan values")
    frame = {"file": "two_branches.py", "line": SQRT_LINE, "function": "f", "code": SQRT_CODE}
    assert anomaly["origin"] == frame
    assert anomaly["forward_trace"] == [frame]
    params = {p["name"]: p for p in document["parameters"]}
    assert math.isclose(params["w"]["grad_norm"], expected["w_norm"], rel_tol=1e-6)
    assert params["v"]["nan_count"] == expected["v_nan"] == 3


def test_inspect_anomaly_table_exits_cleanly_every_run(tmp_path: Path) -> None:
    (tmp_path / "two_branches.py").write_text(TWO_BRANCHES, encoding="utf-8")
    expected = _expected()
    args = ["-m", "autograd_cli", "inspect", "two_branches.py:f", "--anomaly"]
    for result in _runs(args, tmp_path):
        out = result.stdout
        assert f"{expected['grad_fn']} is the first backward Function that returned NaN" in out
        assert "torch: Function 'SqrtBackward0' returned nan values in its 0th output." in out
        assert f"two_branches.py:{SQRT_LINE}, in f" in out
        assert SQRT_CODE in out
        assert "1 nonfinite" in out


def test_inspect_anomaly_json_exits_cleanly_every_run(tmp_path: Path) -> None:
    (tmp_path / "two_branches.py").write_text(TWO_BRANCHES, encoding="utf-8")
    expected = _expected()
    args = ["-m", "autograd_cli", "inspect", "two_branches.py:f", "--anomaly", "--json"]
    for result in _runs(args, tmp_path):
        _check_document(json.loads(result.stdout), expected)


def test_batch_lines_with_anomaly_exit_cleanly_every_run(tmp_path: Path) -> None:
    # batch runs every line on its one worker thread: the race happens there too.
    (tmp_path / "two_branches.py").write_text(TWO_BRANCHES, encoding="utf-8")
    lines = ["inspect two_branches.py:f --anomaly", "agrad inspect two_branches.py:f --anomaly"]
    (tmp_path / "lines.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = _expected()
    for result in _runs(["-m", "autograd_cli", "batch", "lines.txt"], tmp_path):
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(r["line"], r["exit_code"]) for r in records] == [(1, 0), (2, 0)]
        for record in records:
            _check_document(record["result"], expected)


def test_worker_survives_a_backward_function_that_raises(tmp_path: Path) -> None:
    # Not only anomaly mode: any backward() that stops with a branch still queued.
    (tmp_path / "raising.py").write_text(RAISING_BACKWARD, encoding="utf-8")
    for result in _runs(["raising.py"], tmp_path):
        assert result.stdout == "caught\n"
