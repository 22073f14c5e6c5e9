"""agrad inspect --steps N: gradient health over training steps.

The oracle is a training loop written here in plain PyTorch (zero_grad, forward,
backward, optimizer.step()), with its own float64 norms: agrad's ‖grad‖, update
ratios, the step a too-high learning rate explodes at, and the step the loss turns
NaN are held to it. Then the JSON Lines contract, the live writing, the refusals
(exit 2, one line), --fail-on over a run (exit 3), and the sparklines' arithmetic.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from autograd_cli.render.training import BLOCKS, EMPTY, NONFINITE, largest, runs, sparkline
from tests.user_modules import load

ROOT = Path(__file__).resolve().parent.parent
MLP = str(ROOT / "examples" / "mlp.py")
EXPLODE = str(ROOT / "examples" / "explode_lr.py")
AGRAD = (sys.executable, "-m", "autograd_cli", "inspect")


def _strict(name: str) -> None:
    raise AssertionError(f"non-strict JSON constant {name}")


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line, parse_constant=_strict) for line in text.splitlines()]


def _number(value: Any) -> float:
    return float(value) if isinstance(value, str) else value  # "NaN", "Infinity"


def hand_loop(
    path: str, steps: int, optimizer: str | None = None, lr: float = 0.01, seed: int = 0, **kw
) -> list[dict[str, Any]]:
    """The loop a user writes, seeded as agrad seeds: per step the loss, and per
    parameter ‖grad‖ and ‖p_after - p_before‖ / ‖p_before‖, all in float64."""
    torch.manual_seed(seed)
    module = load(path)
    torch.manual_seed(seed)
    model, inputs, targets, loss_fn, *rest = module.build(**kw)
    if rest:
        opt = rest[0]
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    out = []
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        norms = [p.grad.double().pow(2).sum().sqrt().item() for p in model.parameters()]
        before = [p.detach().double().clone() for p in model.parameters()]
        opt.step()
        ratios = [
            ((p.detach().double() - b).pow(2).sum().sqrt() / b.pow(2).sum().sqrt()).item()
            for p, b in zip(model.parameters(), before, strict=True)
        ]
        out.append({"step": step, "loss": loss.item(), "norms": norms, "ratios": ratios})
    return out


def _steps_json(agrad, *args: str, code: int = 0) -> list[dict[str, Any]]:
    result = agrad("inspect", *args, "--json")
    assert result.exit_code == code, result.stderr
    return _records(result.stdout)


@pytest.mark.parametrize(
    ("options", "optimizer", "lr"),
    [([], None, 0.01), (["--optimizer", "adam", "--lr", "0.003"], "adam", 0.003)],
    ids=["sgd", "adam"],
)
def test_norms_and_update_ratios_match_a_hand_written_loop(agrad, options, optimizer, lr):
    records = _steps_json(agrad, f"{MLP}:build", "--steps", "12", *options)
    expected = hand_loop(MLP, 12, optimizer, lr)
    steps = [r for r in records if r["record"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, 13))
    for record, oracle in zip(steps, expected, strict=True):
        assert record["loss"] == pytest.approx(oracle["loss"], rel=1e-6)
        for p, norm, ratio in zip(
            record["parameters"], oracle["norms"], oracle["ratios"], strict=True
        ):
            assert p["grad_norm"] == pytest.approx(norm, rel=1e-9)
            assert p["update_ratio"] == pytest.approx(ratio, rel=1e-4)
            assert p["nan_count"] == p["inf_count"] == 0
    summary = records[-1]
    assert summary["record"] == "summary" and summary["optimizer"] == (
        "Adam" if optimizer else "SGD"
    )
    assert summary["lr"] == lr


def test_a_too_high_learning_rate_explodes_at_the_step_the_hand_loop_finds(agrad):
    # --explode 1e3 (the default): the first step at which any ‖grad‖ passes it.
    expected = hand_loop(EXPLODE, 60)
    exploding = next(e["step"] for e in expected if any(n > 1e3 for n in e["norms"]))
    nonfinite = next(e["step"] for e in expected if any(not math.isfinite(n) for n in e["norms"]))
    loss_nan = next(e["step"] for e in expected if not math.isfinite(e["loss"]))
    summary = _steps_json(agrad, f"{EXPLODE}:build", "--steps", "60")[-1]
    assert summary["first_steps"]["exploding"] == exploding
    assert summary["first_steps"]["nonfinite"] == nonfinite
    assert summary["loss"]["first_nonfinite_step"] == loss_nan
    assert 1 < exploding < nonfinite  # the example shows the whole story
    # The same learning rate given to agrad's own SGD, on the 4-element form: the same run.
    assert _steps_json(agrad, f"{MLP}:build", "--steps", "3", "--lr", "1.5")[-1]["lr"] == 1.5


def test_the_table_says_from_which_step_each_flag_was_raised(agrad):
    expected = hand_loop(EXPLODE, 60)
    exploding = next(e["step"] for e in expected if any(n > 1e3 for n in e["norms"]))
    result = agrad("inspect", f"{EXPLODE}:build", "--steps", "60", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    assert f"exploding from step {exploding}" in result.stdout
    assert "Around 1e-3 is the usual healthy range" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_json_lines_one_record_per_recorded_step_then_a_summary(agrad):
    records = _steps_json(agrad, f"{MLP}:build", "--steps", "20", "--every", "5")
    assert [r["record"] for r in records] == ["step"] * 5 + ["summary"]
    assert [r["step"] for r in records[:-1]] == [1, 5, 10, 15, 20]
    for record in records:
        assert list(record)[:5] == [
            "schema_version",
            "agrad_version",
            "torch_version",
            "command",
            "record",
        ]
        assert record["command"] == "inspect"
    assert list(records[0])[4:] == ["record", "step", "loss", "parameters"]
    names = [p["name"] for p in records[0]["parameters"]]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "out.weight", "out.bias"]
    summary = records[-1]
    assert summary["steps"] == 20 and summary["every"] == 5 and summary["recorded"] == 5
    assert [p["name"] for p in summary["parameters"]] == names
    assert summary["failing"] == [] and summary["anomaly"] is None


def test_nan_is_the_string_nan_and_the_run_is_deterministic(agrad):
    first = agrad("inspect", f"{EXPLODE}:build", "--steps", "60", "--json")
    again = agrad("inspect", f"{EXPLODE}:build", "--steps", "60", "--json")
    assert first.exit_code == 0 and first.stdout == again.stdout
    last = _records(first.stdout)[-2]
    assert last["loss"] == "NaN"
    assert all(p["flag"] == "nonfinite" and p["nan_count"] > 0 for p in last["parameters"])


def test_each_line_is_written_as_soon_as_its_step_ran(monkeypatch):
    """The JSON Lines of --steps reach stdout one write per record (a reader such as
    jq follows them live), not held until a mebibyte is ready."""
    from autograd_cli.model import WalkRequest
    from autograd_cli.render import emit, output
    from autograd_cli.render.formats import Format, LiveText, Style, render
    from autograd_cli.scenarios import scenario
    from autograd_cli.scenarios.inspect_target import Params
    from autograd_cli.targets import parse_target

    inspect = scenario("inspect")
    params = Params(target=parse_target(f"{MLP}:build"), arguments={}, steps=7, every=2)
    report = inspect.report(params, WalkRequest())
    written: list[str] = []
    made: list[int] = []  # recorded steps run when each write happened
    monkeypatch.setattr(
        emit,
        "write_text",
        lambda text: (written.append(text), made.append(len(report.training.recorded))),
    )
    rendered = render(report, inspect, Format.JSON, Style())
    assert isinstance(rendered, LiveText)
    output.Stdout().deliver(rendered, "never")
    assert len(written) == 5 and all(w.endswith("}\n") and w.count("\n") == 1 for w in written)
    assert made == [1, 2, 3, 4, 4]  # steps 1, 2, 4, 6 each written before the next ran


def test_the_optimizer_form_uses_the_users_optimizer(agrad, tmp_path):
    target = tmp_path / "own_opt.py"
    target.write_text(
        "import torch\n"
        "def build():\n"
        "    model = torch.nn.Linear(3, 1)\n"
        "    x, y = torch.randn(8, 3), torch.randn(8, 1)\n"
        "    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)\n"
        "    return model, x, y, torch.nn.functional.mse_loss, opt\n",
        encoding="utf-8",
    )
    records = _steps_json(agrad, f"{target}:build", "--steps", "6")
    expected = hand_loop(str(target), 6)
    for record, oracle in zip(records[:-1], expected, strict=True):
        got = [p["update_ratio"] for p in record["parameters"]]
        assert got == pytest.approx(oracle["ratios"], rel=1e-4)
    assert records[-1]["optimizer"] == "SGD" and records[-1]["lr"] is None
    # Without --steps, the same file is one backward pass, as the 4-element form.
    single = agrad("inspect", f"{target}:build", "--json")
    assert single.exit_code == 0 and json.loads(single.stdout)["form"] == "model"
    refused = agrad("inspect", f"{target}:build", "--steps", "3", "--lr", "0.5")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert "--lr" in refused.stderr and "own optimizer" in refused.stderr


def test_a_fifth_element_none_is_agrads_own_optimizer(agrad, tmp_path):
    """(model, inputs, targets, loss_fn, None): --optimizer and --lr apply, as to the
    four-element form (docs/guide.md says so)."""
    body = (
        "import torch\n"
        "def build():\n"
        "    model = torch.nn.Linear(3, 1)\n"
        "    x, y = torch.randn(8, 3), torch.randn(8, 1)\n"
        "    return model, x, y, torch.nn.functional.mse_loss{}\n"
    )
    five, four = tmp_path / "five.py", tmp_path / "four.py"
    five.write_text(body.format(", None"), encoding="utf-8")
    four.write_text(body.format(""), encoding="utf-8")
    args = ("--steps", "4", "--optimizer", "adam", "--lr", "0.003")
    records = _steps_json(agrad, f"{five}:build", *args)
    expected = hand_loop(str(four), 4, "adam", 0.003)
    for record, oracle in zip(records[:-1], expected, strict=True):
        got = [p["update_ratio"] for p in record["parameters"]]
        assert got == pytest.approx(oracle["ratios"], rel=1e-4)
    assert (records[-1]["optimizer"], records[-1]["lr"]) == ("Adam", 0.003)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["examples/nan_sqrt.py:loss", "--steps", "5"], "(model, inputs, loss_fn)"),
        (["examples/mlp.py:build", "--steps", "0"], "1 to 10000"),
        (["examples/mlp.py:build", "--steps", "10001"], "1 to 10000"),
        (["examples/mlp.py:build", "--steps", "5", "--every", "6"], "--every 6"),
        (["examples/mlp.py:build", "--every", "2"], "--steps"),
        (["examples/mlp.py:build", "--lr", "0.1"], "--steps"),
        (["examples/mlp.py:build", "--steps", "5", "--optimizer", "rmsprop"], "sgd, adam"),
        (["examples/mlp.py:build", "--steps", "5", "--lr", "-1"], "--lr"),
    ],
)
def test_bad_steps_usage_is_one_line_exit_2(agrad, args, words):
    result = agrad("inspect", *args)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("agrad: error:") and words in lines[0]


def test_a_fifth_element_that_is_not_an_optimizer_is_refused(agrad, tmp_path):
    target = tmp_path / "bad_opt.py"
    target.write_text(
        "import torch\n"
        "def build():\n"
        "    m = torch.nn.Linear(2, 1)\n"
        "    return m, torch.ones(1, 2), torch.ones(1, 1), torch.nn.MSELoss(), 0.1\n",
        encoding="utf-8",
    )
    result = agrad("inspect", f"{target}:build", "--steps", "2")
    assert result.exit_code == 2 and result.stdout == ""
    assert "torch.optim.Optimizer" in result.stderr and len(result.stderr.splitlines()) == 1


def test_fail_on_a_flag_raised_at_any_step_exits_3_after_the_output(agrad):
    # At step 1 nothing is wrong yet: only a run sees the explosion.
    one = agrad("inspect", f"{EXPLODE}:build", "--fail-on", "exploding")
    assert one.exit_code == 0
    run = agrad("inspect", f"{EXPLODE}:build", "--steps", "30", "--fail-on", "exploding", "--json")
    assert run.exit_code == 3
    assert _records(run.stdout)[-1]["failing"] == ["exploding"]
    (line,) = run.stderr.splitlines()
    assert "exploding" in line and "from step" in line
    quiet = agrad("inspect", f"{MLP}:build", "--steps", "5", "--fail-on", "exploding")
    assert quiet.exit_code == 0 and "none raised" in quiet.stdout


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_anomaly_names_the_first_nonfinite_step_and_the_backward_function(agrad):
    records = _steps_json(agrad, f"{EXPLODE}:build", "--steps", "60", "--anomaly")
    summary = records[-1]
    assert summary["anomaly_step"] == summary["first_steps"]["nonfinite"]
    # The same step, rerun by hand under detect_anomaly(): torch names the same Function.
    step = summary["anomaly_step"]
    torch.manual_seed(0)
    model, x, y, loss_fn, opt = load(EXPLODE).build()
    for _ in range(step - 1):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    with pytest.raises(RuntimeError) as raised, torch.autograd.detect_anomaly():
        loss_fn(model(x), y).backward()
    assert summary["anomaly"]["grad_fn"] in str(raised.value)


def test_frozen_and_unused_parameters_over_steps(agrad, tmp_path):
    target = tmp_path / "frozen.py"
    target.write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.used = torch.nn.Linear(2, 1)\n"
        "        self.spare = torch.nn.Linear(2, 1)\n"
        "        self.used.bias.requires_grad_(False)\n"
        "    def forward(self, x):\n"
        "        return self.used(x)\n"
        "def build():\n"
        "    return Net(), torch.ones(4, 2), torch.zeros(4, 1), torch.nn.MSELoss()\n",
        encoding="utf-8",
    )
    records = _steps_json(agrad, f"{target}:build", "--steps", "3", "--optimizer", "adam")
    flags = {p["name"]: p["flag"] for p in records[0]["parameters"]}
    assert flags == {
        "used.weight": None,
        "used.bias": "frozen",
        "spare.weight": "unused",
        "spare.bias": "unused",
    }
    norms = {p["name"]: p["grad_norm"] for p in records[0]["parameters"]}
    assert norms["spare.weight"] is None and norms["used.bias"] is None
    ratios = {p["name"]: p["update_ratio"] for p in records[-2]["parameters"]}
    assert ratios["used.bias"] == 0.0 and ratios["spare.weight"] == 0.0  # never moved
    assert records[-1]["first_steps"]["unused"] == 1


def test_head_1_on_a_long_run_ends_quietly():
    process = subprocess.Popen(
        [*AGRAD, f"{MLP}:build", "--steps", "10000", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    code = process.wait(timeout=300)
    assert json.loads(first)["step"] == 1
    assert err == b"" and code in (0, 1)  # 1: the pipe closed before the end, as sweeps


# The sparklines' arithmetic, against numbers worked out by hand.


def test_runs_cover_every_step_once_and_evenly():
    for count in (1, 7, 16, 17, 100, 10_000):
        cut = runs(count, 16)
        assert [i for r in cut for i in r] == list(range(count))
        assert max(map(len, cut)) - min(map(len, cut)) <= 1 and len(cut) == min(count, 16)


def test_sparkline_levels_on_a_log_scale():
    # log10 spans 0..2 over 8 blocks: 10 is half way, level round(3.5) = 4.
    assert sparkline([1.0, 10.0, 100.0], 16, (1.0, 100.0)) == BLOCKS[0] + BLOCKS[4] + BLOCKS[7]
    assert sparkline([1.0, None, 0.0, math.nan, math.inf], 16, (1.0, 100.0)) == (
        BLOCKS[0] + EMPTY + EMPTY + NONFINITE + NONFINITE
    )
    # Runs of two: each character is the larger value; NaN anywhere in a run wins.
    assert sparkline([1.0, 100.0, 1.0, math.nan], 2, (1.0, 100.0)) == BLOCKS[7] + NONFINITE
    assert largest([None, None]) is None and largest([2.0, None, 3.0]) == 3.0


def test_the_progress_bar_counts_steps():
    from autograd_cli.progress import count_text

    assert count_text("steps", 16, 200) == "16 of 200 steps"


def test_dot_draws_step_1s_graph_without_running_the_steps(agrad, tmp_path):
    """--format dot draws one backward graph: step 1's, the same as without --steps;
    the steps are not run for nothing (a target that counts its forward passes)."""
    target = tmp_path / "counted.py"
    target.write_text(
        "import torch\n"
        "calls = []\n"
        "class Net(torch.nn.Linear):\n"
        "    def forward(self, x):\n"
        "        calls.append(1)\n"
        "        if len(calls) > 1:\n"
        "            raise RuntimeError('a second forward pass')\n"
        "        return super().forward(x)\n"
        "def build():\n"
        "    return Net(2, 1), torch.ones(3, 2), torch.zeros(3, 1), torch.nn.MSELoss()\n",
        encoding="utf-8",
    )
    plain = agrad("inspect", f"{target}:build", "--format", "dot")
    steps = agrad("inspect", f"{target}:build", "--format", "dot", "--steps", "50")
    assert plain.exit_code == 0 and steps.exit_code == 0, steps.stderr
    assert steps.stdout == plain.stdout
    ran = agrad("inspect", f"{target}:build", "--steps", "2", "--json")
    assert ran.exit_code == 1 and "a second forward pass" in ran.stderr


def test_json_lines_are_the_same_bytes_in_every_language(agrad):
    args = ("inspect", f"{EXPLODE}:build", "--steps", "45", "--every", "9", "--json")
    english = agrad(*args, "--fail-on", "nonfinite")
    vietnamese = agrad(*args, "--fail-on", "nonfinite", "--lang", "vi")
    assert english.exit_code == vietnamese.exit_code == 3
    assert english.stdout == vietnamese.stdout
    assert english.stderr != vietnamese.stderr  # the exit-3 line is in the reader's language


def test_a_round_off_gradient_keeps_its_flag_over_the_steps_because_it_stays_zero(agrad):
    # The key bias is round-off in the backward pass before the steps; the claim that it
    # stays so is checked by training the same model in float64 by hand (SGD, lr 0.01):
    # at every step its gradient is 0 up to float64 rounding, the others are not.
    import runpy

    import torch

    result = agrad("inspect", "examples/attention.py:build", "--steps", "20", "--json")
    assert result.exit_code == 0, result.stderr
    *steps, summary = (json.loads(line) for line in result.stdout.splitlines())
    flagged = {p["name"]: p["flags"] for p in summary["parameters"] if p["flags"]}
    assert flagged == {"key.bias": [{"flag": "round-off", "first_step": 1, "steps": 20}]}
    assert all(
        next(p for p in s["parameters"] if p["name"] == "key.bias")["flag"] == "round-off"
        for s in steps
    )

    torch.manual_seed(0)
    model, inputs, targets, loss_fn = runpy.run_path("examples/attention.py")["build"]()
    model, inputs, targets = model.double(), inputs.double(), targets.double()
    for _step in range(20):
        model.zero_grad(set_to_none=True)
        loss_fn(model(inputs), targets).backward()
        norms = {n: float(p.grad.norm()) for n, p in model.named_parameters()}
        assert norms["key.bias"] < 1e-14 * norms["query.bias"]
        assert min(v for n, v in norms.items() if n != "key.bias") > 1e-6
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.01 * p.grad


STEP_ONE_ZERO = """
import torch
from torch import nn


