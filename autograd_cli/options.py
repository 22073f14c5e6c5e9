"""The options the commands share: caps, parsers and Typer option types.

Every parser takes the text typed on the command line or the declared default, and
raises typer.BadParameter naming what is allowed. Nothing here imports torch.
"""

import keyword
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer

from autograd_cli.i18n import LANGUAGES, N_, UnknownLanguage, _, choose_language, group
from autograd_cli.model import HEALTH_FLAGS, PROBLEM_FLAGS

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


def choice_parser(choices: tuple[str, ...]) -> Any:
    """A Typer parser for one of `choices` (any case), whose error lists them."""

    def parse(text: str) -> str:
        choice = text.strip().lower()
        if choice not in choices:
            raise typer.BadParameter(
                _("{value!r} is not one of: {choices}.").format(
                    value=text, choices=", ".join(choices)
                )
            )
        return choice

    return parse


def as_path(text: str | Path) -> Path:
    return Path(text) if isinstance(text, str) else text


def int_parser(low: int, high: int, what: str = "") -> Any:
    """A Typer parser for an integer in [low, high] whose error names the range.

    `what` (a catalog message) says more about the range, e.g. who sets it."""

    def parse(text: str | int) -> int:
        if isinstance(text, int):  # the declared default arrives already parsed
            return text
        allowed = _("an integer from {low} to {high}").format(low=low, high=high)
        if what:
            allowed += " " + _(what)
        try:
            number = int(text.strip(), 10)
        except ValueError:
            raise typer.BadParameter(
                _("{value!r} is not an integer; allowed: {allowed}.").format(
                    value=text, allowed=allowed
                )
            ) from None
        if not low <= number <= high:
            raise typer.BadParameter(
                _("{number} is out of range; allowed: {allowed}.").format(
                    number=number, allowed=allowed
                )
            )
        return number

    return parse


class SeedSpec(NamedTuple):
    """--seed as given: one seed, or a sweep over a range or list of seeds."""

    seeds: tuple[int, ...]
    sweep: bool  # written as a range or a list, even of one seed


def parse_seeds(text: str | int | SeedSpec) -> SeedSpec:
    """`7`, `0..999` (inclusive), `1,5,9`, or a mix such as `0..9,100,200..210`."""
    if isinstance(text, SeedSpec):
        return text
    if isinstance(text, int):  # the declared default
        return SeedSpec((text,), sweep=False)
    one = int_parser(SEED_MIN, SEED_MAX, N_("(what torch.manual_seed accepts)"))
    form = _("S, A..B (inclusive, A <= B) or a comma-separated list of those, e.g. 0..999 or 1,5,9")
    seeds: list[int] = []
    for item in text.split(","):
        low, dots, high = item.strip().partition("..")
        if not dots:
            seeds.append(one(low))
        else:
            if not low.strip() or not high.strip():
                raise typer.BadParameter(
                    _("{value!r} is not a range; allowed: {form}.").format(
                        value=item.strip(), form=form
                    )
                )
            first, last = one(low), one(high)
            if first > last:
                raise typer.BadParameter(
                    _("{value!r} is an empty range (start > end); allowed: {form}.").format(
                        value=item.strip(), form=form
                    )
                )
            if last - first + 1 + len(seeds) > MAX_SEEDS:
                seeds.extend(range(MAX_SEEDS + 1))  # reported just below
            else:
                seeds.extend(range(first, last + 1))
        if len(seeds) > MAX_SEEDS:
            raise typer.BadParameter(
                _("more than {count} seeds; a sweep runs at most {count}.").format(
                    count=group(MAX_SEEDS)
                )
            )
    return SeedSpec(tuple(seeds), sweep=len(seeds) > 1 or "," in text or ".." in text)


SeedOption = Annotated[
    SeedSpec,
    typer.Option(
        "--seed",
        parser=parse_seeds,
        metavar="S",
        help=f"torch.manual_seed(S) before the statements; {SEED_MIN} to {SEED_MAX}. A range "
        f"A..B or a list 1,5,9 (up to {MAX_SEEDS:,} seeds) sweeps them all in one process: "
        "JSON Lines with --json, one summary table otherwise.",
    ),
]


JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Shorthand for --format json."),
]
FormatOption = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        parser=choice_parser(FORMATS),
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
        parser=as_path,
        metavar="FILE",
        help="Write to FILE instead of stdout. FILE.svg or FILE.png draws the graph "
        "with Graphviz's dot program (which must be installed).",
    ),
]
ExportOption = Annotated[
    Path | None,
    typer.Option(
        "--export",
        parser=as_path,
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
        parser=int_parser(1, MAX_NODES_CAP),
        metavar="N",
        help="Show at most N nodes of the graph, in walk order. Default: 200 in the "
        "tree view, every node in json, dot and mermaid.",
    ),
]
PrecisionOption = Annotated[
    int,
    typer.Option(
        "--precision",
        parser=int_parser(0, MAX_PRECISION),
        metavar="N",
        help=f"Decimals shown in tables and graph labels (0-{MAX_PRECISION}). JSON is always "
        "full precision.",
    ),
]


ColorOption = Annotated[
    str,
    typer.Option(
        "--color",
        parser=choice_parser(COLOR_MODES),
        metavar="[" + "|".join(COLOR_MODES) + "]",
        help="Colour in tables: auto (only on a terminal, off when NO_COLOR is set), "
        "always, or never.",
    ),
]


class OutputOptions(NamedTuple):
    """The output options every command shares, as parsed."""

    precision: int
    color: str
    output: Path | None
    saved: bool
    max_nodes: int | None
    export: Path | None


parse_dtype = choice_parser(DTYPE_NAMES)

CheckFlag = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Recompute every leaf's gradient independently (central finite differences "
        "in float64) and compare; a gradient outside the tolerance exits 3.",
    ),
]

JVP_MODES = ("reverse", "forward", "both")
JVP_SHAPE = (4, 5)  # inp = eye(4, 5)


def parse_tangent(text: str) -> str:
    """ones, randn, or onehot:I,J with 0 <= I < 4, 0 <= J < 5 (an element of inp)."""
    spec = text.strip().lower()
    if spec in ("ones", "randn"):
        return spec
    allowed = _("ones, randn, or onehot:I,J with I in 0-{i_max} and J in 0-{j_max}").format(
        i_max=JVP_SHAPE[0] - 1, j_max=JVP_SHAPE[1] - 1
    )
    head, _colon, rest = spec.partition(":")
    parts = rest.split(",")
    if head != "onehot" or len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise typer.BadParameter(
            _("{value!r} is not a tangent; allowed: {allowed}.").format(value=text, allowed=allowed)
        )
    i, j = (int(p) for p in parts)
    if not (i < JVP_SHAPE[0] and j < JVP_SHAPE[1]):
        raise typer.BadParameter(
            _("{value!r} is outside inp {shape}; allowed: {allowed}.").format(
                value=text, shape=JVP_SHAPE, allowed=allowed
            )
        )
    return f"onehot:{i},{j}"


ModeOption = Annotated[
    str,
    typer.Option(
        "--mode",
        parser=choice_parser(JVP_MODES),
        metavar="[" + "|".join(JVP_MODES) + "]",
        help="reverse: out.backward(v), vᵀ·J, as the tutorial. forward: torch.func.jvp, "
        "J·t, no backward pass. both: reverse, then forward, one after the other.",
    ),
]
TangentOption = Annotated[
    str,
    typer.Option(
        "--tangent",
        parser=parse_tangent,
        metavar="[ones|randn|onehot:I,J]",
        help="The t of forward mode's J·t: ones, randn (seeded with 0), or onehot:I,J, "
        "a 1 at inp[I, J].",
    ),
]
JacobianFlag = Annotated[
    bool,
    typer.Option(
        "--jacobian",
        help="Also show the full Jacobian (torch.func.jacrev, checked against jacfwd), "
        "flattened to (outputs x inputs), and check that vᵀ·J equals backward(v)'s .grad.",
    ),
]

DEVICES = ("cpu", "cuda", "mps", "auto")
DeviceOption = Annotated[
    str,
    typer.Option(
        "--device",
        parser=choice_parser(DEVICES),
        metavar="[" + "|".join(DEVICES) + "]",
        help="Where the tensors live: cpu (the tutorial's), cuda, mps, or auto (an "
        "accelerator when there is one). Random numbers on an accelerator come from its "
        "own generator.",
    ),
]
DtypeOption = Annotated[
    str,
    typer.Option(
        "--dtype",
        parser=parse_dtype,
        metavar="[float32|float64]",
        help="dtype of the floating tensors (float32, as the tutorial).",
    ),
]


