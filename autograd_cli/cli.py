"""The `agrad` command line: the Typer app, one command per scenario, and batch.

Each scenario declares its own options (scenarios/*.py); the options commands share
are declared once (options.py) and added to each command's signature here. A
scenario's command is built the first time it is asked for (Click's lazy group):
`agrad --help` reads the registry alone, `agrad linear` imports linear's module
alone. A command parses its options, plans its output (render/output.py) and hands
over to runner.py; the Result it returns is its exit status (outcome.py). Nothing
here imports torch or Rich at module level.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import typer

from autograd_cli.errors import UsageProblem
from autograd_cli.i18n import _
from autograd_cli.options import shared_options, text
from autograd_cli.result import Result
from autograd_cli.scenarios import REGISTRY, Scenario, scenario
from autograd_cli.typer_classes import COMMON_OPTIONS, TENSOR_OPTIONS, AgradCommand, AgradGroup

OUTPUT_GROUPS = ("output", "color", "lang")
# The heading each shared option group is listed under in a command's --help.
HEADINGS = {"seed": TENSOR_OPTIONS, "tensor": TENSOR_OPTIONS, "check": TENSOR_OPTIONS}
HEADINGS |= dict.fromkeys(OUTPUT_GROUPS, COMMON_OPTIONS)


def _show_version(ctx: typer.Context, value: bool) -> None:
    # Resilient parsing: a shell completing `agrad --version <TAB>` (completion.py).
    if value and not ctx.resilient_parsing:
        from autograd_cli.render.emit import write_text
        from autograd_cli.versions import version_line

        write_text(version_line() + "\n")
        raise typer.Exit()


class AgradCLI(AgradGroup):
    """agrad's group: batch, registered below, and the scenarios of the registry,
    each built into a command when first asked for."""

    examples = (
        "agrad linear --seed 0",
        "agrad jvp --repeat 3",
        "agrad expr \"(x + 1).pow(2).sum()\" --var 'x=ones(3)'",
        "agrad pitfalls",
        "agrad linear --seed 0 --json | jq '.gradients[0].value'",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.built: dict[str, Any] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*REGISTRY, *super().list_commands(ctx)]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in REGISTRY:
            return super().get_command(ctx, name)
        if name not in self.built:
            self.built[name] = _click_command(name, scenario(name))
        return self.built[name]

    def listed_help(self, ctx: Any, name: str) -> str | None:
        if name in REGISTRY:
            return _(REGISTRY[name][1])  # without importing the scenario
        return super().listed_help(ctx, name)


app = typer.Typer(
    cls=AgradCLI,
    name="agrad",
    help=(
        "Shows what PyTorch autograd does: the grad_fn chain behind a result, the "
        "gradients that land in .grad, and how they accumulate across backward() calls. "
        "Rich tables for people, strict JSON (--json) for scripts."
    ),
    epilog=(
        "agrad COMMAND --help shows what a command shows, its examples and its options. "
        "Exit codes: 0 success, 1 runtime failure, 2 bad usage, 3 a failed check "
        "(--check, gradcheck, inspect --fail-on), 130 interrupted, 143 terminated."
    ),
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _typer_function(
    doc: str | None, params: list[inspect.Parameter], body: Callable[..., Any]
) -> Callable[..., Any]:
    """A function whose signature Typer reads as the options `params`; called with
    them by name, it calls `body`. How options declared once join many commands."""

    def function(**values: Any) -> Any:
        return body(**values)

    keyword = inspect.Parameter.KEYWORD_ONLY
    function.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(kind=keyword) for p in params]
    )
    function.__doc__ = doc
    return function


VersionFlag = Annotated[
    bool,
    typer.Option(
        "--version",
        is_eager=True,
        callback=_show_version,
        help="Print agrad's, torch's and Python's versions and exit.",
    ),
]
app.callback()(
    _typer_function(
        "Shows what PyTorch autograd does, as tables or JSON.",
        [
            inspect.Parameter(
                "version", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=VersionFlag
            ),
            *shared_options(("lang",)),
        ],
        lambda **values: None,
    )
)


def _scenario_command(found: Scenario) -> Callable[..., Any]:
    """The command of one scenario: its own options, then the shared ones."""
    own = inspect.signature(found.options, eval_str=True).parameters
    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)

    def run(ctx: typer.Context, **values: Any) -> Result:
        fields = found.options(**{name: values[name] for name in own})
        fields.update(
            (name, values[name]) for name in ("dtype", "device", "check") if name in values
        )
        seeds = values.get("seed") if "seed" not in own else None
        if seeds is not None:
            fields["seed"] = seeds.seeds[0]
        sweep = seeds is not None and seeds.sweep
        from autograd_cli.devices import on_device
        from autograd_cli.render.formats import Format
        from autograd_cli.render.output import IMAGE_SUFFIXES, Memory, OutputRequest, plan_output

        params = on_device(found.params(**fields))  # checked first, as it always was

        # A command that draws no graph has no --saved or --max-nodes: their defaults.
        request = OutputRequest(
            **{name: values[name] for name in OutputRequest.__dataclass_fields__ if name in values}
        )
        # A graph asked of parameters that have none (agrad pitfalls' list): said first,
        # before a picture's check for Graphviz.
        output = request.output
        picture = output is not None and output.suffix.lower() in IMAGE_SUFFIXES
        if picture or (request.fmt in (Format.DOT, Format.MERMAID) and not request.json):
            problem = found.no_graph(params)
            if problem is not None:
                raise UsageProblem(problem)
        # A batch line hands its in-memory sink down through Click's context object.
        plan = plan_output(
            request,
            sweep=sweep,
            batch=ctx.obj if isinstance(ctx.obj, Memory) else None,
            graph=found.graph,
        )
        from autograd_cli.runner import run_scenario, run_sweep

        if sweep:
            return run_sweep(found, params, seeds.seeds, plan)
        return run_scenario(found, params, plan)

    # Its own options, then the shared ones; --help lists them under their headings.
    shared = shared_options((*found.shared, *OUTPUT_GROUPS), graph=found.graph)
    params = [context, *own.values(), *shared]
    return _typer_function(found.options.__doc__, params, run)


def _click_command(name: str, found: Scenario) -> Any:
    """The Click command of one scenario, through Typer's public API: an app of its
    one command, made into a Click command by typer.main.get_command."""
    one = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    one.command(name, cls=AgradCommand, short_help=REGISTRY[name][1], epilog=found.epilog or None)(
        _scenario_command(found)
    )
    command = typer.main.get_command(one)
    command.examples = found.examples
    groups = (*found.shared, *OUTPUT_GROUPS)
    command.shared_headings = {
        p.name: HEADINGS[group] for group in groups for p in shared_options((group,))
    }
    return command


def _batch(ctx: typer.Context, file: str, lang: str | None) -> int:
    from autograd_cli.batch import run_batch
    from autograd_cli.render.output import Memory

    # A batch line's sink comes down as the context object: this is a line of a batch,
    # however it spelled `batch` (after a root option, or a file naming itself).
    if isinstance(ctx.obj, Memory):
        raise UsageProblem(_("a batch line cannot run batch"))
    raise typer.Exit(run_batch(file, ctx.find_root().command))


class BatchCommand(AgradCommand):
    examples = (
        "printf 'linear --seed 1\\njvp --repeat 3\\n' | agrad batch",
        "agrad batch examples/batch_lines.txt | jq -c '{line, exit_code}'",
    )
    shared_headings: ClassVar[dict[str, str]] = {"lang": COMMON_OPTIONS}


app.command(
    "batch",
    cls=BatchCommand,
    short_help="Run many agrad command lines in one process, as JSON Lines.",
)(
    _typer_function(
        """Run agrad command lines from FILE (or stdin) in one process: torch is
    imported once, so 1,000 lines cost little more than one.

    Each line is split like a shell would (quotes, backslashes, # comments), never
    run by a shell; a leading "agrad" is optional; blank lines and # comments are
    skipped. Every result is one JSON record per line, written as it is ready:
    {"line": N, "command": "...", "exit_code": 0, "result": {...}} (a --seed sweep
    gives one record per seed), or, for a failing line, {"line", "command",
    "exit_code", "error"} with the message and exit code it would have had alone;
    the batch goes on. The batch exits with the highest exit code of its lines.
    Lines write JSON only: --format dot|mermaid, --output and batch itself are refused.
    """,
        [
            inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
            inspect.Parameter(
                "file",
                inspect.Parameter.KEYWORD_ONLY,
                default="-",
                annotation=Annotated[
                    str,
                    typer.Argument(
                        metavar="FILE",
                        parser=text,
                        help="A file of agrad command lines, one per line; - (the default) "
                        "reads stdin.",
                    ),
                ],
            ),
            *shared_options(("lang",)),
        ],
        _batch,
    )
)


def run() -> None:
    """Console-script entry point."""
    app()
