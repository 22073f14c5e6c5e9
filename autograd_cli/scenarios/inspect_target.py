"""`agrad inspect`: gradient health of the user's own model, after one backward(),
or over N training steps (--steps: inspection/training.py, render/training.py).

TARGET names a Python file or module and a callable in it (targets.py); the user's
code is loaded and called by scenarios/user_code.py, its gradients measured by
inspection/health.py. Torch is imported inside the functions that build the report
(see scenarios/__init__.py).
"""

from __future__ import annotations

import inspect
import keyword
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import _, group
from autograd_cli.model import (
    HEALTH_FLAGS,
    PROBLEM_FLAGS,
    GraphSummary,
    NanOrigin,
    ParameterHealth,
    Record,
    Report,
    StepRecord,
    Training,
    TrainingStep,
    WalkRequest,
)
from autograd_cli.options import (
    ASCII_DECIMAL,
    choice,
    flag_option,
    integer,
    integer_option,
    option,
    positive,
    repeated_option,
    target_argument,
)
from autograd_cli.scenarios import Scenario
from autograd_cli.targets import TargetSpec

if TYPE_CHECKING:
    from autograd_cli.model import ForwardFrame
    from autograd_cli.render.formats import TreeOptions
    from autograd_cli.scenarios.user_code import UserCallable, UserRun

NAME = "inspect"
ROOT = "loss"
SHOWN_AS_GIVEN = ("arguments", "seed", "vanish", "explode", "fail_on")
# The JSON keys in the order the command has always written them; then the fields
# of a run with --steps, which is written as JSON Lines instead (documents()).
ONE_PASS_KEYS = (
    "target arguments seed form model loss_fn loss vanish explode parameters "
    "flag_counts graph_summary graph anomaly fail_on failing"
)
LAYOUT = ONE_PASS_KEYS + " training optimizer lr steps every"
MAX_STEPS = 10_000  # recorded stats: steps / --every x parameters floats
OPTIMIZERS = ("sgd", "adam")  # inspection/training.make_optimizer's
DEFAULT_LR = 0.01
EXAMPLES = (
    "agrad inspect examples/mlp.py:build",
    "agrad inspect examples/nan_sqrt.py:loss --anomaly",
    "agrad inspect examples/explode_lr.py:build --steps 200",
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
    steps: int | None = None  # --steps N: train N steps (None: one backward pass)
    every: int = 1
    optimizer: str | None = None  # None: sgd, or the optimizer NAME returns
    lr: float | None = None  # None: DEFAULT_LR


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
    # With --steps: the run, made as it is read; then the report's fields are those of
    # step 1's backward pass, and its JSON is JSON Lines (documents()).
    training: Training | None = None
    optimizer: str | None = None  # with --steps: "SGD", "Adam", or the user's class name
    lr: float | None = None  # agrad's optimizer's learning rate; None for the user's
    steps: int | None = None
    every: int = 1

    def json_keys(self) -> tuple[str, ...]:
        # One backward pass: the keys it has always had.
        return tuple(ONE_PASS_KEYS.split())

    def documents(self) -> Any:
        if self.training is None:
            return (self,)
        return self._records(self.training)

    def _records(self, training: Training) -> Iterator[Record | StepRecord]:
        names = tuple(p.name for p in self.parameters)
        for step in training.steps():
            yield StepRecord(NAME, step, names)
        summary = training.summary
        values = {
            "record": "summary",
            "target": self.target,
            "arguments": self.arguments,
            "seed": self.seed,
            "form": self.form,
            "model": self.model,
            "loss_fn": self.loss_fn,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "steps": self.steps,
            "every": self.every,
            "recorded": summary.recorded,
            "vanish": self.vanish,
            "explode": self.explode,
            "loss": {
                "first": summary.loss_first,
                "last": summary.loss_last,
                "min": summary.loss_min,
                "first_nonfinite_step": summary.first_nonfinite_loss,
            },
            "parameters": summary.parameters,
            "first_steps": summary.first_steps,
            "anomaly_step": summary.anomaly_step,
            "anomaly": summary.anomaly,
            "fail_on": self.fail_on,
            "failing": summary.failing,
        }
        yield Record(NAME, tuple(values.items()))

    def failure(self) -> str | None:
        # No --fail-on: nothing to judge, and no step to run for it (--format dot
        # draws step 1's graph and reads none of them).
        if self.training is None or not self.fail_on or not self.training.summary.failing:
            return None
        summary = self.training.summary
        named = []
        for flag in summary.failing:
            raised = [
                _("{name} from step {step}").format(name=p.name, step=span.first_step)
                for p in summary.parameters
                for span in p.flags
                if span.flag == flag
            ]
            named.append(f"{flag} ({', '.join(raised)})")
        return _("--fail-on: gradient health flags raised: {flags}").format(flags="; ".join(named))


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
    "returned NaN and the line of your code that created it (with --steps: the "
    "first step whose gradients were non-finite, run again).",
)
StepsOption = option(
    int | None,
    "--steps",
    parse=integer(1, MAX_STEPS),
    metavar="N",
    help="Train N steps (1 to 10,000) and show gradient health over them: zero_grad, "
    "forward, backward, record, optimizer step. NAME must return a model, not a bare loss.",
    show_default=False,
)
EveryOption = option(
    int | None,
    "--every",
    parse=integer(1, MAX_STEPS),
    metavar="K",
    help="With --steps: record step 1 and every K-th step (1 to N; default 1).",
    show_default=False,
)
OptimizerOption = option(
    str | None,
    "--optimizer",
    parse=choice(OPTIMIZERS),
    metavar="[sgd|adam]",
    help="With --steps: agrad's optimizer when NAME returns none (default sgd).",
    show_default=False,
)
LrOption = option(
    float | None,
    "--lr",
    parse=positive("--lr"),
    metavar="X",
    help="With --steps: the learning rate of --optimizer (default 0.01).",
    show_default=False,
)


