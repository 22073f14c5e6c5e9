"""The gradcheck engine (autograd_cli/inspection/gradcheck.py) against torch itself.

Every verdict is compared with torch.autograd.gradcheck / gradgradcheck run on the
same function, inputs and tolerances (raise_exception=False); Jacobians against closed
forms and torch.func.jacrev; each diagnosis on a function built with exactly that bug.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd_cli.inspection.gradcheck import (
    DIAGNOSES,
    MAX_JACOBIAN_ENTRIES,
    WORST,
    GradcheckUnsupported,
    gradcheck_runs,
    second_order_grad_outputs,
)
from autograd_cli.model import GradcheckRun, PairCheck

F64 = torch.float64
BUGS = (
    "none",
    "factor",
    "half",
    "zero",
    "transpose",
    "swapped",
    "sign",
    "off_by_one",
    "noise",
    "tiny",  # within the tolerances: must pass
    "offset",  # + a constant of the order of the tolerances
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def double(*shape: int, seed: int = 0, grad: bool = True) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=F64).requires_grad_(grad)


def torch_verdict(fn: Callable[..., Any], inputs: tuple[Any, ...], **options: Any) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.autograd.gradcheck(fn, inputs, raise_exception=False, **options)


def run_of(runs: tuple[GradcheckRun, ...], kind: str) -> GradcheckRun:
    (found,) = [r for r in runs if r.kind == kind]
    return found


def pair(run: GradcheckRun, output: int, input: int) -> PairCheck:
    (found,) = [p for p in run.pairs if p.output == output and p.input == input]
    return found


# --------------------------------------------------------- a family of custom Functions


def family(
    shape: tuple[int, ...],
    n_inputs: int,
    n_outputs: int,
    bug: str,
    bug_input: int,
    side: str = "backward",
    extra_output: bool = False,
    seed: int = 0,
) -> type[torch.autograd.Function]:
    """z = sum_j w_j x_j + c (c: a last input without requires_grad); output o is
    M_o @ sin(z) (flattened), plus, with extra_output, z itself marked
    non-differentiable. `bug` is put into the backward (or the jvp) of input
    `bug_input`'s gradient."""
    n = math.prod(shape)
    generator = torch.Generator().manual_seed(seed)
    mats = [torch.randn(n, n, generator=generator, dtype=F64) for _ in range(n_outputs)]
    weights = [0.5, 1.5, -2.0][:n_inputs]

    def buggy(g: torch.Tensor, j: int, grads: list[Any]) -> torch.Tensor | None:
        if bug == "swapped" and j < 2:
            return grads[1 - j]  # inputs 0 and 1 get each other's gradient
        if j != bug_input:
            return g
        return {
            "none": lambda: g,
            "factor": lambda: g * 2,
            "half": lambda: g * 0.5,
            "zero": lambda: None,
            "sign": lambda: -g,
            "off_by_one": lambda: torch.roll(g.reshape(-1), 1).reshape(g.shape),
            "noise": lambda: g + 1e-3 * torch.randn_like(g),
            "tiny": lambda: g * (1 + 1e-6),
            "offset": lambda: g + 1e-4,
            "transpose": lambda: g,
            "swapped": lambda: g,
        }[bug]()

    class Family(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *args: torch.Tensor) -> Any:
            xs, c = args[:-1], args[-1]
            z = sum(w * x.reshape(-1) for w, x in zip(weights, xs, strict=True)) + c.reshape(-1)
            ctx.save_for_backward(z)
            ctx.z = z.detach()  # for jvp (saved_tensors is backward's)
            outs = [m @ torch.sin(z) for m in mats]
            if extra_output:
                plain = z.clone()
                ctx.mark_non_differentiable(plain)
                outs.append(plain)
            return tuple(outs) if len(outs) > 1 else outs[0]

        @staticmethod
        def backward(ctx: Any, *grads: torch.Tensor) -> Any:
            (z,) = ctx.saved_tensors
            gz = torch.zeros_like(z)
            for m, g in zip(mats, grads, strict=False):
                if g is not None:
                    transposed = bug == "transpose" and side == "backward"
                    gz = gz + torch.cos(z) * ((m if transposed else m.T) @ g)
            plain = [(w * gz).reshape(shape) for w in weights]
            out: list[torch.Tensor | None] = []
            for j, g in enumerate(plain):
                out.append(buggy(g, j, plain) if side == "backward" else g)
            return (*out, None)

        @staticmethod
        def jvp(ctx: Any, *tangents: torch.Tensor | None) -> Any:
            z = ctx.z
            dz = torch.zeros_like(z)
            flat = [
                None if t is None else (w * t.reshape(-1))
                for w, t in zip(weights, tangents[:-1], strict=True)
            ]
            for j, t in enumerate(flat):
                if t is None:
                    continue
                if side == "forward":
                    t = buggy(t, j, flat)
                if t is not None:
                    dz = dz + t
            outs = [
                (m.T if bug == "transpose" and side == "forward" else m) @ (torch.cos(z) * dz)
                for m in mats
            ]
            if extra_output:
                outs.append(None)  # the non-differentiable output has no tangent
            return tuple(outs) if len(outs) > 1 else outs[0]

    return Family


