"""The round-off flag: a gradient that is 0 in exact arithmetic is told apart from a
vanishing one (issue 19, item 4).

The oracles are independent of agrad: softmax's invariance to a constant added to a
row, differentiated in float64 by torch.func; the same model rerun in float64, where
rounding shrinks a billionfold and a real gradient keeps its value; and torch's own
backward, run here, for every operation the criterion names.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from autograd_cli.errors import ExitCode
from tests.user_modules import EXAMPLES, example, load


def _gradients(model: torch.nn.Module, inputs: Any, targets: Any, loss_fn: Any) -> dict:
    model.zero_grad(set_to_none=True)
    loss_fn(model(inputs), targets).backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def _attention(seed: int = 0, **kwargs: Any) -> tuple[Any, ...]:
    torch.manual_seed(seed)  # as agrad does before NAME
    return example("attention").build(**kwargs)


def _attention_file(path: Path, returned: str) -> Path:
    """A target file whose build() is examples/attention.py's, then `returned` (a line
    returning a variant of its model, inputs, targets and loss_fn)."""
    path.write_text(
        "import importlib.util, torch\n"
        f"spec = importlib.util.spec_from_file_location('a', {str(EXAMPLES / 'attention.py')!r})\n"
        "attention = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(attention)\n"
        "def build():\n"
        "    model, inputs, targets, loss_fn = attention.build()\n" + returned,
        encoding="utf-8",
    )
    return path


def _flags(document: dict[str, Any]) -> dict[str, list[str]]:
    return {p["name"]: p["flags"] for p in document["parameters"]}


# --- The claim, checked without agrad ---------------------------------------------


def test_softmax_ignores_a_constant_added_to_a_row_float64():
    """The key bias's exact gradient is 0: it adds c_i = q_i · b_k to every logit of
    row i, and d/dc of any loss of softmax(z + c) is 0."""
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 7, dtype=torch.float64, generator=generator)
    weights = torch.randn(5, 7, dtype=torch.float64, generator=generator)

    def loss(shift: torch.Tensor) -> torch.Tensor:
        return (weights * (logits + shift[:, None]).softmax(dim=-1)).pow(2).sum()

    zero = torch.zeros(5, dtype=torch.float64)
    by_shift = torch.func.grad(loss)(zero)
    by_logit = torch.func.grad(lambda z: (weights * z.softmax(dim=-1)).pow(2).sum())(logits)
    # the derivative by the shift is the row sum of the logits' gradient: 0 up to rounding
    assert by_shift.abs().max() <= 1e-15 * by_logit.abs().sum()
    assert by_logit.abs().max() > 1e-3  # the logits themselves do matter


def test_the_key_bias_gradient_is_rounding_the_others_are_real():
    """Same model, same numbers, in float64: the key bias's gradient shrinks by far
    more than 1e4, every other gradient keeps its value to float32's precision."""
    model, inputs, targets, loss_fn = _attention()
    single = _gradients(model, inputs, targets, loss_fn)
    double = _gradients(model.double(), inputs.double(), targets.double(), loss_fn)
    for name in single:
        norm32 = float(single[name].double().norm())
        norm64 = float(double[name].norm())
        if name == "key.bias":
            assert norm64 < norm32 / 1e4, (norm32, norm64)
        else:
            difference = float((single[name].double() - double[name]).norm())
            assert difference <= 1e-5 * norm64, (name, difference, norm64)


def test_the_key_bias_gradient_is_zero_by_its_formula():
    """dL/db_k = Σ_i q_i · (Σ_j dL/dlogit_ij) / √width, and each row sum is 0: in
    float64 the formula gives float64's rounding, nothing more."""
    model, inputs, targets, loss_fn = _attention()
    model = model.double()
    x, y = inputs.double(), targets.double()
    q, k, v = model.query(x), model.key(x), model.value(x)
    logits = (q @ k.transpose(-2, -1) * model.scale).detach().requires_grad_()
    loss_fn(model.out(logits.softmax(-1) @ v), y).backward()
    row_sums = logits.grad.sum(-1)
    assert row_sums.abs().max() <= 1e-15 * logits.grad.abs().sum()
    by_formula = (row_sums[..., None] * q).sum((0, 1)) * model.scale
    scale = float(q.detach().norm()) * float(logits.grad.norm())
    assert float(by_formula.detach().norm()) <= 1e-14 * scale


