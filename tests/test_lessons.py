"""What agrad teaches about autograd, checked against the installed torch.

Each lesson the views state in words (only leaves get .grad, detach() leaves z alone,
optimizer.zero_grad() sets .grad to None, loss.backward() seeds with 1, the graph is
rebuilt on every forward pass) is run here with torch itself, and the view must say
what torch did.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F


def _tutorial(seed: int) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(seed)
    x, y = torch.ones(5), torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    return x, y, w, b


def test_detach_makes_z_det_without_grad_and_leaves_z_as_it_was(agrad, agrad_json):
    x, _, w, b = _tutorial(0)
    z = torch.matmul(x, w) + b
    z_det = z.detach()
    assert (z_det.requires_grad, z.requires_grad) == (False, True)
    assert z_det.data_ptr() == z.data_ptr()  # "shares z's data"

    (case,) = [c for c in agrad_json("linear")["freezing"] if c["case"] == "detach"]
    assert case["tensor"] == "z_det"
    assert case["requires_grad"] is z_det.requires_grad
    assert case["source_requires_grad"] is z.requires_grad

    text = agrad("linear").stdout
    tail = text[text.index("z_det = z.detach()") :]
    assert tail.index("z_det.requires_grad = False") < tail.index("z.requires_grad = True")
    assert "shares z's data" in tail


def _torch_non_leaf_warning() -> str:
    x, _, w, b = _tutorial(0)
    z = torch.matmul(x, w) + b
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert z.grad is None
    (warning,) = caught
    return str(warning.message).split(" (Triggered internally at")[0].strip()


@pytest.mark.parametrize("seed", [0, 7])
def test_only_leaves_get_grad_and_retain_grad_keeps_dloss_dz(agrad_json, seed):
    doc = agrad_json("linear", "--seed", str(seed))
    facts = doc["non_leaf"]
    assert facts["name"] == "z" and facts["grad"] is None
    assert facts["warning"] == _torch_non_leaf_warning()
    assert "retain_grad" in facts["warning"]  # torch's own advice, as the view explains

    # Oracle: dL/dz = (σ(z) − y)/3 in float64, from the tutorial's inputs.
    x, y, w, b = _tutorial(seed)
    z = x.double().numpy() @ w.detach().double().numpy() + b.detach().double().numpy()
    expected = (1.0 / (1.0 + np.exp(-z)) - y.double().numpy()) / 3.0
    np.testing.assert_allclose(facts["retained_grad"], expected, rtol=1e-5, atol=1e-7)
    assert "z.retain_grad()" in facts["code"]
    # The gradients agrad reports are those of one backward(), not doubled by the rerun.
    grads = {g["name"]: g["value"] for g in doc["gradients"]}
    np.testing.assert_allclose(grads["b"], expected, rtol=1e-5, atol=1e-7)


def test_the_view_shows_z_grad_none_the_warning_and_retain_grad(agrad):
    text = " ".join(agrad("linear", env={"COLUMNS": "400"}).stdout.split())
    section = text[text.index("Only leaves get .grad") :]
    assert "z.grad = None" in section
    assert _torch_non_leaf_warning() in section
    assert section.index("z.retain_grad()") < section.index("Disabling gradient tracking")


def test_optimizer_zero_grad_sets_none_as_the_jvp_view_says(agrad):
    p = torch.ones(2, requires_grad=True)
    p.sum().backward()
    optimizer = torch.optim.SGD([p], lr=0.1)
    optimizer.zero_grad()
    assert p.grad is None
    default = inspect.signature(torch.optim.Optimizer.zero_grad).parameters["set_to_none"]
    assert default.default is True

    text = " ".join(agrad("jvp", env={"COLUMNS": "400"}).stdout.split())
    assert "optimizer.zero_grad()" in text
    assert "sets .grad to None by default (set_to_none=True)" in text
    assert "as optimizer.zero_grad() does" not in text  # the old, wrong lesson


def test_scalar_backward_is_backward_of_one(agrad):
    grads = []
    for seed_with_one in (False, True):
        x, y, w, b = _tutorial(0)
        loss = F.binary_cross_entropy_with_logits(torch.matmul(x, w) + b, y)
        loss.backward(torch.tensor(1.0)) if seed_with_one else loss.backward()
        grads.append((w.grad.clone(), b.grad.clone()))
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))
    text = " ".join(agrad("linear", env={"COLUMNS": "400"}).stdout.split())
    assert "loss.backward() is loss.backward(torch.tensor(1.0))" in text


def test_the_graph_is_built_anew_on_every_forward_pass(agrad):
    x, _, w, b = _tutorial(0)
    first = torch.matmul(x, w) + b
    second = torch.matmul(x, w) + b
    assert first.grad_fn is not second.grad_fn  # a new graph, not the old one reused
    # Dynamic: Python control flow decides which nodes the next graph has.
    branch = [(first * 2 if flip else first.exp()).grad_fn for flip in (True, False)]
    assert [type(fn).__name__ for fn in branch] == ["MulBackward0", "ExpBackward0"]
    text = " ".join(agrad("linear", env={"COLUMNS": "400"}).stdout.split())
    assert "It is built anew on every forward pass (the graph is dynamic)" in text


@pytest.mark.parametrize("repeat", [1, 3])
def test_jvp_labels_each_matrix_as_inp_grad_after_that_call(agrad, agrad_json, repeat):
    text = agrad("jvp", "--repeat", str(repeat)).stdout
    assert text.count("inp.grad after this call") == repeat + 1
    assert len(agrad_json("jvp", "--repeat", str(repeat))["steps"]) == repeat + 1


def test_forward_mode_records_nothing_only_on_a_detached_input(agrad):
    def f(x: torch.Tensor) -> torch.Tensor:
        return (x + 1).pow(2).t()

    inp = torch.eye(4, 5, requires_grad=True)
    tangent = torch.ones(4, 5)
    _, detached = torch.func.jvp(f, (inp.detach(),), (tangent,))
    _, attached = torch.func.jvp(f, (inp,), (tangent,))
    assert detached.grad_fn is None and inp.grad is None
    assert attached.grad_fn is not None  # with inp itself, J·t joins inp's graph
    text = " ".join(agrad("jvp", "--mode", "forward", env={"COLUMNS": "400"}).stdout.split())
    assert "torch.func.jvp(f, (inp.detach(),), (t,))" in text
    assert "it would have a grad_fn" in text


def test_saved_tensors_of_at_most_eight_elements_are_shown_whole(agrad):
    # MmBackward0 saves self, x = ones(5) seen as (1, 5): five values, none left out.
    text = agrad("linear", "--saved", env={"COLUMNS": "200"}).stdout
    (line,) = [ln for ln in text.splitlines() if "saved self: (1, 5)" in ln]
    assert line.endswith("= [1.0000, 1.0000, 1.0000, 1.0000, 1.0000]")