# agrad inspect ------------------------------------------------------------------

INSPECT_FLAGS = HEALTH_FLAGS


class TargetSpec(NamedTuple):
    """`agrad inspect`'s TARGET: a Python file or an importable module, and a name in it."""

    text: str  # as typed
    path: Path | None  # a file to run, or None for a module
    module: str | None  # a dotted module name, or None for a file
    name: str


TARGET_FORMS = N_("PATH.py:NAME or module.path:NAME, e.g. examples/mlp.py:build")


def parse_target(text: str | TargetSpec) -> TargetSpec:
    if isinstance(text, TargetSpec):
        return text
    where, colon, name = text.rpartition(":")
    if not colon or not where or not name:
        raise typer.BadParameter(
            _("{value!r} names no callable; expected {forms}.").format(
                value=text, forms=_(TARGET_FORMS)
            )
        )
    if not name.isidentifier():
        raise typer.BadParameter(
            _("{name!r} is not a Python name; expected {forms}.").format(
                name=name, forms=_(TARGET_FORMS)
            )
        )
    if where.endswith(".py") or "/" in where or "\\" in where:
        return TargetSpec(text, Path(where), None, name)
    if all(part.isidentifier() for part in where.split(".")):
        return TargetSpec(text, None, where, name)
    raise typer.BadParameter(
        _("{where!r} is neither a .py file nor a dotted module name; expected {forms}.").format(
            where=where, forms=_(TARGET_FORMS)
        )
    )


def parse_arguments(items: list[str]) -> dict[str, int | float | str]:
    """--arg key=value, repeatable: an int, else a float, else the text as a string.

    Values are never evaluated: `--arg n=2**10` is the string "2**10".
    """
    from autograd_cli.errors import UsageProblem

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
        arguments[key] = _argument_value(raw)
    return arguments


def _argument_value(raw: str) -> int | float | str:
    text = raw.strip()
    try:
        return int(text, 10)
    except ValueError:
        pass
    # Only decimal notation is a number ("nan" and "inf" stay strings, as typed).
    if text and text.lstrip("+-")[:1] in set("0123456789."):
        try:
            return float(text)
        except ValueError:
            pass
    return raw


def parse_fail_on(text: str) -> str:
    """A comma-separated subset of the flags (`any`: every problem, not frozen), normalised."""
    names = [part.strip().lower() for part in text.split(",")] if text.strip() else []
    unknown = [n for n in names if n not in (*INSPECT_FLAGS, "any")]
    if unknown:
        allowed = _("a comma-separated list of {flags}, or any (all but frozen)").format(
            flags=", ".join(INSPECT_FLAGS)
        )
        raise typer.BadParameter(
            _("{value!r} is not a flag; allowed: {allowed}.").format(
                value=unknown[0], allowed=allowed
            )
        )
    if "any" in names:  # and frozen, when it is named too
        names = [*PROBLEM_FLAGS, *(n for n in names if n == "frozen")]
    return ",".join(dict.fromkeys(names))


def threshold_parser(what: str) -> Any:
    """A Typer parser for a positive, finite float (--vanish, --explode)."""

    def parse(text: str | float) -> float:
        if isinstance(text, float):
            return text
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (value > 0 and value != float("inf")):
            raise typer.BadParameter(
                _(
                    "{value!r} is not allowed; {option} is a positive finite number such as 1e-7."
                ).format(value=text, option=what)
            )
        return value

    return parse


def parse_language(text: str) -> str:
    """--lang: already applied before parsing (see entry.py); checked again here."""
    try:
        return choose_language(text, {})
    except UnknownLanguage as e:
        raise typer.BadParameter(e.message()) from None


LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang",
        parser=parse_language,
        metavar="[" + "|".join(LANGUAGES) + "]",
        help="Language of the human text: en or vi. Default: AGRAD_LANG, else the locale "
        "(LC_ALL, LC_MESSAGES, LANG, e.g. vi_VN.UTF-8), else en. JSON never changes.",
        show_default=False,
    ),
]
