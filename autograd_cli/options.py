"""The command line's shared options, declared once: caps, parsers, Typer types, and
the groups a scenario takes (scenarios/__init__.py: SEED, TENSOR, CHECK).

Every parser is plain Python over the text typed on the command line: it returns
the value or raises ValueError naming what is allowed. `from_text` makes it a Typer
`parser=`: a declared default arrives already parsed and passes unchanged, and a
ValueError becomes typer.BadParameter, which Click reports with the option's name.
Nothing here imports torch.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from autograd_cli.devices import DEVICES
from autograd_cli.i18n import LANGUAGES, N_, UnknownLanguage, _, choose_language, group
from autograd_cli.render.formats import Format

SEED_MIN = -(2**63)  # torch.manual_seed accepts any value that fits int64 or uint64
SEED_MAX = 2**64 - 1
MAX_REPEAT = 1000
MAX_PRECISION = 12
MAX_NODES_CAP = 10_000_000
MAX_SEEDS = 100_000
COLOR_MODES = ("auto", "always", "never")
DTYPE_NAMES = ("float32", "float64")


def from_text(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    """`parse` as a Typer parser (see the module docstring)."""

    def parser(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the declared default, already the parsed value
        try:
            return parse(value)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None

    parser.__doc__ = parse.__doc__
    return parser


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A parser for one of `choices` (any case), whose error lists them."""

    def parse(text: str) -> str:
        picked = text.strip().lower()
        if picked not in choices:
            raise ValueError(
                _("{value!r} is not one of: {choices}.").format(
                    value=text, choices=", ".join(choices)
                )
            )
        return picked

    return parse


ASCII_DIGITS = frozenset("0123456789")
# A number in ASCII decimal notation: 12, -0.5, .5, 1e-7 (never "nan", "inf" or "1_0").
ASCII_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
MAX_DIGITS = 100  # more than any range here needs; int() itself stops at 4,300


def _ascii_integer(text: str) -> bool:
    """An optional sign, then ASCII digits only."""
    body = text[1:] if text[:1] in "+-" else text
    return bool(body) and all(ch in ASCII_DIGITS for ch in body)


def integer(low: int, high: int, what: str = "") -> Callable[[str], int]:
    """A parser for an integer in [low, high] whose error names the range.

    `what` (a catalog message) says more about the range, e.g. who sets it."""

    def parse(text: str) -> int:
        allowed = _("an integer from {low} to {high}").format(low=low, high=high)
        if what:
            allowed += " " + _(what)
        digits = text.strip()
        # ASCII digits only: int() would also take "١٢" (Arabic-Indic) and "1_000".
        if not _ascii_integer(digits):
            raise ValueError(
                _("{value!r} is not an integer; allowed: {allowed}.").format(
                    value=text, allowed=allowed
                )
            )
        if len(digits) > MAX_DIGITS:  # int() refuses past 4,300 digits; out of range anyway
            raise ValueError(
                _("a number of {count} digits is out of range; allowed: {allowed}.").format(
                    count=len(digits.lstrip("+-")), allowed=allowed
                )
            )
        number = int(digits, 10)
        if not low <= number <= high:
            raise ValueError(
                _("{number} is out of range; allowed: {allowed}.").format(
                    number=number, allowed=allowed
                )
            )
        return number

    return parse


def positive(option: str) -> Callable[[str], float]:
    """A parser for a positive, finite float (--vanish, --explode)."""

    def parse(text: str) -> float:
        # ASCII decimal notation only: float() also reads "١e-7", "1_0" and "infinity".
        value = float(text) if ASCII_DECIMAL.fullmatch(text.strip()) else float("nan")
        if not (value > 0 and value != float("inf")):
            raise ValueError(
                _(
                    "{value!r} is not allowed; {option} is a positive finite number such as 1e-7."
                ).format(value=text, option=option)
            )
        return value

    return parse


def non_negative(option: str) -> Callable[[str], float]:
    """A parser for a finite float >= 0 (gradcheck's --atol, --rtol, --nondet-tol)."""

    def parse(text: str) -> float:
        value = float(text) if ASCII_DECIMAL.fullmatch(text.strip()) else float("nan")
        if not (value >= 0 and value != float("inf")):
            raise ValueError(
                _(
                    "{value!r} is not allowed; {option} is a finite number >= 0 such as 1e-5."
                ).format(value=text, option=option)
            )
        return value

    return parse


def text(value: str) -> str:
    """A parser that keeps the text as typed (arguments such as EXPR and FILE)."""
    return value


@dataclass(frozen=True)
class SeedSpec:
    """--seed as given: one seed, or a sweep over a range or list of seeds."""

    seeds: tuple[int, ...]
    sweep: bool  # written as a range or a list, even of one seed

    def __str__(self) -> str:  # as --help shows the default
        return ",".join(map(str, self.seeds))