CASE = st.fixed_dictionaries(
    {
        "shape": st.sampled_from([(), (1,), (3,), (2, 2), (2, 3)]),
        "n_inputs": st.integers(1, 3),
        "n_outputs": st.integers(1, 2),
        "bug": st.sampled_from(BUGS),
        "bug_input": st.integers(0, 2),
        "extra_output": st.booleans(),
        "eps": st.sampled_from([1e-6, 1e-5, 1e-7]),
        "atol": st.sampled_from([1e-5, 1e-7, 1e-3]),
        "rtol": st.sampled_from([1e-3, 1e-2, 0.0]),
        "nondet_tol": st.sampled_from([0.0, 1e-2]),
        "seed": st.integers(0, 3),
    }
)


def build(case: dict[str, Any], side: str = "backward") -> tuple[Callable[..., Any], tuple]:
    n_inputs = case["n_inputs"]
    bug = case["bug"]
    if bug == "swapped" and n_inputs < 2:
        bug = "factor"
    fn = family(
        case["shape"],
        n_inputs,
        case["n_outputs"],
        bug,
        min(case["bug_input"], n_inputs - 1) if bug != "swapped" else 0,
        side,
        case["extra_output"],
        case["seed"],
    ).apply
    xs = tuple(double(*case["shape"], seed=case["seed"] * 10 + j) for j in range(n_inputs))
    constant = double(*case["shape"], seed=99, grad=False)
    return fn, (*xs, constant)


def options(case: dict[str, Any]) -> dict[str, float]:
    return {k: case[k] for k in ("eps", "atol", "rtol", "nondet_tol")}


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(CASE)
def test_backward_verdict_agrees_with_torch_gradcheck(case):
    fn, inputs = build(case)
    torch.manual_seed(0)
    (run,) = gradcheck_runs(fn, inputs, **options(case))
    torch.manual_seed(0)
    assert run.ok == torch_verdict(fn, inputs, **options(case)), case
    assert run.kind == "backward" and not run.fast
    # every (differentiable output, input with requires_grad) pair, in order
    n_inputs, n_outputs = case["n_inputs"], case["n_outputs"]
    assert [(p.output, p.input) for p in run.pairs] == [
        (o, i) for o in range(n_outputs) for i in range(n_inputs)
    ]
    for p in run.pairs:
        assert p.entries == math.prod(case["shape"]) ** 2
        assert p.ok == (p.mismatches == 0)
        assert len(p.worst) == min(WORST, p.mismatches)
        assert set(p.diagnoses) <= set(DIAGNOSES)
        if p.ok:
            assert p.diagnoses == () and p.factor is None
    if run.ok:
        assert run.problem is None and all(p.ok for p in run.pairs)
    # a bug with a pattern is named on every failing pair of the input it is in
    bug = case["bug"] if case["bug"] != "swapped" or n_inputs > 1 else "factor"
    code = {"factor": "factor", "half": "factor", "sign": "factor", "zero": "zero"}.get(bug)
    code = "swapped" if bug == "swapped" else code
    buggy = {0, 1} if bug == "swapped" else {min(case["bug_input"], n_inputs - 1)}
    for p in run.pairs:
        if code and not p.ok and p.input in buggy:
            assert code in p.diagnoses, (case, p.diagnoses)
        # (the transposed bug is in every input's gradient)
        if bug != "transpose" and (p.input not in buggy or bug in ("none", "tiny")):
            assert p.ok and p.diagnoses == ()
    if bug in ("off_by_one", "offset") and math.prod(case["shape"]) > 1:
        assert all("factor" not in p.diagnoses for p in run.pairs), case
    factors = {"factor": 2.0, "half": 0.5, "sign": -1.0}
    for p in run.pairs:
        if "factor" in p.diagnoses and bug in factors:
            assert p.factor == pytest.approx(factors[bug], rel=1e-3)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(CASE)
def test_forward_verdict_agrees_with_torch_check_forward_ad(case):
    fn, inputs = build(case, side="forward")
    run = run_of(gradcheck_runs(fn, inputs, forward=True, **options(case)), "forward")
    torch.manual_seed(0)
    expected = torch_verdict(
        fn, inputs, check_forward_ad=True, check_backward_ad=False, **options(case)
    )
    assert run.ok == expected, case


