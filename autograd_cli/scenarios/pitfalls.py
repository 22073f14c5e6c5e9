"""`agrad pitfalls`: the mistakes every learner makes, run on the installed torch.

Each pitfall (autograd_cli/pitfalls/cases.py) is a few lines of code that make the
mistake and a few that fix it; both are run as shown, in the worker, and torch's own
words are captured (pitfalls/run.py). Torch is imported inside the functions that
build the report (see scenarios/__init__.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import N_, _
from autograd_cli.model import Graph, Report, WalkRequest
from autograd_cli.options import choice, flag_option, from_text
from autograd_cli.pitfalls import NAME
from autograd_cli.pitfalls.cases import BY_NAME, CASES
from autograd_cli.pitfalls.facts import ERROR, SILENT, WARNING, Fact, Pitfall
from autograd_cli.scenarios import Scenario

if TYPE_CHECKING:
    from autograd_cli.render.formats import TreeOptions

ROOT = "loss"  # a pitfall's graph is drawn from the tensor its case names
EXAMPLES = (
    "agrad pitfalls backward-twice",
    "agrad pitfalls --all --json | jq .outcome",
)
NAMES = tuple(case.name for case in CASES)
AllFlag = flag_option("--all", "Show every pitfall, one after the other.")


@dataclass(frozen=True, kw_only=True)
class Params:
    name: str | None = None  # one pitfall; None: the list (or every one, with all)
    all: bool = False


@dataclass(frozen=True)
class Entry:
    """A line of the list: a pitfall's name and its symptom (English)."""

    name: str
    symptom: str


@dataclass(frozen=True, kw_only=True)
class PitfallsReport(Report, command=NAME):
    """The list of pitfalls, and those run (NAME: one; --all: every one). Its JSON is
    the list alone, or each pitfall run as a document of its own (JSON Lines)."""

    pitfalls: tuple[Entry, ...]
    shown: tuple[Pitfall, ...]

    def json_keys(self) -> tuple[str, ...]:  # the list alone: no graph, nothing run
        return tuple(f.name for f in fields(self) if f.name not in ("graph", "shown"))

    def documents(self) -> tuple[Report, ...]:
        return self.shown or (self,)


def options(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME",
            parser=from_text(choice(NAMES)),
            help="The pitfall to show: " + ", ".join(NAMES) + ".",
            show_default=False,
        ),
    ] = None,
    all: AllFlag = False,
) -> dict[str, Any]:
    """The mistakes every learner makes with autograd, run for real on the installed
    torch.

    Without NAME, lists them: name and symptom. With NAME (or --all, every one): the
    few lines of code that make the mistake, run; what torch does, its exception or
    warning in its own words, captured as it ran; why, in terms of the graph; and the
    fix, as code, run, with its result. With --json, one document per pitfall (JSON
    Lines with --all).
    """
    if all and name is not None:
        raise UsageProblem(
            _("give one pitfall NAME or --all, not both (NAME is one of: {names})").format(
                names=", ".join(NAMES)
            )
        )
    return {"name": name, "all": all}


def no_graph(params: Params) -> str | None:
    drawn = ", ".join(case.name for case in CASES if case.graph_of is not None)
    if params.name is None:
        return _(
            "a graph (--format dot|mermaid, a picture) is one pitfall's: give its NAME "
            "(one of: {names}), not the list or --all"
        ).format(names=drawn)
    if BY_NAME[params.name].graph_of is None:
        return _(
            "pitfall {name} leaves no graph to draw (--format dot|mermaid, a picture): "
            "use --format table or json; the pitfalls with a graph: {names}"
        ).format(name=params.name, names=drawn)
    return None


def largest_numel(params: Params) -> int:
    return 3  # every pitfall's tensors have at most 3 elements


def report(params: Params, walk: WalkRequest) -> PitfallsReport:
    from autograd_cli.pitfalls.run import run_pitfall

    names = NAMES if params.all else (params.name,) if params.name else ()
    shown = tuple(run_pitfall(BY_NAME[name], walk.max_nodes) for name in names)
    graph = shown[0].graph if len(shown) == 1 else Graph(root=None)
    return PitfallsReport(
        graph=graph,
        pitfalls=tuple(Entry(case.name, case.symptom) for case in CASES),
        shown=shown,
    )


# The human view ---------------------------------------------------------------

