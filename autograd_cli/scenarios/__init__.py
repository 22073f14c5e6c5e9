"""The scenarios: one module per command, and the registry that finds them.

A scenario module is imported when the CLI is assembled, so it imports neither
torch nor Rich at module level: it declares its parameters (a frozen dataclass),
its caps, its root's name and its own command-line options, and imports torch
only inside the functions that build its report. See CONTRIBUTING.md, "Adding a
command".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from autograd_cli.i18n import N_

# Command name -> "module:ATTRIBUTE" of its Scenario and its line in `agrad --help`,
# in the order that lists them. A module is imported only when its command runs or
# shows its own --help: `agrad --help` and `agrad linear` import no other scenario.
REGISTRY = {
    "linear": (
        "linear:SCENARIO",
        N_("The tutorial's network z = x·w + b: graph, w.grad, b.grad, no_grad."),
    ),
    "dynamic": (
        "dynamic:SCENARIO",
        N_("The graph is built anew by every forward pass: an if, two inputs, two graphs."),
    ),
    "jvp": (
        "jvp:SCENARIO",
        N_("Jacobian products vᵀ·J and how .grad accumulates over backward() calls."),
    ),
    "vjp": ("jvp:VJP", N_("agrad jvp in reverse mode: what out.backward(v) computes, vᵀ·J.")),
    "chain": (
        "chain:SCENARIO",
        N_("A deep graph on purpose: h = tanh(h @ a + b) unrolled over N steps."),
    ),
    "inspect": (
        "inspect_target:SCENARIO",
        N_("Gradient health of your own model: vanishing, exploding, dead, NaN, unused."),
    ),
    "expr": (
        "expr:SCENARIO",
        N_('The graph and gradients of your own expression, e.g. "(x + 1).pow(2).t()".'),
    ),
    "gradcheck": (
        "gradcheck:SCENARIO",
        N_("torch.autograd.gradcheck of your own function, and what is wrong when it fails."),
    ),
    "pitfalls": (
        "pitfalls:SCENARIO",
        N_("The mistakes every learner makes, run on your torch: its words, why, the fix."),
    ),
}

# The option groups a scenario may take from the shared ones (options.py); every
# command also has the output options, --color and --lang.
SEED, TENSOR, CHECK = "seed", "tensor", "check"


@dataclass(frozen=True, kw_only=True)
class TensorParams:
    """The parameters of the TENSOR and CHECK groups: where and in which dtype the
    tensors live, and whether --check recomputes the gradients."""

    device: str = "cpu"
    dtype: str = "float32"
    check: bool = False

    def run_facts(
        self, statements: Sequence[str], tensors: Any, graph: Any, check: Any, *own: str
    ) -> dict[str, Any]:
        """The fields every statements report fills alike (model.StatementsReport):
        the statements run, the tensors and graph walked, --check's verdict, where
        and in which dtype; the seed of a seeded scenario, and its params named in
        `own` that its report shows as they are."""
        facts = {"statements": tuple(statements), "tensors": tensors, "graph": graph}
        facts |= {"check": check, "device": self.device, "dtype": self.dtype}
        return facts | {name: getattr(self, name) for name in ("seed", *own) if hasattr(self, name)}


@dataclass(frozen=True, kw_only=True)
class SeededParams(TensorParams):
    """And the SEED group's: torch.manual_seed(seed) first (one seed of a sweep)."""

    seed: int = 0


@dataclass(frozen=True)
class Scenario:
    """What the spine needs of a command (cli.py parses, runner.py runs, render draws)."""

    name: str  # the command, as the registry knows it
    root: str  # the tensor backward() starts from: "loss", "out"
    # The command's own options as a Typer signature; returns the keyword arguments
    # of `params` (the shared ones are added). Its docstring is the command's --help.
    options: Callable[..., dict[str, Any]]
    params: type  # a frozen dataclass, no tensors in it
    report: Callable[[Any, Any], Any]  # (params, model.WalkRequest) -> a model.Report
    view: Callable[[Any, int, Any], Iterator[Any]]  # (report, precision, tree) -> Rich renderables
    # Its --help's examples, after what it shows: whole command lines, each pasted
    # into a shell as it stands and run by tests/test_help.py.
    examples: tuple[str, ...]
    # The elements of the largest tensor it makes, known from its parameters before any
    # work (threads.py); None where they cannot be known.
    largest_numel: Callable[[Any], int | None] = lambda params: None
    shared: tuple[str, ...] = (SEED, TENSOR, CHECK)  # the shared option groups it takes
    graph: bool = True  # it draws a backward graph (--format dot|mermaid, pictures)
    # Why these parameters have no graph to draw, though the command has (agrad
    # pitfalls without one NAME: a list), as the one line of a usage error; None: fine.
    no_graph: Callable[[Any], str | None] = lambda params: None
    epilog: str = ""  # ends its --help, after the options (expr: the grammar)


def scenario(name: str) -> Scenario:
    module, _colon, attribute = REGISTRY[name][0].partition(":")
    found: Scenario = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    assert found.name == name, f"{REGISTRY[name]} is {found.name}, not {name}"
    return found
