"""`agrad inspect`: gradient health of the user's own model, after one backward().

TARGET names a Python file or module and a callable in it (targets.py); the user's
code is loaded and called by scenarios/user_code.py, its gradients measured by
inspection/health.py. Torch is imported inside the functions that build the report
(see scenarios/__init__.py).
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autograd_cli.completion import complete_target
from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import _
from autograd_cli.model import (
    HEALTH_FLAGS,
    PROBLEM_FLAGS,
    GraphSummary,
    NanOrigin,
    ParameterHealth,
    Report,
    WalkRequest,
)
from autograd_cli.options import (
    ASCII_DECIMAL,
    flag_option,
    from_text,
    integer_option,
    option,
    positive,
    repeated_option,
)
from autograd_cli.scenarios import Scenario
from autograd_cli.targets import TargetSpec, parse_target

if TYPE_CHECKING:
    from autograd_cli.model import ForwardFrame
    from autograd_cli.render.formats import TreeOptions
    from autograd_cli.scenarios.user_code import UserCallable

NAME = "inspect"
ROOT = "loss"
SHOWN_AS_GIVEN = ("arguments", "seed", "vanish", "explode", "fail_on")
# The JSON keys in the order the command has always written them.
LAYOUT = (
    "target arguments seed form model loss_fn loss vanish explode parameters "
    "flag_counts graph_summary graph anomaly fail_on failing"
)
EXAMPLES = (
    "agrad inspect examples/mlp.py:build",
    "agrad inspect examples/nan_sqrt.py:loss --anomaly",
    "agrad inspect examples/rnn.py:build --json --fail-on vanishing,nonfinite",
)


@dataclass(frozen=True)
class Params:
    target: TargetSpec
    arguments: dict[str, int | float | str]
    seed: int = 0
    vanish: float = 1e-7
    explode: float = 1e3
    fail_on: tuple[str, ...] = ()
    anomaly: bool = False


@dataclass(frozen=True, kw_only=True)
class InspectReport(Report, command=NAME, layout=LAYOUT):
    """Everything `agrad inspect` shows about one backward pass of the user's code."""

    target: str  # as typed: PATH.py:NAME or module:NAME
    arguments: dict[str, Any]  # --arg key=value, parsed
    seed: int
    form: str  # "model": NAME returned (model, inputs, [targets,] loss_fn); "loss": a loss
    model: str | None  # the model's class name
    loss_fn: str | None  # the loss function's name
    loss: float
    vanish: float
    explode: float
    parameters: tuple[ParameterHealth, ...]
    flag_counts: dict[str, int]  # every flag of HEALTH_FLAGS -> parameters that raise it
    graph_summary: GraphSummary
    anomaly: NanOrigin | None = None  # with --anomaly and non-finite gradients
    fail_on: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()  # flags of fail_on that were raised


# The command line -------------------------------------------------------------


def parse_fail_on(text: str) -> str:
    """A comma-separated subset of the flags (`any`: every problem, not frozen or
    round-off), normalised."""
    names = [part.strip().lower() for part in text.split(",")] if text.strip() else []
    unknown = [n for n in names if n not in (*HEALTH_FLAGS, "any")]
    if unknown:
        allowed = _(
            "a comma-separated list of {flags}, or any (all but frozen and round-off)"
        ).format(flags=", ".join(HEALTH_FLAGS))
        raise ValueError(
            _("{value!r} is not a flag; allowed: {allowed}.").format(
                value=unknown[0], allowed=allowed
            )
        )
    if "any" in names:  # and frozen or round-off, when named too
        names = [*PROBLEM_FLAGS, *(n for n in names if n not in (*PROBLEM_FLAGS, "any"))]
    return ",".join(dict.fromkeys(names))


def parse_arguments(items: list[str]) -> dict[str, int | float | str]:
    """--arg key=value, repeatable: an int, else a float, else the text as a string.

    Values are never evaluated: `--arg n=2**10` is the string "2**10".
    """
    arguments: dict[str, int | float | str] = {}
    for item in items:
        key, equals, raw = item.partition("=")
        key = key.strip()
        if not equals or not key.isidentifier() or keyword.iskeyword(key):
            raise UsageProblem(
                _(
                    "--arg {item!r}: not KEY=VALUE with KEY a Python name; e.g. --arg steps=500"
                ).format(item=item)
            )
        if key in arguments:
            raise UsageProblem(
                _("--arg {key}: given twice; give each keyword once").format(key=key)
            )
        arguments[key] = _argument_value(key, raw)
    return arguments