KINDS = {ERROR: N_("an error"), WARNING: N_("a warning"), SILENT: N_("nothing")}
NOT_AS_EXPECTED = N_(
    "This pitfall expects {expected}; torch {version} gave {kind} here, shown as it is."
)
SILENT_TEXT = N_("Nothing: no error, no warning. The code ran through.")


def view(report: PitfallsReport, precision: int, tree: TreeOptions) -> Iterator[Any]:
    from autograd_cli.render import table
    from autograd_cli.render.layout import Column, FittedTable

    if not report.shown:
        yield table.heading(_("agrad pitfalls: the mistakes every learner makes"), first=True)
        yield FittedTable(
            [
                Column.of(_("name"), [e.name for e in report.pitfalls], wrap="name"),
                Column.of(_("symptom"), [_(e.symptom) for e in report.pitfalls], wrap="words"),
            ],
            gap=3,
        )
        yield table.note(
            _("\nShow one with agrad pitfalls NAME, every one with agrad pitfalls --all.")
        )
        return
    for index, pitfall in enumerate(report.shown):
        yield from _pitfall_view(pitfall, precision, tree, first=index == 0)


def _pitfall_view(
    pitfall: Pitfall, precision: int, tree: TreeOptions, first: bool
) -> Iterator[Any]:
    from rich.text import Text

    from autograd_cli.render import table
    from autograd_cli.render.formats import TreeOptions
    from autograd_cli.versions import torch_version

    case = BY_NAME[pitfall.name]
    yield table.heading(f"agrad pitfalls · {pitfall.name}", first=first)
    yield table.note(_(pitfall.symptom))
    yield table.code(pitfall.code, intro=_("The mistake, as run:"))
    yield table.heading(_("What torch does"))
    outcome = pitfall.outcome
    if outcome.kind == SILENT:
        yield Text(_(SILENT_TEXT))
    else:
        style = "red" if outcome.kind == ERROR else "yellow"
        yield Text(f"{outcome.type}: {outcome.message}", style=style)
    if not outcome.expected:
        yield table.note(
            _(NOT_AS_EXPECTED).format(
                expected=_(KINDS[case.expects]),
                version=torch_version(),
                kind=_(KINDS[outcome.kind]),
            )
        )
    if pitfall.facts:
        yield table.note(_("Then:"))
        yield _fact_lines(pitfall.facts, precision)
    if pitfall.graph.root is not None and case.graph_of is not None:
        shown = TreeOptions(tree.max_nodes, tree.saved or case.saved)
        yield from table.graph_section(pitfall.graph, case.graph_of, shown, precision)
    if pitfall.anomaly is not None:
        yield table.heading(_("Where: anomaly mode"))
        if pitfall.anomaly.grad_fn is None:
            yield table.note(_("Anomaly mode named no node on this torch."))
        else:
            yield table.code(
                pitfall.anomaly.lines,
                intro=_(
                    "Run again under torch.autograd.detect_anomaly(), torch names {grad_fn} "
                    "and the forward line that made it:"
                ).format(grad_fn=pitfall.anomaly.grad_fn),
            )
    yield table.heading(_("Why"))
    yield Text(_(pitfall.why))
    yield table.heading(_("The fix"))
    yield table.code(pitfall.fix.code, intro=_("Run:"))
    if pitfall.fix.error is not None:
        yield Text(
            _("The fix raised on this torch: {error}").format(error=pitfall.fix.error), style="red"
        )
    else:
        yield table.note(_("Then:"))
        yield _fact_lines(pitfall.fix.result, precision)


def _fact_lines(facts: tuple[Fact, ...], precision: int) -> Any:
    from rich.text import Text

    from autograd_cli.render.table import CODE

    lines = Text()
    for index, fact in enumerate(facts):
        if index:
            lines.append("\n")
        lines.append(f"  {fact.code}", style=CODE)
        shown = fact.error if fact.error is not None else _value_text(fact.value, precision)
        lines.append(f" = {shown}")
    return lines


def _value_text(value: Any, precision: int) -> str:
    from autograd_cli.render.labels import number_text

    if isinstance(value, list):
        return "[" + ", ".join(_value_text(item, precision) for item in value) + "]"
    return number_text(value, precision)


SCENARIO = Scenario(
    NAME, ROOT, options, Params, report, view, EXAMPLES, largest_numel, shared=(), no_graph=no_graph
)
