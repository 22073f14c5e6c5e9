"""`agrad gradcheck` from the command line: its verdict against
torch.autograd.gradcheck's on the examples, each example's diagnosis, the two ways to
name a function, dtypes, and every error path (exit 2 for a wrong TARGET, 1 for an
exception in the user's code). tests/test_gradcheck_engine.py checks the engine on
generated functions."""

from __future__ import annotations

import runpy
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from autograd_cli.errors import ExitCode

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _torch_verdict(example: str, **options: object) -> bool:
    fn, inputs = runpy.run_path(str(EXAMPLES / example))["build"]()
    return torch.autograd.gradcheck(fn, inputs, raise_exception=False, **options)


@pytest.mark.parametrize(
    ("example", "ok"),
    [
        ("gradcheck_ok.py", True),
        ("gradcheck_factor.py", False),
        ("gradcheck_swapped.py", False),
        ("gradcheck_kink.py", False),
    ],
)
def test_the_verdict_is_torchs_on_every_example(agrad, example, ok):
    assert _torch_verdict(example) is ok  # what torch says, run here
    result = agrad("gradcheck", f"examples/{example}:build", "--json")
    assert result.exit_code == (ExitCode.OK if ok else ExitCode.CHECK_FAILED), result.stderr
    import json

    doc = json.loads(result.stdout)
    assert doc["ok"] is ok
    assert [run["kind"] for run in doc["runs"]] == ["backward"]
    if not ok:
        assert result.stderr.startswith("agrad: error: gradcheck failed: backward: output 0")


def _pairs(doc: dict) -> dict[str, dict]:
    names = [i["name"] for i in doc["inputs"]]
    return {names[p["input"]]: p for p in doc["runs"][0]["pairs"]}


def test_a_missing_factor_is_named_with_its_size(agrad_failing):
    doc = agrad_failing("gradcheck", "examples/gradcheck_factor.py:build")
    pair = _pairs(doc)["x"]
    assert pair["diagnoses"] == ["factor"]
    # backward returns grad * x where d(x²)/dx = 2x: analytical / numerical = 1/2
    assert pair["factor"] == pytest.approx(0.5, rel=1e-6)
    assert pair["mismatches"] == 6 and pair["entries"] == 36  # (2, 3) -> (2, 3): 6 x 6
    # The numbers, against the closed form at the same x (agrad seeds 0, then calls build)
    torch.manual_seed(0)
    x = runpy.run_path(str(EXAMPLES / "gradcheck_factor.py"))["build"]()[1][0].detach()
    x = x.reshape(-1).numpy()
    np.testing.assert_allclose(pair["numerical"], np.diag(2 * x), atol=1e-8)
    np.testing.assert_allclose(pair["analytical"], np.diag(x), atol=1e-12)
    worst = pair["worst"][0]
    assert worst["difference"] == pytest.approx(worst["analytical"] - worst["numerical"])
    assert abs(worst["difference"]) == pytest.approx(np.abs(x).max(), rel=1e-6)


def test_swapped_gradients_name_each_other(agrad_failing):
    doc = agrad_failing("gradcheck", "examples/gradcheck_swapped.py:build")
    pairs = _pairs(doc)
    assert pairs["x"]["diagnoses"] == ["swapped"] and pairs["w"]["diagnoses"] == ["swapped"]


def test_a_kink_is_not_called_a_bug(agrad, agrad_failing):
    doc = agrad_failing("gradcheck", "examples/gradcheck_kink.py:build")
    pair = _pairs(doc)["x"]
    assert pair["diagnoses"] == ["kink"]
    # only the element at 0 mismatches: numerical 0.5 (the central difference), analytical 0
    assert pair["mismatches"] == 1
    assert pair["worst"][0]["input_index"] == [1]
    assert pair["worst"][0]["numerical"] == pytest.approx(0.5)
    assert pair["worst"][0]["analytical"] == 0.0
    human = agrad("gradcheck", "examples/gradcheck_kink.py:build", env={"COLUMNS": "80"})
    assert "Not a bug" in human.stdout


@pytest.fixture
def agrad_failing(agrad):
    import json

    def run(*args: str) -> dict:
        result = agrad(*args, "--json")
        assert result.exit_code == ExitCode.CHECK_FAILED, result.stderr
        return json.loads(result.stdout)

    return run


def test_input_form_checks_the_function_itself(agrad_json, agrad_failing):
    doc = agrad_failing("gradcheck", "examples/gradcheck_factor.py:Square", "--input", "x=randn(4)")
    assert doc["form"] == "inputs" and doc["function"] == "Square.apply"
    assert doc["inputs"] == [
        {
            "name": "x",
            "shape": [4],
            "given_dtype": "float64",
            "dtype": "float64",
            "requires_grad": True,
        }
    ]
    assert _pairs(doc)["x"]["factor"] == pytest.approx(0.5, rel=1e-6)
    ok = agrad_json(
        "gradcheck",
        "examples/gradcheck_ok.py:MulSin",
        "--input",
        "x=randn(3)",
        "--input",
        "w=randn(3)",
    )
    assert ok["ok"] is True and [i["name"] for i in ok["inputs"]] == ["x", "w"]