TargetArgument = target_argument(
    "PATH.py:NAME or module.path:NAME. NAME is called and returns a scalar loss tensor, or "
    "(model, inputs, loss_fn), or (model, inputs, targets, loss_fn), or (model, inputs, "
    "targets, loss_fn, optimizer)."
)


def options(
    target: TargetArgument,
    arg: ArgOption = None,
    seed: SeedOption = 0,
    vanish: VanishOption = 1e-7,
    explode: ExplodeOption = 1e3,
    fail_on: FailOnOption = "",
    anomaly: AnomalyFlag = False,
    steps: StepsOption = None,
    every: EveryOption = None,
    optimizer: OptimizerOption = None,
    lr: LrOption = None,
) -> dict[str, Any]:
    """Gradient health of your own model, after one backward() pass or over N steps.

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
    With --steps N, agrad trains N steps instead (with the optimizer NAME returns as
    a fifth element, or --optimizer and --lr) and shows, per parameter, ‖grad‖ and
    the update ratio ‖Δp‖/‖p‖ over the steps, and the step at which each flag was
    first raised; with --json, JSON Lines: a record per step, then a summary.
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
    if steps is None:
        for name, given in (("--every", every), ("--optimizer", optimizer), ("--lr", lr)):
            if given is not None:
                raise UsageProblem(
                    _("{option} applies to training: add --steps N (1 to {cap})").format(
                        option=name, cap=group(MAX_STEPS)
                    )
                )
    elif every is not None and every > steps:
        raise UsageProblem(
            _("--every {every} is more than --steps {steps}; allowed: 1 to {steps}").format(
                every=every, steps=steps
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
        "steps": steps,
        "every": every or 1,
        "optimizer": optimizer,
        "lr": lr,
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
    if params.steps is not None:
        _check_training(params, run)
    named = dict(run.named)
    if run.form == "loss":  # leaves the names missed still get a row
        known = {id(t) for t in named.values()}
        unnamed = [t for t in leaf_tensors(run.loss.grad_fn) if id(t) not in known]
        named.update((f"leaf {k} {tuple(t.shape)}", t) for k, t in enumerate(unnamed))
    summary = graph_summary(run.loss.grad_fn)
    graph = graph_report(run.loss, named, walk)  # before backward()
    probe = roundoff_probe(run.loss.grad_fn, named.items())  # hooks that backward() runs

    with call.guard():  # a custom autograd.Function's backward is the user's code too
        # --steps: step 1 runs this backward again, on the same forward pass.
        run.loss.backward(retain_graph=params.steps is not None)
    bounds = probe.bounds()  # its hooks are removed: the steps do not run them
    parameters = tuple(
        parameter_health(n, t, params.vanish, params.explode, bounds.get(n))
        for n, t in named.items()
    )
    counts = flag_counts(parameters)
    # The parameters the report shows as they were given, then what the pass found:
    # the report of one backward pass, and the first part of a --steps one.
    facts = {name: getattr(params, name) for name in SHOWN_AS_GIVEN} | {
        "form": run.form,
        "model": run.model,
        "loss_fn": run.loss_fn,
        "target": params.target.text,
        "loss": float(run.loss.detach()),
        "parameters": parameters,
        "flag_counts": counts,
        "graph_summary": summary,
        "graph": graph,
    }
    if params.steps is not None:
        return _training_report(params, call, run, facts, bounds)
    origin = None
    if params.anomaly and counts["nonfinite"]:
        origin = _anomaly(call, params)
    failing = tuple(flag for flag in params.fail_on if counts[flag])
    return InspectReport(**facts, anomaly=origin, failing=failing)


def _check_training(params: Params, run: UserRun) -> None:
    if run.form != "model":
        raise UsageProblem(
            _(
                "--steps trains a model: {target} returned a loss; --steps takes NAME "
                "returning (model, inputs, loss_fn), (model, inputs, targets, loss_fn) or "
                "(model, inputs, targets, loss_fn, optimizer)"
            ).format(target=params.target.text)
        )
    optimizer = run.optimizer
    if optimizer is not None:
        step = inspect.signature(optimizer.step).parameters.get("closure")
        if step is not None and step.default is inspect.Parameter.empty:
            raise UsageProblem(
                _(
                    "--steps: {target} returns {optimizer}, whose step() needs a closure "
                    "(it evaluates the loss itself); --steps calls step() without one: "
                    "return an optimizer such as SGD or Adam, or none to use --optimizer"
                ).format(target=params.target.text, optimizer=type(optimizer).__name__)
            )
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if not any(id(p) in held for p in run.named.values() if p.requires_grad):
            raise UsageProblem(
                _(
                    "--steps: {target} returns an optimizer that holds none of the "
                    "model's trainable parameters; build it over model.parameters()"
                ).format(target=params.target.text)
            )
    if run.optimizer is not None:
        given = [n for n, v in (("--optimizer", params.optimizer), ("--lr", params.lr)) if v]
        if given:
            raise UsageProblem(
                _(
                    "{options}: {target} returns its own optimizer ({optimizer}); drop "
                    "{options}, or return four elements to use agrad's"
                ).format(
                    options="/".join(given),
                    target=params.target.text,
                    optimizer=type(run.optimizer).__name__,
                )
            )


def _training_report(
    params: Params,
    call: UserCallable,
    run: UserRun,
    facts: dict[str, Any],
    bounds: dict[str, float],
) -> InspectReport:
    """The one backward pass's facts, then the run of the steps: step 1 runs backward
    again on that pass's forward (kept with retain_graph=True), from no .grad."""
    from torch import strided

    from autograd_cli.inspection.training import (
        StepsRequest,
        Tally,
        make_optimizer,
        training_steps,
    )
    from autograd_cli.render.labels import printable

    assert params.steps is not None and run.forward is not None
    named = dict(run.named)
    if run.optimizer is not None:
        optimizer, lr = run.optimizer, None
    else:
        lr = params.lr or DEFAULT_LR
        optimizer = make_optimizer(params.optimizer or "sgd", list(named.values()), lr)
    roundoff = {k: bounds[n] for k, n in enumerate(named) if n in bounds}
    request = StepsRequest(
        params.steps, params.every, params.vanish, params.explode, params.fail_on, roundoff
    )
    sparse = [n for n, p in named.items() if p.grad is not None and p.grad.layout != strided]
    if sparse and run.optimizer is None and params.optimizer == "adam":
        # torch's Adam refuses them at its first step(): an option that cannot work.
        raise UsageProblem(
            _(
                "--optimizer adam cannot step sparse gradients ({names}: "
                "nn.Embedding(sparse=True)'s); use --optimizer sgd, or return your own "
                "optimizer (torch.optim.SparseAdam) as NAME's fifth element"
            ).format(names=", ".join(sparse))
        )
    # Step 1's backward already ran: the steps start from its loss, with a first
    # backward that must not add to the .grad already there.
    for p in named.values():
        p.grad = None
    tally = Tally(list(named))
    steps = tally.watch(
        training_steps(run.loss, run.forward, named, optimizer, call.guard, request),
        params.every,
    )

    def finish(recorded: list[TrainingStep]) -> Any:
        anomaly = (lambda step: _anomaly(call, params, step)) if params.anomaly else None
        return tally.summary(named, len(recorded), request, anomaly)

    return InspectReport(
        **facts,
        training=Training(steps, finish),
        optimizer=printable(type(optimizer).__name__),
        lr=lr,
        steps=params.steps,
        every=params.every,
    )


