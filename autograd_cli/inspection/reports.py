"""Run a scenario and collect what each command shows, as a report dataclass."""

from __future__ import annotations

import torch

from autograd_cli.inspection.graph import graph_report
from autograd_cli.inspection.tensors import gradient_of, tensor_facts, values_of
from autograd_cli.model import AccumulationStep, FreezeCase, JvpReport, LinearReport
from autograd_cli.scenarios import jvp, linear


def linear_report(seed: int) -> LinearReport:
    t = linear.build(seed)
    named = t.named()
    tensors = tuple(tensor_facts(name, tensor) for name, tensor in named.items())
    # Walked before backward(): the graph's shape does not change, but a later
    # issue reads saved tensors, which backward() frees.
    graph = graph_report(t.loss, named)

    t.loss.backward()
    gradients = (gradient_of("w", t.w), gradient_of("b", t.b))

    with torch.no_grad():
        z_no_grad = linear.recompute_z(t)
    freezing = (
        FreezeCase("built", "z = torch.matmul(x, w) + b", linear.recompute_z(t).requires_grad),
        FreezeCase(
            "no_grad",
            "with torch.no_grad(): z = torch.matmul(x, w) + b",
            z_no_grad.requires_grad,
        ),
        FreezeCase("detach", "z_det = z.detach()", t.z.detach().requires_grad),
    )
    return LinearReport(
        seed=seed,
        statements=linear.STATEMENTS,
        tensors=tensors,
        graph=graph,
        gradients=gradients,
        freezing=freezing,
    )


def jvp_report(repeat: int) -> JvpReport:
    t = jvp.build()
    named = t.named()
    tensors = tuple(tensor_facts(name, tensor) for name, tensor in named.items())
    graph = graph_report(t.out, named)

    v = torch.ones_like(t.out)
    steps: list[AccumulationStep] = []
    for call in range(1, repeat + 1):
        # retain_graph=True: the same graph is walked again by the next call.
        t.out.backward(v, retain_graph=True)
        steps.append(AccumulationStep(call=call, zeroed_before=False, grad=values_of(t.inp.grad)))
    t.inp.grad.zero_()
    t.out.backward(v, retain_graph=True)
    steps.append(AccumulationStep(call=repeat + 1, zeroed_before=True, grad=values_of(t.inp.grad)))

    return JvpReport(
        repeat=repeat,
        statements=jvp.STATEMENTS,
        tensors=tensors,
        graph=graph,
        vector=jvp.VECTOR,
        steps=tuple(steps),
    )
