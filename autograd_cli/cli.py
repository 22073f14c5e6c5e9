"""The `agrad` command line: parse options, pick a format, hand over to `runner`.

Nothing here imports torch or Rich at module level, so `agrad --help` stays as fast
as any Typer app. Commands only declare options and call `runner.run_command`.
"""

from typing import Annotated, Any

import typer

from autograd_cli.errors import UsageProblem
from autograd_cli.expression.grammar import GRAMMAR
from autograd_cli.i18n import _
from autograd_cli.options import (
    MAX_HIDDEN,
    MAX_LENGTH,
    MAX_REPEAT,
    CheckFlag,
    ColorOption,
    DeviceOption,
    DtypeOption,
    ExportOption,
    FormatOption,
    JacobianFlag,
    JsonFlag,
    LangOption,
    MaxNodesOption,
    ModeOption,
    OutputOption,
    OutputOptions,
    PrecisionOption,
    SavedFlag,
    SeedOption,
    SeedSpec,
    TangentOption,
    TargetSpec,
    int_parser,
    parse_fail_on,
    parse_target,
    threshold_parser,
)
from autograd_cli.typer_classes import AgradCommand, AgradGroup


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
        "Exit codes: 0 success, 1 runtime failure, 2 bad usage, 3 failed --check, "
        "130 interrupted. "
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
    lang: LangOption = None,
) -> None:
    """Shows what PyTorch autograd does, as tables or JSON."""


@app.command(
    cls=AgradCommand,
    short_help="The tutorial's network z = x·w + b: graph, w.grad, b.grad, no_grad.",
    epilog="Example: agrad linear --seed 0 --json | jq '.gradients[0].value'",
)
def linear(
    seed: SeedOption = 0,
    dtype: DtypeOption = "float32",
    device: DeviceOption = "cpu",
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    check: CheckFlag = False,
    color: ColorOption = "auto",
    lang: LangOption = None,
) -> None:
    """The tutorial's one-layer network: z = x·w + b, loss = BCE-with-logits(z, y).

    Runs torch.manual_seed(S) and exactly the tutorial's statements, then shows the
    tensors, z.grad_fn and loss.grad_fn, the whole grad_fn chain from loss to the
    leaves w and b, w.grad and b.grad after loss.backward(), and how torch.no_grad()
    and detach() turn gradient tracking off.
    """
    _run(
        "linear",
        {"check": check, "device": device, "dtype": dtype},
        seed,
        fmt,
        json,
        OutputOptions(precision, color, output, saved, max_nodes, export),
    )


RepeatOption = Annotated[
    int,
    typer.Option(
        "--repeat",
        parser=int_parser(1, MAX_REPEAT),
        metavar="N",
        help=f"How many backward() calls accumulate before zeroing (1-{MAX_REPEAT}).",
    ),
]


@app.command(
    cls=AgradCommand,
    short_help="Jacobian products vᵀ·J and how .grad accumulates over backward() calls.",
    epilog="Example: agrad jvp --repeat 3 --json | jq '.steps[-2].grad'",
)
def jvp(
    repeat: RepeatOption = 2,
    mode: ModeOption = "reverse",
    tangent: TangentOption = "ones",
    jacobian: JacobianFlag = False,
    dtype: DtypeOption = "float32",
    device: DeviceOption = "cpu",
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    check: CheckFlag = False,
    color: ColorOption = "auto",
    lang: LangOption = None,
) -> None:
    """The tutorial's Jacobian product: out = (inp + 1).pow(2).t(), inp = eye(4, 5).

    Calls out.backward(torch.ones_like(out), retain_graph=True) N times and shows
    inp.grad after each call: every call adds the vector-Jacobian product vᵀ·J =
    2·(inp + 1) again. Then inp.grad.zero_() and one more call, as in the tutorial's
    "First call / Second call / Call after zeroing gradients". --mode forward computes
    J·t instead (torch.func.jvp); --jacobian shows J itself.
    """
    params = {
        "repeat": repeat,
        "check": check,
        "mode": mode,
        "tangent": tangent,
        "jacobian": jacobian,
        "device": device,
        "dtype": dtype,
    }
    outputs = OutputOptions(precision, color, output, saved, max_nodes, export)
    _run("jvp", params, None, fmt, json, outputs)


