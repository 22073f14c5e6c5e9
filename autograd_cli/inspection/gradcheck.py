"""The engine of `agrad gradcheck`: torch.autograd.gradcheck's verdict, with the
Jacobians, the mismatching entries and a guess at the bug, as plain data.

The slow check mirrors torch's own (torch/autograd/gradcheck.py, `_slow_gradcheck`):
column j of the numerical Jacobian is (f(x + eps e_j) - f(x - eps e_j)) / (2 eps), the
input's `.data` perturbed in place; row i of the analytical one is
torch.autograd.grad(output, inputs, e_i), computed twice (reentrancy, nondet_tol); each
(output, input) pair is judged by torch.allclose(analytical, numerical, rtol, atol).
When every pair passes, torch's two further backward checks run as torch runs them
(zero grad_outputs give zero gradients; undefined output gradients are handled).
Unlike torch, every pair is computed and reported instead of stopping at the first
mismatch. The user's exceptions are never caught here (except where torch itself turns
a RuntimeError into a failed verdict: the undefined-gradient check).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from autograd_cli.model import GradcheckRun, JacobianEntry, PairCheck

WORST = 10
MAX_JACOBIAN_ENTRIES = 10_000  # per pair, for the Jacobians in the facts
DIAGNOSES = ("factor", "zero", "transpose", "swapped", "kink", "noisy")
# GradcheckRun.problem: a failed verdict that is not (only) an entry mismatch.
PROBLEMS = (
    "nondeterministic",  # backward run twice differs by more than nondet_tol
    "fast_mode",  # torch's fast mode failed
    "grad_output_ignored",  # zero grad_outputs gave a non-zero gradient
    "undefined_grad",  # backward fails or gives non-zero with undefined output grads
    "undefined_tangent",  # forward mode: an undefined tangent differs from a zero one
    "no_forward_ad",  # forward mode: a custom Function without jvp (torch raises)
)
KINDS = ("backward", "forward", "second_order")
# The noisy/kink diagnoses recompute the worst mismatching column(s) of a failing pair
# at the same eps (is f deterministic?), at eps*10 and at eps/10: 2 calls of fn each.
RECHECK_COLUMNS = 1

Fn = Callable[..., Any]


class GradcheckUnsupported(ValueError):
    """Inputs or outputs torch.autograd.gradcheck refuses (or that agrad does not
    mirror); `code` says which, `index` which input or output (or None)."""

    CODES = (
        "no_differentiable_input",  # no input tensor has requires_grad=True
        "overlapping_input",  # an input has a stride-0 dimension (torch refuses it)
        "not_tensor_output",  # fn returned something that is not a tensor
        "complex",  # complex inputs or outputs: not mirrored
        "not_strided",  # sparse or mkldnn inputs or outputs: not mirrored
        "output_changed",  # the output's shape or dtype changed under perturbation
        "no_differentiable_output",  # second order: no output has requires_grad
    )

    def __init__(self, code: str, index: int | None = None) -> None:
        super().__init__(code if index is None else f"{code} (index {index})")
        self.code = code
        self.index = index


def gradcheck_runs(
    fn: Fn,
    inputs: tuple[Any, ...],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    nondet_tol: float = 0.0,
    forward: bool = False,
    second_order: bool = False,
    fast: bool = False,
    seed: int = 0,
) -> tuple[GradcheckRun, ...]:
    """Runs "backward" always, then "forward" and "second_order" when asked.

    second_order checks, as torch.autograd.gradgradcheck does, the function
    (inputs..., grad_outputs...) -> torch.autograd.grad(outputs, differentiable inputs,
    grad_outputs, create_graph=True); grad_outputs are `second_order_grad_outputs`."""
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    _check_inputs(inputs)
    tol = _Tolerances(eps, atol, rtol, nondet_tol)
    runs = [_run("backward", fn, inputs, tol, fast)]
    if forward:
        try:
            runs.append(_run("forward", fn, inputs, tol, fast))
        except NotImplementedError as e:
            # torch.autograd.Function's default jvp: gradcheck(check_forward_ad=True)
            # raises it too, unless the backward check has failed first (then False).
            if "forward mode AD" not in str(e):
                raise
            message = str(e).strip().splitlines()[0]
            runs.append(GradcheckRun("forward", False, fast, (), "no_forward_ad", message))
    if second_order:
        grad_outputs = second_order_grad_outputs(fn, inputs, seed)
        if not grad_outputs:
            # torch's gradgradcheck has nothing to differentiate (and fails obscurely)
            raise GradcheckUnsupported("no_differentiable_output")
        runs.append(_run("second_order", fn, inputs, tol, fast, grad_outputs))
    return tuple(runs)


def second_order_grad_outputs(
    fn: Fn, inputs: tuple[Any, ...], seed: int
) -> tuple[torch.Tensor, ...]:
    """One tensor per differentiable output of fn(*inputs) (those with requires_grad),
    its shape, its dtype (float64 for a non-floating one), uniform in [-1, 1): drawn in
    output order from one torch.Generator seeded with `seed`, as 2 * rand - 1, with
    requires_grad=True (as gradgradcheck's own, which come from torch's global RNG)."""
    generator = torch.Generator().manual_seed(seed)
    drawn = []
    for out in _as_tuple(fn(*inputs)):
        if isinstance(out, torch.Tensor) and out.requires_grad:
            dtype = out.dtype if out.is_floating_point() else torch.float64
            value = torch.rand(out.shape, generator=generator, dtype=dtype) * 2 - 1
            drawn.append(value.to(out.device).requires_grad_())
    return tuple(drawn)


class _Tolerances:
    __slots__ = ("atol", "eps", "nondet_tol", "rtol")

    def __init__(self, eps: float, atol: float, rtol: float, nondet_tol: float) -> None:
        self.eps, self.atol, self.rtol, self.nondet_tol = eps, atol, rtol, nondet_tol


def _run(
    kind: str,
    fn: Fn,
    inputs: tuple[Any, ...],
    tol: _Tolerances,
    fast: bool,
    grad_outputs: tuple[torch.Tensor, ...] = (),
) -> GradcheckRun:
    checked_fn, checked_inputs = fn, inputs
    if kind == "forward":
        _load_forward_ad_quietly()
    if kind == "second_order":
        checked_fn = _gradgrad_function(fn, inputs, grad_outputs)
        checked_inputs = inputs + grad_outputs
    if not fast:
        return _slow_run(kind, checked_fn, checked_inputs, tol)
    message = _torch_fast_failure(kind, fn, inputs, tol, grad_outputs)
    if message is None:
        return GradcheckRun(kind, True, True, (), None, None)
    pairs: tuple[PairCheck, ...] = ()
    if _small_enough(checked_fn, checked_inputs):
        pairs = _slow_run(kind, checked_fn, checked_inputs, tol).pairs
    return GradcheckRun(kind, False, True, pairs, "fast_mode", message)


def _load_forward_ad_quietly() -> None:
    """torch 2.13's forward AD, on its first dual tensor, loads decompositions with the
    deprecated torch.jit.script, which warns; do that once here, silenced, so that only
    the user's own warnings remain."""
    fw_ad = torch.autograd.forward_ad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with fw_ad.dual_level():
            fw_ad.make_dual(torch.zeros(()), torch.zeros(()))