@settings(max_examples=25, deadline=None, derandomize=True)
@given(CASE)
def test_fast_mode_is_torchs_own_verdict(case):
    fn, inputs = build(case)
    torch.manual_seed(0)
    (run,) = gradcheck_runs(fn, inputs, fast=True, **options(case))
    torch.manual_seed(0)
    assert run.ok == torch_verdict(fn, inputs, fast_mode=True, **options(case)), case
    assert run.fast
    if run.ok:
        assert run.pairs == () and run.problem is None and run.torch_message is None
    else:
        assert run.problem == "fast_mode" and run.torch_message
        assert "\n" not in run.torch_message
        assert run.pairs  # small enough: the slow engine shows the entries


def test_the_generated_cases_cover_passing_and_failing_verdicts():
    """The property above is only worth something if both verdicts occur."""
    verdicts = set()
    for bug in ("none", "tiny", "factor", "offset"):
        case = dict(
            shape=(3,), n_inputs=2, n_outputs=1, bug=bug, bug_input=0, extra_output=False,
            eps=1e-6, atol=1e-5, rtol=1e-3, nondet_tol=0.0, seed=1,
        )  # fmt: skip
        fn, inputs = build(case)
        verdict = torch_verdict(fn, inputs, **options(case))
        assert gradcheck_runs(fn, inputs, **options(case))[0].ok == verdict
        verdicts.add(verdict)
    assert verdicts == {True, False}


# ---------------------------------------------------------------------- second order


class Cube(torch.autograd.Function):
    """x**3 whose backward calls Square, whose own backward may be wrong: the first
    derivative is right, the second one is `second_factor` times too big."""

    second_factor = 1.0

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return g * 3 * _square(x, Cube.second_factor)


def _square(x: torch.Tensor, factor: float) -> torch.Tensor:
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return x**2

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return g * 2 * x * factor

    return Square.apply(x)