@app.command(
    cls=AgradCommand,
    short_help="agrad jvp in reverse mode: what out.backward(v) computes, vᵀ·J.",
    epilog="Example: agrad vjp --jacobian",
)
def vjp(
    repeat: RepeatOption = 2,
    jacobian: JacobianFlag = False,
    dtype: DtypeOption = "float32",
    device: DeviceOption = "cpu",
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    check: CheckFlag = False,
    color: ColorOption = "auto",
    lang: LangOption = None,
) -> None:
    """An alias of agrad jvp --mode reverse: out.backward(v) computes the
    vector-Jacobian product vᵀ·J, which is what the tutorial's "Jacobian product" is."""
    jvp(
        repeat=repeat,
        mode="reverse",
        tangent="ones",
        jacobian=jacobian,
        dtype=dtype,
        device=device,
        precision=precision,
        fmt=fmt,
        json=json,
        output=output,
        export=export,
        saved=saved,
        max_nodes=max_nodes,
        check=check,
        color=color,
        lang=lang,
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
            parser=int_parser(1, MAX_LENGTH),
            metavar="N",
            help=f"Time steps to unroll (1-{MAX_LENGTH:,}); each adds three nodes.",
        ),
    ] = 10,
    hidden: Annotated[
        int,
        typer.Option(
            "--hidden",
            parser=int_parser(1, MAX_HIDDEN),
            metavar="H",
            help=f"Hidden size: h is (1, H), a is (H, H), b is (H,) (1-{MAX_HIDDEN}).",
        ),
    ] = 4,
    seed: SeedOption = 0,
    dtype: DtypeOption = "float32",
    device: DeviceOption = "cpu",
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    check: CheckFlag = False,
    color: ColorOption = "auto",
    lang: LangOption = None,
) -> None:
    """An RNN-like recurrence unrolled over N time steps: a graph as deep as you like.

    h = tanh(h @ a + b), N times from h0, then loss = h.sum(); the leaves are h0, a and
    b. Use it to see how agrad (and autograd) behave as graphs grow: agrad walks
    graphs of any depth without recursion, and --length 100000 (300,004 nodes)
    works in every format. The tree view shows the first 200 nodes (--max-nodes).
    """
    _run(
        "chain",
        {"length": length, "hidden": hidden, "check": check, "device": device, "dtype": dtype},
        seed,
        fmt,
        json,
        OutputOptions(precision, color, output, saved, max_nodes, export),
    )


