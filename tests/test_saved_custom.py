"""What a user's own autograd.Function keeps on ctx, in the JSON with --saved."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

CUSTOM_FUNCTION = """
import torch


class Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        # A user's Function may keep anything on ctx; torch.Size is a tuple subclass.
        ctx._saved_shape = x.shape
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def loss():
    w = torch.nn.Parameter(torch.ones(3))
    return Scale.apply(w).sum()
"""


def _reject(constant: str) -> None:
    raise ValueError(f"not strict JSON: {constant}")


@pytest.fixture
def custom_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "custom.py").write_text(textwrap.dedent(CUSTOM_FUNCTION))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_saved_tuple_subclass_is_written_as_a_list(agrad, custom_dir):
    # json_doc keeps the text of saved attributes by their marshal bytes, and marshal
    # refuses a tuple subclass (torch.Size, a namedtuple): such attributes are encoded
    # without the cache, as a list, as schema 1 wrote them (found in review).
    result = agrad("inspect", "custom.py:loss", "--json", "--saved")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout, parse_constant=_reject)
    scale = [n for n in document["graph"]["nodes"] if n["grad_fn"] == "ScaleBackward"]
    # w is torch.ones(3): the shape the Function kept is [3].
    assert [n["saved_attributes"] for n in scale] == [{"shape": [3]}]
