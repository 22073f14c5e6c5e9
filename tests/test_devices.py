"""--device and --dtype on every scenario; accelerator tests skip without one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograd_cli.errors import ExitCode

SCENARIOS = [
    ["linear"],
    ["jvp"],
    ["chain", "--length", "5"],
    ["expr", "(x * w).sum()", "--var", "x=randn(3)", "--var", "w=randn(3)"],
]
HAS_CUDA = torch.cuda.is_available()
HAS_MPS = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


@pytest.mark.parametrize("args", SCENARIOS, ids=lambda a: a[0])
def test_cpu_and_auto_without_accelerators_match_the_default(agrad_json, args):
    if HAS_CUDA or HAS_MPS:
        pytest.skip("auto picks an accelerator on this machine")
    default = agrad_json(*args)
    assert default["device"] == "cpu"
    assert agrad_json(*args, "--device", "cpu") == default
    assert agrad_json(*args, "--device", "auto") == default


@pytest.mark.parametrize(("device", "present"), [("cuda", HAS_CUDA), ("mps", HAS_MPS)])
@pytest.mark.parametrize("args", SCENARIOS, ids=lambda a: a[0])
def test_a_missing_device_is_a_usage_error(agrad, args, device, present):
    if present:
        pytest.skip(f"{device} is present")
    result = agrad(*args, "--device", device)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert f"--device {device} is not available" in line and "available: cpu" in line


@pytest.mark.parametrize(
    "device",
    [
        pytest.param("cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")),
        pytest.param("mps", marks=pytest.mark.skipif(not HAS_MPS, reason="no MPS device")),
    ],
)
@pytest.mark.parametrize("args", SCENARIOS, ids=lambda a: a[0])
def test_accelerator_gradients_pass_the_float64_cpu_check(agrad_json, args, device):
    doc = agrad_json(*args, "--device", device, "--check")
    assert doc["device"] == device and doc["check"]["ok"] is True


def test_float64_linear_is_the_tutorial_in_float64(agrad_json):
    doc = agrad_json("linear", "--seed", "4", "--dtype", "float64", "--check")
    torch.manual_seed(4)
    w = torch.randn(5, 3, dtype=torch.float64)
    b = torch.randn(3, dtype=torch.float64)
    tensors = {t["name"]: t for t in doc["tensors"]}
    assert tensors["w"]["value"] == w.tolist() and tensors["w"]["dtype"] == "float64"
    z = w.sum(0) + b
    dl_dz = torch.sigmoid(z) / 3  # y = zeros(3)
    grads = {g["name"]: g["value"] for g in doc["gradients"]}
    np.testing.assert_allclose(grads["b"], dl_dz.numpy(), rtol=1e-14)
    np.testing.assert_allclose(
        grads["w"], torch.outer(torch.ones(5, dtype=torch.float64), dl_dz).numpy(), rtol=1e-14
    )
    assert (doc["check"]["atol"], doc["check"]["rtol"]) == (1e-8, 1e-6)
    assert doc["check"]["ok"] is True


@pytest.mark.parametrize("args", SCENARIOS[:3], ids=lambda a: a[0])
def test_float64_everywhere(agrad_json, args):
    doc = agrad_json(*args, "--dtype", "float64")
    assert doc["dtype"] == "float64"
    assert {t["dtype"] for t in doc["tensors"]} == {"float64"}


def test_an_absent_device_is_reported_before_the_output_options(agrad, tmp_path):
    """--device is checked first, as before the output plan existed: the reader hears
    about the missing accelerator, not about the file they asked for."""
    present = {"cuda": HAS_CUDA, "mps": HAS_MPS}
    missing = next((d for d, here in present.items() if not here), None)
    if missing is None:
        pytest.skip("this machine has every accelerator agrad knows")
    for output in (["-o", str(tmp_path / "x.png")], ["--export", str(tmp_path / "x.pdf")]):
        result = agrad("linear", "--device", missing, *output)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith(f"agrad: error: --device {missing} is not available")
