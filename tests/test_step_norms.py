"""The norms of `agrad inspect --steps` (inspection/step_norms.py) against float64 maths
written here: ‖.grad‖, ‖p_after - p_before‖ / ‖p_before‖ and NaN/inf counts of every
step, taken the flat way (a small CPU model: copies per step, maths per batch) and the
per-tensor way, alone and mixed in one batch.

Each test drives StepNorms as training.py does (take() before the optimizer's step,
keep() after, results() per batch) with gradients and updates it makes itself, and
keeps its own float64 copies of them to compute what must come out.
"""

from __future__ import annotations

import math
import random
import warnings

import pytest
import torch
from torch.overrides import TorchFunctionMode

from autograd_cli.inspection import step_norms
from autograd_cli.inspection.step_norms import StepNorms

SHAPES = [(4, 3), (3,), (5, 4), (1,), (2, 2, 2)]


def _norm64(tensor: torch.Tensor) -> float:
    """‖tensor‖ in float64 by math.hypot, which no square overflows or underflows
    (10^160 squared does in float64); NaN with a NaN, as a sum of squares would be."""
    x = tensor.double().flatten().tolist()
    return math.nan if any(math.isnan(v) for v in x) else math.hypot(*x)


def _oracle(
    grads: list[torch.Tensor | None], before: list[torch.Tensor], after: list[torch.Tensor]
):
    """The step's facts in float64, from the test's own copies."""
    norms, ratios, nans, infs = [], [], [], []
    for g, b, a in zip(grads, before, after, strict=True):
        if g is None:
            norms.append(None)
            nans.append(None)
            infs.append(None)
        else:
            g = g.to_dense()  # a sparse one's duplicates summed
            norms.append(_norm64(g))
            nans.append(int(torch.isnan(g).sum()))
            infs.append(int(torch.isinf(g).sum()))
        size = _norm64(b)
        if a.shape != b.shape:  # no ratio between two shapes
            ratios.append(None)
            continue
        moved = _norm64(a.double() - b.double())
        ratios.append(None if size == 0 else moved / size)
    return norms, ratios, nans, infs


def _close(got, want, rel):
    assert len(got) == len(want)
    for x, y in zip(got, want, strict=True):
        if y is None:
            assert x is None
        elif math.isnan(y):
            assert math.isnan(x)
        else:
            assert x == pytest.approx(y, rel=rel, abs=0.0)


def _run(
    parameters: list[torch.Tensor],
    steps: int,
    recorded=lambda step: True,
    grads_of=None,
    update=None,
    batch: int | None = None,
):
    """Runs `steps` steps through a StepNorms; returns what it measured and what the
    test computed, step by step."""
    rng = torch.Generator().manual_seed(0)
    meter = StepNorms(parameters, steps)
    got, want, flags = [], [], []

    def flush():
        got.extend(meter.results(flags))
        flags.clear()

    for step in range(1, steps + 1):
        if grads_of is not None:
            grads = grads_of(step, rng)
        else:
            grads = [torch.randn(p.shape, generator=rng).to(p.dtype) for p in parameters]
        record = recorded(step)
        before = [p.detach().clone() for p in parameters]
        missing = [i for i, g in enumerate(grads) if g is None]
        with torch.no_grad():
            meter.take(grads, missing, record)
            if update is not None:
                update(step, parameters, grads)
            else:
                for p, g in zip(parameters, grads, strict=True):
                    if g is not None:
                        p.sub_(0.01 * torch.nan_to_num(g.to_dense()).to(p.dtype))
            meter.keep()
        after = [p.detach().clone() for p in parameters]
        want.append((_oracle(grads, before, after), record))
        flags.append(record)
        if meter.full() or (batch is not None and step % batch == 0):
            flush()
    flush()
    assert len(got) == len(want) == steps
    return got, want


def _check(got, want, rel=1e-12, dtype=torch.float32):
    """Norms to float64's precision; ratios too, but for float32 parameters taken the
    per-tensor way: it subtracts in float32 (exact between values within a factor 2 of
    each other, rounded otherwise); float16 and bfloat16 ones are kept in float32."""
    ratio_rel = 8 * torch.finfo(torch.float32).eps if dtype is torch.float32 else 1e-9
    for (norms, ratios, nans, infs), ((w_norms, w_ratios, w_nans, w_infs), record) in zip(
        got, want, strict=True
    ):
        _close(norms, w_norms, rel)
        assert list(nans) == w_nans
        assert list(infs) == w_infs
        if record:
            _close(ratios, w_ratios, ratio_rel)
        else:
            assert ratios == ()