def build():
    model = nn.Linear(4, 1)
    x = torch.randn(64, 4) + 1.0
    with torch.no_grad():
        residual = torch.randn(64, 1)
        targets = model(x) + residual - residual.mean()  # the bias's gradient: 0, by data
    return model, x, targets, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.01)


def lbfgs():
    model = nn.Linear(4, 1)
    return model, torch.randn(8, 4), torch.randn(8, 1), nn.MSELoss(), torch.optim.LBFGS(
        model.parameters()
    )


def other():
    model, elsewhere = nn.Linear(4, 1), nn.Linear(4, 1)
    return model, torch.randn(8, 4), torch.randn(8, 1), nn.MSELoss(), torch.optim.SGD(
        elsewhere.parameters(), lr=0.1
    )
"""


def test_a_gradient_zero_by_one_steps_data_loses_round_off_when_it_grows(agrad, tmp_path):
    # Residuals of mean 0 make the bias's gradient 0 at step 1 (round-off); once the
    # weights move, the residuals no longer cancel and the gradient is real: the flag
    # must go (held to the first pass's bound, not kept for good).
    path = tmp_path / "data_zero.py"
    path.write_text(STEP_ONE_ZERO, encoding="utf-8")
    result = agrad("inspect", f"{path}:build", "--steps", "5", "--json")
    assert result.exit_code == 0, result.stderr
    steps = [json.loads(line) for line in result.stdout.splitlines()][:-1]
    bias = [next(p for p in s["parameters"] if p["name"] == "bias") for s in steps]
    assert bias[0]["flag"] == "round-off"
    assert all(b["flag"] is None and b["grad_norm"] > 1e-3 for b in bias[1:])


@pytest.mark.parametrize(
    ("name", "said"),
    [("lbfgs", "needs a closure"), ("other", "holds none of the model's trainable parameters")],
)
def test_an_optimizer_steps_cannot_drive_is_refused(agrad, tmp_path, name, said):
    path = tmp_path / "optimizers.py"
    path.write_text(STEP_ONE_ZERO, encoding="utf-8")
    result = agrad("inspect", f"{path}:{name}", "--steps", "3")
    assert result.exit_code == 2 and result.stdout == ""
    assert said in result.stderr and len(result.stderr.splitlines()) == 1


SPARSE_MODEL = """
import torch
from torch import nn


