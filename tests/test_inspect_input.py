"""agrad inspect's handling of the user's code: what it runs, and every way a
TARGET can be wrong. Usage errors exit 2, the user's own exceptions exit 1; both
are one line on stderr with an empty stdout and no traceback."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from autograd_cli.errors import ExitCode

USER_CODE = """
import sys
import torch
from torch import nn

value = 3


def helper(n):
    raise ValueError(f"bad n {n}")


def raises(n=3):
    return helper(n)


def returns_int():
    return 3


def returns_vector():
    return torch.ones(3, requires_grad=True) * 2


def returns_constant():
    return torch.ones(()).sum()


def wrong_shapes():
    return nn.Linear(3, 2), torch.ones(4, 5), nn.MSELoss()


def not_a_model():
    return 1, 2, 3


def loss_not_callable():
    return nn.Linear(3, 1), torch.ones(2, 3), torch.ones(2, 1), "mse"


def exits():
    sys.exit(4)


def prints():
    print("hello from the user's code")
    w = torch.ones(2, requires_grad=True)
    return (w * 3).sum()


def typed(n: int = 1, rate: float = 0.5, name: str = "x", unused_tensor=None):
    w = torch.full((2,), float(n), requires_grad=True)
    spare = torch.zeros(2, requires_grad=True)  # a leaf the loss never uses
    assert isinstance(n, int) and isinstance(rate, float) and isinstance(name, str)
    return (w * rate).sum()


def bad_loss_fn():
    def loss_fn(output, target):
        raise KeyError("no such column")
    return nn.Linear(3, 1), torch.ones(2, 3), torch.ones(2, 1), loss_fn


START = torch.randn(3)  # drawn when the file is run


def module_level():
    w = START.clone().requires_grad_()
    return (w * w).sum()


def infinite():
    w = torch.ones(3, requires_grad=True)
    return (w * 1e30).pow(2).sum()  # inf in float32, and no NaN anywhere


class SqrtModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        return torch.sqrt(self.lin(x))  # NaN where the linear layer is negative


def sqrt_model():
    return SqrtModel(), torch.randn(8, 4), lambda out: out.mean()


def model_with_kwargs():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(2.0))
        def forward(self, a, b):
            return self.scale * a + b
    return Model(), {"a": torch.ones(3), "b": torch.zeros(3)}, lambda out: out.sum()