@pytest.mark.parametrize("second_factor", [1.0, 2.0, 1.0001])
@pytest.mark.parametrize("seed", [0, 1])
def test_second_order_agrees_with_gradgradcheck_given_the_same_grad_outputs(
    second_factor, seed, monkeypatch
):
    monkeypatch.setattr(Cube, "second_factor", second_factor)
    w = double(3, seed=5)
    inputs = (double(3, seed=seed), w)

    def fn(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return Cube.apply(x) * w, torch.tanh(x * w)

    runs = gradcheck_runs(fn, inputs, second_order=True, seed=seed)
    run = run_of(runs, "second_order")
    grad_outputs = second_order_grad_outputs(fn, inputs, seed)
    expected = torch.autograd.gradgradcheck(fn, inputs, grad_outputs, raise_exception=False)
    assert run.ok == expected
    assert run.ok == (second_factor != 2.0)  # 1.0001 is within rtol
    assert run_of(runs, "backward").ok  # the first derivative is right
    # inputs of the checked function: x, w, then the two grad_outputs
    assert {p.input for p in run.pairs} == {0, 1, 2, 3}
    fast = run_of(
        gradcheck_runs(fn, inputs, second_order=True, fast=True, seed=seed), "second_order"
    )
    assert fast.ok == torch.autograd.gradgradcheck(
        fn, inputs, grad_outputs, fast_mode=True, raise_exception=False
    )


def test_second_order_grad_outputs_are_seeded_uniform_draws():
    x = double(2, 3)

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return x * 2, x.sum(), x.detach()

    drawn = second_order_grad_outputs(fn, (x,), seed=7)
    generator = torch.Generator().manual_seed(7)
    expected = (
        torch.rand((2, 3), generator=generator, dtype=F64) * 2 - 1,
        torch.rand((), generator=generator, dtype=F64) * 2 - 1,
    )
    assert len(drawn) == 2  # x.detach() has no requires_grad: no grad_output
    for got, want in zip(drawn, expected, strict=True):
        assert got.requires_grad and got.dtype == F64
        torch.testing.assert_close(got.detach(), want, rtol=0, atol=0)
        assert bool(((got >= -1) & (got < 1)).all())
    again = second_order_grad_outputs(fn, (x,), seed=7)
    assert all(torch.equal(a, b) for a, b in zip(drawn, again, strict=True))


# ------------------------------------------------------------------------- numbers


def test_numerical_jacobian_matches_the_closed_form():
    """f(x) = W @ x**3: J = W diag(3 x**2); numerical is (output elements) x (input
    elements), central differences (error ~ eps**2)."""
    w, x = double(4, 3, seed=1, grad=False), double(3, seed=2)
    (run,) = gradcheck_runs(lambda x: w @ x**3, (x,))
    closed = w * (3 * x.detach() ** 2)
    p = pair(run, 0, 0)
    assert p.ok and p.entries == 12 and p.output_shape == (4,) and p.input_shape == (3,)
    torch.testing.assert_close(torch.tensor(p.numerical, dtype=F64), closed, rtol=0, atol=1e-8)


def test_analytical_jacobian_matches_torch_func_jacrev():
    w, b = double(3, 2, 2, seed=3, grad=False), double(2, 2, seed=4)

    def f(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.einsum("oij,ij->o", w, x)) + (x * b).sum()

    x = double(2, 2, seed=5)
    (run,) = gradcheck_runs(f, (x, b))
    for i, arg in enumerate((x, b)):
        jac = torch.func.jacrev(f, argnums=i)(x.detach(), b.detach()).reshape(3, 4)
        got = torch.tensor(pair(run, 0, i).analytical, dtype=F64)
        torch.testing.assert_close(got, jac, rtol=1e-12, atol=1e-12)
        assert pair(run, 0, i).input_shape == tuple(arg.shape)


def test_worst_entries_index_the_tensors_and_come_largest_first():
    """f(X) = X * c elementwise on a 2x3 input, backward 3x too big: J = diag(c),
    analytical - numerical = 2 c on the diagonal, zero elsewhere."""
    c = torch.tensor([[1.0, -5.0, 2.0], [0.5, 4.0, -3.0]], dtype=F64)

    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            return x * c

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            return g * c * 3

    (run,) = gradcheck_runs(Scale.apply, (double(2, 3),))
    p = pair(run, 0, 0)
    assert not run.ok and p.mismatches == 6 and p.entries == 36
    sizes = [abs(e.difference) for e in p.worst]
    assert sizes == sorted(sizes, reverse=True)
    for e in p.worst:
        assert e.output_index == e.input_index  # diagonal
        assert e.numerical == pytest.approx(float(c[e.input_index]), abs=1e-8)
        assert e.analytical == pytest.approx(3 * float(c[e.input_index]), abs=1e-12)
        assert e.difference == pytest.approx(e.analytical - e.numerical, abs=0)
    assert p.worst[0].input_index == (0, 1)  # |2 c| largest at c = -5
    assert p.diagnoses == ("factor",) and p.factor == pytest.approx(3.0, rel=1e-8)


def test_jacobians_above_the_cap_are_left_out_but_still_judged():
    rows = MAX_JACOBIAN_ENTRIES // 100 + 1
    w = double(rows, 100, seed=6, grad=False)
    (run,) = gradcheck_runs(lambda x: w @ x, (double(100, seed=7),))
    p = pair(run, 0, 0)
    assert p.entries == rows * 100 > MAX_JACOBIAN_ENTRIES
    assert p.ok and p.numerical is None and p.analytical is None


# ----------------------------------------------------------------------- diagnoses


class Linear(torch.autograd.Function):
    """y = W x, with the transposed-gradient bug: W g instead of W^T g."""

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w, x)
        return w @ x

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w, x = ctx.saved_tensors
        return torch.outer(g, x), w @ g


