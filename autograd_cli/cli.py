"""The `agrad` command line: parse options, pick a format, hand over to `runner`.

Nothing here imports torch or Rich at module level, so `agrad --help` stays as fast
as any Typer app. Commands only declare options and call `runner.run_command`.
"""

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NamedTuple, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from autograd_cli.errors import AgradError, ExitCode, UsageProblem
from autograd_cli.expression.grammar import GRAMMAR

SEED_MIN = -(2**63)  # torch.manual_seed accepts any value that fits int64 or uint64
SEED_MAX = 2**64 - 1
MAX_REPEAT = 1000
MAX_PRECISION = 12
MAX_LENGTH = 200_000
MAX_HIDDEN = 256
MAX_NODES_CAP = 10_000_000
MAX_SEEDS = 100_000
FORMATS = ("table", "json", "dot", "mermaid")
COLOR_MODES = ("auto", "always", "never")
DTYPE_NAMES = ("float32", "float64")


class _DirectCoercion:
    """Stands in for Typer's pydantic-based coercion of one option.

    Typer 0.29 coerces every option value through pydantic, and importing it costs
    ~150 ms per run: more than all of agrad's own work. agrad's options are either
    flags or have their own `parser=`, so this does the same job directly. Where a
    later Typer lacks the private hook, nothing is replaced and Typer's path runs.
    """

    def __init__(self, parser: Any) -> None:
        self.parser = parser

    def coerce(self, value: Any, *, param: Any, ctx: Any) -> Any:
        # Defaults arrive here too (as declared, e.g. 0 or "table"): parsers take both.
        if self.parser is not None and value is not None:
            return self.parser(value)
        return value


def _with_direct_coercion(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "_runtime_param", False) is not None:
            continue  # already set, or not a Typer parameter
        info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
        parser = getattr(info, "parser", None)
        # Flags arrive as bools and repeated options (--var) as tuples of str: as is.
        if parser is not None or getattr(param, "is_flag", False) or param.multiple:
            param._runtime_param = _DirectCoercion(parser)
    return params


class AgradCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _with_direct_coercion(super().get_params(ctx))


