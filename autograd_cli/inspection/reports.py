"""Run a scenario and collect what each command shows, as a report dataclass.

Every report walks its graph before backward(): the graph's shape does not change,
but the tensors its nodes saved are released by backward().
"""

from __future__ import annotations

import torch

from autograd_cli.inspection.graph import graph_report
from autograd_cli.inspection.tensors import gradient_of, tensor_facts, values_of
from autograd_cli.model import (
    AccumulationStep,
    ChainReport,
    FreezeCase,
    JvpReport,
    LinearReport,
)
from autograd_cli.scenarios import chain, jvp, linear


def linear_report(seed: int, max_nodes: int | None = None) -> LinearReport:
    t = linear.build(seed)
    named = t.named()
    tensors = tuple(tensor_facts(name, tensor) for name, tensor in named.items())
    graph = graph_report(t.loss, named, max_nodes)

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


def jvp_report(repeat: int, max_nodes: int | None = None) -> JvpReport:
    t = jvp.build()
    named = t.named()
    tensors = tuple(tensor_facts(name, tensor) for name, tensor in named.items())
    graph = graph_report(t.out, named, max_nodes)

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


def chain_report(length: int, hidden: int, seed: int, max_nodes: int | None = None) -> ChainReport:
    t = chain.build(length, hidden, seed)
    named = t.named()
    tensors = tuple(tensor_facts(name, tensor) for name, tensor in named.items())
    graph = graph_report(t.loss, named, max_nodes)
    t.loss.backward()
    return ChainReport(
        length=length,
        hidden=hidden,
        seed=seed,
        statements=chain.statements(length, hidden),
        tensors=tensors,
        graph=graph,
        gradients=tuple(gradient_of(name, getattr(t, name)) for name in ("h0", "a", "b")),
    )