def _parameters(dtype=torch.float32, shapes=SHAPES, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.nn.Parameter(torch.randn(shape, generator=generator).to(dtype)) for shape in shapes
    ]


@pytest.fixture(params=["flat", "per-tensor"])
def way(request, monkeypatch):
    """Both ways: the per-tensor one forced by a flat limit of 0 elements."""
    if request.param == "per-tensor":
        monkeypatch.setattr(step_norms, "FLAT_MAX", 0)
    return request.param


def _is_flat(parameters) -> bool:
    return StepNorms(parameters)._buffer is not None


def test_the_small_model_is_taken_the_flat_way_unless_forced(way):
    assert _is_flat(_parameters()) == (way == "flat")


@pytest.mark.parametrize("steps", [1, 63, 64, 65, 150])
def test_norms_and_ratios_match_float64_over_batches(way, steps):
    got, want = _run(_parameters(), steps)
    _check(got, want)


@pytest.mark.parametrize("every", [2, 3, 64, 100])
def test_steps_not_recorded_have_norms_and_no_ratios(way, every):
    got, want = _run(_parameters(), 130, recorded=lambda s: s == 1 or s % every == 0)
    _check(got, want)
    assert sum(bool(ratios) for _, ratios, _, _ in got) == 1 + 130 // every - (every == 1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16])
def test_other_dtypes(way, dtype):
    parameters = _parameters(dtype)
    if dtype is torch.bfloat16:  # NumPy has none: always the per-tensor way
        assert not _is_flat(parameters)
    got, want = _run(parameters, 70)
    _check(got, want, dtype=dtype)


def test_float32_squares_do_not_overflow_nor_vanish(way):
    """1e20 squared is past float32's range, 1e-30 squared below it: the sums are
    float64's."""
    parameters = _parameters()

    def grads_of(step, rng):
        scale = 1e20 if step % 2 else 1e-30
        return [torch.randn(p.shape, generator=rng) * scale for p in parameters]

    got, want = _run(parameters, 10, grads_of=grads_of)
    _check(got, want)
    assert all(0 < n < math.inf for norms, _, _, _ in got for n in norms)


def test_one_parameters_nan_and_inf_stay_its_own(way):
    """Steps 60-70 cross a batch boundary (64 slots) with a NaN and an inf in the
    third parameter's gradient; the others' norms are still exact."""
    parameters = _parameters()

    def grads_of(step, rng):
        grads = [torch.randn(p.shape, generator=rng) for p in parameters]
        if 60 <= step <= 70:
            grads[2][0, 0] = math.nan
            grads[2][1, 1] = math.inf
            grads[2][2, 2] = -math.inf
        if step == 66:
            grads[4].fill_(math.inf)
        return grads

    got, want = _run(parameters, 80, grads_of=grads_of)
    _check(got, want)
    nonfinite = [s for s, (norms, _, _, _) in enumerate(got, 1) if not math.isfinite(norms[2])]
    assert nonfinite == list(range(60, 71))
    assert got[65][2][4] == 0 and got[65][3][4] == 8  # step 66: 8 infs, no NaN
    assert got[60][2][2] == 1 and got[60][3][2] == 2


def test_missing_gradients_and_a_zero_parameter(way):
    """No .grad: None for the norm and the counts, on the steps it is missing; a
    parameter of norm 0 has no update ratio."""
    parameters = _parameters()
    with torch.no_grad():
        parameters[3].zero_()

    def grads_of(step, rng):
        grads = [torch.randn(p.shape, generator=rng) for p in parameters]
        grads[1] = None  # frozen
        if step % 5 == 0:
            grads[4] = None  # unused on some steps
        grads[3] = torch.zeros(1)  # stays at 0
        return grads

    got, want = _run(parameters, 70, grads_of=grads_of)
    _check(got, want)
    assert got[4][0][4] is None and got[3][0][4] is not None
    assert all(ratios[3] is None for _, ratios, _, _ in got)
    assert all(norms[3] == 0.0 for norms, _, _, _ in got)


