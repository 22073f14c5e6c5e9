"""Hostile input found by issue 14 (items 14, 15, 16, 19): every one is a usage error
(exit 2, one `agrad: error:` line, a caret under expressions, empty stdout) or works,
and never an internal error."""

from __future__ import annotations

import cmath
import inspect
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograd_cli.errors import ExitCode
from autograd_cli.expression.grammar import FUNCTIONS, POSITIONAL, RESERVED_NAMES
from autograd_cli.render.labels import printable

X = ["--var", "x=ones(3)"]


def _usage_error(result, caret: bool = True) -> list[str]:
    """Asserts exit 2, empty stdout, no traceback; returns stderr's lines."""
    assert result.exit_code == ExitCode.USAGE, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("agrad: error: ")
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if caret:
        assert len(lines) == 3 and lines[2].strip() == "^", result.stderr
    return lines


def _caret_under(lines: list[str]) -> str:
    """The text of the input from the caret's column on."""
    return lines[1][lines[2].index("^") :]


# Item 15 ---------------------------------------------------------------------------


def test_a_320_digit_literal_is_a_usage_error_with_a_caret(agrad):
    huge = "1" + "0" * 319
    lines = _usage_error(agrad("expr", f"x.sum() * {huge}", *X))
    assert "320 digits" in lines[0]
    assert _caret_under(lines).startswith("1000")


def test_a_320_digit_literal_in_a_var_is_a_usage_error(agrad):
    huge = "1" + "0" * 319
    lines = _usage_error(agrad("expr", "x.sum()", "--var", f"x=full((2,), {huge})"))
    assert "320 digits" in lines[0]


# What the installed torch does with a third positional argument of leaky_relu: it
# is `inplace`, and the in-place call modifies its input.
def test_torch_takes_inplace_positionally():
    assert list(inspect.signature(F.leaky_relu).parameters)[2] == "inplace"
    t = torch.tensor([-1.0, 2.0])
    F.leaky_relu(t, 0.5, True)
    assert t.tolist() == [-0.5, 2.0]


def _parameters(name: str) -> list[str]:
    """The parameter names of torch's function, from its signature or, for a builtin
    without one, from its docstring's first line, e.g. `gelu(input, approximate='none')`."""
    function = getattr(torch if FUNCTIONS[name][0] == "torch" else F, name)
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        head = function.__doc__.strip().splitlines()[0]
        inside = head[head.index("(") + 1 : head.rindex(")")]
        return [part.split("=")[0].strip() for part in inside.split(",") if part.strip()]


@pytest.mark.parametrize("name", sorted(POSITIONAL))
def test_the_positional_parameters_allowed_are_torchs_first_ones(name):
    parameters = _parameters(name)
    assert tuple(parameters[: len(POSITIONAL[name])]) == POSITIONAL[name]
    assert "inplace" not in POSITIONAL[name]


def test_every_function_with_an_inplace_parameter_is_capped():
    capped = [name for name in FUNCTIONS if "inplace" in _parameters_or_none(name)]
    assert {"leaky_relu", "silu", "hardtanh", "elu"} <= set(capped)
    assert set(capped) <= set(POSITIONAL)


def _parameters_or_none(name: str) -> list[str]:
    try:
        return _parameters(name)
    except (ValueError, AttributeError):  # neither a signature nor a usable docstring
        return []


@pytest.mark.parametrize(
    ("expression", "extra"),
    [
        ("leaky_relu(x.exp(), 0.1, 1).sum()", "1)"),
        ("silu(x, 1).sum()", "1)"),
        ("hardtanh(x, 0, 0.5, 1).sum()", "1)"),
        ("elu(x, 1.0, True).sum()", "True)"),
        ("mse_loss(x, x, 1).sum()", "1)"),
    ],
)
def test_inplace_given_positionally_is_refused_at_that_argument(agrad, expression, extra):
    lines = _usage_error(agrad("expr", expression, *X))
    assert "positional" in lines[0] and "inplace" in lines[0]
    assert _caret_under(lines).startswith(extra)


def test_inplace_as_a_keyword_stays_refused(agrad):
    _usage_error(agrad("expr", "silu(x, inplace=True).sum()", *X))


def _oversized(ones: int, last: int = 2) -> str:
    return ",".join(["1"] * ones + [str(last)])