"""


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "user.py").write_text(textwrap.dedent(USER_CODE))
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "imports.py").write_text("import not_a_module_anywhere_xyz\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, start=1) if needle in line)


def _one_error_line(result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: ")
    return line


USAGE_ERRORS = [
    (["missing.py:f"], ["missing.py", "no such file", "PATH.py:NAME"]),
    (["user.py"], ["names no callable", "PATH.py:NAME"]),
    (["user.py:"], ["names no callable"]),
    (["user.py:1x"], ["not a Python name"]),
    (["not a path:f"], ["neither a .py file nor a dotted module name"]),
    (["broken.py:f"], ["broken.py:1", "SyntaxError"]),
    (
        ["user.py:nothing"],
        ["has no 'nothing'; its callables: SqrtModel, bad_loss_fn, exits, helper"],
    ),
    (["user.py:value"], ["value is an int, not a callable"]),
    (["no_such_module.sub:f"], ["no module named 'no_such_module'"]),
    (["user.py:returns_int"], ["returned an int", "scalar loss tensor", "(model, inputs"]),
    (["user.py:returns_vector"], ["returns_vector() returned has shape (3,)", "must be a scalar"]),
    (["user.py:returns_constant"], ["does not require grad"]),
    (["user.py:not_a_model"], ["model an int", "torch.nn.Module"]),
    (["user.py:loss_not_callable"], ["loss_fn a str", "callable"]),
    (["user.py:typed", "--arg", "m=1"], ["--arg does not fit typed", "it takes: n, rate"]),
    (["user.py:typed", "--arg", "n"], ["--arg 'n'", "KEY=VALUE"]),
    (["user.py:typed", "--arg", "class=1"], ["KEY=VALUE"]),
    (["user.py:typed", "--arg", "n=1", "--arg", "n=2"], ["given twice"]),
    (["user.py:typed", "--fail-on", "slow"], ["--fail-on", "'slow' is not a flag", "nonfinite"]),
    (["user.py:typed", "--vanish", "-1"], ["--vanish", "positive finite"]),
    (["user.py:typed", "--explode", "inf"], ["--explode", "positive finite"]),
    (["user.py:typed", "--vanish", "2", "--explode", "1"], ["must be below --explode"]),
    (["user.py:typed", "--seed", "-1"], ["--seed", "0 to"]),
    (["user.py:typed", "--json", "--format", "dot"], ["--json", "--format dot"]),
]


@pytest.mark.parametrize(
    ("args", "words"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS]
)
def test_wrong_references_and_return_values_exit_2(agrad, user_dir, args, words):
    line = _one_error_line(agrad("inspect", *args), ExitCode.USAGE)
    for word in words:
        assert word in line


def test_an_exception_in_the_users_code_names_its_type_message_and_line(agrad, user_dir):
    line = _one_error_line(agrad("inspect", "user.py:raises"), ExitCode.RUNTIME)
    number = _line_of(user_dir / "user.py", 'raise ValueError(f"bad n')
    assert "ValueError: bad n 3" in line
    assert f"user.py:{number}, in helper" in line
    assert "autograd_cli" not in line


def test_an_exception_while_the_file_is_imported_exits_1(agrad, user_dir):
    line = _one_error_line(agrad("inspect", "imports.py:f"), ExitCode.RUNTIME)
    assert "ModuleNotFoundError" in line and "imports.py:1" in line


def test_an_exception_inside_torch_says_which_call_agrad_made(agrad, user_dir):
    line = _one_error_line(agrad("inspect", "user.py:wrong_shapes"), ExitCode.RUNTIME)
    assert "RuntimeError: mat1 and mat2 shapes cannot be multiplied" in line
    assert "in model(inputs)" in line


def test_an_exception_in_the_users_loss_fn_points_at_it(agrad, user_dir):
    line = _one_error_line(agrad("inspect", "user.py:bad_loss_fn"), ExitCode.RUNTIME)
    number = _line_of(user_dir / "user.py", 'raise KeyError("no such column")')
    assert "KeyError" in line and f"user.py:{number}, in loss_fn" in line


def test_sys_exit_in_the_users_code_does_not_end_agrad_silently(agrad, user_dir):
    line = _one_error_line(agrad("inspect", "user.py:exits"), ExitCode.RUNTIME)
    assert "SystemExit: 4" in line


def test_print_in_the_users_code_goes_to_stderr_and_json_stays_clean(agrad, user_dir):
    result = agrad("inspect", "user.py:prints", "--json")
    assert result.exit_code == 0, result.stderr
    assert "hello from the user's code" in result.stderr
    assert json.loads(result.stdout)["parameters"][0]["name"] == "w"


def test_arg_values_are_ints_floats_or_strings_never_evaluated(agrad_json, user_dir):
    document = agrad_json(
        "inspect", "user.py:typed", "--arg", "n=3", "--arg", "rate=2.5e-1", "--arg", "name=2**10"
    )
    assert document["arguments"] == {"n": 3, "rate": 0.25, "name": "2**10"}
    params = {p["name"]: p for p in document["parameters"]}
    # loss = sum(w * rate) with w = [n, n]: ∂loss/∂w = [rate, rate], norm rate·√2.
    assert params["w"]["grad_norm"] == pytest.approx(0.25 * 2**0.5)
    assert params["w"]["param_norm"] == pytest.approx(3 * 2**0.5)
    # Named from the callable's locals; the leaf the loss never reaches is unused.
    assert params["spare"]["flags"] == ["unused"]
    assert document["flag_counts"]["unused"] == 1


def test_inputs_given_as_a_dict_are_keyword_arguments(agrad_json, user_dir):
    document = agrad_json("inspect", "user.py:model_with_kwargs")
    # loss = sum(scale·a + b) with a = ones(3): ∂loss/∂scale = 3.
    assert document["parameters"][0]["name"] == "scale"
    assert document["parameters"][0]["grad_norm"] == pytest.approx(3.0)
    assert document["form"] == "model"


@pytest.mark.parametrize("seed", ["0", "7"])
def test_the_file_itself_runs_after_torch_manual_seed(agrad_json, user_dir, seed):
    import torch

    document = agrad_json("inspect", "user.py:module_level", "--seed", seed)
    torch.manual_seed(int(seed))
    start = torch.randn(3)  # what the file draws first
    # loss = Σ w², so ‖∂loss/∂w‖ = 2‖w‖ with w = START.
    assert document["parameters"][0]["grad_norm"] == pytest.approx(2 * float(start.norm()))


def test_anomaly_points_into_the_users_forward_not_into_torch_nn(agrad_json, user_dir):
    document = agrad_json("inspect", "user.py:sqrt_model", "--anomaly")
    assert document["flag_counts"]["nonfinite"] == 2
    origin = document["anomaly"]["origin"]
    assert document["anomaly"]["grad_fn"] == "SqrtBackward0"
    assert (origin["file"], origin["function"]) == ("user.py", "forward")
    assert origin["line"] == _line_of(user_dir / "user.py", "return torch.sqrt(self.lin(x))")


def test_anomaly_with_infinities_but_no_nan_says_so(agrad_json, user_dir):
    document = agrad_json("inspect", "user.py:infinite", "--anomaly")
    assert document["parameters"][0]["flags"] == ["nonfinite"]
    assert document["parameters"][0]["inf_count"] == 3
    assert document["parameters"][0]["nan_count"] == 0
    anomaly = document["anomaly"]
    assert anomaly["grad_fn"] is None and anomaly["origin"] is None
    assert "±inf" in anomaly["message"]


def test_a_module_path_target_is_imported_from_the_current_directory(agrad_json, user_dir):
    package = user_dir / "agrad_test_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(
        "import torch\n\ndef loss():\n    p = torch.ones(3, requires_grad=True)\n"
        "    return (p * p).sum()\n"
    )
    document = agrad_json("inspect", "agrad_test_pkg.models:loss")
    # ∂Σp²/∂p = 2p = [2, 2, 2]: norm 2√3.
    assert document["parameters"][0]["grad_norm"] == pytest.approx(2 * 3**0.5)


def test_the_help_says_the_file_is_run_as_python(agrad):
    result = agrad("inspect", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "your file is run as Python, like pytest runs test files" in text
    for option in ("--arg", "--fail-on", "--anomaly", "--vanish", "--explode", "--max-nodes"):
        assert option in text