# --- agrad inspect -----------------------------------------------------------------


def test_attention_key_bias_is_round_off_and_nothing_else_is(agrad_json):
    document = agrad_json("inspect", "examples/attention.py:build")
    flags = _flags(document)
    assert flags.pop("key.bias") == ["round-off"]
    assert set(flags) == {
        "query.weight",
        "query.bias",
        "key.weight",
        "value.weight",
        "value.bias",
        "out.weight",
        "out.bias",
    }
    assert all(f == [] for f in flags.values()), flags
    assert document["flag_counts"]["round-off"] == 1
    # without the flag it would be vanishing: far below the default --vanish 1e-7
    key_bias = next(p for p in document["parameters"] if p["name"] == "key.bias")
    assert 0 < key_bias["grad_norm"] < 1e-7


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("sizes", [("batch=1", "tokens=2", "width=4"), ("tokens=64",)])
def test_round_off_over_seeds_and_sizes(agrad_json, seed, sizes):
    arguments = [a for size in sizes for a in ("--arg", size)]
    document = agrad_json("inspect", "examples/attention.py:build", "--seed", str(seed), *arguments)
    flagged = {n for n, f in _flags(document).items() if f}
    assert flagged == {"key.bias"}
    assert _flags(document)["key.bias"] == ["round-off"]