def test_a_step_taken_per_tensor_inside_a_batch_of_flat_ones():
    """A sparse .grad on some steps sends them the per-tensor way; the flat steps
    around them, in the same batch, keep their own slots' values."""
    parameters = _parameters(shapes=[(6, 3), (3,)])
    assert _is_flat(parameters)

    def grads_of(step, rng):
        grads = [torch.randn(p.shape, generator=rng) for p in parameters]
        if step in (1, 5, 6, 40):  # row 3 twice: summed (coalesced) before its norm
            index = torch.tensor([[0, 3, 3]])
            grads[0] = torch.sparse_coo_tensor(
                index, torch.randn(3, 3, generator=rng), (6, 3), check_invariants=True
            )
        return grads

    got, want = _run(parameters, 70, grads_of=grads_of)
    _check(got, want)


def test_a_parameter_whose_shape_changes_in_the_optimizers_step(way):
    """Its step has no ratio (before and after differ in shape); the other parameter
    keeps its, and the steps after it are measured on the new tensor."""
    parameters = _parameters(shapes=[(4, 3), (3,)])

    def update(step, params, grads):
        for p, g in zip(params, grads, strict=True):
            p.sub_(0.01 * g)
        if step == 10:
            params[0].data = torch.randn(3, 4)  # a new shape, from this step on

    def grads_of(step, rng):
        return [torch.randn(p.shape, generator=rng) for p in parameters]

    got, want = _run(parameters, 20, grads_of=grads_of, update=update)
    _check(got, want)
    assert got[9][1][0] is None and got[9][1][1] > 0


def test_parameters_replaced_through_data_by_the_optimizer(way):
    """A hand-written optimizer that assigns p.data (a new tensor) each step."""
    parameters = _parameters()

    def update(step, params, grads):
        for p, g in zip(params, grads, strict=True):
            p.data = p.data - 0.1 * g

    got, want = _run(parameters, 70, update=update)
    _check(got, want)
    assert all(r > 0 for _, ratios, _, _ in got for r in ratios)


def test_gradients_are_read_before_an_optimizer_that_clips_them(way):
    parameters = _parameters()

    def update(step, params, grads):
        for p, g in zip(params, grads, strict=True):
            g.clamp_(-1e-3, 1e-3)  # in place: what take() copied must not change
            p.sub_(g)

    got, want_after = _run(parameters, 10, update=update)
    # The oracle read the gradients after the clipping: agrad's must be larger.
    for (norms, _, _, _), ((clipped, _, _, _), _) in zip(got, want_after, strict=True):
        assert all(n > c for n, c in zip(norms, clipped, strict=True))


def test_a_big_model_is_taken_per_tensor_with_the_same_answers():
    """Past FLAT_MAX; its big tensors' norms are float32 sums over rows of 256 joined in
    float64: within 1e-7 of float64's."""
    shapes = [(300, 250), (250,)]
    parameters = _parameters(shapes=shapes)
    assert not _is_flat(parameters)
    assert parameters[0].numel() >= step_norms.ROWS_FROM
    got, want = _run(parameters, 3)
    _check(got, want, rel=1e-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "case",
    ["random", "constant", "huge", "tiny", "zeros", "nan", "inf", "transposed", "tail"],
)
def test_a_big_tensors_norm(dtype, case):
    """_row_norm against float64 maths (1e-7 on spread values; 3e-7 when every square
    is rounded the same way), including what float32 rows cannot hold:
    squares past its range (1e20² when the dtype has them), below it (1e-25²), NaN."""
    generator = torch.Generator().manual_seed(3)
    size = step_norms.ROWS_FROM * 2 + (37 if case == "tail" else 0)
    values = torch.randn(size, generator=generator, dtype=torch.float64)
    values *= torch.rand(size, generator=generator, dtype=torch.float64) ** 6  # spread
    if case == "huge":
        values *= 1e20 if dtype is not torch.float16 else 1e4
    elif case == "tiny":
        values *= 1e-25 if dtype is not torch.float16 else 1e-5
    elif case == "zeros":
        values.zero_()
    elif case == "constant":  # every square rounded the same way: the worst case
        values.fill_(1.1)
    elif case == "nan":
        values[12345] = math.nan
    elif case == "inf":
        values[-1] = -math.inf
    tensor = values.to(dtype)
    if case == "transposed":
        tensor = tensor.view(256, -1).t()  # not contiguous: read in memory order
    exact = tensor.double()
    want = math.sqrt(float((exact * exact).sum()))
    got = step_norms._row_norm(tensor)
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(want, rel=3e-7 if case == "constant" else 1e-7, abs=0.0)


