"""`agrad gradcheck`: torch.autograd.gradcheck on the user's own function, readable.

TARGET names a file or module and a callable in it (targets.py), loaded as `agrad
inspect` loads it (scenarios/user_code.py). Either NAME(**--arg) returns (fn, inputs),
or, with --input NAME=CONSTRUCTOR (expr's safe constructors), NAME itself is the
function, called with those tensors. inspection/gradcheck.py compares the analytical
Jacobians with finite differences, pair by pair, and says what looks wrong. Torch is
imported inside the functions that build the report.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import N_, _, group, ngettext
from autograd_cli.model import Report, WalkRequest
from autograd_cli.options import (
    flag_option,
    integer_option,
    non_negative,
    option,
    positive,
    repeated_option,
    target_argument,
)
from autograd_cli.scenarios import Scenario
from autograd_cli.scenarios.inspect_target import ArgOption, parse_arguments
from autograd_cli.targets import TargetSpec

if TYPE_CHECKING:
    from autograd_cli.expression.variables import VariableSpec
    from autograd_cli.inspection.gradcheck import GradcheckUnsupported
    from autograd_cli.model import GradcheckRun, PairCheck
    from autograd_cli.render.formats import TreeOptions
    from autograd_cli.scenarios.user_code import UserCallable

NAME = "gradcheck"
ROOT = "out"
FORMS = N_(
    "a function returning (fn, inputs), fn a callable and inputs a tensor or a tuple of "
    "tensors; or, with --input, the function to check itself (an autograd.Function "
    "subclass is called through .apply)"
)
EXAMPLES = (
    "agrad gradcheck examples/gradcheck_factor.py:build",
    "agrad gradcheck examples/gradcheck_factor.py:Square --input 'x=randn(3,4)'",
)
# Shown as given in the report: what the check ran with.
SHOWN_AS_GIVEN = ("arguments", "seed", "eps", "atol", "rtol", "nondet_tol", "fast")


@dataclass(frozen=True)
class Params:
    target: TargetSpec
    arguments: dict[str, int | float | str]
    inputs: tuple[VariableSpec, ...] = ()
    seed: int = 0
    # torch.autograd.gradcheck's defaults
    eps: float = 1e-6
    atol: float = 1e-5
    rtol: float = 1e-3
    nondet_tol: float = 0.0
    forward: bool = False
    second_order: bool = False
    fast: bool = False
    keep_dtype: bool = False


@dataclass(frozen=True)
class CheckedInput:
    """One argument of fn as the check saw it."""

    name: str
    shape: tuple[int, ...] | None  # None: not a tensor (passed through as it is)
    given_dtype: str | None  # as NAME or --input made it
    dtype: str | None  # as checked (float64 unless --keep-dtype)
    requires_grad: bool  # only these are differentiated


@dataclass(frozen=True, kw_only=True)
class GradcheckReport(Report, command=NAME):
    """The check of every (output, input) pair, each kind asked for."""

    target: str
    arguments: dict[str, Any]
    seed: int
    form: str  # "factory": NAME() returned (fn, inputs); "inputs": --input
    function: str  # what was checked, e.g. "Scale.apply"
    inputs: tuple[CheckedInput, ...]
    eps: float
    atol: float
    rtol: float
    nondet_tol: float
    fast: bool
    # "modules": fn's float32 modules were converted to float64 too (in place);
    # "refused": fn would not run in float64, so the check ran in the given dtype
    float64: str | None
    runs: tuple[GradcheckRun, ...]
    ok: bool

    def json_keys(self) -> tuple[str, ...]:  # no graph: gradcheck walks none
        return tuple(f.name for f in fields(self) if f.name != "graph")

    def failure(self) -> str | None:
        if self.ok:
            return None
        failed = [
            f"{run.kind}: {_pair_name(self, pair)}"
            for run in self.runs
            for pair in run.pairs
            if not pair.ok
        ] or [run.kind for run in self.runs if not run.ok]
        return _("gradcheck failed: {pairs} (see the report)").format(pairs="; ".join(failed))


def _pair_name(report: GradcheckReport, pair: PairCheck) -> str:
    return _("output {output} w.r.t. {input}").format(
        output=pair.output, input=_input_name(report, pair.input)
    )


def _input_name(report: GradcheckReport, index: int) -> str:
    """An input's name; past fn's own inputs, --second-order's grad_outputs."""
    if index < len(report.inputs):
        return report.inputs[index].name
    return _("grad_output {number}").format(number=index - len(report.inputs))