@app.command(
    cls=AgradCommand,
    short_help="Gradient health of your own model: vanishing, exploding, dead, NaN, unused.",
    epilog="Examples: agrad inspect examples/mlp.py:build; agrad inspect "
    "examples/nan_sqrt.py:loss --anomaly; agrad inspect examples/rnn.py:build --json "
    "--fail-on vanishing,nonfinite (exit 3 when one is raised).",
)
def inspect(
    target: Annotated[
        TargetSpec,
        typer.Argument(
            metavar="TARGET",
            parser=parse_target,
            help="PATH.py:NAME or module.path:NAME. NAME is called and returns a scalar "
            "loss tensor, or (model, inputs, loss_fn), or (model, inputs, targets, loss_fn).",
            show_default=False,
        ),
    ],
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            metavar="KEY=VALUE",
            help="A keyword argument for NAME, e.g. --arg steps=500 (repeatable). VALUE "
            "becomes an int, a float, or else a string; it is never evaluated.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            parser=int_parser(0, 2**63 - 1),
            metavar="S",
            help="torch.manual_seed(S) before NAME is called (and before the file is run).",
        ),
    ] = 0,
    vanish: Annotated[
        float,
        typer.Option(
            "--vanish",
            parser=threshold_parser("--vanish"),
            metavar="X",
            help="A non-zero gradient with L2 norm below X is flagged vanishing.",
        ),
    ] = 1e-7,
    explode: Annotated[
        float,
        typer.Option(
            "--explode",
            parser=threshold_parser("--explode"),
            metavar="X",
            help="A gradient with L2 norm above X is flagged exploding.",
        ),
    ] = 1e3,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            parser=parse_fail_on,
            metavar="FLAGS",
            help="Exit 3 (after the output) when any of these flags is raised: a comma-"
            "separated list of vanishing, exploding, dead, nonfinite, unused, frozen, or any "
            "(all but frozen).",
            show_default=False,
        ),
    ] = "",
    anomaly: Annotated[
        bool,
        typer.Option(
            "--anomaly",
            help="With non-finite gradients, run NAME once more under "
            "torch.autograd.detect_anomaly() and name the first backward Function that "
            "returned NaN and the line of your code that created it.",
        ),
    ] = False,
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    color: ColorOption = "auto",
    lang: LangOption = None,
) -> None:
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
    nonfinite (NaN or inf), dead (all zeros), vanishing (norm below --vanish) or
    exploding (above --explode).
    Then the backward graph: its size, depth and nodes per grad_fn class, and the
    tree (or --format json|dot|mermaid). print() in your code goes to stderr.
    Exit 0 whatever the flags, unless --fail-on names one that is raised (exit 3);
    exit 2 when TARGET or its return value is wrong, 1 when your code raises.
    """
    from autograd_cli.options import parse_arguments

    params = {
        "target": target,
        "arguments": parse_arguments(list(arg or [])),
        "seed": seed,
        "vanish": vanish,
        "explode": explode,
        "fail_on": tuple(fail_on.split(",")) if fail_on else (),
        "anomaly": anomaly,
    }
    if vanish >= explode:
        raise UsageProblem(
            _("--vanish {vanish:g} must be below --explode {explode:g}").format(
                vanish=vanish, explode=explode
            )
        )
    _run(
        "inspect",
        params,
        None,
        fmt,
        json,
        OutputOptions(precision, color, output, saved, max_nodes, export),
    )


# The grammar, kept from rewrapping by Click ("\b" paragraphs), ends `agrad expr --help`.
EXPR_HELP = "\n\n".join("\b\n" + block.strip("\n") for block in GRAMMAR.strip().split("\n\n"))


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
            help="Declare a variable, e.g. --var 'x=eye(4,5)'; repeat for more. Floating "
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
    dtype: DtypeOption = "float32",
    device: DeviceOption = "cpu",
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            parser=int_parser(1, MAX_REPEAT),
            metavar="N",
            help=f"backward() calls (1-{MAX_REPEAT}); with N > 1 also shows how .grad "
            "accumulates, then zero_() and one more call, as agrad jvp does.",
        ),
    ] = 1,
    grammar: Annotated[
        bool, typer.Option("--grammar", help="Print the grammar of EXPR and exit.")
    ] = False,
    jacobian: JacobianFlag = False,
    precision: PrecisionOption = 4,
    fmt: FormatOption = "table",
    json: JsonFlag = False,
    output: OutputOption = None,
    export: ExportOption = None,
    saved: SavedFlag = False,
    max_nodes: MaxNodesOption = None,
    check: CheckFlag = False,
    color: ColorOption = "auto",
    lang: LangOption = None,
) -> None:
    """The autograd graph and gradients of your own tensor expression.

    Example: agrad expr "(x + 1).pow(2).t()" --var 'x=eye(4,5)'. The expression is
    parsed and checked against a whitelist (below) before anything runs; it is
    evaluated by agrad, never by Python's eval. A non-scalar out is back-propagated
    with v = torch.ones_like(out), i.e. the gradient of out.sum(). --seed S seeds
    the random variables in --var order.
    """
    if grammar:
        from autograd_cli.render.emit import write_text

        write_text(_(GRAMMAR.lstrip("\n")))
        return
    if expression is None:
        raise UsageProblem(_("missing EXPR, e.g. agrad expr \"x.sum()\" --var 'x=ones(3)'"))
    from autograd_cli.expression.check import check_expression
    from autograd_cli.expression.variables import parse_variables

    variables = parse_variables(list(var or []))
    declared = [v.name for v in variables]
    for name in no_grad or []:
        if name not in declared:
            raise UsageProblem(
                _("--no-grad {name}: no such variable; declared: {declared}").format(
                    name=name, declared=", ".join(declared) or _("none")
                )
            )
    checked = check_expression(expression, declared)
    params = {
        "expression": checked,
        "variables": variables,
        "dtype": dtype,
        "no_grad": set(no_grad or []),
        "repeat": repeat,
        "check": check,
        "jacobian": jacobian,
        "device": device,
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
    lang: LangOption = None,
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
                _(
                    "--json means --format json; it cannot be combined with --format {format}"
                ).format(format=fmt)
            )
        fmt = "json"
    from autograd_cli.runner import RunOptions, run_command, run_sweep

    options = RunOptions(format=fmt, **out._asdict())
    if seed is not None and seed.sweep:
        if fmt not in ("table", "json"):
            raise UsageProblem(
                _("a --seed sweep writes json or table, not --format {format}").format(format=fmt)
            )
        if out.output is not None or out.export is not None:
            flag = "--output" if out.output is not None else "--export"
            raise UsageProblem(
                _(
                    "a --seed sweep streams to stdout; redirect it (> sweep.jsonl) instead of "
                    "{option}"
                ).format(option=flag)
            )
        run_sweep(command, params, seed.seeds, options)
        return
    if seed is not None:
        params = {**params, "seed": seed.seeds[0]}
    run_command(command, params, options)


def run() -> None:
    """Console-script entry point."""
    app()