class SwappedMul(torch.autograd.Function):
    """a * b with the two gradients returned in the wrong order."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = ctx.saved_tensors
        return g * a, g * b


def _scaled(k: float) -> Callable[..., torch.Tensor]:
    class Scaled(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return torch.sin(x) * x

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return g * (torch.cos(x) * x + torch.sin(x)) * k

    return Scaled.apply


def _transposed_matrix_grad(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    class MatMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(a, x)
            return a @ x

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            a, x = ctx.saved_tensors
            return (g @ x.T).T, a.T @ g  # dA transposed

    return MatMul.apply(a, x)


RELU_AT_ZERO = torch.tensor([0.0, 1.5, -2.0, 0.0], dtype=F64)

BUGGY: dict[str, tuple[Callable[..., Any], Callable[[], tuple]]] = {
    "factor": (_scaled(2.0), lambda: (double(5),)),
    "zero": (lambda x, y: x * 2 + y.detach() ** 2, lambda: (double(3, seed=1), double(3))),
    "transpose": (Linear.apply, lambda: (double(4, 4, seed=2), double(4, seed=3))),
    "swapped": (SwappedMul.apply, lambda: (double(3, seed=4), double(3, seed=5))),
    "kink": (torch.relu, lambda: (RELU_AT_ZERO.clone().requires_grad_(),)),
    "noisy": (lambda x: torch.sin(x) + 1e-4 * torch.randn_like(x), lambda: (double(4),)),
}
WHERE = {  # the (output, input) pairs that carry the diagnosis
    "factor": [(0, 0)],
    "zero": [(0, 1)],
    "transpose": [(0, 1)],
    "swapped": [(0, 0), (0, 1)],
    "kink": [(0, 0)],
    "noisy": [(0, 0)],
}


@pytest.mark.parametrize("code", DIAGNOSES)
def test_each_diagnosis_fires_on_its_bug(code):
    fn, make = BUGGY[code]
    inputs = make()
    torch.manual_seed(0)
    (run,) = gradcheck_runs(fn, inputs)
    assert not run.ok
    assert torch_verdict(fn, inputs) is False
    for p in run.pairs:
        if (p.output, p.input) in WHERE[code]:
            assert p.diagnoses == (code,), (p.output, p.input, p.diagnoses)
        else:
            assert p.ok and p.diagnoses == ()


def test_factor_reports_the_ratio_missing_or_extra():
    for k in (2.0, 0.5, -1.0, 3.7):
        (run,) = gradcheck_runs(_scaled(k), (double(6, seed=8),))
        p = pair(run, 0, 0)
        assert p.diagnoses == ("factor",)
        assert p.factor == pytest.approx(k, rel=1e-6)


def test_transpose_of_a_square_matrix_gradient():
    (run,) = gradcheck_runs(_transposed_matrix_grad, (double(3, 3, seed=9), double(3, 2)))
    assert pair(run, 0, 0).diagnoses == ("transpose",)
    assert pair(run, 0, 1).ok


def test_zero_when_no_output_requires_grad():
    """torch asks the numerical Jacobian of a fully detached function to be exactly 0."""
    fn, inputs = (lambda x: x.detach() * 2), (double(3),)
    (run,) = gradcheck_runs(fn, inputs)
    assert run.ok is torch_verdict(fn, inputs) is False
    assert pair(run, 0, 0).diagnoses == ("zero",)
    fn = lambda x: x.detach() * 0  # noqa: E731
    assert gradcheck_runs(fn, inputs)[0].ok is torch_verdict(fn, inputs) is True


CORRECT: dict[str, tuple[Callable[..., Any], tuple]] = {
    "elementwise": (_scaled(1.0), (double(5),)),
    "linear": (lambda w, x: w @ x, (double(4, 4, seed=2), double(4, seed=3))),
    "product": (lambda a, b: a * b, (double(3, seed=4), double(3, seed=5))),
    "two outputs": (lambda x: (x.exp(), x.sum() * x), (double(2, 2),)),
    "abs at 0 (a kink that passes)": (torch.abs, (torch.zeros(3, dtype=F64).requires_grad_(),)),
    "relu away from 0": (torch.relu, (torch.tensor([1.0, -1.0], dtype=F64).requires_grad_(),)),
    "max with a tie that passes": (
        lambda x: torch.max(x),
        (torch.tensor([1.0, 1.0, 0.5], dtype=F64).requires_grad_(),),
    ),
}


@pytest.mark.parametrize("name", CORRECT)
def test_no_diagnosis_on_correct_functions(name):
    fn, inputs = CORRECT[name]
    smooth = name in ("linear", "product", "two outputs")  # no custom Function, no kink
    runs = gradcheck_runs(fn, inputs, forward=smooth, second_order=smooth)
    for run in runs:
        assert run.ok, (name, run.kind)
        assert all(p.ok and p.diagnoses == () and p.factor is None for p in run.pairs)
    assert torch_verdict(fn, inputs) is True


def test_no_diagnosis_for_a_bug_without_a_pattern():
    """An off-by-one gradient is none of the patterns: no guess rather than a wrong one."""

    class Rolled(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return torch.sin(x)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return torch.roll(g * torch.cos(x), 1)

    (run,) = gradcheck_runs(Rolled.apply, (double(5),))
    assert not run.ok and pair(run, 0, 0).diagnoses == ()


def test_curvature_with_a_too_big_eps_is_noisy_not_a_kink():
    """x**4 with eps = 1e-2: central differences are off by 4 eps**2 x (not a uniform
    factor), the one-sided ones disagree by ~12 eps x**2, a gap that grows with eps
    (curvature), unlike a jump in the derivative: the numerical Jacobian changes with eps."""
    x = torch.tensor([0.05, 0.1, 0.2, -0.07], dtype=F64, requires_grad=True)
    fn = lambda x: x**4  # noqa: E731
    (run,) = gradcheck_runs(fn, (x,), eps=1e-2)
    assert run.ok is torch_verdict(fn, (x,), eps=1e-2) is False
    p = pair(run, 0, 0)
    assert p.mismatches == 4 and p.diagnoses == ("noisy",)
    # the numerical entries are the closed form of the central difference
    expected = torch.diag(4 * x.detach() ** 3 + 4 * 1e-4 * x.detach())
    torch.testing.assert_close(
        torch.tensor(p.numerical, dtype=F64), expected, rtol=1e-9, atol=1e-12
    )


def test_kink_also_when_the_input_is_within_eps_of_it():
    """relu at 3e-7 with eps = 1e-6: the central difference straddles 0."""
    x = torch.tensor([3e-7, 1.0, -4e-7], dtype=F64, requires_grad=True)
    (run,) = gradcheck_runs(torch.relu, (x,))
    assert run.ok is torch_verdict(torch.relu, (x,)) is False
    p = pair(run, 0, 0)
    assert p.mismatches == 2 and p.diagnoses == ("kink",)
    assert {e.input_index for e in p.worst} == {(0,), (2,)}


def test_max_at_a_tie_that_fails_is_a_kink():
    """torch.amax splits the gradient evenly between tied elements (0.5 each), while
    the central difference of max(x0, x1) at a tie gives 0.5 too, but with a third
    tied element 1/3 against 0.5: one-sided differences are 1 and 0."""
    x = torch.tensor([[2.0, 2.0], [1.0, 0.0]], dtype=F64, requires_grad=True)
    fn = lambda x: torch.amax(x, dim=1)  # noqa: E731
    (run,) = gradcheck_runs(fn, (x,))
    expected = torch_verdict(fn, (x,))
    assert run.ok is expected
    if not expected:
        assert pair(run, 0, 0).diagnoses == ("kink",)


# ------------------------------------------------------------ torch's other checks


class PlusTiny(torch.autograd.Function):
    """Right to 1e-20, but a zero grad_output does not give a zero gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x * 2

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return g * 2 + 1e-20


