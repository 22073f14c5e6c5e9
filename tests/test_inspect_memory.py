"""`agrad inspect`'s gradient statistics, read in float64 blocks (issue 19 item 5): the
same numbers as float64 maths over the whole tensor, and never a float64 copy of more
than one block.

The oracle is NumPy in float64 with math.fsum (correctly rounded sums); bfloat16 values
reach it through their bits (a bfloat16 is the top half of a float32), not through
torch's conversion. Values that matter (zeros, NaN, ±inf) are planted on both sides of
every block boundary, where a block that drops, repeats or overlaps elements shows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from autograd_cli.inspection import health
from autograd_cli.inspection.health import parameter_health

SMALL_BLOCK = 1000  # many boundaries in a small tensor
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]
RTOL = 1e-12


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(health, "BLOCK", SMALL_BLOCK)
    return SMALL_BLOCK


def as_float64(t: torch.Tensor) -> np.ndarray:
    """Every element as a NumPy float64, exactly, in row-major order."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:  # NumPy has no bfloat16: its 16 bits, then float32's 32
        bits = t.view(torch.int16).numpy().astype(np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64).ravel()
    return t.numpy().astype(np.float64).ravel()


def oracle(values: np.ndarray) -> dict[str, Any]:
    magnitude = np.abs(values)
    n = max(values.size, 1)
    nans, infs = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    if nans:
        norm, total, top = math.nan, math.nan, math.nan
    elif infs:
        norm, total, top = math.inf, math.inf, math.inf
    else:
        top = float(magnitude.max()) if values.size else 0.0
        # Divided by the largest first: a float64 square past 1.3e154 overflows.
        scaled = magnitude / top if top else magnitude
        norm = top * math.sqrt(math.fsum((scaled * scaled).tolist())) if top else 0.0
        total = math.fsum(magnitude.tolist())
    return {
        "grad_norm": norm,
        "mean_abs": total / n,
        "max_abs": top,
        "zero_fraction": int((values == 0).sum()) / n,
        "nan_count": nans,
        "inf_count": infs,
    }


def close(found: float | None, expected: float) -> bool:
    assert found is not None
    if math.isnan(expected):
        return math.isnan(found)
    if math.isinf(expected):
        return found == expected
    return math.isclose(found, expected, rel_tol=RTOL)


def check(parameter: torch.Tensor) -> Any:
    """parameter_health against the oracle, field by field; the report, for more checks."""
    report = parameter_health("p", parameter, 1e-7, 1e3)
    assert parameter.grad is not None
    want = oracle(as_float64(parameter.grad))
    param_norm = math.sqrt(math.fsum((as_float64(parameter) ** 2).tolist()))
    assert close(report.param_norm, param_norm), (report.param_norm, param_norm)
    for key in ("grad_norm", "mean_abs", "max_abs"):
        assert close(getattr(report, key), want[key]), (key, getattr(report, key), want[key])
    for key in ("zero_fraction", "nan_count", "inf_count"):  # counts: exact
        assert getattr(report, key) == want[key], (key, getattr(report, key), want[key])
    if param_norm > 0 and math.isfinite(want["grad_norm"]):
        assert close(report.ratio, want["grad_norm"] / param_norm)
    return report


def boundaries(numel: int, block: int) -> list[int]:
    """Both sides of every block boundary, and the first and last elements."""
    edges = [0, numel - 1]
    for start in range(block, numel, block):
        edges += [start - 1, start]
    return sorted(set(edges))


def parameter_with_grad(
    shape: tuple[int, ...], dtype: torch.dtype, planted: dict[int, float], seed: int = 0
) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    parameter = torch.randn(shape, generator=generator).to(dtype).requires_grad_()
    grad = torch.randn(shape, generator=generator).to(dtype)
    flat = grad.view(-1)
    for index, value in planted.items():
        flat[index] = value
    parameter.grad = grad
    return parameter


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_statistics_across_blocks_match_float64_maths(small_blocks: int, dtype: torch.dtype):
    shape = (31, 97)  # 3,007 elements: three whole blocks and a short one
    zeros = {i: 0.0 for i in boundaries(31 * 97, small_blocks)}
    report = check(parameter_with_grad(shape, dtype, zeros))
    assert report.zero_fraction == len(zeros) / (31 * 97)
    assert report.flags == ()


def test_statistics_at_the_real_block_size():
    numel = 2 * health.BLOCK + 3
    zeros = {i: 0.0 for i in boundaries(numel, health.BLOCK)}
    report = check(parameter_with_grad((numel,), torch.float32, zeros))
    assert report.zero_fraction == len(zeros) / numel


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_nan_and_inf_at_block_boundaries_are_all_counted(small_blocks: int, dtype: torch.dtype):
    numel = 4 * small_blocks + 10
    edges = boundaries(numel, small_blocks)
    planted = {i: [math.nan, math.inf, -math.inf, 0.0][k % 4] for k, i in enumerate(edges)}
    report = check(parameter_with_grad((numel,), dtype, planted))
    assert report.nan_count == sum(math.isnan(v) for v in planted.values()) > 1
    assert report.inf_count == sum(math.isinf(v) for v in planted.values()) > 1
    assert math.isnan(report.grad_norm) and math.isnan(report.max_abs)
    assert report.flags == ("nonfinite",)


