"""`agrad chain --length 100000` (300,004 nodes) in every format, in real processes.

torch 2.13 segfaults when it frees a graph this deep whose nodes Python has
walked (pytorch/pytorch 109948, 155322); agrad must exit 0 all the same.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LENGTH = 100_000
NODES = 3 * LENGTH + 4


def _agrad(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograd_cli", "chain", "--length", str(LENGTH), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("fmt", ["table", "json", "dot", "mermaid"])
def test_a_300k_node_graph_completes_in_every_format(fmt):
    result = _agrad("--format", fmt)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-500:]}"
    assert result.stderr == ""
    out = result.stdout
    if fmt == "json":
        graph = json.loads(out)["graph"]
        assert graph["node_count"] == NODES and len(graph["nodes"]) == NODES
        assert len(graph["edges"]) == 5 * LENGTH + 1
    elif fmt == "dot":
        assert out.count(" [label=") >= NODES and out.count(" -> ") == 5 * LENGTH + 1
    elif fmt == "mermaid":
        assert out.count(" --> ") + out.count(" -->|") == 5 * LENGTH + 1
    else:
        assert f"{NODES - 200:,} more nodes not shown" in out


def test_inspect_of_a_deep_user_model_completes():
    """The user's own deep graph is walked (summary and tree) and freed on the worker."""
    steps = 10_000
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograd_cli",
            "inspect",
            "examples/rnn.py:build",
            "--arg",
            f"steps={steps}",
            "--arg",
            "hidden=4",
            "--json",
            "--max-nodes",
            "50",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-500:]}"
    summary = json.loads(result.stdout)["graph_summary"]
    # Every step's tanh lies on the longest path, and adds 6 nodes (2 addmm, 2 t, add, tanh).
    assert summary["depth"] > 3 * steps
    assert summary["grad_fn_counts"]["TanhBackward0"] == steps
    assert summary["node_count"] > 6 * steps


KEEPS_ITS_GRAPH = """
import torch

KEEP = []


def loss(steps: int = 40000):
    a = torch.randn(4, 4, requires_grad=True)
    h = torch.zeros(1, 4)
    for _ in range(steps):
        h = torch.tanh(h @ a)
    KEEP.append(h)  # the user's code holds on to its deep graph past agrad's work
    return h.sum()
"""


def test_inspect_survives_user_code_that_keeps_a_deep_graph_alive(tmp_path):
    """The graph outlives agrad's worker thread (a module-level list holds it), so it is
    freed, if at all, at interpreter exit; the process must still end cleanly."""
    (tmp_path / "keep.py").write_text(KEEPS_ITS_GRAPH)
    result = subprocess.run(
        [sys.executable, "-m", "autograd_cli", "inspect", "keep.py:loss", "--max-nodes", "5"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-500:]}"
    assert "80,002 nodes" in result.stdout  # tanh and mm per step, then sum and the leaf