def build():
    model = nn.Sequential(nn.Embedding(50, 4, sparse=True), nn.Flatten(), nn.Linear(12, 1))
    words = torch.tensor([[1, 2, 2], [3, 40, 1], [2, 2, 2]])  # rows used twice: summed
    return model, words, torch.randn(3, 1), nn.MSELoss()
"""


def test_a_sparse_embedding_gradient_over_steps(agrad, tmp_path):
    """nn.Embedding(sparse=True) gives a sparse .grad with repeated rows: its norm is
    the dense gradient's, in the one backward pass and at every step."""
    path = tmp_path / "sparse_model.py"
    path.write_text(SPARSE_MODEL)
    records = _steps_json(agrad, f"{path}:build", "--steps", "70")
    torch.manual_seed(0)
    model, words, targets, loss_fn = load(str(path)).build()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    steps = [r for r in records if r["record"] == "step"]
    for record in steps:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(words), targets).backward()
        assert model[0].weight.grad.is_sparse
        norms = [p.grad.to_dense().double().norm().item() for p in model.parameters()]
        opt.step()
        got = [p["grad_norm"] for p in record["parameters"]]
        assert got == pytest.approx(norms, rel=1e-12)
    assert len(steps) == 70 and records[-1]["record"] == "summary"
    one_pass = agrad("inspect", f"{path}:build", "--json")
    assert one_pass.exit_code == 0, one_pass.stderr
    first = json.loads(one_pass.stdout)["parameters"][0]
    assert first["grad_norm"] == pytest.approx(steps[0]["parameters"][0]["grad_norm"], rel=1e-12)