# Numbers in ASCII digits only: int() and float() also read "١٢" and "1_000".
_INTEGER = re.compile(r"[+-]?[0-9]+")
MAX_ARG_DIGITS = 4300  # Python's own limit on converting text to int


def _argument_value(key: str, raw: str) -> int | float | str:
    text = raw.strip()
    if _INTEGER.fullmatch(text):
        digits = len(text.lstrip("+-"))
        if digits > MAX_ARG_DIGITS:
            raise UsageProblem(
                _(
                    "--arg {key}: a number of {count} digits; an integer has at most "
                    "{cap} digits (Python's limit)"
                ).format(key=key, count=digits, cap=MAX_ARG_DIGITS)
            )
        return int(text, 10)
    # Only decimal notation is a number ("nan" and "inf" stay strings, as typed).
    if ASCII_DECIMAL.fullmatch(text):
        value = float(text)
        if not math.isfinite(value):
            raise UsageProblem(
                _(
                    "--arg {key}: {value} is beyond the range of a float (about "
                    "1.8e308); write a smaller number"
                ).format(key=key, value=_shortened(text))
            )
        return value
    return raw


def _shortened(text: str) -> str:
    return text if len(text) <= 40 else _("a number of {count} characters").format(count=len(text))


ArgOption = repeated_option(
    "--arg",
    "KEY=VALUE",
    "A keyword argument for NAME, e.g. --arg steps=500 (repeatable). VALUE "
    "becomes an int, a float, or else a string; it is never evaluated.",
)
SeedOption = integer_option(
    "--seed",
    0,
    2**63 - 1,
    "torch.manual_seed(S) before NAME is called (and before the file is run).",
    metavar="S",
)
VanishOption = option(
    float,
    "--vanish",
    parse=positive("--vanish"),
    metavar="X",
    help="A non-zero gradient with L2 norm below X is flagged vanishing.",
)
ExplodeOption = option(
    float,
    "--explode",
    parse=positive("--explode"),
    metavar="X",
    help="A gradient with L2 norm above X is flagged exploding.",
)
FailOnOption = option(
    str,
    "--fail-on",
    parse=parse_fail_on,
    metavar="FLAGS",
    help="Exit 3 (after the output) when any of these flags is raised: a comma-"
    "separated list of vanishing, exploding, dead, nonfinite, unused, frozen, "
    "round-off, or any (all but frozen and round-off, which are not bugs).",
    show_default=False,
)
AnomalyFlag = flag_option(
    "--anomaly",
    "With non-finite gradients, run NAME once more under "
    "torch.autograd.detect_anomaly() and name the first backward Function that "
    "returned NaN and the line of your code that created it.",
)


def options(
    target: Annotated[
        TargetSpec,
        typer.Argument(
            metavar="TARGET",
            parser=from_text(parse_target),
            autocompletion=complete_target,
            help="PATH.py:NAME or module.path:NAME. NAME is called and returns a scalar "
            "loss tensor, or (model, inputs, loss_fn), or (model, inputs, targets, loss_fn).",
            show_default=False,
        ),
    ],
    arg: ArgOption = None,
    seed: SeedOption = 0,
    vanish: VanishOption = 1e-7,
    explode: ExplodeOption = 1e3,
    fail_on: FailOnOption = "",
    anomaly: AnomalyFlag = False,
) -> dict[str, Any]:
    """Gradient health of your own model, after one backward() pass.

    agrad imports TARGET's file or module and calls NAME(**--arg values) after
    torch.manual_seed(S). NOTE: your file is run as Python, like pytest runs test
    files; only point agrad at code you trust. NAME returns a scalar loss, or
    (model, inputs, loss_fn) / (model, inputs, targets, loss_fn), from which agrad
    computes loss_fn(model(inputs)[, targets]). Then loss.backward(), once.

    For every parameter (named_parameters() of the model; for a bare loss, the
    names its code uses): shape, elements, the gradient's L2 norm, mean and max
    |g|, the share of exact zeros, NaN/inf counts and ‖grad‖/‖param‖, and at most
    one flag: frozen (requires_grad=False), unused (requires grad, .grad is None),
    nonfinite (NaN or inf), dead (all zeros), round-off (a bias whose gradient is 0
    in exact arithmetic, left non-zero by float rounding, e.g. an attention key
    bias), vanishing (norm below --vanish) or exploding (above --explode).
    Then the backward graph: its size, depth and nodes per grad_fn class, and the
    tree (or --format json|dot|mermaid). print() in your code goes to stderr.
    Exit 0 whatever the flags, unless --fail-on names one that is raised (exit 3);
    exit 2 when TARGET or its return value is wrong, 1 when your code raises.
    """
    arguments = parse_arguments(list(arg or []))
    if vanish >= explode:
        raise UsageProblem(
            _("--vanish {vanish:g} must be below --explode {explode:g}").format(
                vanish=vanish, explode=explode
            )
        )
    return {
        "target": target,
        "arguments": arguments,
        "seed": seed,
        "vanish": vanish,
        "explode": explode,
        "fail_on": tuple(fail_on.split(",")) if fail_on else (),
        "anomaly": anomaly,
    }