def parse_seeds(text: str) -> SeedSpec:
    """`7`, `0..999` (inclusive), `1,5,9`, or a mix such as `0..9,100,200..210`."""
    one = integer(SEED_MIN, SEED_MAX, N_("(what torch.manual_seed accepts)"))
    form = _("S, A..B (inclusive, A <= B) or a comma-separated list of those, e.g. 0..999 or 1,5,9")
    seeds: list[int] = []
    for item in text.split(","):
        low, dots, high = item.strip().partition("..")
        if not dots:
            seeds.append(one(low))
        else:
            if not low.strip() or not high.strip():
                raise ValueError(
                    _("{value!r} is not a range; allowed: {form}.").format(
                        value=item.strip(), form=form
                    )
                )
            first, last = one(low), one(high)
            if first > last:
                raise ValueError(
                    _("{value!r} is an empty range (start > end); allowed: {form}.").format(
                        value=item.strip(), form=form
                    )
                )
            if last - first + 1 + len(seeds) > MAX_SEEDS:
                seeds.extend(range(MAX_SEEDS + 1))  # reported just below
            else:
                seeds.extend(range(first, last + 1))
        if len(seeds) > MAX_SEEDS:
            raise ValueError(
                _("more than {count} seeds; a sweep runs at most {count}.").format(
                    count=group(MAX_SEEDS)
                )
            )
    return SeedSpec(tuple(seeds), sweep=len(seeds) > 1 or "," in text or ".." in text)


def parse_language(text: str) -> str:
    """--lang: applied before parsing (typer_classes.py reads it from argv first, so
    that --help and parse errors already speak it); checked again here."""
    try:
        return choose_language(text, {})
    except UnknownLanguage as e:
        raise ValueError(e.message()) from None


def _choice_metavar(choices: tuple[str, ...]) -> str:
    return "[" + "|".join(choices) + "]"


FORMATS = tuple(f.value for f in Format)


def option(annotation: Any, *flags: str, parse: Any = None, **info: Any) -> Any:
    """A Typer option type: `flags`, its text parsed by `parse` (see `from_text`)."""
    parser = None if parse is None else from_text(parse)
    return Annotated[annotation, typer.Option(*flags, parser=parser, **info)]


def choice_option(flag: str, choices: tuple[str, ...], help: str) -> Any:
    return option(
        str,
        flag,
        parse=choice(choices),
        metavar=_choice_metavar(choices),
        help=help,
        autocompletion=lambda: list(choices),  # for shell completion
    )


def integer_option(flag: str, low: int, high: int, help: str, metavar: str = "N") -> Any:
    return option(int, flag, parse=integer(low, high), metavar=metavar, help=help)


def flag_option(flag: str, help: str) -> Any:
    return Annotated[bool, typer.Option(flag, help=help)]


def target_argument(help: str) -> Any:
    """inspect's and gradcheck's TARGET, PATH.py:NAME or module.path:NAME, completed from
    the file's syntax (completion.py); `help` says what NAME is for the command."""
    from autograd_cli.completion import complete_target
    from autograd_cli.targets import TargetSpec, parse_target

    return Annotated[
        TargetSpec,
        typer.Argument(
            metavar="TARGET",
            parser=from_text(parse_target),
            autocompletion=complete_target,
            help=help,
            show_default=False,
        ),
    ]


def repeated_option(flag: str, metavar: str, help: str) -> Any:
    """An option given any number of times (--var, --arg), its texts as typed."""
    return Annotated[
        list[str] | None, typer.Option(flag, metavar=metavar, help=help, show_default=False)
    ]