FREEZING_MODEL = """
import torch
from torch import nn


class FreezesAtThirdStep(torch.optim.SGD):
    def step(self, closure=None):
        self.calls = getattr(self, "calls", 0) + 1
        result = super().step(closure)
        if self.calls == 3:
            MODEL.out.weight.requires_grad_(False)  # frozen from now on, .grad or not
        return result


def build():
    global MODEL
    MODEL = nn.Sequential()
    MODEL.add_module("hidden", nn.Linear(3, 4))
    MODEL.add_module("out", nn.Linear(4, 1))
    optimizer = FreezesAtThirdStep(MODEL.parameters(), lr=0.01)
    return MODEL, torch.randn(8, 3), torch.randn(8, 1), nn.MSELoss(), optimizer
"""


def test_a_parameter_frozen_in_the_optimizers_step_is_frozen_from_that_step(agrad, tmp_path):
    """requires_grad_(False) inside step 3: out.weight still has step 3's .grad, and
    is frozen from step 3 on, as the one-pass view calls a frozen parameter with one."""
    path = tmp_path / "freezing.py"
    path.write_text(FREEZING_MODEL)
    records = _steps_json(agrad, f"{path}:build", "--steps", "6")
    flags = [r["parameters"][2]["flag"] for r in records if r["record"] == "step"]
    assert flags == [None, None, "frozen", "frozen", "frozen", "frozen"]
    assert records[3]["parameters"][2]["grad_norm"] is None  # step 4: no .grad any more
    assert records[2]["parameters"][2]["grad_norm"] > 0
    summary = records[-1]["parameters"][2]
    assert summary["flags"] == [{"flag": "frozen", "first_step": 3, "steps": 4}]