# The report -------------------------------------------------------------------


def report(params: Params, walk: WalkRequest) -> InspectReport:
    from autograd_cli.inspection.graph import graph_report
    from autograd_cli.inspection.graph_summary import graph_summary, leaf_tensors
    from autograd_cli.inspection.health import flag_counts, parameter_health
    from autograd_cli.inspection.roundoff import roundoff_probe
    from autograd_cli.scenarios.user_code import load_callable

    call = load_callable(params.target, params.arguments, params.seed)
    run = call.run(params.arguments, params.seed)
    named = dict(run.named)
    if run.form == "loss":  # leaves the names missed still get a row
        known = {id(t) for t in named.values()}
        unnamed = [t for t in leaf_tensors(run.loss.grad_fn) if id(t) not in known]
        named.update((f"leaf {k} {tuple(t.shape)}", t) for k, t in enumerate(unnamed))
    summary = graph_summary(run.loss.grad_fn)
    graph = graph_report(run.loss, named, walk)  # before backward()
    probe = roundoff_probe(run.loss.grad_fn, named.items())  # hooks that backward() runs

    with call.guard():  # a custom autograd.Function's backward is the user's code too
        run.loss.backward()
    bounds = probe.bounds()
    parameters = tuple(
        parameter_health(n, t, params.vanish, params.explode, bounds.get(n))
        for n, t in named.items()
    )
    counts = flag_counts(parameters)
    origin = None
    if params.anomaly and counts["nonfinite"]:
        origin = _anomaly(call, params)
    # The parameters the report shows as they were given, then what the run found.
    given = {name: getattr(params, name) for name in SHOWN_AS_GIVEN}
    found = {"form": run.form, "model": run.model, "loss_fn": run.loss_fn}
    return InspectReport(
        **given,
        **found,
        target=params.target.text,
        loss=float(run.loss.detach()),
        parameters=parameters,
        flag_counts=counts,
        graph_summary=summary,
        graph=graph,
        anomaly=origin,
        failing=tuple(flag for flag in params.fail_on if counts[flag]),
    )


def _anomaly(call: UserCallable, params: Params) -> NanOrigin:
    from autograd_cli.inspection.anomaly import nan_origin
    from autograd_cli.model import ForwardFrame
    from autograd_cli.scenarios.user_code import is_user_file, shown_path

    def backward_again() -> None:
        # Same seed, same arguments: the same forward pass, now recorded with stacks.
        call.run(params.arguments, params.seed).loss.backward()

    found = nan_origin(backward_again, lambda name: is_user_file(name, call.file))

    def shown(frame: ForwardFrame) -> ForwardFrame:
        return ForwardFrame(shown_path(Path(frame.file)), frame.line, frame.function, frame.code)

    # Only the user's frames: agrad's own and Python's threading say nothing to them.
    user_frames = [f for f in found.forward_trace if is_user_file(f.file, call.file)]
    return NanOrigin(
        grad_fn=found.grad_fn,
        message=found.message,
        origin=None if found.origin is None else shown(found.origin),
        forward_trace=tuple(shown(f) for f in user_frames),
    )


# The human view ---------------------------------------------------------------


def view(report: InspectReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from autograd_cli.render import table
    from autograd_cli.render.health import graph_summary_lines, health_view

    yield from health_view(report, precision)
    yield from table.graph_section(report.graph, ROOT, tree, precision)
    yield from graph_summary_lines(report)


SCENARIO = Scenario(NAME, ROOT, options, Params, report, view, EXAMPLES, shared=())
