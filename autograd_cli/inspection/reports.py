"""Run a scenario and collect what each command shows, as a report dataclass.

Every report walks its graph before backward(): the graph's shape does not change,
but the tensors its nodes saved are released by backward().
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import _, group
from autograd_cli.inspection.check import check_budget, gradient_check
from autograd_cli.inspection.graph import graph_report
from autograd_cli.inspection.tensors import gradient_of, tensor_facts, values_of
from autograd_cli.model import (
    AccumulationStep,
    ChainReport,
    ExprReport,
    ExprStep,
    ExprVariable,
    ForwardProduct,
    FreezeCase,
    Gradient,
    Graph,
    JacobianFacts,
    JvpReport,
    LinearReport,
    NonLeafGrad,
    TensorFacts,
)
from autograd_cli.scenarios import chain, jvp, linear
from autograd_cli.scenarios.dtypes import DTYPES

if TYPE_CHECKING:  # agrad expr's machinery loads only when an expression runs
    from autograd_cli.expression.check import CheckedExpression
    from autograd_cli.expression.variables import VariableSpec


def linear_report(
    seed: int,
    max_nodes: int | None = None,
    check: bool = False,
    device: str = "cpu",
    dtype: str = "float32",
) -> LinearReport:
    t = linear.build(seed, device, DTYPES[dtype])
    named = t.named()
    tensors, graph = _facts_and_graph(t.loss, named, max_nodes)

    t.loss.backward()
    gradients = (gradient_of("w", t.w), gradient_of("b", t.b))
    # Read before the retain_grad() run below adds to w.grad and b.grad.
    non_leaf = _non_leaf_grad(t)
    verdict = None
    if check:
        verdict = gradient_check(
            linear.forward,
            named,
            {g.name: g.value for g in gradients},
            dtype,
            graph.node_count,
            closed_form=linear.closed_form(named),
        )

    with torch.no_grad():
        z_no_grad = linear.recompute_z(t)
    freezing = (
        FreezeCase("built", "z = torch.matmul(x, w) + b", linear.recompute_z(t).requires_grad),
        FreezeCase(
            "no_grad",
            "with torch.no_grad(): z = torch.matmul(x, w) + b",
            z_no_grad.requires_grad,
        ),
        _detach_case(t.z),
    )
    return LinearReport(
        seed=seed,
        statements=linear.STATEMENTS,
        tensors=tensors,
        graph=graph,
        gradients=gradients,
        freezing=freezing,
        check=verdict,
        device=device,
        dtype=dtype,
        non_leaf=non_leaf,
    )


def _detach_case(z: torch.Tensor) -> FreezeCase:
    z_det = z.detach()
    return FreezeCase(
        "detach",
        "z_det = z.detach()",
        z_det.requires_grad,
        tensor="z_det",
        source_requires_grad=z.requires_grad,  # detach() returns a new tensor; z is unchanged
    )


def _non_leaf_grad(t: linear.LinearTensors) -> NonLeafGrad:
    """z.grad after backward (None, with torch's warning), then with z.retain_grad()."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grad = t.z.grad  # torch warns here: z is not a leaf
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return NonLeafGrad(
        name="z",
        code=linear.RETAIN_GRAD,
        grad=None if grad is None else values_of(grad),
        warning=_torch_words(said[0]) if said else None,
        retained_grad=values_of(linear.retained_z_grad(t)),
    )


def _torch_words(message: str) -> str:
    """torch's warning as it reads, without the C++ source location it appends."""
    return message.split(" (Triggered internally at", 1)[0].strip()


def jvp_report(
    repeat: int,
    max_nodes: int | None = None,
    check: bool = False,
    mode: str = "reverse",
    tangent: str = "ones",
    jacobian: bool = False,
    device: str = "cpu",
    dtype: str = "float32",
) -> JvpReport:
    t = jvp.build(device, DTYPES[dtype])
    named = t.named()
    tensors, graph = _facts_and_graph(t.out, named, max_nodes)
    forward = None
    if mode in ("forward", "both"):
        tangent_value = jvp.tangent(tangent, tuple(t.inp.shape)).to(t.inp)
        # Forward mode: J·t in one pass alongside the function, no backward() at all.
        with _quiet_deprecations():
            _, product = torch.func.jvp(jvp.output, (t.inp.detach(),), (tangent_value,))
        forward = ForwardProduct(tangent, values_of(tangent_value), values_of(product))
    facts = jacobian_facts("inp", jvp.output, t.inp, t.out) if jacobian else None
    if mode == "forward":
        return JvpReport(
            repeat=repeat,
            statements=jvp.STATEMENTS,
            tensors=tensors,
            graph=graph,
            vector=jvp.VECTOR,
            steps=(),
            mode=mode,
            forward=forward,
            jacobian=facts,
        )

    v = torch.ones_like(t.out)
    steps: list[AccumulationStep] = []
    for call in range(1, repeat + 1):
        # retain_graph=True: the same graph is walked again by the next call.
        t.out.backward(v, retain_graph=True)
        steps.append(AccumulationStep(call=call, zeroed_before=False, grad=values_of(t.inp.grad)))
    t.inp.grad.zero_()
    t.out.backward(v, retain_graph=True)
    steps.append(AccumulationStep(call=repeat + 1, zeroed_before=True, grad=values_of(t.inp.grad)))

    verdict = None
    if check:  # the first call's gradient: one vector-Jacobian product
        verdict = gradient_check(
            jvp.forward, named, {"inp": steps[0].grad}, dtype, graph.node_count
        )
    return JvpReport(
        repeat=repeat,
        statements=jvp.STATEMENTS,
        tensors=tensors,
        graph=graph,
        vector=jvp.VECTOR,
        steps=tuple(steps),
        check=verdict,
        mode=mode,
        forward=forward,
        jacobian=facts,
        device=device,
        dtype=dtype,
    )


MAX_JACOBIAN_ENTRIES = 250_000  # outputs x inputs, per leaf


def _facts_and_graph(
    root: torch.Tensor, named: dict[str, torch.Tensor], max_nodes: int | None
) -> tuple[tuple[TensorFacts, ...], Graph]:
    """Every report starts here: its tensors, and its graph walked before backward()."""
    return tuple(tensor_facts(n, t) for n, t in named.items()), graph_report(root, named, max_nodes)


def jacobian_facts(
    leaf: str, function: Any, leaf_tensor: torch.Tensor, out: torch.Tensor
) -> JacobianFacts:
    """J of `function` at `leaf_tensor` by jacrev, checked against jacfwd, and vᵀ·J
    (v = ones) against an independent backward(v)."""
    entries = out.numel() * leaf_tensor.numel()
    if entries > MAX_JACOBIAN_ENTRIES:
        raise UsageProblem(
            _(
                "--jacobian: ∂out/∂{leaf} has {outputs} x {inputs} = {entries} entries; "
                "the cap is {cap}"
            ).format(
                leaf=leaf,
                outputs=group(out.numel()),
                inputs=group(leaf_tensor.numel()),
                entries=group(entries),
                cap=group(MAX_JACOBIAN_ENTRIES),
            )
        )
    point = leaf_tensor.detach()
    with _quiet_deprecations():
        reverse = torch.func.jacrev(function)(point)
        forward = torch.func.jacfwd(function)(point)
    matrix = reverse.reshape(out.numel(), point.numel())
    probe = point.clone().requires_grad_()
    (grad,) = torch.autograd.grad(function(probe), probe, torch.ones_like(out), allow_unused=True)
    if grad is None:  # the leaf does not reach out: J is all zeros
        grad = torch.zeros_like(point)
    vjp = torch.ones(out.numel(), dtype=matrix.dtype, device=matrix.device) @ matrix
    return JacobianFacts(
        leaf=leaf,
        output_shape=tuple(out.shape),
        input_shape=tuple(point.shape),
        matrix=values_of(matrix),
        jacfwd_max_abs_diff=float((reverse - forward).abs().max()),
        vjp_max_abs_diff=float((vjp - grad.reshape(-1)).abs().max()),
    )


def chain_report(
    length: int,
    hidden: int,
    seed: int,
    max_nodes: int | None = None,
    check: bool = False,
    device: str = "cpu",
    dtype: str = "float32",
) -> ChainReport:
    if check:  # refused before the graph is even built
        check_budget(2 * hidden + hidden * hidden, 3 * length + 4)
    t = chain.build(length, hidden, seed, device, DTYPES[dtype])
    named = t.named()
    tensors, graph = _facts_and_graph(t.loss, named, max_nodes)
    t.loss.backward()
    gradients = tuple(gradient_of(name, getattr(t, name)) for name in ("h0", "a", "b"))
    verdict = None
    if check:
        verdict = gradient_check(
            chain.forward_for(length),
            named,
            {g.name: g.value for g in gradients},
            dtype,
            graph.node_count,
        )
    return ChainReport(
        length=length,
        hidden=hidden,
        seed=seed,
        statements=chain.statements(length, hidden),
        tensors=tensors,
        graph=graph,
        gradients=gradients,
        check=verdict,
        device=device,
        dtype=dtype,
    )


def expr_report(
    expression: CheckedExpression,
    variables: list[VariableSpec],
    seed: int,
    dtype: str,
    no_grad: set[str],
    repeat: int,
    max_nodes: int | None = None,
    check: bool = False,
    jacobian: bool = False,
    device: str = "cpu",
) -> ExprReport:
    from autograd_cli.scenarios import expr

    t = expr.build(expression, variables, seed=seed, dtype=dtype, no_grad=no_grad, device=device)
    named = t.named()
    tensors, graph = _facts_and_graph(t.out, named, max_nodes)
    leaves = {name: v for name, v in t.variables.items() if v.requires_grad}
    statements = [
        f"torch.manual_seed({seed})",
        *(expr.statement(spec, t.variables[spec.name]) for spec in variables),
        f"out = {expression.text.strip()}",
    ]

    steps: list[ExprStep] = []
    vector = None
    if t.out.requires_grad:
        # A scalar needs no v; otherwise backward(v) with v = ones_like(out): vᵀ·J.
        v = None if t.out.numel() == 1 else torch.ones_like(t.out)
        vector = None if v is None else "torch.ones_like(out)"
        args = [] if v is None else ["torch.ones_like(out)"]
        if repeat > 1:
            args.append("retain_graph=True")
        times = "" if repeat == 1 else f"  # {repeat} times, then zero_() and once more"
        statements.append(f"out.backward({', '.join(args)}){times}")

        def backward_step(number: int, zeroed: bool) -> ExprStep:
            t.out.backward(v, retain_graph=repeat > 1)
            return ExprStep(
                number,
                zeroed,
                {
                    name: None if leaf.grad is None else values_of(leaf.grad)
                    for name, leaf in leaves.items()
                },
            )

        steps = [backward_step(k, False) for k in range(1, repeat + 1)]
        if repeat > 1:
            for leaf in leaves.values():
                if leaf.grad is not None:
                    leaf.grad.zero_()
            steps.append(backward_step(repeat + 1, True))

    final = steps[-1].grads if steps else {}
    verdict = None
    if check and steps:
        verdict = gradient_check(
            expr.forward_for(expression),
            t.variables,
            steps[0].grads,
            dtype,
            graph.node_count,
        )
    jacobians: tuple[JacobianFacts, ...] = ()
    if jacobian and steps:
        jacobians = tuple(
            jacobian_facts(name, expr.function_of(expression, t.variables, name), leaf, t.out)
            for name, leaf in leaves.items()
        )
    return ExprReport(
        expression=expression.text,
        seed=seed,
        dtype=dtype,
        repeat=repeat,
        variables=tuple(
            ExprVariable(spec.name, spec.text, t.variables[spec.name].requires_grad)
            for spec in variables
        ),
        statements=tuple(statements),
        tensors=tensors,
        graph=graph,
        vector=vector,
        steps=tuple(steps),
        gradients=tuple(
            Gradient(name, tuple(leaf.shape), final.get(name)) for name, leaf in leaves.items()
        ),
        warnings=t.warnings,
        check=verdict,
        jacobians=jacobians,
        device=device,
    )


@contextmanager
def _quiet_deprecations() -> Iterator[None]:
    """torch.func in torch 2.13 calls the deprecated torch.jit.script the first time it
    is used, and warns; a successful run writes nothing to stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import torch.func  # noqa: F401  (imported here, where its warning is silenced)

        yield