class UndefinedOnes(torch.autograd.Function):
    """Two outputs; with both output gradients undefined, backward returns ones."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        return x * 2, x * 3

    @staticmethod
    def backward(ctx: Any, g1: torch.Tensor | None, g2: torch.Tensor | None) -> torch.Tensor:
        if g1 is None and g2 is None:
            return torch.ones(3, dtype=F64)
        return (0 if g1 is None else g1 * 2) + (0 if g2 is None else g2 * 3)


class UndefinedRaises(UndefinedOnes):
    """As UndefinedOnes but raising a RuntimeError (torch: a failed check, not a crash)."""

    @staticmethod
    def backward(ctx: Any, g1: torch.Tensor | None, g2: torch.Tensor | None) -> torch.Tensor:
        if g1 is None and g2 is None:
            raise RuntimeError("both output gradients undefined")
        return (0 if g1 is None else g1 * 2) + (0 if g2 is None else g2 * 3)


class Nondeterministic(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x * 2

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return g * (2 + 1e-9 * torch.randn_like(g))


@pytest.mark.parametrize(
    ("fn", "problem", "nondet_tol"),
    [
        (PlusTiny.apply, "grad_output_ignored", 0.0),
        (UndefinedOnes.apply, "undefined_grad", 0.0),
        (UndefinedRaises.apply, "undefined_grad", 0.0),
        (Nondeterministic.apply, "nondeterministic", 0.0),
        (Nondeterministic.apply, None, 1e-6),
    ],
)
def test_torchs_other_backward_checks_are_mirrored(fn, problem, nondet_tol):
    inputs = (double(3),)
    (run,) = gradcheck_runs(fn, inputs, nondet_tol=nondet_tol)
    assert run.ok == torch_verdict(fn, inputs, nondet_tol=nondet_tol)
    assert run.problem == problem
    assert run.ok == (problem is None)
    assert all(p.ok for p in run.pairs)  # the entries themselves agree


def test_undefined_grad_mirror_matches_torchs_private_check():
    """agrad passes undefined gradients with a public custom Function; torch uses
    torch._C._functions.UndefinedGrad. Same result on the functions above."""
    from torch.autograd.gradcheck import GradcheckError, _test_undefined_backward_mode

    for fn in (UndefinedOnes.apply, UndefinedRaises.apply, _scaled(1.0), torch.sin):
        x = double(3)
        outputs = tuple(o for o in fn(x) if o.requires_grad) if fn in (
            UndefinedOnes.apply, UndefinedRaises.apply
        ) else (fn(x),)  # fmt: skip
        try:
            torch_ok = _test_undefined_backward_mode(fn, outputs, (x,))
        except GradcheckError:
            torch_ok = False
        (run,) = gradcheck_runs(fn, (x,))
        assert (run.problem != "undefined_grad") == torch_ok


# ------------------------------------------------------------- errors and refusals


class Boom(Exception):
    pass


def test_an_exception_in_the_users_forward_propagates_unchanged():
    error = Boom("from forward")

    def fn(x: torch.Tensor) -> torch.Tensor:
        raise error

    with pytest.raises(Boom) as caught:
        gradcheck_runs(fn, (double(2),))
    assert caught.value is error


def test_an_exception_in_the_users_backward_propagates_unchanged():
    error = Boom("from backward")

    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            raise error

    with pytest.raises(Boom) as caught:
        gradcheck_runs(Bad.apply, (double(2),))
    assert caught.value is error
    with pytest.raises(Boom):
        gradcheck_runs(Bad.apply, (double(2),), fast=True)


def test_a_function_without_jvp_fails_the_forward_run_with_torchs_words():
    """A custom Function without jvp: torch raises (no verdict) when the backward
    check passed, and returns False when it failed first; agrad's forward run fails
    with torch's message, and the backward run keeps its own verdict."""
    for factor, backward_ok in ((1.0, True), (2.0, False)):
        fn, inputs = _scaled(factor), (double(2),)
        with pytest.raises(NotImplementedError) as raised:
            torch.autograd.gradcheck(fn, inputs, check_forward_ad=True, check_backward_ad=False)
        if not backward_ok:  # torch stops at the failed backward check
            verdict = torch.autograd.gradcheck(
                fn, inputs, check_forward_ad=True, raise_exception=False
            )
            assert verdict is False
        backward, forward = gradcheck_runs(fn, inputs, forward=True)
        assert backward.ok is backward_ok
        assert (forward.ok, forward.problem) == (False, "no_forward_ad")
        assert forward.torch_message == str(raised.value).strip().splitlines()[0]


