"""The human view at any width from 60 to 120 columns, in both languages.

A number is shown whole or not at all, a name breaks only after `.` or `_` (or
not at all), no line ends with spaces and none is wider than the terminal. These
run over every view rather than one golden file, so a new column or a longer
translation that breaks the layout fails here.
"""

from __future__ import annotations

import itertools
import json
import re
import textwrap

import pytest
import torch
from rich.cells import cell_len

from autograd_cli.i18n import _, speaking

WIDTHS = (60, 67, 74, 80, 90, 100, 120)
LANGS = ("en", "vi")
VIEWS = {
    "linear": ["linear", "--check"],
    "linear-saved": ["linear", "--saved"],
    "jvp-saved": ["jvp", "--saved", "--jacobian"],
    "expr-rank3": ["expr", "x.pow(2).sum()", "--var", "x=randn(2,3,4)", "--repeat", "2"],
    "expr-wide": ["expr", "(x * 1000).exp().sum()", "--var", "x=randn(3,12)"],
    "expr-huge": ["expr", "(x * 700).exp()", "--var", "x=linspace(0,1,3)", "--dtype", "float64"],
    "chain-saved": ["chain", "--length", "3", "--saved"],
    "inspect-rnn": ["inspect", "examples/rnn.py:build", "--max-nodes", "30"],
    "inspect-cnn": ["inspect", "examples/cnn.py:build", "--max-nodes", "12"],
    "inspect-nan": ["inspect", "examples/nan_sqrt.py:loss", "--anomaly", "--saved"],
}
# A number cut short: a mantissa without its exponent, or an ellipsis against a digit.
CUT_NUMBER = re.compile(r"\d…|…\d|(?<![\w.])\d+(?:\.\d+)?[eE](?![+-]?\d)")
NUMBER = re.compile(r"(?<![\w.×/])-?\d+(?:\.\d+)?(?:e[+-]\d+)?(?![\w.×/%,])")
FROZEN_MODEL = """
import torch
from torch import nn


def build():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    model[0].weight.requires_grad_(False)  # frozen, as when fine-tuning
    return model, torch.randn(5, 3), torch.randn(5, 1), nn.MSELoss()
"""