def _replay_step(params: Params, step: int) -> None:
    """Training step `step`'s forward and backward, from a fresh call of NAME (its file
    run again, so that a model built at import starts over too), steps 1 to `step` - 1
    replayed first."""
    from autograd_cli.inspection.training import make_optimizer, replayed
    from autograd_cli.scenarios.user_code import load_callable

    fresh = load_callable(params.target, params.arguments, params.seed)
    run = fresh.run(params.arguments, params.seed)
    assert run.forward is not None
    optimizer = run.optimizer or make_optimizer(
        params.optimizer or "sgd", list(run.named.values()), params.lr or DEFAULT_LR
    )
    with fresh.guard():
        loss = replayed(run.loss, run.forward, dict(run.named), optimizer, step)
    loss.backward()  # unguarded: nan_origin reads detect_anomaly()'s RuntimeError


def _anomaly(call: UserCallable, params: Params, step: int | None = None) -> NanOrigin:
    from autograd_cli.inspection.anomaly import nan_origin
    from autograd_cli.model import ForwardFrame
    from autograd_cli.scenarios.user_code import is_user_file, shown_path

    def backward_again() -> None:
        # Same seed, same arguments: the same forward pass, now recorded with stacks.
        if step is None:
            call.run(params.arguments, params.seed).loss.backward()
        else:
            _replay_step(params, step)

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

    if report.training is not None:
        from autograd_cli.render.training import training_view

        yield from training_view(report, report.training, precision)
        return
    yield from health_view(report, precision)
    yield from table.graph_section(report.graph, ROOT, tree, precision)
    yield from graph_summary_lines(report)


SCENARIO = Scenario(NAME, ROOT, options, Params, report, view, EXAMPLES, shared=())