# The command line -------------------------------------------------------------

InputOption = repeated_option(
    "--input",
    "NAME=CONSTRUCTOR",
    "An input of NAME, built like expr's --var (randn(3,4), ones(5), tensor([...]), ...; "
    "floating ones float64 and requiring grad), passed positionally in order (repeatable).",
)
SeedOption = integer_option(
    "--seed",
    0,
    2**63 - 1,
    "torch.manual_seed(S) before the file runs, NAME is called and --input is built.",
    metavar="S",
)
EpsOption = option(
    float, "--eps", parse=positive("--eps"), metavar="X", help="Finite-difference step."
)
AtolOption = option(
    float, "--atol", parse=non_negative("--atol"), metavar="X", help="Absolute tolerance."
)
RtolOption = option(
    float, "--rtol", parse=non_negative("--rtol"), metavar="X", help="Relative tolerance."
)
NondetOption = option(
    float,
    "--nondet-tol",
    parse=non_negative("--nondet-tol"),
    metavar="X",
    help="How much two backward passes at the same point may differ.",
)
ForwardFlag = flag_option(
    "--forward", "Also check forward-mode AD (torch's check_forward_ad) against the same numbers."
)
SecondOrderFlag = flag_option(
    "--second-order", "Also check the gradient of the gradient, as torch.autograd.gradgradcheck."
)
FastFlag = flag_option(
    "--fast", "torch's fast mode decides (for big inputs); the entries are shown when it fails."
)
KeepDtypeFlag = flag_option(
    "--keep-dtype",
    "Check float32 inputs in float32 (they fail spuriously: float64 is the default).",
)


TargetArgument = target_argument(
    "PATH.py:NAME or module.path:NAME: NAME() returns (fn, inputs), or with --input NAME "
    "is the function (an autograd.Function subclass: its .apply)."
)


def options(
    target: TargetArgument,
    input: InputOption = None,
    arg: ArgOption = None,
    seed: SeedOption = 0,
    eps: EpsOption = 1e-6,
    atol: AtolOption = 1e-5,
    rtol: RtolOption = 1e-3,
    nondet_tol: NondetOption = 0.0,
    forward: ForwardFlag = False,
    second_order: SecondOrderFlag = False,
    fast: FastFlag = False,
    keep_dtype: KeepDtypeFlag = False,
) -> dict[str, Any]:
    """torch.autograd.gradcheck of your own function, and what is wrong when it fails.

    agrad imports TARGET's file or module (it is run as Python, like pytest runs
    test files: only point agrad at code you trust) and, after
    torch.manual_seed(S), calls NAME(**--arg values), which returns (fn, inputs);
    or, with --input, checks NAME itself on those inputs. Inputs that are not
    float64 are checked in float64 (a float32 check fails spuriously) unless
    --keep-dtype. For every (output, input) pair: the analytical Jacobian
    (backward) against central finite differences, with torch.autograd.gradcheck's
    eps, atol and rtol; the verdict is torch's. A failing pair shows how many
    entries mismatch, the worst ones, where they are, and the likely bug: a
    missing factor, a gradient not returned, transposed or swapped, a kink (not a
    bug), a noisy function.
    Exit 0 when every check passes, 3 when one fails, 2 for a wrong TARGET or
    return value, 1 when your code raises.
    """
    from autograd_cli.expression.variables import parse_variables

    arguments = parse_arguments(list(arg or []))
    return {
        "target": target,
        "arguments": arguments,
        "inputs": tuple(parse_variables(list(input or []), "--input")),
        "seed": seed,
        "eps": eps,
        "atol": atol,
        "rtol": rtol,
        "nondet_tol": nondet_tol,
        "forward": forward,
        "second_order": second_order,
        "fast": fast,
        "keep_dtype": keep_dtype,
    }