@pytest.mark.parametrize(
    ("inputs", "code"),
    [
        ((torch.ones(3, dtype=F64),), "no_differentiable_input"),
        ((torch.ones(1, dtype=F64).expand(3).requires_grad_(),), "overlapping_input"),
        ((torch.ones(3, dtype=torch.complex128, requires_grad=True),), "complex"),
    ],
)
def test_inputs_torch_refuses_or_agrad_does_not_mirror(inputs, code):
    with pytest.raises(GradcheckUnsupported) as caught:
        gradcheck_runs(lambda x: x * 2, inputs)
    assert caught.value.code == code
    assert isinstance(caught.value, ValueError)
    assert code in GradcheckUnsupported.CODES


def test_outputs_agrad_does_not_mirror():
    x = double(2)
    with pytest.raises(GradcheckUnsupported) as caught:
        gradcheck_runs(lambda x: (x * 2, 3), (x,))
    assert (caught.value.code, caught.value.index) == ("not_tensor_output", 1)
    with pytest.raises(GradcheckUnsupported) as caught:
        gradcheck_runs(lambda x: x.detach(), (x,), second_order=True)
    assert caught.value.code == "no_differentiable_output"


def test_inputs_are_left_as_they_were():
    x = double(2, 3)
    before = x.detach().clone()
    gradcheck_runs(_scaled(2.0), (x,), forward=False, second_order=True)
    assert torch.equal(x.detach(), before) and x.grad is None and x.requires_grad


def test_non_tensor_and_constant_inputs_pass_through():
    fn = lambda x, k, c: x * k + c  # noqa: E731
    inputs = (double(3), 2.5, double(3, grad=False))
    (run,) = gradcheck_runs(fn, inputs)
    assert run.ok is torch_verdict(fn, inputs) is True
    assert [(p.output, p.input) for p in run.pairs] == [(0, 0)]


# ------------------------------------------------------------- torch's exact rules


def test_tolerance_is_relative_to_the_numerical_value_as_in_torch_allclose():
    """torch.allclose(analytical, numerical): |a - n| <= atol + rtol |n|. With a 1.105x
    gradient, atol 0, rtol 0.1, that fails (0.105 |n| > 0.1 |n|), while a tolerance
    relative to |a| (0.1105 |n|) would let it pass."""
    fn, inputs = _scaled(1.105), (double(4, seed=11),)
    for atol, rtol, expected in ((0.0, 0.1, False), (0.0, 0.11, True)):
        (run,) = gradcheck_runs(fn, inputs, atol=atol, rtol=rtol)
        assert run.ok is torch_verdict(fn, inputs, atol=atol, rtol=rtol) is expected
        assert pair(run, 0, 0).mismatches == (0 if expected else 4)


def test_forward_mode_pairs_outputs_as_torch_does():
    """A floating output without requires_grad before a differentiable one: torch's
    forward-mode check compares the i-th differentiable output's numerical Jacobian
    with the i-th floating output's forward-mode one; agrad does the same, so that the
    verdict agrees (here: False, although x * 3 alone is right)."""
    for fn in (lambda x: (x.detach() * 2, x * 3), lambda x: (x * 3, x.detach() * 2)):
        inputs = (double(3),)
        run = run_of(gradcheck_runs(fn, inputs, forward=True), "forward")
        expected = torch_verdict(fn, inputs, check_forward_ad=True, check_backward_ad=False)
        assert run.ok is expected
    assert run.ok is True  # the second one, in order, passes


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("shape", [(1,), (3,)])
def test_random_noise_is_noisy_never_a_kink(seed, shape):
    """Noise of 1e-4 makes one-sided differences disagree by ~100 around the analytical
    value, like a kink; evaluating f again at the same point tells them apart."""
    fn, inputs = BUGGY["noisy"][0], (double(*shape, seed=seed),)
    torch.manual_seed(seed)
    (run,) = gradcheck_runs(fn, inputs)
    assert not run.ok
    assert all(p.diagnoses == ("noisy",) for p in run.pairs)