def _torch_fast_failure(
    kind: str,
    fn: Fn,
    inputs: tuple[Any, ...],
    tol: _Tolerances,
    grad_outputs: tuple[torch.Tensor, ...],
) -> str | None:
    """torch's fast mode itself; None when it passes, else the first line it said."""
    from torch.autograd.gradcheck import GradcheckError

    options: dict[str, Any] = dict(
        eps=tol.eps, atol=tol.atol, rtol=tol.rtol, nondet_tol=tol.nondet_tol
    )
    try:
        if kind == "second_order":
            torch.autograd.gradgradcheck(
                fn, inputs, grad_outputs, fast_mode=True, raise_exception=True, **options
            )
        else:
            forward = kind == "forward"
            torch.autograd.gradcheck(
                fn,
                inputs,
                fast_mode=True,
                raise_exception=True,
                check_forward_ad=forward,
                check_backward_ad=not forward,
                **options,
            )
    except GradcheckError as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        return lines[0] if lines else type(error).__name__
    return None


def _small_enough(fn: Fn, inputs: tuple[Any, ...]) -> bool:
    outputs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, torch.Tensor)]
    biggest_out = max((o.numel() for o in outputs), default=0)
    biggest_in = max((t.numel() for t in _differentiable(inputs)), default=0)
    return biggest_out * biggest_in <= MAX_JACOBIAN_ENTRIES