def test_forward_and_second_order_agree_with_torch(agrad_json):
    fn, inputs = runpy.run_path(str(EXAMPLES / "gradcheck_ok.py"))["build"]()
    options = {"raise_exception": False}
    assert torch.autograd.gradcheck(fn, inputs, check_forward_ad=True, **options)
    assert torch.autograd.gradgradcheck(fn, inputs, **options)
    doc = agrad_json("gradcheck", "examples/gradcheck_ok.py:build", "--forward", "--second-order")
    assert [run["kind"] for run in doc["runs"]] == ["backward", "forward", "second_order"]
    assert all(run["ok"] for run in doc["runs"])
    fast = agrad_json("gradcheck", "examples/gradcheck_ok.py:build", "--fast")
    assert fast["runs"][0]["fast"] is True and fast["ok"] is True


def _factory(tmp_path: Path, body: str) -> str:
    path = tmp_path / "user.py"
    path.write_text("import torch\n" + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def test_float32_inputs_are_checked_in_float64_unless_kept(agrad_json, tmp_path):
    path = _factory(
        tmp_path,
        """
        def build():
            x = torch.randn(3, requires_grad=True)
            return torch.sin, (x,)
        """,
    )
    doc = agrad_json("gradcheck", f"{path}:build")
    assert doc["inputs"][0]["given_dtype"] == "float32" and doc["inputs"][0]["dtype"] == "float64"
    assert doc["ok"] is True
    kept = agrad_json("gradcheck", f"{path}:build", "--keep-dtype", "--atol", "1", "--rtol", "1")
    assert kept["inputs"][0]["dtype"] == "float32"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("def build():\n    return 3\n", "returned an int"),
        ("def build():\n    return torch.sin, 'x'\n", "inputs must be a tensor"),
        (
            "def build():\n    return 3, (torch.ones(2, requires_grad=True),)\n",
            "fn must be callable",
        ),
        ("def build():\n    return torch.sin, (torch.ones(2),)\n", "no input requires grad"),
        (
            "def build():\n    x = torch.ones(3, dtype=torch.float64, requires_grad=True)\n"
            "    return torch.sin, (x.expand(2, 3),)\n",
            "input 0 shares memory",
        ),
        (
            "def build():\n"
            "    return torch.sin, (torch.ones(2, dtype=torch.complex128, requires_grad=True),)\n",
            "complex tensors are not supported",
        ),
        (
            "def build():\n"
            "    return (lambda x: (x * 2).tolist()), (torch.ones(2, requires_grad=True),)\n",
            "not a tensor",
        ),
    ],
)
def test_a_wrong_return_value_exits_2(agrad, tmp_path, body, words):
    result = agrad("gradcheck", f"{_factory(tmp_path, body)}:build")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert result.stdout == ""
    assert words in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["examples/nope.py:build"],
        ["examples/gradcheck_ok.py:nope"],
        ["examples/gradcheck_ok.py"],
        ["examples/gradcheck_ok.py:build", "--eps", "0"],
        ["examples/gradcheck_ok.py:build", "--atol", "-1"],
        ["examples/gradcheck_ok.py:build", "--rtol", "nan"],
        ["examples/gradcheck_ok.py:MulSin", "--input", "x=randn(3)", "--arg", "k=1"],
        ["examples/gradcheck_ok.py:MulSin", "--input", "x=numpy(3)"],
        ["examples/gradcheck_ok.py:build", "--arg", "unknown=1"],
    ],
)
def test_bad_references_and_options_exit_2(agrad, args):
    result = agrad("gradcheck", *args)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("agrad: error: ")
    assert "Traceback" not in result.stderr


def test_an_exception_in_user_code_exits_1_naming_its_line(agrad, tmp_path):
    path = _factory(
        tmp_path,
        """
        class Broken(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                raise ValueError("no backward here")

        def build():
            return Broken.apply, (torch.ones(2, dtype=torch.float64, requires_grad=True),)
        """,
    )
    result = agrad("gradcheck", f"{path}:build")
    assert result.exit_code == ExitCode.RUNTIME
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "raised ValueError: no backward here" in line and "user.py:10" in line