def test_a_kink_is_not_mistaken_for_a_missing_gradient():
    """relu of a scalar at 0: analytical 0, numerical 0.5; "zero" would fit the entries,
    but the one-sided differences (1 and 0) say it is a kink."""
    x = torch.tensor(0.0, dtype=F64, requires_grad=True)
    (run,) = gradcheck_runs(torch.relu, (x,))
    assert run.ok is torch_verdict(torch.relu, (x,)) is False
    p = pair(run, 0, 0)
    assert p.diagnoses == ("kink",) and p.worst[0].numerical == pytest.approx(0.5)


def _leaf(*values: float, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, requires_grad=True)


EDGE: dict[str, tuple[Callable[..., Any], Callable[[], tuple]]] = {
    "identity (the output is the input)": (lambda x: x, lambda: (double(3),)),
    "a view of the input": (lambda x: x.t()[0], lambda: (double(2, 3),)),
    "a non-contiguous non-leaf input": (lambda x: x.exp(), lambda: (double(3, 2).t(),)),
    "the same tensor twice": (lambda a, b: a * b, lambda: (lambda x: (x, x))(double(3))),
    "0-d input and output": (lambda x: x.sin() * 3, lambda: (double(),)),
    "empty tensors": (lambda x: x * 2, lambda: (torch.zeros(0, dtype=F64).requires_grad_(),)),
    "an integer output after the values": (lambda x: torch.sort(x), lambda: (double(4),)),
    "NaN everywhere": (torch.sqrt, lambda: (_leaf(-1.0, 4.0),)),
    "infinite": (lambda x: 1 / x, lambda: (_leaf(0.0, 2.0),)),
    "float32 inputs": (lambda x: x.sin(), lambda: (_leaf(0.3, 1.2, dtype=torch.float32),)),
    "float32 with eps 1e-3": (lambda x: x**2, lambda: (_leaf(0.3, 1.2, dtype=torch.float32),)),
    "unused input": (lambda x, y: x * 2, lambda: (double(2), double(3))),
    "scalar reduction": (lambda x: (x**2).sum(), lambda: (double(2, 2),)),
}


@pytest.mark.parametrize("name", EDGE)
def test_edge_cases_agree_with_torch(name):
    fn, make = EDGE[name]
    eps = 1e-3 if "eps 1e-3" in name else 1e-6
    for forward in (False, True):
        inputs = make()
        expected = torch_verdict(
            fn, inputs, eps=eps, check_forward_ad=forward, check_backward_ad=not forward
        )
        runs = gradcheck_runs(fn, make(), eps=eps, forward=forward)
        assert run_of(runs, "forward" if forward else "backward").ok is expected, forward


def test_float32_rounding_is_noisy_not_a_kink():
    """sin in float32 with eps 1e-6: the differences are rounding noise (deterministic,
    ~1e-7 / 1e-6), whose one-sided gap shrinks 10x at eps*10, unlike a kink's."""
    x = _leaf(0.3, 1.2, dtype=torch.float32)
    (run,) = gradcheck_runs(torch.sin, (x,))
    assert run.ok is torch_verdict(torch.sin, (x,)) is False
    assert pair(run, 0, 0).diagnoses == ("noisy",)


@pytest.mark.parametrize("bug", ["none", "factor", "zero", "transpose"])
def test_fast_forward_mode_is_torchs_own_verdict(bug):
    case = dict(
        shape=(2, 2), n_inputs=2, n_outputs=2, bug=bug, bug_input=1, extra_output=False,
        eps=1e-6, atol=1e-5, rtol=1e-3, nondet_tol=0.0, seed=2,
    )  # fmt: skip
    fn, inputs = build(case, side="forward")
    run = run_of(gradcheck_runs(fn, inputs, forward=True, fast=True), "forward")
    expected = torch_verdict(
        fn, inputs, fast_mode=True, check_forward_ad=True, check_backward_ad=False
    )
    assert run.ok is expected is (bug == "none")
    assert run.fast and (run.problem is None) == run.ok
    if not run.ok:
        assert run.torch_message.startswith("Jacobian computed with forward mode mismatch")
        named = {p.diagnoses for p in run.pairs if not p.ok}
        # the family's transposed jvp is not a plain transpose (a sin follows M)
        assert named == ({()} if bug == "transpose" else {(bug,)})