def test_jacobian_of_a_64_dimension_tensor_is_refused_with_a_caret(agrad):
    # vmap (under jacrev and jacfwd) adds a dimension to torch's limit of 64.
    expression = f"x.expand({_oversized(63)})"
    lines = _usage_error(agrad("expr", expression, "--var", "x=ones(2)", "--jacobian"))
    assert "63" in lines[0] and "64" in lines[0]
    assert _caret_under(lines).startswith("expand")


def test_a_64_dimension_tensor_without_jacobian_works(agrad_json):
    document = agrad_json("expr", f"x.expand({_oversized(63)}).sum()", "--var", "x=ones(2)")
    # out = 2·x.sum() as each element is expanded once: d out / d x = 1 each.
    assert document["gradients"][0]["value"] == [1.0, 1.0]


def test_a_65_dimension_expand_is_a_usage_error(agrad):
    lines = _usage_error(agrad("expr", f"x.expand({_oversized(64)}).sum()", "--var", "x=ones(2)"))
    assert _caret_under(lines).startswith("expand")


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (["x.sum()", "--var", "x=ones(0)"], "--var x"),
        (["x * 2", "--var", "x=ones(0)"], ""),  # out is empty too; said first
        (["x * 2 + y.sum()", "--var", "x=ones(2)", "--var", "y=zeros(0)"], "--var y"),
    ],
)
def test_jacobian_of_empty_tensors_is_refused(agrad, args, label):
    lines = _usage_error(agrad("expr", *args, "--jacobian"))
    assert "at least one element" in lines[0]
    assert label in lines[0]


def test_an_empty_variable_without_grad_does_not_stop_jacobian(agrad_json):
    document = agrad_json(
        "expr", "x * 2 + y.sum()", "--var", "x=ones(2)", "--var", "y=zeros(0)", "--no-grad", "y"
    )
    assert document["gradients"][0]["value"] == [2.0, 2.0]


# Item 19: softmax's positional dim, `_` ----------------------------------------------


@pytest.mark.parametrize("expression", ["(softmax(x, 0) * w).sum()", "(x.softmax(0) * w).sum()"])
def test_softmax_takes_dim_positionally(agrad_json, expression):
    document = agrad_json(
        "expr", expression, "--var", "x=tensor([0.0, 1.0])", "--var", "w=tensor([1.0, 3.0])"
    )
    # s = softmax(x); d(w·s)/dx_i = s_i (w_i - w·s), in closed form.
    e = [1.0, math.e]
    s = [v / sum(e) for v in e]
    ws = 1.0 * s[0] + 3.0 * s[1]
    expected = [s[0] * (1.0 - ws), s[1] * (3.0 - ws)]
    grads = {g["name"]: g["value"] for g in document["gradients"]}
    assert grads["x"] == pytest.approx(expected, rel=1e-6)


def test_softmax_without_dim_still_asks_for_it(agrad):
    lines = _usage_error(agrad("expr", "softmax(x).sum()", *X))
    assert "dim=" in lines[0]


def test_underscore_is_not_called_a_keyword(agrad):
    lines = _usage_error(agrad("expr", "x.sum()", "--var", "_=ones(2)"))
    assert "keyword" not in lines[0]
    assert "starts or ends with _" in lines[0]


# Item 16: reserved names -------------------------------------------------------------


def test_the_reserved_names_are_those_the_report_uses(agrad_json):
    document = agrad_json("expr", "x.sum()", "--var", "x=ones(2)")
    statements = " ".join(document["statements"])
    names = {t["name"] for t in document["tensors"]}
    for name in RESERVED_NAMES:
        assert name in statements or name in names


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_a_reserved_variable_name_is_refused(agrad, name):
    lines = _usage_error(agrad("expr", f"{name}.sum()", "--var", f"{name}=ones(2)"))
    assert "reserved" in lines[0]


# Item 14: complex numbers ----------------------------------------------------------


@pytest.mark.parametrize("expression", ["((-1) ** 0.5 * x).sum()", "(x ** ((1 - 2) ** 0.5)).sum()"])
def test_complex_numbers_in_expr_are_refused(agrad, expression):
    assert isinstance((-1) ** 0.5, complex)  # what Python itself does
    lines = _usage_error(agrad("expr", expression, *X))
    assert "complex" in lines[0] and "real numbers" in lines[0]
    assert _caret_under(lines).startswith("**")