# The function and its inputs ----------------------------------------------------


@dataclass
class Checked:
    function: Callable[..., Any]
    name: str
    inputs: tuple[Any, ...]
    facts: tuple[CheckedInput, ...]
    original: tuple[Any, ...]  # the inputs as NAME or --input made them
    float64: str | None = None  # GradcheckReport.float64


def checked_function(params: Params, call: UserCallable) -> Checked:
    """fn and its inputs, as the check will run them: float64 unless --keep-dtype."""
    import torch

    from autograd_cli.expression.evaluate import build_variable
    from autograd_cli.scenarios.seeding import manual_seed

    target = params.target
    if params.inputs:
        function, name = _as_function(call.function, target.name, params)
        manual_seed(params.seed, "cpu")
        values: tuple[Any, ...] = tuple(
            build_variable(spec, torch.float64, "cpu") for spec in params.inputs
        )
        for value in values:
            if value.is_floating_point():
                value.requires_grad_()
        names = tuple(spec.name for spec in params.inputs)
        _check_arity(function, len(values), target)
    else:
        found = call.function
        if isinstance(found, type) and issubclass(found, torch.autograd.Function):
            raise UsageProblem(
                _(
                    "{target}: {name} is an autograd.Function: give its inputs with --input "
                    "NAME=CONSTRUCTOR, or check a function that returns ({name}.apply, inputs)"
                ).format(target=target.text, name=target.name)
            )
        torch.manual_seed(params.seed)
        with call.guard():
            returned = found(**params.arguments)
        function, values = _factory_parts(returned, target)
        name = _callable_name(function)
        names = _input_names(function, len(values))
    if not any(isinstance(v, torch.Tensor) and v.requires_grad for v in values):
        raise UsageProblem(
            _(
                "{target}: no input requires grad, so there is nothing to check; give the "
                "inputs to check requires_grad=True (--input makes floating ones so)"
            ).format(target=target.text)
        )
    converted = tuple(_in_float64(v) if not params.keep_dtype else v for v in values)
    facts = tuple(
        CheckedInput(
            name=n,
            shape=tuple(v.shape) if isinstance(v, torch.Tensor) else None,
            given_dtype=_dtype(v),
            dtype=_dtype(c),
            requires_grad=isinstance(c, torch.Tensor) and c.requires_grad,
        )
        for n, v, c in zip(names, values, converted, strict=True)
    )
    return Checked(function, name, converted, facts, values)