def test_the_view_in_vietnamese_and_json_in_every_language(agrad):
    english = agrad("gradcheck", "examples/gradcheck_factor.py:build", "--json")
    vietnamese = agrad("gradcheck", "examples/gradcheck_factor.py:build", "--json", "--lang", "vi")
    assert english.stdout == vietnamese.stdout
    human = agrad("gradcheck", "examples/gradcheck_factor.py:build", "--lang", "vi")
    assert human.exit_code == ExitCode.CHECK_FAILED
    assert "Lỗi có thể" in human.stdout


def test_second_order_names_the_grad_outputs_it_checks(agrad, tmp_path):
    """A double backward that is 2x wrong: gradgradcheck fails (torch, run here), and
    agrad names the failing pair and its factor."""
    path = _factory(
        tmp_path,
        """
        class Cube(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x**3

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return CubeGrad.apply(x, grad)

        class CubeGrad(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, grad):
                ctx.save_for_backward(x, grad)
                return 3 * x**2 * grad

            @staticmethod
            def backward(ctx, g):
                x, grad = ctx.saved_tensors
                return 2 * (6 * x * grad * g), 3 * x**2 * g  # the first is 2x too big

        def build():
            return Cube.apply, (torch.tensor([0.5, -1.5], dtype=torch.float64, requires_grad=True),)
        """,
    )
    fn, inputs = runpy.run_path(path)["build"]()
    assert torch.autograd.gradcheck(fn, inputs, raise_exception=False)
    assert not torch.autograd.gradgradcheck(fn, inputs, raise_exception=False)
    result = agrad("gradcheck", f"{path}:build", "--second-order", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED, result.stderr
    import json

    runs = {run["kind"]: run for run in json.loads(result.stdout)["runs"]}
    assert runs["backward"]["ok"] is True and runs["second_order"]["ok"] is False
    failing = [p for p in runs["second_order"]["pairs"] if not p["ok"]]
    assert [p["input"] for p in failing] == [0]  # x, not the grad_output
    assert failing[0]["diagnoses"] == ["factor"] and failing[0]["factor"] == pytest.approx(2)
    human = agrad("gradcheck", f"{path}:build", "--second-order", env={"COLUMNS": "80"})
    assert "w.r.t. grad_output 0: pass" in human.stdout


def test_a_jacobian_too_big_for_the_full_check_asks_for_fast(agrad, tmp_path):
    path = _factory(
        tmp_path,
        """
        def build():
            return torch.sin, (torch.randn(4000, dtype=torch.float64, requires_grad=True),)
        """,
    )
    refused = agrad("gradcheck", f"{path}:build")
    assert refused.exit_code == ExitCode.USAGE and refused.stdout == ""
    assert "4,000 × 4,000" in refused.stderr and "--fast" in refused.stderr
    fast = agrad("gradcheck", f"{path}:build", "--fast", "--json")
    assert fast.exit_code == ExitCode.OK, fast.stderr


def test_a_module_target_is_imported_from_the_current_directory(agrad_json, tmp_path, monkeypatch):
    (tmp_path / "my_ops.py").write_text(
        (EXAMPLES / "gradcheck_factor.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    doc = agrad_json("gradcheck", "my_ops:Square", "--input", "x=ones(2)", "--atol", "10")
    assert doc["function"] == "Square.apply" and doc["ok"] is True  # 10 covers the factor


# Found in review -------------------------------------------------------------------


def test_a_float32_module_behind_a_closure_is_checked_in_float64(agrad_json, tmp_path):
    body = """
        from torch import nn
        def build():
            torch.manual_seed(0)
            m = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
            return (lambda x: m(x).sum()), (torch.randn(4, 3, requires_grad=True),)
        def method():
            torch.manual_seed(0)
            m = nn.Linear(3, 2)
            return m.forward, (torch.randn(4, 3, requires_grad=True),)
        """
    path = _factory(tmp_path, body)
    for name in ("build", "method"):
        doc = agrad_json("gradcheck", f"{path}:{name}")
        assert doc["float64"] == "modules" and doc["ok"] is True
        assert doc["inputs"][0]["dtype"] == "float64"


def test_fn_that_refuses_float64_is_checked_as_given_and_says_so(agrad, tmp_path):
    path = _factory(
        tmp_path,
        """
        W = torch.randn(3, 2)
        def build():
            return (lambda x: x @ W), (torch.randn(4, 3, requires_grad=True),)
        """,
    )
    import json

    result = agrad("gradcheck", f"{path}:build", "--json")
    doc = json.loads(result.stdout)
    assert doc["float64"] == "refused" and doc["inputs"][0]["dtype"] == "float32"
    x = torch.randn(4, 3, requires_grad=True)  # what torch says of float32 here
    W = torch.randn(3, 2)
    assert torch.autograd.gradcheck(lambda x: x @ W, (x,), raise_exception=False) is doc["ok"]


def test_a_non_tensor_output_is_named_by_its_position(agrad, tmp_path):
    path = _factory(
        tmp_path,
        "def build():\n    return (lambda x: (x * 2, None)), "
        "(torch.ones(3, dtype=torch.float64, requires_grad=True),)\n",
    )
    result = agrad("gradcheck", f"{path}:build")
    assert result.exit_code == ExitCode.USAGE
    assert "fn's output 1 is not a tensor" in result.stderr


def _pair_of(agrad, path: str) -> dict:
    import json

    result = agrad("gradcheck", path, "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED, result.stderr
    (pair,) = json.loads(result.stdout)["runs"][0]["pairs"]
    return pair


def test_a_too_big_eps_is_not_called_a_factor(agrad, tmp_path):
    """sin(1e5 x) with the right backward: torch passes with a smaller eps."""
    path = _factory(
        tmp_path,
        """
        class F(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return torch.sin(1e5 * x)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 1e5 * torch.cos(1e5 * x)

        def build():
            g = torch.Generator().manual_seed(0)
            return F.apply, (torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True),)
        """,
    )
    fn, inputs = runpy.run_path(path)["build"]()
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-9, raise_exception=False)
    assert _pair_of(agrad, f"{path}:build")["diagnoses"] == ["noisy"]


def test_a_function_differentiable_at_zero_is_not_a_kink(agrad, tmp_path):
    """|x|^1.4 has derivative 0 at 0 (torch's own grad says so); the backward adds 1e-4."""
    path = _factory(
        tmp_path,
        """
        class F(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.abs() ** 1.4

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * (1.4 * x.abs() ** 0.4 * x.sign() + 1e-4)

        def build():
            x = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64, requires_grad=True)
            return F.apply, (x,)
        """,
    )
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (x.abs() ** 1.4).sum().backward()
    assert x.grad.item() == 0.0
    assert "kink" not in _pair_of(agrad, f"{path}:build")["diagnoses"]


def test_forward_without_jvp_keeps_the_backward_report(agrad):
    import json

    result = agrad("gradcheck", "examples/gradcheck_factor.py:build", "--forward", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    backward, forward = json.loads(result.stdout)["runs"]
    assert backward["pairs"][0]["diagnoses"] == ["factor"]
    assert (forward["ok"], forward["problem"]) == (False, "no_forward_ad")


def test_a_wrong_jvp_is_blamed_not_backward(agrad, tmp_path):
    path = _factory(
        tmp_path,
        """
        class F(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 3

            @staticmethod
            def backward(ctx, g):
                return g * 3

            @staticmethod
            def jvp(ctx, t):
                return t * 6  # the bug: 3 * t

        def build():
            return F.apply, (torch.ones(2, dtype=torch.float64, requires_grad=True),)
        """,
    )
    result = agrad("gradcheck", f"{path}:build", "--forward", env={"COLUMNS": "200"})
    assert result.exit_code == ExitCode.CHECK_FAILED
    forward = result.stdout.split("forward mode")[1]
    assert "factor in jvp" in forward and "backward" not in forward


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["examples/gradcheck_ok.py:build", "--format", "dot"], "draws no backward graph"),
        (["examples/gradcheck_ok.py:build", "--format", "mermaid"], "draws no backward graph"),
        (["examples/gradcheck_ok.py:MulSin"], "is an autograd.Function: give its inputs"),
        (["examples/gradcheck_ok.py:MulSin", "--input", "x=randn(3)"], "missing a required"),
        (
            ["examples/gradcheck_ok.py:MulSin", "--input", "x=ones(2)", "--input", "x=ones(2)"],
            "--input",
        ),
    ],
)
def test_more_usage_errors(agrad, args, words):
    result = agrad("gradcheck", *args)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert result.stdout == "" and words in result.stderr


def test_too_many_calls_for_the_full_check_ask_for_fast(agrad, tmp_path):
    path = _factory(
        tmp_path,
        "def build():\n    return (lambda x: x.sum()), "
        "(torch.ones(60000, dtype=torch.float64, requires_grad=True),)\n",
    )
    result = agrad("gradcheck", f"{path}:build")
    assert result.exit_code == ExitCode.USAGE and "--fast" in result.stderr


def test_torch_functions_are_named_as_torch_names_them(agrad_json, tmp_path):
    path = _factory(
        tmp_path,
        "def build():\n"
        "    return torch.sin, (torch.ones(2, dtype=torch.float64, requires_grad=True),)\n",
    )
    assert agrad_json("gradcheck", f"{path}:build")["function"] == "torch.sin"


def test_the_view_has_words_for_every_kind_and_problem_the_engine_reports():
    from autograd_cli.inspection import gradcheck as engine
    from autograd_cli.scenarios import gradcheck as command

    assert tuple(command.KINDS) == engine.KINDS
    assert tuple(command.PROBLEMS) == engine.PROBLEMS