def test_a_positive_base_to_a_fractional_power_still_works(agrad_json):
    document = agrad_json("expr", "(x * 2 ** 0.5).sum()", *X)
    assert document["gradients"][0]["value"] == pytest.approx([math.sqrt(2)] * 3)


USER_CODE = """
import os
import threading

import torch


class Complex(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(3, dtype=torch.complex64))

    def forward(self, x):
        return (self.w * x).abs().sum()


def complex_model():
    return Complex(), torch.ones(3), lambda out: out


def complex_leaf():
    z = torch.randn(3, dtype=torch.complex64, requires_grad=True)
    return (z.abs() ** 2).sum()


def complex_loss():
    z = torch.randn(3, dtype=torch.complex64, requires_grad=True)
    return z.sum()


def through_fft():
    w = torch.tensor([1.0, 2.0, 0.0, -1.0], requires_grad=True)
    return torch.fft.fft(w).abs().sum()


class Evil(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.add_module("evil\\x1b[31mred\\nline", torch.nn.Linear(2, 1))

    def forward(self, x):
        return getattr(self, "evil\\x1b[31mred\\nline")(x)


def evil():
    return Evil(), torch.ones(1, 2), lambda out: out.sum()


class _Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


# A custom Function whose class name (and so its grad_fn's) holds a newline and an ESC.
Double = type("Dou\\nble\\x1b[7m", (_Double,), {})


def evil_function():
    w = torch.ones(2, requires_grad=True)
    return Double.apply(w).sum()


def noisy():
    os.write(1, b"RAW-FD-1\\n")
    thread = threading.Thread(target=lambda: os.write(1, b"FROM-A-THREAD\\n"))
    thread.start()
    thread.join()
    print("PRINTED")
    w = torch.ones(3, requires_grad=True)
    return (w * 2).sum()


def takes(s):
    w = torch.ones(1, requires_grad=True)
    return (w * 2).sum()
"""


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "hostile.py").write_text(textwrap.dedent(USER_CODE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("complex_model", "w is a complex tensor (complex64)"),
        ("complex_leaf", "z is a complex tensor (complex64)"),
        ("complex_loss", "is complex (complex64)"),
    ],
)
def test_complex_parameters_and_losses_are_refused(agrad, user_dir, target, words):
    for extra in ([], ["--json"]):
        lines = _usage_error(agrad("inspect", f"hostile.py:{target}", *extra), caret=False)
        assert len(lines) == 1 and words in lines[0]


def test_complex_values_inside_the_graph_are_json_without_values(agrad_json, user_dir):
    document = agrad_json("inspect", "hostile.py:through_fft", "--saved")
    w = [1.0, 2.0, 0.0, -1.0]
    # The loss is the sum of the DFT's magnitudes, computed here by its definition.
    n = len(w)
    dft = [sum(w[k] * cmath.exp(-2j * math.pi * j * k / n) for k in range(n)) for j in range(n)]
    assert document["loss"] == pytest.approx(sum(abs(v) for v in dft), rel=1e-6)
    saved = [s for node in document["graph"]["nodes"] for s in node["saved_tensors"]]
    complex_saved = [s for s in saved if s.get("dtype", "").startswith("complex")]
    assert complex_saved and all(s["value"] is None for s in complex_saved)


# Item 19: control characters in names ------------------------------------------------


def test_printable_escapes_what_would_act_and_keeps_letters():
    assert printable("a\x1b[31mb\nc\u202ed") == "a\\x1b[31mb\\nc\\u202ed"
    assert printable("trọng_số") == "trọng_số"
    assert printable("tab\there") == "tab\\there"


def test_a_custom_functions_name_cannot_break_a_mermaid_or_dot_picture(agrad, user_dir):
    mermaid = agrad("inspect", "hostile.py:evil_function", "--format", "mermaid")
    assert mermaid.exit_code == 0, mermaid.stderr
    assert all(line.startswith("    ") for line in mermaid.stdout.splitlines()[1:])
    assert "Dou\\nble\\x1b[7m" in mermaid.stdout
    dot = agrad("inspect", "hostile.py:evil_function", "--format", "dot")
    assert dot.exit_code == 0, dot.stderr
    assert "\x1b" not in dot.stdout
    label = next(line for line in dot.stdout.splitlines() if "Dou" in line)
    assert label.endswith('Backward"];')  # the whole statement on its line