@pytest.mark.parametrize("position", ["first", "last"])
def test_one_nan_anywhere_makes_the_max_nan(small_blocks: int, position: str):
    numel = 3 * small_blocks + 1
    index = 0 if position == "first" else numel - 1  # the last one alone in its block
    report = check(parameter_with_grad((numel,), torch.float32, {index: math.nan, 5: 1e6}))
    assert report.nan_count == 1 and report.inf_count == 0
    assert math.isnan(report.max_abs) and math.isnan(report.grad_norm)


def test_inf_without_nan_gives_infinite_norm_and_max(small_blocks: int):
    numel = 2 * small_blocks + 1
    report = check(parameter_with_grad((numel,), torch.float32, {numel - 1: -math.inf}))
    assert report.inf_count == 1 and report.nan_count == 0
    assert report.grad_norm == report.max_abs == report.mean_abs == math.inf
    assert report.flags == ("nonfinite",)


def test_float32_values_near_the_float32_limit_have_a_finite_norm(small_blocks: int):
    numel = 3 * small_blocks + 5
    parameter = torch.full((numel,), 3.0e38, dtype=torch.float32, requires_grad=True)
    parameter.grad = torch.full((numel,), -3.0e38, dtype=torch.float32)
    parameter.grad[::7] = 3.4e38
    report = check(parameter)
    # In float32 the sum of squares is inf; in float64 it is ~1e80, far from overflow.
    assert torch.linalg.vector_norm(parameter.grad).item() == math.inf
    assert math.isfinite(report.grad_norm) and math.isfinite(report.param_norm)
    assert report.grad_norm > 3.0e38 * math.sqrt(numel) * (1 - 1e-6)
    assert report.flags == ("exploding",)


@pytest.mark.parametrize("with_nan", [False, True])
def test_float64_sums_beyond_the_float64_range(small_blocks: int, with_nan: bool):
    """Each block's sum of |g| is finite, their total is not: inf, as a float64 sum of
    every element overflows to (NaN when there is a NaN). The norm, 2.1e308, is past
    float64's range too: inf, and with no NaN or inf element the flag is exploding."""
    numel = 3 * small_blocks
    planted = {0: 1.5e308, small_blocks: 1.5e308, numel - 1: math.nan if with_nan else 1.0}
    parameter = parameter_with_grad((numel,), torch.float64, planted)
    report = parameter_health("p", parameter, 1e-7, 1e3)
    expected = math.nan if with_nan else math.inf
    for value in (report.grad_norm, report.mean_abs):
        assert value is not None
        assert math.isnan(value) if with_nan else value == expected, value
    assert report.max_abs is not None and (math.isnan(report.max_abs) or not with_nan)
    assert report.nan_count == int(with_nan) and report.inf_count == 0
    assert report.flags == (("nonfinite",) if with_nan else ("exploding",))


def test_float64_squares_beyond_its_range_in_every_block(small_blocks: int):
    """Blocks of 1e160s: each block's torch norm is inf (its squares overflow), its
    rescaled norm is not, and neither is their join: sqrt(numel) * 1e160."""
    numel = 3 * small_blocks + 5
    parameter = torch.nn.Parameter(torch.ones(numel, dtype=torch.float64))
    parameter.grad = torch.full((numel,), 1e160, dtype=torch.float64)
    parameter.grad[::2] = -1e160
    assert float(torch.linalg.vector_norm(parameter.grad[:small_blocks])) == math.inf
    report = check(parameter)
    assert report.grad_norm == pytest.approx(1e160 * math.sqrt(numel), rel=1e-12)
    assert (report.nan_count, report.inf_count, report.flags) == (0, 0, ("exploding",))


def test_float64_squares_below_its_range_in_every_block(small_blocks: int):
    """Blocks of 1e-170s: their float64 squares are 0, so torch's norm of each block is
    0, and the gradient looked dead (all exact zeros). It is sqrt(numel) * 1e-170."""
    numel = 3 * small_blocks + 5
    parameter = torch.nn.Parameter(torch.ones(numel, dtype=torch.float64))
    parameter.grad = torch.full((numel,), 1e-170, dtype=torch.float64)
    parameter.grad[::2] = -1e-170
    assert float(torch.linalg.vector_norm(parameter.grad[:small_blocks])) == 0.0
    report = check(parameter)
    assert report.grad_norm == pytest.approx(1e-170 * math.sqrt(numel), rel=1e-12, abs=0)
    assert (report.zero_fraction, report.flags) == (0.0, ("vanishing",))