class AgradGroup(TyperGroup):
    """Runs Click non-standalone so every failure becomes one `agrad: error:` line."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> NoReturn:
        argv = list(sys.argv[1:] if args is None else args)
        # A bare `agrad` teaches instead of failing.
        code = _guarded(
            lambda: super(AgradGroup, self).main(
                args=argv or ["--help"], prog_name="agrad", standalone_mode=False, **extra
            )
        )
        from autograd_cli.worker import worker_left_running

        if worker_left_running():  # interrupted mid-work: see worker.py
            import os

            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)

    def get_params(self, ctx: Any) -> list[Any]:
        return _with_direct_coercion(super().get_params(ctx))


def _guarded(call: Any) -> int:
    """Calls the Click entry point; maps every outcome to an exit code and a message."""
    code, lines = outcome(call)
    if lines:
        _fail(lines[0], code, lines[1:])
    elif code == ExitCode.RUNTIME and lines is None:
        _quiet_broken_pipe()
    return code


def outcome(call: Any) -> tuple[int, tuple[str, ...] | None]:
    """Runs `call`; returns (exit code, error lines), without printing anything.

    Error lines are () on success and None when the reader of stdout went away.
    """
    try:
        rv = call()
    except typer.TyperException as e:  # Click's usage errors are TyperExceptions
        return getattr(e, "exit_code", ExitCode.USAGE), (_usage_message(e),)
    except AgradError as e:
        return e.exit_code, e.report_lines()
    except typer.Abort:
        return ExitCode.RUNTIME, ("aborted",)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED, ("interrupted",)
    except BrokenPipeError:
        return ExitCode.RUNTIME, None
    except Exception as e:  # a bug or an environment failure: still one line, no traceback
        return ExitCode.RUNTIME, (f"internal error: {type(e).__name__}: {e}",)
    # Non-standalone Click returns the exit code of an Exit (e.g. 0 after --help);
    # Ctrl-C arrives here too, already turned into Exit(130) by Click.
    if rv == ExitCode.INTERRUPTED:
        return ExitCode.INTERRUPTED, ("interrupted",)
    return (rv if isinstance(rv, int) else ExitCode.OK), ()


def _usage_message(e: typer.TyperException) -> str:
    message = e.format_message()
    ctx = getattr(e, "ctx", None)
    if ctx is not None and message.startswith("No such command"):
        commands = ", ".join(ctx.command.list_commands(ctx))
        message = f"{message.rstrip('.')}; commands: {commands}"
    if ctx is not None:
        message = f"{message.rstrip('.')}. See '{ctx.command_path} --help'."
    return message


def _fail(message: str, code: int, context: Sequence[str] = ()) -> int:
    """One line `agrad: error: ...`; then, for expressions, the input and a caret."""
    one_line = " ".join(message.split())
    with contextlib.suppress(BrokenPipeError, ValueError):
        sys.stdout.flush()  # keep whatever was written before the error in order
    print(f"agrad: error: {one_line}", *context, sep="\n", file=sys.stderr)
    return int(code)


def _quiet_broken_pipe() -> None:
    # The reader went away (`| head`): stop writing, and keep Python from
    # complaining about the unflushed stdout at exit. Exit 1 without a message,
    # as Rich does for the table view, so both views end the same way.
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _show_version(value: bool) -> None:
    if value:
        from autograd_cli.render.emit import write_text
        from autograd_cli.versions import version_line

        write_text(version_line() + "\n")
        raise typer.Exit()


app = typer.Typer(
    cls=AgradGroup,
    name="agrad",
    help=(
        "Shows what PyTorch autograd does: the grad_fn chain behind a result, the "
        "gradients that land in .grad, and how they accumulate across backward() calls. "
        "Rich tables for people, strict JSON (--json) for scripts."
    ),
    epilog=(
        "Exit codes: 0 success, 1 runtime failure, 2 bad usage, 130 interrupted. "
        "Try: agrad linear --seed 0, agrad jvp --repeat 3 --json."
    ),
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_show_version,
            help="Print agrad's, torch's and Python's versions and exit.",
        ),
    ] = False,
) -> None:
    """Shows what PyTorch autograd does, as tables or JSON."""


def _int_parser(low: int, high: int, what: str = "") -> Any:
    """A Typer parser for an integer in [low, high] whose error names the range."""
    allowed = f"an integer from {low} to {high}{what}"

    def parse(text: str | int) -> int:
        if isinstance(text, int):  # the declared default arrives already parsed
            return text
        try:
            number = int(text.strip(), 10)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not an integer; allowed: {allowed}.") from None
        if not low <= number <= high:
            raise typer.BadParameter(f"{number} is out of range; allowed: {allowed}.")
        return number

    return parse


class SeedSpec(NamedTuple):
    """--seed as given: one seed, or a sweep over a range or list of seeds."""

    seeds: tuple[int, ...]
    sweep: bool  # written as a range or a list, even of one seed


def _parse_seeds(text: str | int | SeedSpec) -> SeedSpec:
    """`7`, `0..999` (inclusive), `1,5,9`, or a mix such as `0..9,100,200..210`."""
    if isinstance(text, SeedSpec):
        return text
    if isinstance(text, int):  # the declared default
        return SeedSpec((text,), sweep=False)
    one = _int_parser(SEED_MIN, SEED_MAX, " (what torch.manual_seed accepts)")
    form = "S, A..B (inclusive, A <= B) or a comma-separated list of those, e.g. 0..999 or 1,5,9"
    seeds: list[int] = []
    for item in text.split(","):
        low, dots, high = item.strip().partition("..")
        if not dots:
            seeds.append(one(low))
        else:
            if not low.strip() or not high.strip():
                raise typer.BadParameter(f"{item.strip()!r} is not a range; allowed: {form}.")
            first, last = one(low), one(high)
            if first > last:
                raise typer.BadParameter(
                    f"{item.strip()!r} is an empty range (start > end); allowed: {form}."
                )
            if last - first + 1 + len(seeds) > MAX_SEEDS:
                seeds.extend(range(MAX_SEEDS + 1))  # reported just below
            else:
                seeds.extend(range(first, last + 1))
        if len(seeds) > MAX_SEEDS:
            raise typer.BadParameter(
                f"more than {MAX_SEEDS:,} seeds; a sweep runs at most {MAX_SEEDS:,}."
            )
    return SeedSpec(tuple(seeds), sweep=len(seeds) > 1 or "," in text or ".." in text)


SeedOption = Annotated[
    SeedSpec,
    typer.Option(
        "--seed",
        parser=_parse_seeds,
        metavar="S",
        help=f"torch.manual_seed(S) before the statements; {SEED_MIN} to {SEED_MAX}. A range "
        f"A..B or a list 1,5,9 (up to {MAX_SEEDS:,} seeds) sweeps them all in one process: "
        "JSON Lines with --json, one summary table otherwise.",
    ),
]


def _parse_format(text: str) -> str:
    fmt = text.strip().lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{text!r} is not one of: {', '.join(FORMATS)}.")
    return fmt


JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Shorthand for --format json."),
]
FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        parser=_parse_format,
        metavar="[" + "|".join(FORMATS) + "]",
        help="table: the human view. json: one strict JSON document. dot: Graphviz DOT "
        "text of the backward graph (render with dot -Tsvg). mermaid: a Mermaid flowchart "
        "for Markdown.",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        parser=lambda text: Path(text) if isinstance(text, str) else text,
        metavar="FILE",
        help="Write to FILE instead of stdout. FILE.svg or FILE.png draws the graph "
        "with Graphviz's dot program (which must be installed).",
    ),
]
ExportOption = Annotated[
    Path | None,
    typer.Option(
        "--export",
        parser=lambda text: Path(text) if isinstance(text, str) else text,
        metavar="FILE",
        help="Also write the human view to FILE.svg (a picture), FILE.html (a page) or "
        "FILE.txt, for slides and notes; stdout is unchanged.",
    ),
]
SavedFlag = Annotated[
    bool,
    typer.Option(
        "--saved",
        help="Show what each node saved for backward (tensors, alpha, reduction...) in "
        "the tree, DOT and Mermaid views. JSON always carries it.",
    ),
]
MaxNodesOption = Annotated[
    int | None,
    typer.Option(
        "--max-nodes",
        parser=_int_parser(1, MAX_NODES_CAP),
        metavar="N",
        help="Show at most N nodes of the graph, in walk order. Default: 200 in the "
        "tree view, every node in json, dot and mermaid.",
    ),
]
PrecisionOption = Annotated[
    int,
    typer.Option(
        "--precision",
        parser=_int_parser(0, MAX_PRECISION),
        metavar="N",
        help=f"Decimals shown in tables and graph labels (0-{MAX_PRECISION}). JSON is always "
        "full precision.",
    ),
]


def _parse_color(text: str) -> str:
    mode = text.strip().lower()
    if mode not in COLOR_MODES:
        raise typer.BadParameter(f"{text!r} is not one of: {', '.join(COLOR_MODES)}.")
    return mode


ColorOption = Annotated[
    str,
    typer.Option(
        "--color",
        parser=_parse_color,
        metavar="[" + "|".join(COLOR_MODES) + "]",
        help="Colour in tables: auto (only on a terminal, off when NO_COLOR is set), "
        "always, or never.",
    ),
]


@app.command(
    cls=AgradCommand,
    short_help="The tutorial's network z = x·w + b: graph, w.grad, b.grad, no_grad.",
    epilog="Example: agrad linear --seed 0 --json | jq '.gradients[0].value'",
)
def linear(
    seed: SeedOption = 0,
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    color: ColorOption = "auto",
) -> None:
    """The tutorial's one-layer network: z = x·w + b, loss = BCE-with-logits(z, y).

    Runs torch.manual_seed(S) and exactly the tutorial's statements, then shows the
    tensors, z.grad_fn and loss.grad_fn, the whole grad_fn chain from loss to the
    leaves w and b, w.grad and b.grad after loss.backward(), and how torch.no_grad()
    and detach() turn gradient tracking off.
    """
    _run(
        "linear",
        {},
        seed,
        fmt,
        json,
        OutputOptions(precision, color, output, saved, max_nodes, export),
    )


@app.command(
    cls=AgradCommand,
    short_help="Jacobian products vᵀ·J and how .grad accumulates over backward() calls.",
    epilog="Example: agrad jvp --repeat 3 --json | jq '.steps[-2].grad'",
)
def jvp(
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            parser=_int_parser(1, MAX_REPEAT),
            metavar="N",
            help=f"How many backward() calls accumulate before zeroing (1-{MAX_REPEAT}).",
        ),
    ] = 2,
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    color: ColorOption = "auto",
) -> None:
    """The tutorial's Jacobian product: out = (inp + 1).pow(2).t(), inp = eye(4, 5).

    Calls out.backward(torch.ones_like(out), retain_graph=True) N times and shows
    inp.grad after each call: every call adds the vector-Jacobian product vᵀ·J =
    2·(inp + 1) again. Then inp.grad.zero_() and one more call, as in the tutorial's
    "First call / Second call / Call after zeroing gradients".
    """
    _run(
        "jvp",
        {"repeat": repeat},
        None,
        fmt,
        json,
        OutputOptions(precision, color, output, saved, max_nodes, export),
    )


@app.command(
    cls=AgradCommand,
    short_help="A deep graph on purpose: h = tanh(h @ a + b) unrolled over N steps.",
    epilog="Example: agrad chain --length 100000 --format json | jq '.graph.node_count'",
)
def chain(
    length: Annotated[
        int,
        typer.Option(
            "--length",
            parser=_int_parser(1, MAX_LENGTH),
            metavar="N",
            help=f"Time steps to unroll (1-{MAX_LENGTH:,}); each adds three nodes.",
        ),
    ] = 10,
    hidden: Annotated[
        int,
        typer.Option(
            "--hidden",
            parser=_int_parser(1, MAX_HIDDEN),
            metavar="H",
            help=f"Hidden size: h is (1, H), a is (H, H), b is (H,) (1-{MAX_HIDDEN}).",
        ),
    ] = 4,
    seed: SeedOption = 0,
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    color: ColorOption = "auto",
) -> None:
    """An RNN-like recurrence unrolled over N time steps: a graph as deep as you like.

    h = tanh(h @ a + b), N times from h0, then loss = h.sum(); the leaves are h0, a and
    b. Use it to see how agrad (and autograd) behave as graphs grow: agrad walks
    graphs of any depth without recursion, and --length 100000 (300,004 nodes)
    works in every format. The tree view shows the first 200 nodes (--max-nodes).
    """
    _run(
        "chain",
        {"length": length, "hidden": hidden},
        seed,
        fmt,
        json,
        OutputOptions(precision, color, output, saved, max_nodes, export),
    )


class OutputOptions(NamedTuple):
    """The output options every command shares, as parsed."""

    precision: int
    color: str
    output: Path | None
    saved: bool
    max_nodes: int | None
    export: Path | None


EXPR_HELP = "\n\n".join("\b\n" + block.strip("\n") for block in GRAMMAR.strip().split("\n\n"))


def _parse_dtype(text: str) -> str:
    if text.strip() not in DTYPE_NAMES:
        raise typer.BadParameter(f"{text!r} is not one of: {', '.join(DTYPE_NAMES)}.")
    return text.strip()


@app.command(
    cls=AgradCommand,
    short_help='The graph and gradients of your own expression, e.g. "(x + 1).pow(2).t()".',
    epilog=EXPR_HELP,
)
def expr(
    expression: Annotated[
        str | None,
        typer.Argument(
            metavar="EXPR",
            parser=lambda text: text,
            help='The expression, e.g. "(x + 1).pow(2).t()"; the grammar is below.',
            show_default=False,
        ),
    ] = None,
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            metavar="NAME=CONSTRUCTOR",
            help="Declare a variable, e.g. --var x=eye(4,5); repeat for more. Floating "
            "variables require grad.",
            show_default=False,
        ),
    ] = None,
    no_grad: Annotated[
        list[str] | None,
        typer.Option(
            "--no-grad",
            metavar="NAME",
            help="Variable NAME does not require grad (repeatable).",
            show_default=False,
        ),
    ] = None,
    seed: SeedOption = 0,
    dtype: Annotated[
        str,
        typer.Option(
            "--dtype",
            parser=_parse_dtype,
            metavar="[float32|float64]",
            help="dtype of floating variables (float32 as the tutorial).",
        ),
    ] = "float32",
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            parser=_int_parser(1, MAX_REPEAT),
            metavar="N",
            help=f"backward() calls (1-{MAX_REPEAT}); with N > 1 also shows how .grad "
            "accumulates, then zero_() and one more call, as agrad jvp does.",
        ),
    ] = 1,
    grammar: Annotated[
        bool, typer.Option("--grammar", help="Print the grammar of EXPR and exit.")
    ] = False,
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    color: ColorOption = "auto",
) -> None:
    """The autograd graph and gradients of your own tensor expression.

    Example: agrad expr "(x + 1).pow(2).t()" --var x=eye(4,5). The expression is
    parsed and checked against a whitelist (below) before anything runs; it is
    evaluated by agrad, never by Python's eval. A non-scalar out is back-propagated
    with v = torch.ones_like(out), i.e. the gradient of out.sum(). --seed S seeds
    the random variables in --var order.
    """
    if grammar:
        from autograd_cli.render.emit import write_text

        write_text(GRAMMAR.lstrip("\n"))
        return
    if expression is None:
        raise UsageProblem('missing EXPR, e.g. agrad expr "x.sum()" --var x=ones(3)')
    from autograd_cli.expression.check import check_expression
    from autograd_cli.expression.variables import parse_variables

    variables = parse_variables(list(var or []))
    declared = [v.name for v in variables]
    for name in no_grad or []:
        if name not in declared:
            raise UsageProblem(
                f"--no-grad {name}: no such variable; declared: {', '.join(declared) or 'none'}"
            )
    checked = check_expression(expression, declared)
    params = {
        "expression": checked,
        "variables": variables,
        "dtype": dtype,
        "no_grad": set(no_grad or []),
        "repeat": repeat,
    }
    _run(
        "expr",
        params,
        seed,
        fmt,
        json,
        OutputOptions(precision, color, output, saved, max_nodes, export),
    )


@app.command(
    cls=AgradCommand,
    short_help="Run many agrad command lines in one process, as JSON Lines.",
    epilog="Example: printf 'linear --seed 1\\njvp --repeat 3\\n' | agrad batch",
)
def batch(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            parser=lambda text: text,
            help="A file of agrad command lines, one per line; - (the default) reads stdin.",
        ),
    ] = "-",
) -> None:
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
    """
    from autograd_cli.batch import run_batch

    raise typer.Exit(run_batch(file, ctx.find_root().command))


def _run(
    command: str,
    params: dict[str, Any],
    seed: SeedSpec | None,
    fmt: str,
    json: bool,
    out: OutputOptions,
) -> None:
    """Checks the options that depend on each other, then hands over to the runner."""
    if json:
        if fmt not in ("table", "json"):
            raise UsageProblem(
                f"--json means --format json; it cannot be combined with --format {fmt}"
            )
        fmt = "json"
    from autograd_cli.runner import RunOptions, run_command, run_sweep

    options = RunOptions(format=fmt, **out._asdict())
    if seed is not None and seed.sweep:
        if fmt not in ("table", "json"):
            raise UsageProblem(f"a --seed sweep writes json or table, not --format {fmt}")
        if out.output is not None or out.export is not None:
            flag = "--output" if out.output is not None else "--export"
            raise UsageProblem(
                f"a --seed sweep streams to stdout; redirect it (> sweep.jsonl) instead of {flag}"
            )
        run_sweep(command, params, seed.seeds, options)
        return
    if seed is not None:
        params = {**params, "seed": seed.seeds[0]}
    run_command(command, params, options)


def run() -> None:
    """Console-script entry point."""
    app()