def test_a_zero_element_parameter_is_not_taken_flat():
    parameters = _parameters(shapes=[(3,), (0,), (2, 2)])
    assert not _is_flat(parameters)
    got, want = _run(parameters, 5)
    _check(got, want)


@pytest.mark.parametrize("seed", range(3))
def test_random_mixes_of_everything(way, seed):
    """Random recorded steps, missing gradients, sparse ones and non-finite values, in
    batches cut at random places."""
    chooser = random.Random(seed)
    parameters = _parameters(shapes=[(5, 2), (2,), (3, 3)], seed=seed)
    plan = {
        step: (
            chooser.random() < 0.5,
            chooser.random() < 0.1,
            chooser.random() < 0.1,
            chooser.random() < 0.1,
        )
        for step in range(1, 201)
    }

    def grads_of(step, rng):
        _, missing, sparse, nonfinite = plan[step]
        grads = [torch.randn(p.shape, generator=rng) for p in parameters]
        if missing:
            grads[1] = None
        if sparse:
            index = torch.tensor([[1, 4]])
            grads[0] = torch.sparse_coo_tensor(
                index, torch.randn(2, 2, generator=rng), (5, 2), check_invariants=True
            )
        if nonfinite:
            grads[2][0, 1] = math.nan
        return grads

    got, want = _run(
        parameters,
        200,
        recorded=lambda s: s == 1 or plan[s][0],
        grads_of=grads_of,
        batch=chooser.randint(3, 50),
    )
    _check(got, want)


def test_counts_are_of_the_gradients_before_an_optimizer_cleans_them(way):
    """NaN and inf counts, like the norms, are of .grad as backward() left it."""
    parameters = _parameters()

    def grads_of(step, rng):
        grads = [torch.randn(p.shape, generator=rng) for p in parameters]
        grads[0][1, 1] = math.nan
        grads[2][0, 3] = math.inf
        return grads

    def update(step, params, grads):
        for p, g in zip(params, grads, strict=True):
            g.nan_to_num_(0.0, 0.0, 0.0)  # in place, inside the optimizer's step
            p.sub_(0.01 * g)

    got, _ = _run(parameters, 70, grads_of=grads_of, update=update)
    for norms, _, nans, infs in got:
        assert math.isnan(norms[0]) and math.isinf(norms[2])
        assert (nans[0], infs[0], nans[2], infs[2]) == (1, 0, 0, 1)


def test_float64_squares_past_its_range_give_finite_norms_and_no_warning(way):
    """(1e160)² is past float64's range, and torch's norm of 1e160 is inf: the norms
    (of the gradients, the parameters once they hold 1e158, and the changes) are the
    finite ones of the test's scaled maths, with no NumPy warning on stderr and no inf
    counted in a gradient that holds none."""
    parameters = _parameters(torch.float64)
    huge = torch.tensor([1e160, 1.0], dtype=torch.float64)
    assert float(torch.linalg.vector_norm(huge)) == math.inf  # the reason for the test

    def grads_of(step, rng):
        grads = [torch.randn(p.shape, generator=rng, dtype=torch.float64) for p in parameters]
        grads[1][0] = 1e160
        return grads

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, want = _run(parameters, 66, grads_of=grads_of)
    _check(got, want, dtype=torch.float64)
    for norms, ratios, nans, infs in got:
        assert 1e159 < norms[1] < math.inf and nans[1] == 0 and infs[1] == 0
        assert 0 < ratios[1] < math.inf