def test_a_float64_grad_is_read_never_written(small_blocks: int):
    parameter = parameter_with_grad((2 * small_blocks + 3,), torch.float64, {7: -2.5})
    assert parameter.grad is not None
    grad_before, parameter_before = parameter.grad.clone(), parameter.detach().clone()
    check(parameter)
    assert torch.equal(parameter.grad, grad_before)  # the negative values stay negative
    assert torch.equal(parameter.detach(), parameter_before)


def test_an_empty_parameter():
    parameter = torch.zeros(0, 4, requires_grad=True)
    parameter.grad = torch.zeros(0, 4)
    report = parameter_health("p", parameter, 1e-7, 1e3)
    assert (report.grad_norm, report.mean_abs, report.max_abs) == (0.0, 0.0, 0.0)
    assert (report.zero_fraction, report.nan_count, report.inf_count) == (0.0, 0, 0)
    assert report.param_norm == 0.0 and report.ratio is None


class Allocations(TorchFunctionMode):
    """The largest tensors that torch calls made here returned, in elements: float64
    ones, and any; views of the tensors given beforehand (a .grad's own blocks) aside."""

    def __init__(self, *given: torch.Tensor) -> None:
        super().__init__()
        self.given = {t.untyped_storage().data_ptr() for t in given}
        self.largest_float64 = self.largest = 0

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        result = func(*args, **(kwargs or {}))
        for t in result if isinstance(result, tuple | list) else (result,):
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in self.given:
                numel = t.untyped_storage().nbytes() // t.element_size()
                self.largest = max(self.largest, numel)
                if t.dtype == torch.float64:
                    self.largest_float64 = max(self.largest_float64, numel)
        return result


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64], ids=str)
def test_no_float64_copy_larger_than_one_block(small_blocks: int, dtype: torch.dtype):
    parameter = parameter_with_grad((10 * small_blocks + 1,), dtype, {3: math.nan, 9: math.inf})
    assert parameter.grad is not None
    with Allocations(parameter, parameter.grad) as seen:
        report = parameter_health("p", parameter, 1e-7, 1e3)
    assert report.nan_count == 1 and report.inf_count == 1
    assert 0 < seen.largest_float64 <= small_blocks, seen.largest_float64
    assert seen.largest <= small_blocks, seen.largest


def transposed(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(*reversed(shape)).t()


def channels_last(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(shape).contiguous(memory_format=torch.channels_last)


def every_other(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(shape[0] * 2, *shape[1:])[::2]


@pytest.mark.parametrize(
    ("layout", "shape"),
    [(transposed, (61, 53)), (channels_last, (7, 11, 9, 5)), (every_other, (3001,))],
    ids=["transposed", "channels_last", "strided"],
)
def test_a_non_contiguous_grad_is_read_in_place(small_blocks: int, layout: Any, shape: Any):
    """A .grad laid out like a transposed or channels_last parameter is read in memory
    order, block by block, with no copy of the whole of it in any dtype."""
    parameter = layout(shape).requires_grad_()
    parameter.grad = layout(shape)
    parameter.grad[0] = 0.0
    assert not parameter.grad.is_contiguous() and parameter.numel() > 2 * small_blocks
    with Allocations(parameter, parameter.grad) as seen:
        parameter_health("p", parameter, 1e-7, 1e3)
    assert seen.largest <= small_blocks, seen.largest
    check(parameter)  # the same numbers as float64 maths in row-major order


@pytest.mark.parametrize("with_nan", [False, True])
def test_a_sparse_grad_has_the_statistics_of_its_dense_form(small_blocks: int, with_nan: bool):
    """nn.Embedding(sparse=True)'s .grad: a sparse COO tensor whose rows repeat (a
    word used twice); its statistics are those of the dense gradient, in which the rows
    it leaves out are zeros."""
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(3000, 4, sparse=True)  # 12,000 elements: 12 blocks
    words = torch.tensor([5, 7, 5, 2999, 7, 5, 1200])
    weights = torch.randn(len(words), 4)
    if with_nan:
        weights[3, 1] = math.nan
    (embedding(words) * weights).sum().backward()
    grad = embedding.weight.grad
    assert grad is not None and grad.is_sparse and not grad.is_coalesced()
    report = parameter_health("p", embedding.weight, 1e-7, 1e3)
    want = oracle(as_float64(grad.to_dense()))
    for key in ("grad_norm", "mean_abs", "max_abs"):
        assert close(getattr(report, key), want[key]), (key, getattr(report, key), want[key])
    for key in ("zero_fraction", "nan_count", "inf_count"):
        assert getattr(report, key) == want[key], (key, getattr(report, key), want[key])
    assert report.flags == (("nonfinite",) if with_nan else ())
