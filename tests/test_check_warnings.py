"""torch's warnings under --check and --jacobian go into the report, never to stderr
(issue 14, item 13): a successful run writes nothing to stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F


def _mse_warning() -> str:
    """What the installed torch says about mse_loss with broadcasting shapes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.mse_loss(torch.ones(3, 1), torch.ones(3))
    (warning,) = caught
    return str(warning.message).splitlines()[0]


@pytest.mark.parametrize(
    ("flags", "fmt"),
    [
        (["--check"], "--json"),
        (["--jacobian"], "--json"),
        (["--check", "--jacobian"], "--color=never"),
    ],
)
def test_torch_warnings_under_check_and_jacobian_stay_off_stderr(flags, fmt):
    # A real process: pytest records warnings itself, which would hide them here.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograd_cli",
            "expr",
            "mse_loss(x, y)",
            "--var",
            "x=randn(3,1)",
            "--var",
            "y=randn(3)",
            *flags,
            fmt,
        ],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "80"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    said = _mse_warning()
    assert "broadcasting" in said
    if fmt == "--json":
        assert json.loads(result.stdout)["warnings"] == [said]
    else:
        assert "torch warned: " + said[:30] in result.stdout