def test_control_characters_in_names_never_reach_the_terminal(agrad, user_dir):
    table = agrad("inspect", "hostile.py:evil", "--color", "never")
    assert table.exit_code == 0, table.stderr
    assert "\x1b" not in table.stdout
    assert "evil\\x1b[31mred\\nline.weight" in table.stdout.replace("\n", "")
    mermaid = agrad("inspect", "hostile.py:evil", "--format", "mermaid")
    assert mermaid.exit_code == 0, mermaid.stderr
    body = mermaid.stdout.splitlines()[1:]
    # Every statement of the flowchart on one line: a newline inside a label breaks it.
    assert all(line.startswith("    ") for line in body), mermaid.stdout
    assert "\x1b" not in mermaid.stdout
    dot = agrad("inspect", "hostile.py:evil", "--format", "dot")
    assert "\x1b" not in dot.stdout


# Item 19: the user's code writing to descriptor 1 -------------------------------------


def test_writes_to_descriptor_1_by_the_users_code_stay_out_of_json(user_dir):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    result = subprocess.run(
        [sys.executable, "-m", "autograd_cli", "inspect", "hostile.py:noisy", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=user_dir,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["loss"] == 6.0  # (w * 2).sum() with w = ones(3)
    for junk in ("RAW-FD-1", "FROM-A-THREAD", "PRINTED"):
        assert junk in result.stderr


def test_with_stderr_closed_the_users_writes_still_stay_out_of_json(user_dir):
    # With descriptor 2 closed, os.dup(1) would hand out 2: the user's output must not
    # come back into stdout through it.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    command = [sys.executable, "-m", "autograd_cli", "inspect", "hostile.py:noisy", "--json"]
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", *command],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=user_dir,
        timeout=120,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["loss"] == 6.0


# Item 19: ASCII digits only ------------------------------------------------------------


@pytest.mark.parametrize("seed", ["\u0661\u0662", "\uff11\uff12", "1_0", "\u00b2"])
def test_seed_takes_ascii_digits_only(agrad, seed):
    assert int("\u0661\u0662") == 12  # what Python's int() would have read
    lines = _usage_error(agrad("linear", "--seed", seed), caret=False)
    assert "not an integer" in lines[0]


def test_seed_in_ascii_digits_still_works(agrad_json):
    assert agrad_json("linear", "--seed", " 12 ")["seed"] == 12


@pytest.mark.parametrize("tangent", ["onehot:\u0661,1", "onehot:1,\u00b2", "onehot:\uff11,1"])
def test_tangent_takes_ascii_digits_only(agrad, tangent):
    lines = _usage_error(agrad("jvp", "--tangent", tangent), caret=False)
    assert "not a tangent" in lines[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("\u0661\u0662", "\u0661\u0662"), ("1_000", "1_000"), ("12", 12), ("-2.5e3", -2500.0)],
)
def test_arg_reads_numbers_in_ascii_digits_only(agrad_json, user_dir, value, expected):
    document = agrad_json("inspect", "hostile.py:takes", "--arg", f"s={value}")
    assert document["arguments"]["s"] == expected
    assert type(document["arguments"]["s"]) is type(expected)


@pytest.mark.parametrize(("value", "words"), [("9" * 5000, "5000 digits"), ("1e999", "1e999")])
def test_arg_numbers_that_do_not_fit_are_refused(agrad, user_dir, value, words):
    lines = _usage_error(agrad("inspect", "hostile.py:takes", "--arg", f"s={value}"), caret=False)
    assert words in lines[0]


@pytest.mark.parametrize("value", ["\u0661e-7", "1_0e-7", "\uff11e-7"])
def test_vanish_takes_ascii_decimal_notation_only(agrad, value):
    assert float("\u0661e-7") == 1e-7  # what Python's float() would have read
    target = f"{Path(__file__).parent.parent / 'examples' / 'mlp.py'}:build"
    lines = _usage_error(agrad("inspect", target, "--vanish", value), caret=False)
    assert "--vanish" in lines[0]