@pytest.mark.parametrize(
    ("steps", "every", "english", "vietnamese"),
    [
        ("12", "1", "A character is one recorded step", "Mỗi ký tự là một bước được ghi"),
        ("64", "1", "largest of up to 4 recorded steps", "lớn nhất của tối đa 4 bước"),
        ("60", "4", "A character is one recorded step", "Mỗi ký tự là một bước được ghi"),
    ],
)
def test_the_scale_note_says_how_many_steps_a_character_is(
    agrad, steps, every, english, vietnamese
):
    """16 characters a sparkline: a run of at most 16 recorded steps has one a
    character ("up to 1 recorded steps" was the note's grammar before)."""
    args = ("inspect", f"{MLP}:build", "--steps", steps, "--every", every)
    result = agrad(*args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    assert english in " ".join(result.stdout.split())
    result = agrad(*args, "--lang", "vi", env={"COLUMNS": "80"})
    assert vietnamese in " ".join(result.stdout.split())


UNFREEZING_MODEL = FREEZING_MODEL.replace(
    "        if self.calls == 3:\n"
    "            MODEL.out.weight.requires_grad_(False)  # frozen from now on, .grad or not\n",
    "        if self.calls in (3, 6):  # frozen in step 3, unfrozen in step 6\n"
    "            MODEL.out.weight.requires_grad_(self.calls == 6)\n",
)


def test_a_parameter_unfrozen_in_the_optimizers_step_was_frozen_not_unused(agrad, tmp_path):
    """Frozen during steps 4-6's backward() (no .grad), unfrozen in step 6's step():
    frozen, not "unused" (which would fail --fail-on unused), then healthy again."""
    assert UNFREEZING_MODEL != FREEZING_MODEL
    path = tmp_path / "unfreezing.py"
    path.write_text(UNFREEZING_MODEL)
    records = _steps_json(agrad, f"{path}:build", "--steps", "8", "--fail-on", "unused")
    flags = [r["parameters"][2]["flag"] for r in records if r["record"] == "step"]
    assert flags == [None, None, "frozen", "frozen", "frozen", "frozen", None, None]
    assert records[-1]["failing"] == []


def test_agrads_adam_on_sparse_gradients_is_refused_as_options_that_cannot_work(agrad, tmp_path):
    """torch's Adam raises at its first step() on a sparse .grad, and SparseAdam takes
    it (checked here): --optimizer adam with such a model is exit 2, one line that
    names the parameter and what works, not the user's code failing (exit 1)."""
    embedding = torch.nn.Embedding(5, 2, sparse=True)
    embedding(torch.tensor([1, 1, 3])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        torch.optim.Adam(embedding.parameters()).step()
    torch.optim.SparseAdam(embedding.parameters()).step()

    path = tmp_path / "sparse_model.py"
    path.write_text(SPARSE_MODEL)
    result = agrad("inspect", f"{path}:build", "--steps", "3", "--optimizer", "adam", "--json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "--optimizer adam" in result.stderr and "0.weight" in result.stderr
    assert "--optimizer sgd" in result.stderr and "SparseAdam" in result.stderr
    assert agrad("inspect", f"{path}:build", "--steps", "3", "--json").exit_code == 0


HUGE = """
import torch
from torch import nn


def build(width: int = 4):
    model = nn.Linear(width, 3).double()
    with torch.no_grad():
        model.weight.mul_(1e160)
    inputs = torch.randn(8, width, dtype=torch.float64)
    return model, inputs, torch.randn(8, 3, dtype=torch.float64), nn.MSELoss()
"""


def _scaled_norm(tensor: torch.Tensor) -> float:
    """‖tensor‖ by math.hypot, which no square of a float64 overflows or underflows."""
    return math.hypot(*tensor.double().flatten().tolist())


@pytest.mark.parametrize("width", [4, 30000], ids=["flat", "per-tensor"])
def test_huge_float64_gradients_are_exploding_with_finite_norms_over_steps(agrad, tmp_path, width):
    """Gradients and updates of ~1e158-1e160 in float64 square past its range: the
    norms and ratios are the finite ones of scaled maths, the flag `exploding` (not
    `nonfinite`: no NaN or inf is in them), whichever way the norms are taken
    (90,003 parameters: past the flat way's limit)."""
    path = tmp_path / "huge.py"
    path.write_text(HUGE, encoding="utf-8")
    torch.manual_seed(0)
    model, inputs, targets, loss_fn = load(path).build(width)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    want = []
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(inputs), targets).backward()
        before = [p.detach().clone() for p in model.parameters()]
        norms = [_scaled_norm(p.grad) for p in model.parameters()]
        opt.step()
        ratios = [
            _scaled_norm(p.detach() - b) / _scaled_norm(b)
            for p, b in zip(model.parameters(), before, strict=True)
        ]
        want.append((norms, ratios))
    records = _steps_json(agrad, f"{path}:build", "--steps", "3", "--arg", f"width={width}")
    steps = [r for r in records if r["record"] == "step"]
    for record, (norms, ratios) in zip(steps, want, strict=True):
        for p, norm, ratio in zip(record["parameters"], norms, ratios, strict=True):
            assert p["grad_norm"] == pytest.approx(norm, rel=1e-12)
            assert p["update_ratio"] == pytest.approx(ratio, rel=1e-9)
            assert (p["flag"], p["nan_count"], p["inf_count"]) == ("exploding", 0, 0)
    assert records[-1]["first_steps"]["nonfinite"] is None


EXTREME = """
import torch
from torch import nn


class Vector(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(width, dtype=torch.float64))

    def forward(self, x):
        return self.p * x


def build(width: int = 4, value: float = 1.0, count: int = 1):
    c = torch.zeros(width, dtype=torch.float64)
    c[:count] = value
    # loss = sum(p * c): the gradient is c itself
    return Vector(width), torch.ones(width, dtype=torch.float64), c, lambda out, t: (out * t).sum()
"""


@pytest.mark.parametrize("width", [4, 70000], ids=["flat", "per-tensor"])
@pytest.mark.parametrize(
    ("value", "count", "flag"),
    [(1.5e308, 2, "exploding"), (1e-170, 3, "vanishing"), (1e-160, 3, "vanishing")],
    ids=["norm-past-float64", "squares-underflow", "squares-subnormal"],
)
def test_float64_gradients_at_either_end_of_its_range(agrad, tmp_path, width, value, count, flag):
    """A gradient [1.5e308, 1.5e308]: its norm, 2.1e308, is past float64's range, yet
    no element is inf: `exploding`, not `nonfinite`. One of 1e-170s: their squares
    vanish in float64, yet the gradient is not all zeros: `vanishing`, not `dead`, with
    its norm (torch's own is 0, or 5.6e-6 off at 1e-160). Both views, both ways."""
    path = tmp_path / "extreme.py"
    path.write_text(EXTREME, encoding="utf-8")
    gradient = [value] * count + [0.0] * (width - count)
    want = math.hypot(*gradient)
    args = ("--arg", f"width={width}", "--arg", f"value={value!r}", "--arg", f"count={count}")
    one = json.loads(agrad("inspect", f"{path}:build", "--json", *args).stdout)
    (parameter,) = one["parameters"]
    assert _number(parameter["grad_norm"]) == pytest.approx(want, rel=1e-12, abs=0)
    assert parameter["flags"] == [flag]
    assert parameter["nan_count"] == parameter["inf_count"] == 0
    records = _steps_json(agrad, f"{path}:build", "--steps", "2", "--lr", "1e-30", *args)
    for record in records[:-1]:
        (parameter,) = record["parameters"]
        assert _number(parameter["grad_norm"]) == pytest.approx(want, rel=1e-12, abs=0)
        assert (parameter["flag"], parameter["nan_count"], parameter["inf_count"]) == (flag, 0, 0)
    first_steps = records[-1]["first_steps"]
    assert first_steps["nonfinite"] is None and first_steps["dead"] is None