def test_round_off_is_not_a_problem_for_fail_on_any(agrad):
    result = agrad("inspect", "examples/attention.py:build", "--fail-on", "any", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert json.loads(result.stdout)["failing"] == []
    named = agrad("inspect", "examples/attention.py:build", "--fail-on", "any,round-off", "--json")
    assert named.exit_code == ExitCode.CHECK_FAILED
    document = json.loads(named.stdout)
    assert "round-off" in document["fail_on"] and "frozen" not in document["fail_on"]
    assert document["failing"] == ["round-off"]


def test_rnn_h0_stays_vanishing_and_float64_keeps_its_value(agrad_json):
    """h0's gradient is small from depth, not rounding: float64 gives the same value."""
    document = agrad_json("inspect", "examples/rnn.py:build")
    assert _flags(document)["h0"] == ["vanishing"]
    torch.manual_seed(0)
    model, sequence, targets, loss_fn = example("rnn").build()
    single = _gradients(model, sequence, targets, loss_fn)["h0"].double()
    double = _gradients(model.double(), sequence.double(), targets.double(), loss_fn)["h0"]
    assert float(double.norm()) < 1e-7
    assert float((single - double).norm()) <= 1e-3 * float(double.norm())


def test_a_gradient_small_by_scale_is_vanishing_not_round_off(tmp_path, agrad_json):
    """The loss times 1e-12 makes every gradient tiny, for real: the criterion is
    relative to the gradient each bias sums, so only the key bias is round-off."""
    path = _attention_file(
        tmp_path / "scaled.py",
        "    return model, inputs, targets, lambda out, t: 1e-12 * loss_fn(out, t)\n",
    )
    flags = _flags(agrad_json("inspect", f"{path}:build"))
    assert flags.pop("key.bias") == ["round-off"]
    assert all(f == ["vanishing"] for f in flags.values()), flags


def test_a_bias_before_batch_norm_is_round_off(tmp_path, agrad_json):
    """Training-mode BatchNorm subtracts the batch mean, and the bias before it with
    it: another gradient that is 0 in exact arithmetic (float64 shrinks it too)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.Tanh(), torch.nn.Linear(5, 1)
    )
    inputs, targets = torch.randn(32, 6), torch.randn(32, 1)
    single = _gradients(model, inputs, targets, torch.nn.MSELoss())
    double = _gradients(model.double(), inputs.double(), targets.double(), torch.nn.MSELoss())
    assert float(double["0.bias"].norm()) < float(single["0.bias"].norm()) / 1e4

    path = tmp_path / "batchnorm.py"
    path.write_text(
        "import torch\n"
        "def build():\n"
        "    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5),\n"
        "                                torch.nn.Tanh(), torch.nn.Linear(5, 1))\n"
        "    return model, torch.randn(32, 6), torch.randn(32, 1), torch.nn.MSELoss()\n",
        encoding="utf-8",
    )
    flags = _flags(agrad_json("inspect", f"{path}:build"))
    assert flags.pop("0.bias") == ["round-off"]
    assert all(f == [] for f in flags.values()), flags


# --- The criterion's parts ----------------------------------------------------------


def _probe_bounds(loss: torch.Tensor, named: dict[str, torch.Tensor]) -> dict[str, float]:
    from autograd_cli.inspection.roundoff import roundoff_probe

    probe = roundoff_probe(loss.grad_fn, named.items())
    loss.backward()
    return probe.bounds()


def test_the_bound_is_factor_eps_times_the_gradient_summed():
    """For y = x @ W.T + b the bias is summed from dL/dy; with L = (y * c).sum(), dL/dy
    is c: the bound is 64 · eps · ‖c‖, and the weight (multiplied) gets none."""
    from autograd_cli.inspection.roundoff import ROUNDOFF_FACTOR

    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 4)
    x, c = torch.randn(5, 3), torch.randn(5, 4)
    bounds = _probe_bounds((layer(x) * c).sum(), dict(layer.named_parameters()))
    assert set(bounds) == {"bias"}
    expected = ROUNDOFF_FACTOR * torch.finfo(torch.float32).eps * float(c.double().norm())
    assert bounds["bias"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "build",
    [
        lambda b, x: x.add(b, alpha=1e-9),
        lambda b, x: torch.sub(x, b, alpha=1e-9),
        lambda b, x: torch.addmm(b, x, torch.eye(4), beta=1e-9),
    ],
)
def test_a_bias_scaled_by_alpha_or_beta_gets_no_bound(build):
    """b's real gradient is 1e-9 times the gradient summed: not rounding."""
    b = torch.randn(4, requires_grad=True)
    x = torch.randn(3, 4)
    assert _probe_bounds(build(b, x).pow(2).sum(), {"b": b}) == {}


def test_alpha_and_beta_are_read_from_the_installed_torch():
    from autograd_cli.inspection.roundoff import SUMMED_SLOTS, _unit_scale

    b = torch.randn(4, requires_grad=True)
    x = torch.randn(3, 4)
    unit = {
        "AddBackward0": x + b,
        "SubBackward0": x - b,
        "AddmmBackward0": torch.addmm(b, x, torch.eye(4)),
    }
    for (kind, slot), attribute in SUMMED_SLOTS.items():
        if attribute is not None:
            assert _unit_scale(unit[kind].grad_fn, attribute), (kind, slot)
    assert not _unit_scale(x.add(b, alpha=2).grad_fn, "_saved_alpha")


def test_a_parameter_also_multiplied_gets_no_bound():
    b = torch.randn(4, requires_grad=True)
    x = torch.randn(3, 4)
    assert _probe_bounds(((x + b) * b).sum(), {"b": b}) == {}
    assert set(_probe_bounds((x + b.view(1, 4)).pow(2).sum(), {"b": b})) == {"b"}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_not_told_apart(dtype):
    """64 · eps is 6% (float16) or 50% (bfloat16) of the gradient summed: a real bias
    could sit there, so no bound is given and the key bias is left to --vanish."""
    model, inputs, targets, loss_fn = _attention()
    model = model.to(dtype)
    loss = loss_fn(model(inputs.to(dtype)), targets.to(dtype))
    assert _probe_bounds(loss, dict(model.named_parameters())) == {}


def _summed_cases() -> list[tuple[str, int, Any]]:
    """(grad_fn class, slot, build(b) -> output) with b entering in that slot."""
    x4 = torch.randn(6, 4)
    return [
        ("AddBackward0", 0, lambda b: b + x4),
        ("AddBackward0", 1, lambda b: x4 + b),
        ("SubBackward0", 0, lambda b: b - x4),
        ("SubBackward0", 1, lambda b: x4 - b),
        ("AddmmBackward0", 0, lambda b: torch.nn.functional.linear(x4, torch.randn(4, 4), b)),
        ("ExpandBackward0", 0, lambda b: b.expand(6, 4)),
        (
            "ConvolutionBackward0",
            2,
            lambda b: torch.nn.functional.conv1d(x4.view(2, 4, 3), torch.randn(4, 4, 1), b),
        ),
        (
            "NativeLayerNormBackward0",
            2,
            lambda b: torch.nn.functional.layer_norm(x4, (4,), torch.randn(4), b),
        ),
    ]


@pytest.mark.parametrize("kind, slot, build", _summed_cases())
def test_each_summed_slot_hands_its_input_a_plain_sum(kind, slot, build):
    """What the criterion assumes of SUMMED_SLOTS, checked on the installed torch: the
    node is that class, b enters in that slot, and b.grad is ±(dL/dout summed over
    every dimension but b's), so ‖b.grad‖ and the gradient summed share their units."""
    from autograd_cli.inspection.roundoff import SUMMED_SLOTS

    assert (kind, slot) in SUMMED_SLOTS
    b = torch.randn(4, requires_grad=True)
    out = build(b)
    node = out.grad_fn
    assert type(node).__name__ == kind
    (consumer, _) = node.next_functions[slot]
    assert type(consumer).__name__ == "AccumulateGrad" and consumer.variable is b
    upstream = torch.randn(out.shape)
    out.backward(upstream)
    channel = 1 if kind == "ConvolutionBackward0" else out.dim() - 1
    summed = upstream.double().sum([d for d in range(out.dim()) if d != channel])
    assert torch.allclose(b.grad.double().abs(), summed.abs(), rtol=1e-5, atol=1e-6)


def _pass_through_cases() -> list[tuple[str, Any]]:
    other = torch.randn(2, 3, 4)
    return [
        ("ViewBackward0", lambda t: t.view(3, 8)),
        ("UnsafeViewBackward0", lambda t: (t @ torch.eye(4)).reshape(6, 4)),
        ("ReshapeAliasBackward0", lambda t: other @ t.transpose(-2, -1)),  # as in attention
        ("TBackward0", lambda t: t.view(6, 4).t()),
        ("TransposeBackward0", lambda t: t.transpose(0, 2)),
        ("PermuteBackward0", lambda t: t.permute(2, 0, 1)),
        ("UnsqueezeBackward0", lambda t: t.unsqueeze(0)),
        ("SqueezeBackward0", lambda t: t.unsqueeze(0).squeeze()),
        ("SqueezeBackward1", lambda t: t.unsqueeze(0).squeeze(0)),
        ("CloneBackward0", lambda t: t.clone()),
    ]


@pytest.mark.parametrize("kind, build", _pass_through_cases())
def test_each_pass_through_moves_values_without_adding(kind, build):
    """What the criterion assumes of PASS_THROUGH, checked on the installed torch: the
    node's backward hands its input the same multiset of values it was given."""
    from autograd_cli.inspection.roundoff import PASS_THROUGH

    assert kind in PASS_THROUGH
    t = torch.randn(2, 3, 4, requires_grad=True)
    out = build(t)
    nodes, stack = [], [out.grad_fn]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(n for n, _ in node.next_functions if n is not None)
    node = next(n for n in nodes if type(n).__name__ == kind)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    node.register_hook(lambda given, received: seen.append((given[0], received[0])))
    out.backward(torch.randn(out.shape))
    ((given, received),) = seen
    assert torch.equal(given.flatten().sort().values, received.flatten().sort().values)


def test_flag_order_round_off_after_dead_before_vanishing():
    from autograd_cli.inspection.health import health_flags

    assert health_flags(1e-12, 0, 0.0, 1e-7, 1e3, roundoff_bound=1e-9) == ("round-off",)
    assert health_flags(1e-9, 0, 0.0, 1e-7, 1e3, roundoff_bound=1e-9) == ("round-off",)
    assert health_flags(2e-9, 0, 0.0, 1e-7, 1e3, roundoff_bound=1e-9) == ("vanishing",)
    assert health_flags(1e-12, 0, 0.0, 1e-7, 1e3, roundoff_bound=None) == ("vanishing",)
    assert health_flags(0.0, 0, 1.0, 1e-7, 1e3, roundoff_bound=1e-9) == ("dead",)
    assert health_flags(float("nan"), 1, 0.0, 1e-7, 1e3, roundoff_bound=1e-9) == ("nonfinite",)


def test_fail_on_any_leaves_round_off_and_frozen_out():
    from autograd_cli.model import HEALTH_FLAGS, PROBLEM_FLAGS
    from autograd_cli.scenarios.inspect_target import parse_fail_on

    assert "round-off" in HEALTH_FLAGS
    assert set(HEALTH_FLAGS) - set(PROBLEM_FLAGS) == {"frozen", "round-off"}
    assert parse_fail_on("any") == ",".join(PROBLEM_FLAGS)
    assert parse_fail_on("round-off,any").split(",") == [*PROBLEM_FLAGS, "round-off"]
    assert parse_fail_on("ROUND-OFF") == "round-off"


HUGE = """
import torch
from torch import nn


def build():
    torch.manual_seed(0)
    model = nn.Linear(4, 3).double()
    with torch.no_grad():
        model.weight.mul_(1e160)
    inputs = torch.randn(8, 4, dtype=torch.float64)
    return model, inputs, torch.randn(8, 3, dtype=torch.float64), nn.MSELoss()
"""


def _scaled_norm(tensor: torch.Tensor) -> float:
    """‖tensor‖ by math.hypot: no square passes float64's range."""
    return math.hypot(*tensor.double().flatten().tolist())


def test_the_bound_of_a_float64_gradient_past_1e154():
    """torch's float64 norm of c = 1e160·randn is inf (its squares overflow): the bound
    is 64 · eps · ‖c‖ all the same, ‖c‖ by math.hypot. Past float64's range (‖c‖ of
    4e308) there is no bound, rather than an infinite one that every gradient is under."""
    from autograd_cli.inspection.roundoff import ROUNDOFF_FACTOR

    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 4).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    c = 1e160 * torch.randn(5, 4, dtype=torch.float64)
    assert float(torch.linalg.vector_norm(c)) == math.inf
    bounds = _probe_bounds((layer(x) * c).sum(), dict(layer.named_parameters()))
    eps = torch.finfo(torch.float64).eps
    assert bounds["bias"] == pytest.approx(ROUNDOFF_FACTOR * eps * _scaled_norm(c), rel=1e-12)
    c = torch.full((5, 4), 1e308, dtype=torch.float64)
    assert _scaled_norm(c) == math.inf
    assert _probe_bounds((layer(x) * c).sum(), dict(layer.named_parameters())) == {}