def _gradgrad_function(
    fn: Fn, inputs: tuple[Any, ...], grad_outputs: tuple[torch.Tensor, ...]
) -> Fn:
    """gradgradcheck's `new_func`: (inputs..., grad_outputs...) -> the gradients."""
    count = len(grad_outputs)
    diff_inputs = {i for i, x in enumerate(inputs) if _needs_grad(x)}
    diff_grad_outputs = {i for i, x in enumerate(grad_outputs) if x.requires_grad}

    def gradients(*args: Any) -> tuple[torch.Tensor, ...]:
        input_args = tuple(
            x.requires_grad_() if i in diff_inputs else x for i, x in enumerate(args[:-count])
        )
        outputs = tuple(
            o for o in _as_tuple(fn(*input_args)) if isinstance(o, torch.Tensor) and o.requires_grad
        )
        grads_out = tuple(
            x.requires_grad_() if i in diff_grad_outputs else x for i, x in enumerate(args[-count:])
        )
        diff_args = tuple(x for i, x in enumerate(input_args) if i in diff_inputs)
        grads = torch.autograd.grad(
            outputs, diff_args, grads_out, create_graph=True, allow_unused=True
        )
        return tuple(g for g in grads if g is not None)

    return gradients


# ----------------------------------------------------------------------------- slow


def _slow_run(kind: str, fn: Fn, inputs: tuple[Any, ...], tol: _Tolerances) -> GradcheckRun:
    func_out = _as_tuple(fn(*inputs))
    _check_outputs(func_out)
    diff_in = [i for i, x in enumerate(inputs) if _needs_grad(x)]
    floating = [k for k, o in enumerate(func_out) if o.is_floating_point()]
    diff_out = [k for k, o in enumerate(func_out) if o.requires_grad]
    numerical, sums = _numerical(fn, inputs, diff_in, floating, func_out, tol.eps)
    forward = kind == "forward"
    if not diff_out:
        # torch: with no differentiable output the numerical Jacobian must be exactly 0
        pairs = _no_output_pairs(inputs, diff_in, floating, func_out, numerical)
        ok = all(p.ok for p in pairs)
        problem = None
        if ok and forward:
            problem = _undefined_tangent_problem(fn, inputs)
        return GradcheckRun(kind, ok and problem is None, False, pairs, problem, None)

    problem = None
    analytical: dict[tuple[int, int], torch.Tensor] = {}
    if forward:
        jac_fw = _forward_jacobians(fn, inputs, diff_in, func_out)
        # torch pairs the i-th output with requires_grad with the i-th floating output
        # of the forward-mode call (they differ when a floating output has no grad)
        for position, k in enumerate(diff_out):
            for i in diff_in:
                a = jac_fw.get((position, i))
                if a is None:
                    a = numerical[k, i].new_zeros(numerical[k, i].shape)
                analytical[k, i] = a
    else:
        passing = True
        for k in diff_out:
            # Once a pair has failed, torch stops; agrad goes on to show every pair but
            # skips the reentrancy run, which can no longer change the verdict.
            first, same = _backward_jacobians(
                func_out[k], inputs, diff_in, tol.nondet_tol, twice=passing
            )
            if not same:
                problem = "nondeterministic"
                passing = False
            for i in diff_in:
                analytical[k, i] = first[i]
                passing = passing and _allclose(first[i], numerical[k, i], tol)
    checker = _PairChecker(fn, inputs, func_out, tol, numerical, sums, analytical)
    pairs = checker.pairs(diff_out, diff_in)
    ok = problem is None and all(p.ok for p in pairs)
    if ok:
        # torch runs its remaining checks only once every pair has passed
        if forward:
            problem = _undefined_tangent_problem(fn, inputs)
        else:
            problem = _backward_extra_problem(fn, inputs, [func_out[k] for k in diff_out])
        ok = problem is None
    return GradcheckRun(kind, ok, False, pairs, problem, None)