def _view(agrad, args: list[str], width: int, lang: str) -> str:
    result = agrad(*args, "--lang", lang, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _document(agrad, args: list[str]) -> dict:
    result = agrad(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _names(document: dict) -> set[str]:
    """Every name the view may print: grad_fn classes, leaves, parameters, tensors."""
    names = {node["grad_fn"] for node in document["graph"]["nodes"]}
    names |= {n["leaf"]["name"] for n in document["graph"]["nodes"] if n["leaf"]}
    names |= {p["name"] for p in document.get("parameters", [])}
    names |= {t["name"] for t in document.get("tensors", [])}
    names |= set(document.get("graph_summary", {}).get("grad_fn_counts", {}))
    names |= {"requires_grad", "is_leaf", "grad_fn", "numel", "NaN/inf"}
    return {n for n in names if len(n) > 1}


def _header_words(lang: str) -> set[str]:
    """The tables' translated headers, each word of which must stay whole."""
    headers = ("parameter", "shape", "zeros", "flag", "name", "leaf", "reference")
    headers += ("max abs diff", "max rel diff", "verdict")
    with speaking(lang):
        return {word for h in headers for word in _(h).split() if len(word) > 1}


def _split_words(text: str, words: set[str]) -> list[str]:
    """Words cut across two lines: a token and the token right below it, at the same
    column, that join into (part of) a word at a point other than after . or _."""
    found = []
    lines = text.splitlines()
    for upper, lower in itertools.pairwise(lines):
        below = {m.start(): m.group() for m in re.finditer(r"\S+", lower)}
        for match in re.finditer(r"\S+", upper):
            head, tail = match.group(), below.get(match.start())
            if tail is None or head[-1] in "._":
                continue
            joined = head + tail
            for word in words:
                for cut in range(1, len(word)):
                    if word[cut - 1] in "._":
                        continue
                    if head.endswith(word[:cut]) and tail.startswith(word[cut:]) and word in joined:
                        found.append(f"{head}|{tail} ({word})")
    return found


@pytest.fixture(scope="module")
def frozen_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("frozen") / "frozen_model.py"
    path.write_text(textwrap.dedent(FROZEN_MODEL), encoding="utf-8")
    return path


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("view", VIEWS)
def test_every_view_fits_every_width_without_cutting_numbers_or_names(agrad, view, lang):
    args = VIEWS[view]
    words = _names(_document(agrad, args)) | _header_words(lang)
    for width in WIDTHS:
        text = _view(agrad, args, width, lang)
        where = f"{view} --lang {lang} at {width} columns"
        for line in text.splitlines():
            assert line == line.rstrip(), f"{where}: trailing spaces in {line!r}"
            assert cell_len(line) <= width, f"{where}: {cell_len(line)} > {width}: {line!r}"
            assert not CUT_NUMBER.search(line), f"{where}: a number cut short in {line!r}"
        assert _split_words(text, words) == [], where


def _shown_precision_holds(shown: str, value: float) -> bool:
    """`shown` is `value` rounded to the digits it shows (half a unit of the last)."""
    mantissa, _e, exponent = shown.partition("e")
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (int(exponent or 0) - decimals)
    return abs(float(shown) - value) <= unit / 2 * (1 + 1e-9)


def _statistics(document: dict) -> list[float]:
    keys = ("grad_norm", "mean_abs", "max_abs", "ratio")
    return [p[k] for p in document["parameters"] for k in keys if p[k] is not None]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("target", ["examples/rnn.py:build", "examples/mlp.py:build"])
def test_health_numbers_are_whole_and_equal_the_statistics(agrad, target, lang):
    """Each statistic is printed once per parameter, to the digits shown; every number in
    the table is one of them (computed independently by NumPy in test_inspect_examples)."""
    document = _document(agrad, ["inspect", target])
    stats = _statistics(document)
    for width in WIDTHS:
        text = _view(agrad, ["inspect", target, "--max-nodes", "1"], width, lang)
        table = text.split("────", 1)[1].split("\n" + _flags_word(lang), 1)[0]
        # Vietnamese groups thousands with "." (numel 1024 is "1.024"): counts, not statistics.
        separator = "." if lang == "vi" else ","
        counts = {f"{p['numel']:,}".replace(",", separator) for p in document["parameters"]}
        numbers = [
            m.group()
            for line in table.splitlines()
            for m in NUMBER.finditer(line)
            if ("." in m.group() or "e" in m.group()) and m.group() not in counts
        ]
        for token in numbers:
            assert any(_shown_precision_holds(token, v) for v in stats), (width, token)
        for value in stats:
            assert any(_shown_precision_holds(token, value) for token in numbers), (width, value)
        if width >= 80:  # at least three significant digits wherever 80 columns fit
            assert all(len(re.sub(r"e.*|^-?0\.0*|\.", "", t)) >= 2 for t in numbers), width


def _flags_word(lang: str) -> str:
    with speaking(lang):
        return _("Flags: ").strip()


def test_the_vanishing_gradient_keeps_its_exponent_at_80_columns(agrad):
    """The issue's case: h0's 7.5e-14 read as `7.484e…`, i.e. 7.48."""
    document = _document(agrad, ["inspect", "examples/rnn.py:build"])
    h0 = next(p for p in document["parameters"] if p["name"] == "h0")
    for lang in LANGS:
        text = _view(agrad, ["inspect", "examples/rnn.py:build"], 80, lang)
        row = next(line for line in text.splitlines() if line.startswith("h0 "))
        shown = row.split()[2]
        assert "e-14" in shown and _shown_precision_holds(shown, h0["grad_norm"]), row
        assert "vanishing" in row


def test_a_rank3_tensor_honours_precision(agrad):
    """x = randn(2,3,4) after manual_seed(0): every value with 2 decimals, by slice."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4)
    args = ["expr", "x.sum()", "--var", "x=randn(2,3,4)", "--precision", "2"]
    text = _view(agrad, args, 80, "en")
    values = text.split("\nValues\n", 1)[1].split("\nout = ", 1)[0]
    assert "[0, :, :]" in values and "[1, :, :]" in values
    shown = [m.group() for m in NUMBER.finditer(values.split("[0, :, :]", 1)[1])]
    assert shown == [f"{v:.2f}" for v in x.flatten().tolist()]
    gradient = text.split("\nx.grad\n", 1)[1]
    assert [m.group() for m in NUMBER.finditer(gradient.split("[0, :, :]", 1)[1])][:24] == (
        ["1.00"] * 24  # d(x.sum())/dx = 1 everywhere
    )


def test_a_matrix_wider_than_the_terminal_is_split_into_whole_columns(agrad):
    torch.manual_seed(0)
    x = torch.randn(3, 20)
    text = _view(agrad, ["expr", "x.sum()", "--var", "x=randn(3,20)"], 80, "en")
    values = text.split("\nValues\n", 1)[1].split("\nout = ", 1)[0]
    blocks = re.split(r"columns (\d+)–(\d+) of 20\n", values)[1:]
    assert len(blocks) >= 6  # (first, last, grid) for at least two blocks
    seen = []
    for first, last, grid in zip(blocks[::3], blocks[1::3], blocks[2::3], strict=True):
        rows = [[m.group() for m in NUMBER.finditer(line)] for line in grid.splitlines()]
        rows = [r for r in rows if r]
        expected = [[f"{v:.4f}" for v in row[int(first) : int(last) + 1]] for row in x.tolist()]
        assert rows == expected
        seen += range(int(first), int(last) + 1)
    assert seen == list(range(20))


def _jacobian_grid(text: str) -> list[str]:
    section = text.split("torch.func.jacfwd.\n", 1)[1].split("\njacrev vs jacfwd", 1)[0]
    return section.splitlines()


def test_the_jacobian_grid_has_indices_and_fits_80_columns(agrad):
    """out = (inp + 1).pow(2).t(), inp = eye(4, 5): out[a, b] = (inp[b, a] + 1)², so
    J[i, j] = 2·(inp[b, a] + 1) for i = 4a + b and j = 5b + a, and 0 elsewhere."""
    text = _view(agrad, ["jvp", "--jacobian"], 80, "en")
    lines = _jacobian_grid(text)
    header, rows = lines[0], lines[1:21]
    assert header.split() == [str(j) for j in range(20)]
    assert all(cell_len(line) <= 80 for line in lines)
    for i, line in enumerate(rows):
        index, *cells = line.split()
        assert int(index) == i
        a, b = divmod(i, 4)
        expected = ["·"] * 20
        expected[5 * b + a] = "4" if a == b else "2"
        assert cells == expected
    assert len(lines) == 21  # the header and 20 rows: nothing said about cut columns


def test_a_jacobian_too_wide_says_its_columns_are_cut(agrad):
    text = _view(agrad, ["jvp", "--jacobian"], 60, "en")
    header = _jacobian_grid(text)[0].split()
    shown = len(header)
    assert shown < 20 and header == [str(j) for j in range(shown)]
    assert f"Columns {shown}–19 are cut" in text


def test_the_saved_tree_never_wraps_back_to_column_0(agrad):
    for args in (["linear", "--saved"], ["jvp", "--saved"], ["chain", "--length", "4", "--saved"]):
        for width in (60, 80):
            text = _view(agrad, args, width, "en")
            tree = text.split("(next_functions order)\n", 1)[1].split(" nodes, ", 1)[0]
            for line in tree.splitlines()[1:-1]:
                assert line[:1] in ("│", "└", "├", " ", "⋮"), (args, width, line)


def test_a_frozen_parameter_is_flagged_counted_and_can_fail(agrad, frozen_model):
    target = f"{frozen_model}:build"
    document = _document(agrad, ["inspect", target])
    flags = {p["name"]: p["flags"] for p in document["parameters"]}
    assert flags == {"0.weight": ["frozen"], "0.bias": [], "2.weight": [], "2.bias": []}
    assert document["flag_counts"]["frozen"] == 1
    assert sum(document["flag_counts"].values()) == 1
    # What the flag says, by torch itself: backward() leaves a frozen parameter alone.
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    model[0].weight.requires_grad_(False)
    model(torch.randn(5, 3)).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is not None

    for lang in LANGS:
        text = _view(agrad, ["inspect", target], 80, lang)
        row = next(line for line in text.splitlines() if line.startswith("0.weight "))
        assert row.split()[-1] == "frozen"
        assert "1 frozen" in text and "frozen: requires_grad=False" in text

    assert agrad("inspect", target, "--fail-on", "frozen", "--json").exit_code == 3
    assert agrad("inspect", target, "--fail-on", "any", "--json").exit_code == 0
    both = agrad("inspect", target, "--fail-on", "any,frozen", "--json")
    assert both.exit_code == 3 and json.loads(both.stdout)["failing"] == ["frozen"]


ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("view", ["linear", "inspect-rnn"])
def test_no_line_ends_with_spaces_in_colour_or_in_files(agrad, view, tmp_path):
    """Rich pads cells inside their colour codes; the trimmed line keeps the codes."""
    args = VIEWS[view]
    coloured = agrad(*args, "--color", "always", env={"COLUMNS": "80"})
    assert coloured.exit_code == 0 and ESCAPE.search(coloured.stdout)
    for line in coloured.stdout.splitlines():
        plain = ESCAPE.sub("", line)
        assert plain == plain.rstrip(), repr(line)
    exported, written = tmp_path / "view.txt", tmp_path / "out.txt"
    assert agrad(*args, "--export", str(exported)).exit_code == 0
    assert agrad(*args, "--output", str(written)).exit_code == 0
    for path in (exported, written):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines and all(line == line.rstrip() for line in lines), path.name


def test_a_long_statement_wraps_under_itself_after_a_dot_or_underscore(agrad):
    text = _view(agrad, ["linear"], 60, "en")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  loss = "))
    statement = lines[at].strip() + lines[at + 1].strip()
    assert statement == "loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)"
    assert lines[at][-1] in "._" and lines[at + 1].startswith("      " + "logits")


def test_wrapping_breaks_names_after_dots_and_underscores_never_inside_a_number():
    from autograd_cli.render.layout import wrap_text

    assert wrap_text("cell.weight_ih", 7, "name") == "cell.\nweight_\nih"
    assert wrap_text("readout.weight", 20, "name") == "readout.weight"
    assert wrap_text("[1.0000, 12345.6789]", 6, "name") == "[1.0000,\n12345.6789]"
    assert wrap_text("BinaryCrossEntropyWithLogitsBackward0", 10, "name") == (
        "BinaryCrossEntropyWithLogitsBackward0"  # no . or _: whole, or not at all
    )