def _modules_of(function: Any) -> list[Any]:
    """The torch.nn.Modules fn runs: fn itself, a bound method's module, those its
    closure or the globals it names hold (a float32 module fails on float64 inputs)."""
    import functools

    import torch

    found: list[Any] = []
    seen: set[int] = set()
    stack = [function]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, torch.nn.Module):
            found.append(item)
            continue
        if isinstance(item, functools.partial):
            stack.extend((item.func, *item.args, *item.keywords.values()))
            continue
        stack.extend(x for x in (getattr(item, "__self__", None),) if x is not None)
        for cell in getattr(item, "__closure__", None) or ():
            try:
                stack.append(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
        code, names = getattr(item, "__code__", None), getattr(item, "__globals__", {})
        stack.extend(names[n] for n in getattr(code, "co_names", ()) if n in names)
    return found


def probe(checked: Checked, call: UserCallable, params: Params) -> tuple[Checked, Any]:
    """Calls fn once: its outputs, for the size check. On float64 inputs a float32
    module fails: the modules fn runs are converted too (in place; they are the user's
    file's, loaded for this run). When fn still will not run in float64 but runs on the
    given inputs (it holds float32 tensors agrad cannot reach), the check runs in the
    given dtype, and says so."""
    import torch

    converted = any(a is not b for a, b in zip(checked.inputs, checked.original, strict=True))
    stage = _("fn(*inputs), with the inputs in float64")
    try:
        with call.guard(stage):
            return checked, checked.function(*checked.inputs)
    except UsageProblem:
        raise
    except Exception:
        if not converted or params.keep_dtype:
            raise
    modules = _modules_of(checked.function)
    dtypes = [next(iter(m.parameters()), torch.empty(0)).dtype for m in modules]
    for module in modules:
        module.double()
    if modules:
        try:
            with call.guard(stage):
                return dataclasses.replace(checked, float64="modules"), checked.function(
                    *checked.inputs
                )
        except UsageProblem:
            raise
        except Exception:
            for module, dtype in zip(modules, dtypes, strict=True):
                module.to(dtype)
    kept = dataclasses.replace(
        checked,
        inputs=checked.original,
        facts=tuple(dataclasses.replace(f, dtype=f.given_dtype) for f in checked.facts),
        float64="refused",
    )
    with call.guard(_("fn(*inputs), with the inputs NAME returned")):
        return kept, kept.function(*kept.inputs)


def _check_arity(function: Any, count: int, target: TargetSpec) -> None:
    """--input gives NAME its positional arguments: as many as it takes."""
    import inspect

    owner = getattr(function, "__self__", None)
    ctx = isinstance(owner, type)  # Function.apply(*args): its forward(ctx, ...) says
    try:
        inspect.signature(owner.forward if ctx else function).bind(*range(count + ctx))
    except ValueError:  # no signature (a builtin): the call decides
        return
    except TypeError as e:
        raise UsageProblem(
            _("{target}: {count} --input for {name}: {reason}").format(
                target=target.text, count=count, name=target.name, reason=e
            )
        ) from None


def _as_function(found: Any, name: str, params: Params) -> tuple[Callable[..., Any], str]:
    """NAME as the function to check: an autograd.Function subclass through .apply,
    with --arg values as keywords for a plain function."""
    import functools

    import torch

    if isinstance(found, type) and issubclass(found, torch.autograd.Function):
        if params.arguments:
            raise UsageProblem(
                _(
                    "{target}: {name} is an autograd.Function, whose .apply takes no "
                    "keywords; drop --arg or wrap it in a function"
                ).format(target=params.target.text, name=name)
            )
        return found.apply, f"{name}.apply"
    if params.arguments:
        return functools.partial(found, **params.arguments), name
    return found, name


def _factory_parts(returned: Any, target: TargetSpec) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    import torch

    if not (isinstance(returned, tuple) and len(returned) == 2):
        raise UsageProblem(
            _("{target} returned {kind}; it must be {forms}").format(
                target=target.text, kind=_kind(returned), forms=_(FORMS)
            )
        )
    function, inputs = returned
    if isinstance(function, type) and issubclass(function, torch.autograd.Function):
        function = function.apply
    if not callable(function):
        raise UsageProblem(
            _("{target} returned (fn, inputs) with fn {kind}; fn must be callable").format(
                target=target.text, kind=_kind(function)
            )
        )
    values = (inputs,) if isinstance(inputs, torch.Tensor) else inputs
    if not isinstance(values, tuple | list) or not values:
        raise UsageProblem(
            _(
                "{target} returned (fn, inputs) with inputs {kind}; inputs must be a tensor "
                "or a tuple of tensors"
            ).format(target=target.text, kind=_kind(inputs))
        )
    return function, tuple(values)


def _in_float64(value: Any) -> Any:
    import torch

    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        return value
    if value.dtype == torch.float64:
        return value
    return value.detach().to(torch.float64).requires_grad_(value.requires_grad)


# The slow check holds each pair's two Jacobians (numerical and analytical, float64)
# whole, as torch.autograd.gradcheck does: 10**7 entries are 160 MB, and as many
# evaluations of fn and backward as the inputs and outputs have elements.
MAX_SLOW_ENTRIES = 10**7
# A sum over 100,000 elements took 76 s here (review, one thread): each call is O(n).
MAX_SLOW_CALLS = 100_000


def check_size(checked: Checked, outputs: Any, target: TargetSpec) -> None:
    """Refuses (exit 2, before the check) a slow check whose Jacobians would not fit:
    torch's fast mode (--fast) compares projections instead."""
    import torch

    outputs = outputs if isinstance(outputs, tuple | list) else (outputs,)
    out_numel = max((o.numel() for o in outputs if isinstance(o, torch.Tensor)), default=0)
    in_numel = max(
        (v.numel() for v in checked.inputs if isinstance(v, torch.Tensor) and v.requires_grad),
        default=0,
    )
    # central differences: two calls of fn per input element; backward: two per output
    # element (torch runs it twice, to see that it is deterministic)
    calls = 2 * sum(
        v.numel() for v in checked.inputs if isinstance(v, torch.Tensor) and v.requires_grad
    ) + 2 * sum(o.numel() for o in outputs if isinstance(o, torch.Tensor) and o.requires_grad)
    if calls > MAX_SLOW_CALLS:
        raise UsageProblem(
            _(
                "{target}: the full check would call fn or backward {calls} times (twice per "
                "input element and per output element); the cap is {cap}: use --fast "
                "(torch's fast mode), or smaller inputs"
            ).format(target=target.text, calls=group(calls), cap=group(MAX_SLOW_CALLS))
        )
    if out_numel * in_numel > MAX_SLOW_ENTRIES:
        raise UsageProblem(
            _(
                "{target}: a Jacobian of {rows} × {cols} entries is over the cap of {cap} "
                "for the full check (each is held whole, as torch's gradcheck holds it); "
                "use --fast (torch's fast mode), or smaller inputs"
            ).format(
                target=target.text,
                rows=group(out_numel),
                cols=group(in_numel),
                cap=group(MAX_SLOW_ENTRIES),
            )
        )


def _unsupported(e: GradcheckUnsupported, target: TargetSpec, checked: Checked) -> str:
    """What torch.autograd.gradcheck refuses (or agrad does not mirror), as a usage error."""
    names = [f.name for f in checked.facts]
    if e.code in ("not_tensor_output", "complex", "not_strided", "output_changed") and (
        e.code != "complex" or e.index is None or e.index >= len(names)
    ):
        which = str(e.index)  # an output's position (complex: input or output)
    else:
        which = names[e.index] if e.index is not None and e.index < len(names) else str(e.index)
    messages = {
        "overlapping_input": _(
            "{which} shares memory between its elements (an expand()ed view); "
            "gradcheck cannot move one element alone: pass a .clone()"
        ),
        "not_tensor_output": _(
            "fn's output {which} is not a tensor; fn must return a tensor or a tuple of tensors"
        ),
        "complex": _("complex tensors are not supported; torch.autograd.gradcheck checks them"),
        "not_strided": _(
            "sparse and mkldnn tensors are not supported; torch.autograd.gradcheck checks them"
        ),
        "output_changed": _(
            "fn's output changed shape or dtype when an input moved by eps; finite "
            "differences need the same output near the inputs"
        ),
        "no_differentiable_output": _(
            "--second-order: no output of fn requires grad, so there is no gradient to "
            "differentiate again"
        ),
    }
    message = messages.get(e.code, e.code).format(which=which)
    return f"{target.text}: {message}"


def _dtype(value: Any) -> str | None:
    import torch

    return str(value.dtype).removeprefix("torch.") if isinstance(value, torch.Tensor) else None


def _callable_name(function: Any) -> str:
    owner = getattr(function, "__self__", None)  # MyFunction.apply
    if isinstance(owner, type):
        return f"{owner.__name__}.{getattr(function, '__name__', 'apply')}"
    name = getattr(function, "__qualname__", None) or type(function).__name__
    # torch.sin's qualname is _VariableFunctionsClass.sin
    return "torch." + name.rpartition(".")[2] if name.startswith("_VariableFunctions") else name


def _input_names(function: Any, count: int) -> tuple[str, ...]:
    """The names fn gives its positional parameters (an autograd.Function's forward
    after ctx), else input 0, input 1, ..."""
    import inspect

    owner = getattr(function, "__self__", None)
    target = owner.forward if isinstance(owner, type) else function
    if hasattr(target, "forward") and not inspect.isfunction(target):
        target = target.forward  # a Module
    try:
        parameters = [
            p.name
            for p in inspect.signature(target).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        parameters = []
    if isinstance(owner, type) and parameters[:1] == ["ctx"]:
        parameters = parameters[1:]
    if len(parameters) >= count and len(set(parameters[:count])) == count:
        return tuple(parameters[:count])
    return tuple(_("input {number}").format(number=k) for k in range(count))


def _kind(value: Any) -> str:
    from autograd_cli.scenarios.user_code import kind_of

    return kind_of(value)


# The report -------------------------------------------------------------------


def report(params: Params, walk: WalkRequest) -> GradcheckReport:
    from autograd_cli.inspection.gradcheck import GradcheckUnsupported, gradcheck_runs
    from autograd_cli.model import Graph
    from autograd_cli.scenarios.user_code import load_callable

    call = load_callable(
        params.target, params.arguments, params.seed, FORMS, partial=bool(params.inputs)
    )
    checked, outputs = probe(checked_function(params, call), call, params)
    if not params.fast:
        check_size(checked, outputs, params.target)
    with call.guard(_("the check, which calls fn with its inputs")):
        try:
            runs = gradcheck_runs(
                checked.function,
                checked.inputs,
                eps=params.eps,
                atol=params.atol,
                rtol=params.rtol,
                nondet_tol=params.nondet_tol,
                forward=params.forward,
                second_order=params.second_order,
                fast=params.fast,
                seed=params.seed,
            )
        except GradcheckUnsupported as e:  # inside the guard: not the user's exception
            raise UsageProblem(_unsupported(e, params.target, checked)) from None
    given = {name: getattr(params, name) for name in SHOWN_AS_GIVEN}
    return GradcheckReport(
        **given,
        graph=Graph(root=None),
        target=params.target.text,
        form="inputs" if params.inputs else "factory",
        function=checked.name,
        inputs=checked.facts,
        float64=checked.float64,
        runs=runs,
        ok=all(run.ok for run in runs),
    )


# The human view ---------------------------------------------------------------

PROBLEMS = {  # GradcheckRun.problem: a failure that is not an entry mismatch
    "nondeterministic": N_(
        "Two backward passes at the same point differ by more than nondet_tol: backward "
        "is not deterministic (raise --nondet-tol if that is expected)."
    ),
    "fast_mode": N_("torch's fast mode found a mismatch."),
    "grad_output_ignored": N_(
        "With a zero gradient of the output, backward still returns a non-zero gradient: "
        "it must multiply by grad_output."
    ),
    "undefined_grad": N_(
        "backward fails, or returns non-zero gradients, when an output's gradient is "
        "undefined (None): it must treat it as zeros."
    ),
    "undefined_tangent": N_(
        "Forward mode gives a different result for an undefined tangent than for a zero one."
    ),
    "no_forward_ad": N_(
        "fn has no forward-mode formula: a custom autograd.Function needs a jvp "
        "staticmethod (and ctx.save_for_forward) for forward mode; torch raises here."
    ),
}
KINDS = {
    "backward": N_("backward (torch.autograd.gradcheck)"),
    "forward": N_("forward mode (check_forward_ad)"),
    "second_order": N_("second order (torch.autograd.gradgradcheck)"),
}


def view(report: GradcheckReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from rich.text import Text

    from autograd_cli.render import table

    yield table.heading("agrad gradcheck · ", first=True).append(report.target, style=table.CODE)
    yield table.note(
        _(
            "Checked: {function}, eps {eps:g}, atol {atol:g}, rtol {rtol:g}, nondet_tol {nondet:g}."
        ).format(
            function=report.function,
            eps=report.eps,
            atol=report.atol,
            rtol=report.rtol,
            nondet=report.nondet_tol,
        )
    )
    yield _inputs_table(report)
    if report.float64 == "modules":
        yield table.note(
            _(
                "fn's modules were converted to float64 too (.double()), to run on the "
                "float64 inputs."
            )
        )
    elif report.float64 == "refused":
        yield table.note(
            _(
                "fn would not run on float64 inputs (it holds float32 tensors agrad cannot "
                "reach), so the check ran in the inputs' own dtype, where finite differences "
                "are coarse: make NAME build float64 tensors for a reliable check."
            )
        )
    converted = [i.name for i in report.inputs if i.given_dtype != i.dtype]
    if converted:
        yield table.note(
            _(
                "{names}: checked in float64, not {dtype}: in float32 the finite differences "
                "are too coarse and a correct backward fails (--keep-dtype keeps it)."
            ).format(
                names=", ".join(converted),
                dtype=next(i.given_dtype for i in report.inputs if i.name == converted[0]),
            )
        )
    for run in report.runs:
        yield from _run_section(report, run, precision)
    verdict = _("All checks pass.") if report.ok else _("FAILED: see the pairs above.")
    yield Text("\n" + verdict, style="green" if report.ok else "bold red")


def _inputs_table(report: GradcheckReport) -> Any:
    from autograd_cli.render.labels import shape_text
    from autograd_cli.render.layout import Column, FittedTable

    items = report.inputs
    return FittedTable(
        [
            Column.of(_("input"), [i.name for i in items], wrap="name"),
            Column.of(_("shape"), [shape_text(i.shape) if i.shape else "—" for i in items]),
            Column.of("dtype", [i.dtype or _("not a tensor") for i in items]),
            Column.of("requires_grad", [str(i.requires_grad) for i in items]),
        ],
        gap=3,
    )


def _run_section(report: GradcheckReport, run: GradcheckRun, precision: int) -> Iterator[Any]:
    from rich.text import Text

    from autograd_cli.render import table

    status = _("pass") if run.ok else _("FAILED")
    yield table.heading(f"{_(KINDS[run.kind])}: {status}")
    if run.fast:
        yield table.note(
            _("torch's fast mode decided: it compares random projections of the Jacobians.")
        )
    if run.problem is not None and run.problem in PROBLEMS:
        yield table.note(_(PROBLEMS[run.problem]))
    if run.torch_message:
        message = run.torch_message.rstrip(",;: ")
        yield table.note(_("torch said: {message}").format(message=message))
    if run.fast and not run.ok and run.pairs and all(pair.ok for pair in run.pairs):
        yield table.note(
            _(
                "Entry by entry, every pair passes: only the fast mode's projection fails "
                "(run without --fast for the full verdict)."
            )
        )
    for pair in run.pairs:
        name = _pair_name(report, pair)
        if pair.ok:
            yield Text(
                "  "
                + _("{pair}: pass ({entries} entries)").format(
                    pair=name, entries=group(pair.entries)
                ),
                style="green",
            )
            continue
        yield Text(
            "  "
            + ngettext(
                "{pair}: FAILED, {count} of {entries} entry mismatches",
                "{pair}: FAILED, {count} of {entries} entries mismatch",
                pair.entries,
            ).format(pair=name, count=group(pair.mismatches), entries=group(pair.entries)),
            style="bold red",
        )
        for code in pair.diagnoses:
            yield table.indented(table.note(_diagnosis(report, run, pair, code)), 4)
        if pair.worst:
            yield table.indented(Text(_("The worst entries:"), style=table.TITLE), 4)
            yield table.indented(_worst_table(pair), 4)
        if pair.numerical is not None and pair.analytical is not None:
            yield table.indented(
                table.note(
                    _(
                        "Where: a row per output element, a column per input element; ✗ "
                        "mismatch, • agrees, · zero in both."
                    )
                ),
                4,
            )
            yield table.indented(_mismatch_grid(report, pair), 4)


def _diagnosis(report: GradcheckReport, run: GradcheckRun, pair: PairCheck, code: str) -> str:
    where = "jvp()" if run.kind == "forward" else "backward()"  # what computed "analytical"
    if code == "factor":
        return _(
            "Likely bug: analytical is {factor:.3g}× the numerical gradient on every entry: "
            "a missing or extra factor in {where}."
        ).format(factor=pair.factor, where=where)
    if code == "zero":
        return _(
            "Likely bug: analytical is 0 where numerical is not: {where} does not give "
            "this input's part (None, or a detached tensor)."
        ).format(where=where)
    if code == "transpose":
        return _(
            "Likely bug: analytical is the transpose of numerical: {where} uses a "
            "transposed matrix (e.g. W·g instead of Wᵀ·g)."
        ).format(where=where)
    if code == "swapped":
        others = [
            _input_name(report, other.input)
            for other in run.pairs
            if other.output == pair.output
            and other.input != pair.input
            and "swapped" in other.diagnoses
        ]
        return _(
            "Likely bug: this input's analytical gradient is {other}'s numerical one: "
            "{where} mixes up the inputs' gradients."
        ).format(other=", ".join(others) or "?", where=where)
    if code == "kink":
        return _(
            "Not a bug: every mismatch is at a point where fn is not differentiable (the "
            "left and right differences disagree: abs or relu at 0, max with ties). Move "
            "the inputs away from it."
        )
    return _(
        "The numerical Jacobian changes with eps: fn is noisy, not deterministic, or not "
        "smooth enough at the inputs for finite differences to judge it (try another "
        "--eps, or other inputs)."
    )


def _worst_table(pair: PairCheck) -> Any:
    from autograd_cli.render.layout import Column, FittedTable

    entries = pair.worst

    def numbers(header: str, values: list[float]) -> Column:
        # Whole or not at all: fewer significant digits where the width is short.
        forms = tuple(tuple(_number(v, digits) for v in values) for digits in (6, 4, 3))
        return Column(header, forms, justify="right")

    return FittedTable(
        [
            Column.of(_("output index"), [_index(e.output_index) for e in entries]),
            Column.of(_("input index"), [_index(e.input_index) for e in entries]),
            numbers(_("numerical"), [e.numerical for e in entries]),
            numbers(_("analytical"), [e.analytical for e in entries]),
            numbers(_("difference"), [e.difference for e in entries]),
        ],
        gap=3,
    )


def _index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]"  # as the tensor is indexed: out[0, 2]


def _number(value: float, digits: int) -> str:
    return f"{value:.{digits}g}" if math.isfinite(value) else str(value)


def _mismatch_grid(report: GradcheckReport, pair: PairCheck) -> Any:
    from autograd_cli.render import table

    assert pair.numerical is not None and pair.analytical is not None
    rows = []
    for numerical_row, analytical_row in zip(
        _rows(pair.numerical), _rows(pair.analytical), strict=True
    ):
        cells = []
        for n, a in zip(numerical_row, analytical_row, strict=True):
            if abs(a - n) > report.atol + report.rtol * abs(n):
                cells.append("✗")
            else:
                cells.append("·" if n == 0 and a == 0 else "•")
        rows.append(cells[: table.JACOBIAN_SHOWN])
    return table.JacobianGrid(rows[: table.JACOBIAN_SHOWN], len(rows[0]) if rows else 0)


def _rows(matrix: Any) -> list[list[float]]:
    return [row if isinstance(row, list) else [row] for row in matrix]


SCENARIO = Scenario(NAME, ROOT, options, Params, report, view, EXAMPLES, shared=(), graph=False)