SeedOption = option(
    SeedSpec,
    "--seed",
    parse=parse_seeds,
    metavar="S",
    help=f"torch.manual_seed(S) before the statements; {SEED_MIN} to {SEED_MAX}. A range "
    f"A..B or a list 1,5,9 (up to {MAX_SEEDS:,} seeds) sweeps them all in one process: "
    "JSON Lines with --json, one summary table otherwise.",
)
DtypeOption = choice_option(
    "--dtype", DTYPE_NAMES, "dtype of the floating tensors (float32, as the tutorial)."
)
DeviceOption = choice_option(
    "--device",
    DEVICES,
    "Where the tensors live: cpu (the tutorial's), cuda, mps, or auto (an "
    "accelerator when there is one). Random numbers on an accelerator come from its "
    "own generator.",
)
PrecisionOption = integer_option(
    "--precision",
    0,
    MAX_PRECISION,
    f"Decimals shown in tables and graph labels (0-{MAX_PRECISION}). JSON is always "
    "full precision.",
)
FormatOption = option(
    Format,
    "--format",
    "-f",
    parse=lambda value: Format(choice(FORMATS)(value)),
    metavar=_choice_metavar(FORMATS),
    help="table: the human view. json: one strict JSON document. dot: Graphviz DOT "
    "text of the backward graph (render with dot -Tsvg). mermaid: a Mermaid flowchart "
    "for Markdown.",
)
JsonFlag = flag_option("--json", "Shorthand for --format json.")
OutputOption = option(
    Path | None,
    "--output",
    "-o",
    parse=Path,
    metavar="FILE",
    help="Write to FILE instead of stdout. FILE.svg or FILE.png draws the graph "
    "with Graphviz's dot program (which must be installed).",
)
ExportOption = option(
    Path | None,
    "--export",
    parse=Path,
    metavar="FILE",
    help="Also write the human view to FILE.svg (a picture), FILE.html (a page) or "
    "FILE.txt, for slides and notes; stdout is unchanged.",
)
SavedFlag = flag_option(
    "--saved",
    "Show what each node saved for backward (tensors, alpha, reduction...) in "
    "the tree, DOT and Mermaid views, and as each node's saved_tensors and "
    "saved_attributes in the JSON (left out without it).",
)
MaxNodesOption = option(
    int | None,
    "--max-nodes",
    parse=integer(1, MAX_NODES_CAP),
    metavar="N",
    help="Show at most N nodes of the graph, in walk order. Default: 200 in the "
    "tree view, every node in json, dot and mermaid.",
)
CheckFlag = flag_option(
    "--check",
    "Recompute every leaf's gradient independently (central finite differences "
    "in float64) and compare; a gradient outside the tolerance exits 3.",
)
ColorOption = choice_option(
    "--color",
    COLOR_MODES,
    "Colour in tables: auto (only on a terminal, off when NO_COLOR is set), always, or never.",
)
QuietFlag = flag_option(
    "--quiet",
    "No progress bar on stderr. Without it, a graph walk, its output or a --seed sweep "
    "that lasts more than a second shows one there (on a terminal only).",
)
LangOption = option(
    str | None,
    "--lang",
    parse=parse_language,
    metavar=_choice_metavar(LANGUAGES),
    autocompletion=lambda: list(LANGUAGES),
    help="Language of the human text: en or vi. Default: AGRAD_LANG, else the locale "
    "(LC_ALL, LC_MESSAGES, LANG, e.g. vi_VN.UTF-8), else en. JSON never changes.",
    show_default=False,
)
# Shared by the commands that show a Jacobian (jvp, vjp, expr).
JacobianFlag = flag_option(
    "--jacobian",
    "Also show the full Jacobian (torch.func.jacrev, checked against jacfwd), "
    "flattened to (outputs x inputs), and check that vᵀ·J equals backward(v)'s .grad.",
)


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


# The shared options, in the order --help lists them after a command's own, each
# with the group that brings it: a scenario takes some of seed, tensor and check
# (scenarios/__init__.py); every scenario command takes output, color and lang.
SHARED_OPTIONS: tuple[tuple[str, inspect.Parameter], ...] = (
    ("seed", _option("seed", SeedOption, SeedSpec((0,), sweep=False))),
    ("tensor", _option("dtype", DtypeOption, "float32")),
    ("tensor", _option("device", DeviceOption, "cpu")),
    ("output", _option("precision", PrecisionOption, 4)),
    ("output", _option("fmt", FormatOption, Format.TABLE)),
    ("output", _option("json", JsonFlag, False)),
    ("output", _option("output", OutputOption, None)),
    ("output", _option("export", ExportOption, None)),
    ("output", _option("saved", SavedFlag, False)),
    ("output", _option("max_nodes", MaxNodesOption, None)),
    ("check", _option("check", CheckFlag, False)),
    ("color", _option("color", ColorOption, "auto")),
    ("output", _option("quiet", QuietFlag, False)),
    # Read from argv before parsing (typer_classes.py); declared so that it is
    # accepted anywhere and listed in every --help.
    ("lang", _option("lang", LangOption, None)),
)


def shared_options(groups: tuple[str, ...], graph: bool = True) -> list[inspect.Parameter]:
    """The shared options of the groups named, in --help order; with graph=False, those
    of a command that draws no backward graph (GRAPHLESS)."""
    found = [option for group_, option in SHARED_OPTIONS if group_ in groups]
    if graph:
        return found
    return [GRAPHLESS.get(p.name, p) for p in found if p.name not in GRAPH_ONLY]


# A command that draws no backward graph (gradcheck) neither takes the options that only
# shape a graph nor lists the graph formats and pictures in its --help. dot and mermaid
# still parse, so that the refusal says why (render/output.py's plan_output).
GRAPH_ONLY = ("saved", "max_nodes")
TEXT_FORMATS = ("table", "json")
GRAPHLESS = {
    "fmt": _option(
        "fmt",
        option(
            Format,
            "--format",
            "-f",
            parse=lambda value: Format(choice(FORMATS)(value)),
            metavar=_choice_metavar(TEXT_FORMATS),
            autocompletion=lambda: list(TEXT_FORMATS),
            help="table: the human view. json: one strict JSON document.",
        ),
        Format.TABLE,
    ),
    "output": _option(
        "output",
        option(
            Path | None,
            "--output",
            "-o",
            parse=Path,
            metavar="FILE",
            help="Write to FILE instead of stdout.",
        ),
        None,
    ),
}