def _numerical(
    fn: Fn,
    inputs: tuple[Any, ...],
    diff_in: Sequence[int],
    floating: Sequence[int],
    func_out: tuple[torch.Tensor, ...],
    eps: float,
) -> tuple[dict[tuple[int, int], torch.Tensor], dict[tuple[int, int], torch.Tensor]]:
    """Central differences as torch computes them, in torch's layout: (input numel,
    output numel) per (output, input). Also f(x - eps) + f(x + eps) per entry, for the
    one-sided differences the kink diagnosis needs, at no extra call."""
    numerical: dict[tuple[int, int], torch.Tensor] = {}
    sums: dict[tuple[int, int], torch.Tensor] = {}
    for i in diff_in:
        x = inputs[i]
        for k in floating:
            numerical[k, i] = func_out[k].new_zeros((x.numel(), func_out[k].numel()))
            sums[k, i] = func_out[k].new_zeros((x.numel(), func_out[k].numel()))
        data = x.data  # .data: perturbing it in place does not bump the version counter
        for column, index in enumerate(itertools.product(*(range(m) for m in data.shape))):
            entry = data[index]
            orig = entry.clone()
            entry.copy_(orig - eps)
            outa = tuple(o.clone() for o in _as_tuple(fn(*inputs)))
            entry.copy_(orig + eps)
            outb = _as_tuple(fn(*inputs))
            for k in floating:
                a, b = outa[k], outb[k]
                _same_shape_and_dtype(a, b, func_out[k])
                a, b = a.detach().reshape(-1), b.detach().reshape(-1)
                torch.div(b - a, 2 * eps, out=numerical[k, i][column])
                torch.add(a, b, out=sums[k, i][column])
            entry.copy_(orig)
    return numerical, sums


def _allclose(a: torch.Tensor, n: torch.Tensor, tol: _Tolerances) -> bool:
    """torch's `_allclose_with_type_promotion`."""
    dtype = torch.promote_types(a.dtype, n.dtype)
    return torch.allclose(a.to(dtype), n.to(dtype), tol.rtol, tol.atol)