def test_float64_attention_at_1e160_keeps_its_key_bias_round_off(agrad_json, tmp_path):
    """examples/attention.py in float64 with its loss times 1e160: every gradient is
    past 1e140, and the key bias's is still rounding of an exact 0 (float64 keeps
    16 digits of each term: 1e-16 of the gradient it is summed from)."""
    path = _attention_file(
        tmp_path / "attention64.py",
        "    return model.double(), inputs.double(), targets.double(), "
        "lambda out, t: 1e160 * loss_fn(out, t)\n",
    )
    flags = _flags(agrad_json("inspect", f"{path}:build"))
    assert flags.pop("key.bias") == ["round-off"]
    assert all(f == ["exploding"] for f in flags.values()), flags


def test_a_huge_float64_gradient_is_exploding_not_nonfinite_nor_round_off(tmp_path, agrad_json):
    """Gradients of ~1e160 in float64: torch's norm of them is inf (their squares pass
    float64's range), which made the weight `nonfinite` and, through an infinite
    round-off bound, the bias `round-off`. Both are finite and exploding."""
    path = tmp_path / "huge.py"
    path.write_text(HUGE, encoding="utf-8")
    model, inputs, targets, loss_fn = load(path).build()  # the test's own copy
    loss_fn(model(inputs), targets).backward()
    want = {name: _scaled_norm(p.grad) for name, p in model.named_parameters()}
    assert all(float(torch.linalg.vector_norm(p.grad)) == float("inf") for p in model.parameters())
    document = agrad_json("inspect", f"{path}:build")
    for parameter in document["parameters"]:
        assert parameter["grad_norm"] == pytest.approx(want[parameter["name"]], rel=1e-12)
        assert parameter["flags"] == ["exploding"]
        assert parameter["nan_count"] == parameter["inf_count"] == 0