def test_an_inf_element_keeps_its_norm_inf(way):
    """Rescaling is for squares past float64's range, not for an inf in the gradient."""
    parameters = _parameters(torch.float64)

    def grads_of(step, rng):
        grads = [torch.randn(p.shape, generator=rng, dtype=torch.float64) for p in parameters]
        grads[1][0] = math.inf
        grads[2][0] = 1e200
        return grads

    got, want = _run(parameters, 3, grads_of=grads_of, update=lambda *_: None)
    _check(got, want, dtype=torch.float64)
    for norms, _, nans, infs in got:
        assert norms[1] == math.inf and (nans[1], infs[1]) == (0, 1)
        assert 1e200 <= norms[2] < math.inf and (nans[2], infs[2]) == (0, 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_parameters_big_updates_have_exact_ratios(way, dtype):
    """Updates as big as the parameters (values change sign): after - before is not a
    float16 or bfloat16 number, so it must not be taken in their dtype."""
    parameters = _parameters(dtype)

    def update(step, params, grads):
        for p, g in zip(params, grads, strict=True):
            p.sub_(g.to(p.dtype))

    got, want = _run(parameters, 66, update=update)
    _check(got, want, dtype=dtype)


def test_a_parameter_without_grad_is_not_copied_and_its_change_is_checked(monkeypatch):
    """The per-tensor way copies only the parameters with a .grad (a frozen backbone
    is not read four times a step). One without stays as it was (ratio 0), unless the
    step changes it: then, with no copy to compare with, it has no ratio (the flat way
    copies everything, and has it)."""
    monkeypatch.setattr(step_norms, "FLAT_MAX", 0)
    parameters = _parameters()

    def grads_of(step, rng):
        grads = [torch.randn(p.shape, generator=rng) for p in parameters]
        grads[0] = grads[2] = None  # frozen
        return grads

    def update(step, params, grads):
        for p, g in zip(params, grads, strict=True):
            if g is not None:
                p.sub_(0.01 * g)
        if step == 5:
            params[2].mul_(2.0)  # in place, on a parameter with no .grad

    got, want = _run(parameters, 8, grads_of=grads_of, update=update)
    pairs = enumerate(zip(got, want, strict=True))
    for k, ((norms, ratios, _, _), ((w_norms, w_ratios, _, _), _)) in pairs:
        _close(norms, w_norms, 1e-12)
        assert ratios[0] == 0.0 == w_ratios[0]
        assert ratios[2] == (None if k == 4 else 0.0)
        _close([ratios[i] for i in (1, 3, 4)], [w_ratios[i] for i in (1, 3, 4)], 1e-6)
    meter = StepNorms(parameters, 3)
    grads = [None, torch.ones(3), None, torch.ones(1), torch.ones(2, 2, 2)]
    meter.take(grads, [0, 2], True)
    assert sorted(meter._before) == [1, 3, 4]


def test_an_all_zero_big_tensor_is_not_read_again_in_float64(monkeypatch):
    """A frozen parameter's change is all zeros: its float32 rows say 0, and their least
    and largest values settle it without the float64 pass (4 times as slow)."""

    def refuse(tensor):
        raise AssertionError("read again in float64")

    monkeypatch.setattr(step_norms, "l2_norm", refuse)
    assert step_norms._row_norm(torch.zeros(step_norms.ROWS_FROM * 3)) == 0.0
    assert step_norms._row_norm(-torch.zeros(step_norms.ROWS_FROM, 2).t()) == 0.0
    with pytest.raises(AssertionError, match="float64"):
        step_norms._row_norm(torch.full((step_norms.ROWS_FROM,), 1e-30))  # not zeros


class _HalfCalls(TorchFunctionMode):
    """The largest float16/bfloat16 tensor given to a torch call that casts it to
    float32 on the way: vector_norm(dtype=float32), or sub_ into a float32 tensor.
    torch makes a float32 copy of what it is given there."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        halves = [
            a
            for a in (*args, *kwargs.values())
            if isinstance(a, torch.Tensor) and a.dtype in (torch.float16, torch.bfloat16)
        ]
        casting = (name == "linalg_vector_norm" and kwargs.get("dtype") is torch.float32) or (
            name in ("sub_", "_foreach_sub_") and args and _is_float32(args[0])
        )
        if casting:
            for a in halves:
                self.largest = max(self.largest, a.numel())
            if name == "_foreach_sub_":
                for a in args[1]:
                    if a.dtype in (torch.float16, torch.bfloat16):
                        self.largest = max(self.largest, a.numel())
        return func(*args, **kwargs)


def _is_float32(value) -> bool:
    if isinstance(value, list | tuple):
        return any(_is_float32(v) for v in value)
    return isinstance(value, torch.Tensor) and value.dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_parameters_are_cast_a_block_at_a_time(monkeypatch, dtype):
    """A big float16 or bfloat16 model: its norms and its float32 copy's difference are
    taken a block at a time, so no float32 copy of a whole parameter is made."""
    from autograd_cli.inspection import health

    monkeypatch.setattr(health, "BLOCK", 4096)
    monkeypatch.setattr(step_norms, "FLAT_MAX", 0)
    parameters = _parameters(dtype, shapes=[(300, 250), (250,)])
    with _HalfCalls() as seen:
        got, want = _run(parameters, 3)
    _check(got, want, rel=1e-7)  # float32 rows: ratios to 1e-6 too
    assert 0 < seen.largest <= 4096, seen.largest