def _same_shape_and_dtype(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
    if a.shape != b.shape or a.dtype != b.dtype or a.shape != out.shape:
        raise GradcheckUnsupported("output_changed")


def _backward_jacobians(
    output: torch.Tensor,
    inputs: tuple[Any, ...],
    diff_in: Sequence[int],
    nondet_tol: float,
    *,
    twice: bool = True,
) -> tuple[dict[int, torch.Tensor], bool]:
    """Row by row with one-hot grad_outputs, twice (torch's reentrancy check) unless
    told otherwise; torch's layout (input numel, output numel); None (unused) gives
    zeros. Also whether the two runs agree within nondet_tol."""
    tensors = [inputs[i] for i in diff_in]
    runs = []
    for _ in range(2 if twice else 1):
        jac = {i: inputs[i].new_zeros((inputs[i].numel(), output.numel())) for i in diff_in}
        grad_out = torch.zeros_like(output, memory_format=torch.legacy_contiguous_format)
        flat = grad_out.view(-1)
        for row in range(flat.numel()):
            flat.zero_()
            flat[row] = 1.0
            # retain_graph=True: the same graph is walked once per row
            grads = torch.autograd.grad(
                output, tensors, grad_out, retain_graph=True, allow_unused=True
            )
            for i, g in zip(diff_in, grads, strict=True):
                if g is not None:
                    dense = g.to_dense() if g.layout != torch.strided else g
                    jac[i][:, row] = dense.reshape(-1)
        runs.append(jac)
    if not twice:
        return runs[0], True
    same = all(
        runs[0][i].numel() == 0 or not (runs[0][i] - runs[1][i]).abs().max() > nondet_tol
        for i in diff_in
    )
    return runs[0], same


def _forward_jacobians(
    fn: Fn, inputs: tuple[Any, ...], diff_in: Sequence[int], func_out: tuple[torch.Tensor, ...]
) -> dict[tuple[int, int], torch.Tensor]:
    """Forward mode, one input element at a time, keyed by (position among floating
    outputs of the dual call, input); torch's layout."""
    fw_ad = torch.autograd.forward_ad
    jac: dict[tuple[int, int], torch.Tensor] = {}
    with fw_ad.dual_level():
        duals: list[Any] = []
        tangents: dict[int, torch.Tensor] = {}
        for i, x in enumerate(inputs):
            if i in diff_in:
                x = fw_ad.make_dual(x.detach(), torch.zeros_like(x))
                tangents[i] = fw_ad.unpack_dual(x).tangent
            duals.append(x)
        for i in diff_in:
            tangent = tangents[i]
            for column, index in enumerate(itertools.product(*(range(m) for m in tangent.shape))):
                tangent[index] = 1.0
                raw = _as_tuple(fn(*duals))
                dual_outs = [o for o in raw if _is_float_tensor(o)]
                for position, out in enumerate(dual_outs):
                    key = (position, i)
                    if key not in jac:
                        jac[key] = out.new_zeros((tangent.numel(), out.numel()))
                    value = fw_ad.unpack_dual(out).tangent
                    if value is not None:
                        jac[key][column] = value.reshape(-1)
                tangent[index] = 0.0
    return jac


def _backward_extra_problem(
    fn: Fn, inputs: tuple[Any, ...], outputs: list[torch.Tensor]
) -> str | None:
    """torch's `_test_backward_mul_by_grad_output` and `_test_undefined_backward_mode`."""
    tensors = _differentiable(inputs)
    zeros = [torch.zeros_like(o, memory_format=torch.legacy_contiguous_format) for o in outputs]
    grads = torch.autograd.grad(outputs, tensors, zeros, allow_unused=True)
    for g, x in zip(grads, tensors, strict=True):
        if g is None:
            continue
        if g.layout != torch.strided:
            g = g.to_dense()
        if not g.eq(0).all() or g.dtype != x.dtype or g.shape != x.shape:
            return "grad_output_ignored"
    # All output gradients undefined, then (with several outputs) one at a time.
    checks = [[_undefined(o) for o in _differentiable_outputs(fn(*inputs))]]
    if len(checks[0]) > 1:
        for undefined_index in range(len(outputs)):
            again = _differentiable_outputs(fn(*inputs))
            checks.append(
                [_undefined(o) if k == undefined_index else o for k, o in enumerate(again)]
            )
    for outs in checks:
        zeros = [torch.zeros_like(o, memory_format=torch.legacy_contiguous_format) for o in outs]
        try:
            grads = torch.autograd.grad(outs, tensors, zeros, allow_unused=True)
        except RuntimeError:
            return "undefined_grad"  # as torch: a RuntimeError here is a failed check
        if any(g is not None and not g.eq(0).all() for g in grads):
            return "undefined_grad"
    return None


class _UndefinedGrad(torch.autograd.Function):
    """The identity whose backward passes an undefined gradient on (None), as torch's
    private torch._C._functions.UndefinedGrad does."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> None:
        return None


def _undefined(output: torch.Tensor) -> torch.Tensor:
    return _UndefinedGrad.apply(output)


def _undefined_tangent_problem(fn: Fn, inputs: tuple[Any, ...]) -> str | None:
    """torch's `_test_undefined_forward_mode`: each input's tangent, a zero tensor
    against none at all, with the other inputs' tangents torch's own random vectors."""
    fw_ad = torch.autograd.forward_ad
    generator = torch.Generator()  # torch's: a fresh generator, its default seed
    with fw_ad.dual_level():
        duals: list[Any] = []
        diff = []
        for i, x in enumerate(inputs):
            if _needs_grad(x):
                u = torch.rand(x.numel(), generator=generator).to(dtype=x.dtype)
                u /= u.norm()
                x = fw_ad.make_dual(x.detach(), u.view_as(x).to(x.device))
                diff.append(i)
            duals.append(x)
        for i in diff:
            kept = duals[i]
            plain = inputs[i].detach()
            duals[i] = fw_ad.make_dual(plain, torch.zeros_like(plain))
            outs1 = [o for o in _as_tuple(fn(*duals)) if _is_float_tensor(o)]
            duals[i] = plain
            outs2 = [o for o in _as_tuple(fn(*duals)) if _is_float_tensor(o)]
            duals[i] = kept
            for o1, o2 in zip(outs1, outs2, strict=False):
                t1, t2 = fw_ad.unpack_dual(o1).tangent, fw_ad.unpack_dual(o2).tangent
                if t1 is not None and t2 is not None and not torch.allclose(t1, t2):
                    return "undefined_tangent"
    return None


def _no_output_pairs(
    inputs: tuple[Any, ...],
    diff_in: Sequence[int],
    floating: Sequence[int],
    func_out: tuple[torch.Tensor, ...],
    numerical: dict[tuple[int, int], torch.Tensor],
) -> tuple[PairCheck, ...]:
    """No output has requires_grad: nothing flows back (analytical 0), and torch asks
    the numerical Jacobian to be exactly 0 (a detached result)."""
    pairs = []
    for k in floating:
        for i in diff_in:
            n = numerical[k, i].T
            a = torch.zeros_like(n)
            bad = n != 0
            pairs.append(_pair_facts(k, i, func_out[k], inputs[i], a, n, bad, not bool(bad.any())))
    return tuple(p if p.ok else _with_diagnoses(p, ("zero",), None) for p in pairs)


def _with_diagnoses(pair: PairCheck, codes: tuple[str, ...], factor: float | None) -> PairCheck:
    return dataclasses.replace(pair, diagnoses=codes, factor=factor)


# ------------------------------------------------------------------------ diagnoses


class _PairChecker:
    """Judges every pair, then explains the failing ones."""

    def __init__(
        self,
        fn: Fn,
        inputs: tuple[Any, ...],
        func_out: tuple[torch.Tensor, ...],
        tol: _Tolerances,
        numerical: dict[tuple[int, int], torch.Tensor],
        sums: dict[tuple[int, int], torch.Tensor],
        analytical: dict[tuple[int, int], torch.Tensor],
    ) -> None:
        self.fn, self.inputs, self.func_out, self.tol = fn, inputs, func_out, tol
        self.numerical, self.sums, self.analytical = numerical, sums, analytical
        self._rechecked: dict[tuple[int, int, float], tuple[Any, ...]] = {}

    def pairs(self, diff_out: Sequence[int], diff_in: Sequence[int]) -> tuple[PairCheck, ...]:
        out: list[PairCheck] = []
        for k in diff_out:
            # (output elements) x (input elements): the facts' layout
            mats = {}
            for i in diff_in:
                a, n = self.analytical[k, i].T, self.numerical[k, i].T
                dtype = torch.promote_types(a.dtype, n.dtype)
                mats[i] = (a.to(dtype), n.to(dtype))
            close = {
                i: torch.isclose(a, n, self.tol.rtol, self.tol.atol) for i, (a, n) in mats.items()
            }
            failing = {i for i in diff_in if not bool(close[i].all())}
            swapped = self._swapped(mats, failing)
            for i in diff_in:
                a, n = mats[i]
                pair = _pair_facts(
                    k, i, self.func_out[k], self.inputs[i], a, n, ~close[i], i not in failing
                )
                if i in failing:
                    codes, factor = self._diagnoses(k, i, a, n, ~close[i], i in swapped)
                    pair = _with_diagnoses(pair, codes, factor)
                out.append(pair)
        return tuple(out)

    def _close(self, a: torch.Tensor, n: torch.Tensor) -> bool:
        return a.shape == n.shape and torch.allclose(a, n, self.tol.rtol, self.tol.atol)

    def _swapped(
        self, mats: dict[int, tuple[torch.Tensor, torch.Tensor]], failing: set[int]
    ) -> set[int]:
        found: set[int] = set()
        for i, j in itertools.combinations(sorted(mats), 2):
            if not ({i, j} & failing) or self.inputs[i].shape != self.inputs[j].shape:
                continue
            (ai, ni), (aj, nj) = mats[i], mats[j]
            if self._close(ai, nj) and self._close(aj, ni):
                found |= {i, j}
        return found & failing

    def _diagnoses(
        self,
        k: int,
        i: int,
        a: torch.Tensor,
        n: torch.Tensor,
        bad: torch.Tensor,
        swapped: bool,
    ) -> tuple[tuple[str, ...], float | None]:
        """First whether the numerical Jacobian can be trusted (f deterministic, no
        kink), then the patterns of a wrong backward, then whether the numerical
        Jacobian depends on eps."""
        doubt = _NumericalDoubt(self, k, i, a, bad)
        if not doubt.deterministic():
            return ("noisy",), None
        if doubt.kink():
            return ("kink",), None
        if doubt.moves_with_eps():  # the differences themselves are in doubt: no pattern
            return ("noisy",), None
        codes: list[str] = []
        factor = self._factor(a, n)
        if factor is not None:
            codes.append("factor")
        if not bool(a.any()) and bool(n.any()):
            codes.append("zero")
        if self._transposed(a, n, self.inputs[i].shape):
            codes.append("transpose")
        if swapped:
            codes.append("swapped")
        return tuple(codes), factor

    def _factor(self, a: torch.Tensor, n: torch.Tensor) -> float | None:
        if not (torch.isfinite(a).all() and torch.isfinite(n).all()):
            return None
        significant = n.abs() > self.tol.atol
        if not bool(significant.any()):
            return None
        k = float((a[significant] / n[significant]).median())
        # a factor that rounds to 1 at 3 digits is no factor a reader would recognise
        if not math.isfinite(k) or k == 0.0 or abs(k - 1.0) <= max(self.tol.rtol, 5e-3):
            return None
        return k if self._close(a, k * n) else None

    def _transposed(self, a: torch.Tensor, n: torch.Tensor, in_shape: torch.Size) -> bool:
        if a.shape[0] == a.shape[1] and self._close(a.T, n):
            return True
        # a square-matrix input whose gradient comes back transposed
        if len(in_shape) == 2 and in_shape[0] == in_shape[1] and in_shape[0] > 1:
            rows = a.shape[0]
            swapped_a = a.reshape(rows, *in_shape).transpose(1, 2).reshape(rows, -1)
            return self._close(swapped_a, n)
        return False

    def _recheck(
        self, k: int, i: int, columns: list[int], step: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Output k's central differences in the given columns of input i again, with
        `step`, and the gap between its one-sided differences: each (output elements) x
        (columns). Cached per input column and step: every output of a failing pair
        gets them from the same calls."""
        data = self.inputs[i].data
        central, gaps = [], []
        for column in columns:
            cached = self._rechecked.get((i, column, step))
            if cached is None:
                entry = data[_unravel(column, tuple(data.shape))]
                orig = entry.clone()
                entry.copy_(orig - step)
                outa = tuple(o.clone() for o in _as_tuple(self.fn(*self.inputs)))
                entry.copy_(orig + step)
                outb = _as_tuple(self.fn(*self.inputs))
                cached = tuple(
                    (
                        ((b - a) / (2 * step)).detach().reshape(-1),
                        ((a + b - 2 * f0) / step).detach().reshape(-1),
                    )
                    if a.is_floating_point()
                    else None
                    for a, b, f0 in zip(outa, outb, self.func_out, strict=True)
                )
                entry.copy_(orig)
                self._rechecked[i, column, step] = cached
            dtype = self.numerical[k, i].dtype
            central.append(cached[k][0].to(dtype))
            gaps.append(cached[k][1].to(dtype))
        return torch.stack(central, dim=1), torch.stack(gaps, dim=1)


class _NumericalDoubt:
    """Is the numerical Jacobian of a failing pair itself in doubt? The worst
    mismatching columns are computed again: at the same point (a function that is not
    deterministic is noisy), at eps*10 and eps/10 (one that changes with eps is noisy).
    A kink: every mismatch sits where the one-sided differences disagree, the analytical
    value lies between them, and their gap keeps its size at eps*10 (a jump in the
    derivative), where curvature's would grow and rounding noise's shrink."""

    def __init__(
        self, checker: _PairChecker, k: int, i: int, a: torch.Tensor, bad: torch.Tensor
    ) -> None:
        self.checker, self.k, self.i, self.a, self.bad = checker, k, i, a, bad
        self.n = checker.numerical[k, i].T
        self.columns = _worst_columns(a - self.n, bad, RECHECK_COLUMNS)
        self.cols = torch.tensor(self.columns, dtype=torch.long)

    def _moved(self, step: float, count: int) -> bool:
        tol = self.checker.tol
        other, _ = self.checker._recheck(self.k, self.i, self.columns[:count], step)
        cols = self.cols[:count]
        before, where = self.n[:, cols], self.bad[:, cols]
        limit = tol.atol + tol.rtol * before.abs()
        far = ((other - before).abs() > limit) | (torch.isnan(other) != torch.isnan(before))
        return bool(far[where].any())

    def deterministic(self) -> bool:
        return not self._moved(self.checker.tol.eps, len(self.columns))

    def kink(self) -> bool:
        checker, tol = self.checker, self.checker.tol
        # one-sided differences from f(x - eps) + f(x + eps), kept by the numerical pass
        f0 = checker.func_out[self.k].detach().reshape(-1, 1)
        gap = (checker.sums[self.k, self.i].T - 2 * f0) / tol.eps
        fwd, bwd = self.n + gap / 2, self.n - gap / 2
        limit = tol.atol + tol.rtol * torch.maximum(fwd.abs(), bwd.abs())
        low, high = torch.minimum(fwd, bwd) - limit, torch.maximum(fwd, bwd) + limit
        at_kink = ((fwd - bwd).abs() > limit) & (self.a >= low) & (self.a <= high)
        if not bool(at_kink[self.bad].all()):
            return False
        _, wider_gap = checker._recheck(self.k, self.i, self.columns[:1], tol.eps * 10)
        first = self.cols[:1]
        # curvature's gap grows ~10x with eps*10, rounding noise's shrinks ~10x, and
        # |x|^p's (1 < p < 2, differentiable at 0) by 10^(p-1): only a jump keeps it
        # within 2x (an input within eps of the kink moves it by up to 2x)
        ratio = wider_gap.abs() / gap[:, first].abs()
        unlike = ~((ratio >= 1 / 2) & (ratio <= 2))
        return not bool(unlike[self.bad[:, first]].any())

    def moves_with_eps(self) -> bool:
        eps = self.checker.tol.eps
        return self._moved(eps * 10, 1) or self._moved(eps / 10, 1)


def _worst_columns(difference: torch.Tensor, bad: torch.Tensor, count: int) -> list[int]:
    size = difference.abs().nan_to_num(nan=math.inf).masked_fill(~bad, -1.0)
    per_column = size.amax(dim=0)
    order = torch.argsort(per_column, descending=True, stable=True)
    picked = [int(c) for c in order[:count] if bool(bad[:, int(c)].any())]
    return picked


def _pair_facts(
    k: int,
    i: int,
    output: torch.Tensor,
    x: torch.Tensor,
    a: torch.Tensor,
    n: torch.Tensor,
    bad: torch.Tensor,
    ok: bool,
) -> PairCheck:
    """a and n: (output elements) x (input elements)."""
    out_shape, in_shape = tuple(output.shape), tuple(x.shape)
    entries = a.numel()
    mismatches = int(bad.sum())
    worst: list[JacobianEntry] = []
    if mismatches:
        difference = a - n
        size = difference.abs().nan_to_num(nan=math.inf).masked_fill(~bad, -1.0).reshape(-1)
        top = torch.topk(size, min(WORST, mismatches)).indices.tolist()
        width = a.shape[1]
        for flat in top:
            row, col = divmod(flat, width)
            worst.append(
                JacobianEntry(
                    _unravel(row, out_shape),
                    _unravel(col, in_shape),
                    float(n[row, col]),
                    float(a[row, col]),
                    float(difference[row, col]),
                )
            )
    small = entries <= MAX_JACOBIAN_ENTRIES
    return PairCheck(
        output=k,
        input=i,
        output_shape=out_shape,
        input_shape=in_shape,
        ok=ok,
        entries=entries,
        mismatches=mismatches,
        worst=tuple(worst),
        diagnoses=(),
        factor=None,
        numerical=n.tolist() if small else None,
        analytical=a.tolist() if small else None,
    )


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        flat, rest = divmod(flat, size)
        index.append(rest)
    return tuple(reversed(index))


# -------------------------------------------------------------------------- helpers


def _as_tuple(x: Any) -> tuple[Any, ...]:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _needs_grad(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.requires_grad


def _differentiable(inputs: tuple[Any, ...]) -> list[torch.Tensor]:
    return [x for x in inputs if _needs_grad(x)]


def _differentiable_outputs(out: Any) -> tuple[torch.Tensor, ...]:
    return tuple(o for o in _as_tuple(out) if isinstance(o, torch.Tensor) and o.requires_grad)


def _is_float_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and (x.is_floating_point() or x.is_complex())


def _check_inputs(inputs: tuple[Any, ...]) -> None:
    """torch's `_check_inputs`, and what agrad does not mirror."""
    found = False
    for index, x in enumerate(inputs):
        if not _needs_grad(x):
            continue
        if x.is_complex():
            raise GradcheckUnsupported("complex", index)
        if x.layout != torch.strided:
            raise GradcheckUnsupported("not_strided", index)
        if not all(st > 0 or sz <= 1 for st, sz in zip(x.stride(), x.size(), strict=True)):
            raise GradcheckUnsupported("overlapping_input", index)
        found = True
    if not found:
        raise GradcheckUnsupported("no_differentiable_input")


def _check_outputs(outputs: tuple[Any, ...]) -> None:
    for index, o in enumerate(outputs):
        if not isinstance(o, torch.Tensor):
            raise GradcheckUnsupported("not_tensor_output", index)
        if o.is_complex():
            raise GradcheckUnsupported("complex", index)
        if o.layout != torch.strided:
            raise GradcheckUnsupported("not_strided", index)
