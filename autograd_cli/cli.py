"""The `agrad` command line: parse options, pick a format, hand over to `runner`.

Nothing here imports torch or Rich at module level, so `agrad --help` stays as fast
as any Typer app. Commands only declare options and call `runner.run_command`.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from autograd_cli.errors import AgradError, ExitCode

SEED_MIN = -(2**63)  # torch.manual_seed accepts any value that fits int64 or uint64
SEED_MAX = 2**64 - 1
MAX_REPEAT = 1000
MAX_PRECISION = 12


COLOR_MODES = ("auto", "always", "never")


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
        if self.parser is not None and isinstance(value, str):
            return self.parser(value)
        return value


def _with_direct_coercion(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "_runtime_param", False) is not None:
            continue  # already set, or not a Typer parameter
        info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
        parser = getattr(info, "parser", None)
        if parser is not None or getattr(param, "is_flag", False):
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
        sys.exit(code)

    def get_params(self, ctx: Any) -> list[Any]:
        return _with_direct_coercion(super().get_params(ctx))


def _guarded(call: Any) -> int:
    """Calls the Click entry point; maps every outcome to an exit code."""
    try:
        rv = call()
    except typer.TyperException as e:  # Click's usage errors are TyperExceptions
        return _fail(_usage_message(e), getattr(e, "exit_code", ExitCode.USAGE))
    except AgradError as e:
        return _fail(e.message, e.exit_code)
    except typer.Abort:
        return _fail("aborted", ExitCode.RUNTIME)
    except KeyboardInterrupt:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except Exception as e:  # a bug or an environment failure: still one line, no traceback
        return _fail(f"internal error: {type(e).__name__}: {e}", ExitCode.RUNTIME)
    # Non-standalone Click returns the exit code of an Exit (e.g. 0 after --help);
    # Ctrl-C arrives here too, already turned into Exit(130) by Click.
    if rv == ExitCode.INTERRUPTED:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    return rv if isinstance(rv, int) else ExitCode.OK


def _usage_message(e: typer.TyperException) -> str:
    message = e.format_message()
    ctx = getattr(e, "ctx", None)
    if ctx is not None and message.startswith("No such command"):
        commands = ", ".join(ctx.command.list_commands(ctx))
        message = f"{message.rstrip('.')}; commands: {commands}"
    if ctx is not None:
        message = f"{message.rstrip('.')}. See '{ctx.command_path} --help'."
    return message


def _fail(message: str, code: int) -> int:
    one_line = " ".join(message.split())
    with contextlib.suppress(BrokenPipeError, ValueError):
        sys.stdout.flush()  # keep whatever was written before the error in order
    print(f"agrad: error: {one_line}", file=sys.stderr)
    return int(code)


def _quiet_broken_pipe() -> int:
    # The reader went away (`| head`): stop writing, and keep Python from
    # complaining about the unflushed stdout at exit. Exit 1 without a message,
    # as Rich does for the table view, so both views end the same way.
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return ExitCode.RUNTIME


def _show_version(value: bool) -> None:
    if value:
        from autograd_cli.render.emit import write_text
        from autograd_cli.versions import version_line

        write_text(version_line())
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


JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Write one JSON document to stdout instead of tables."),
]
PrecisionOption = Annotated[
    int,
    typer.Option(
        "--precision",
        parser=_int_parser(0, MAX_PRECISION),
        metavar="N",
        help=f"Decimals shown in tables (0-{MAX_PRECISION}). JSON is always full precision.",
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
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            parser=_int_parser(SEED_MIN, SEED_MAX, " (what torch.manual_seed accepts)"),
            metavar="S",
            help="torch.manual_seed(S) before the tutorial's statements; "
            f"{SEED_MIN} to {SEED_MAX}.",
        ),
    ] = 0,
    precision: PrecisionOption = 4,
    json: JsonFlag = False,
    color: ColorOption = "auto",
) -> None:
    """The tutorial's one-layer network: z = x·w + b, loss = BCE-with-logits(z, y).

    Runs torch.manual_seed(S) and exactly the tutorial's statements, then shows the
    tensors, z.grad_fn and loss.grad_fn, the whole grad_fn chain from loss to the
    leaves w and b, w.grad and b.grad after loss.backward(), and how torch.no_grad()
    and detach() turn gradient tracking off.
    """
    from autograd_cli.runner import run_command

    run_command("linear", {"seed": seed}, json=json, precision=precision, color=color)


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
    json: JsonFlag = False,
    color: ColorOption = "auto",
) -> None:
    """The tutorial's Jacobian product: out = (inp + 1).pow(2).t(), inp = eye(4, 5).

    Calls out.backward(torch.ones_like(out), retain_graph=True) N times and shows
    inp.grad after each call: every call adds the vector-Jacobian product vᵀ·J =
    2·(inp + 1) again. Then inp.grad.zero_() and one more call, as in the tutorial's
    "First call / Second call / Call after zeroing gradients".
    """
    from autograd_cli.runner import run_command

    run_command("jvp", {"repeat": repeat}, json=json, precision=precision, color=color)


def run() -> None:
    """Console-script entry point."""
    app()
