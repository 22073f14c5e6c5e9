"""The pitfalls, as data: the code of each mistake and of its fix (run as shown,
never user input), what torch is expected to do, and why, in plain words.

The words of torch are never written here: run.py captures them from the installed
torch. `expects` only says which kind of answer this torch version gave when the
pitfall was written; a different one is shown as it is, never as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograd_cli.i18n import N_
from autograd_cli.pitfalls.facts import ERROR, SILENT, WARNING


@dataclass(frozen=True, kw_only=True)
class Case:
    name: str  # the NAME of `agrad pitfalls NAME`
    symptom: str  # one line, N_()
    code: tuple[str, ...]  # the mistake, run as shown
    expects: str  # ERROR, WARNING or SILENT
    facts: tuple[str, ...]  # expressions evaluated after the mistake ran
    why: str  # N_()
    fix: tuple[str, ...]  # the fix, run as shown
    result: tuple[str, ...]  # expressions evaluated after the fix ran
    graph_of: str | None = None  # the tensor whose graph the view shows, after the mistake
    saved: bool = False  # the view shows what the graph's nodes saved (freed or not)
    anomaly: bool = False  # run the mistake again in anomaly mode to find where


CASES = (
    Case(
        name="nonleaf-grad",
        symptom=N_("The .grad of an intermediate tensor is None, with a warning."),
        code=(
            "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)",
            "z = x * 2",
            "loss = (z * z).sum()",
            "loss.backward()",
            "z.grad",
        ),
        expects=WARNING,
        facts=("z.is_leaf", "z.grad_fn", "z.grad", "x.grad"),
        graph_of="loss",
        why=N_(
            "backward() writes .grad only where the graph ends: the AccumulateGrad node "
            "of a leaf (x). z is not a leaf: it is the output of MulBackward0, a node in "
            "the middle of the graph, whose gradient is passed on to x and then dropped. "
            "Call z.retain_grad() before backward() to keep it."
        ),
        fix=(
            "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)",
            "z = x * 2",
            "z.retain_grad()  # keep z's gradient too",
            "loss = (z * z).sum()",
            "loss.backward()",
        ),
        result=("z.grad", "x.grad"),
    ),
    Case(
        name="backward-twice",
        symptom=N_("A second backward() through the same graph raises an error."),
        code=(
            "x = torch.tensor([1.0, 2.0], requires_grad=True)",
            "loss = x.exp().sum()  # ExpBackward0 saves exp(x)",
            "loss.backward()",
            "loss.backward()",
        ),
        expects=ERROR,
        facts=("x.grad",),
        graph_of="loss",
        saved=True,
        why=N_(
            "To save memory, backward() frees the tensors the graph's nodes saved for it "
            "(here ExpBackward0's result, exp(x)) as soon as it has used them: the graph "
            "after the first backward() shows them freed, so a second one cannot run. "
            "Pass retain_graph=True to the first call to keep them, or run the forward "
            "pass again, which builds a new graph. Either way the two gradients add up "
            "in .grad."
        ),
        fix=(
            "x = torch.tensor([1.0, 2.0], requires_grad=True)",
            "loss = x.exp().sum()",
            "loss.backward(retain_graph=True)  # keep what the nodes saved",
            "loss.backward()  # x.grad accumulates: 2·exp(x)",
        ),
        result=("x.grad",),
    ),
    Case(
        name="inplace-leaf",
        symptom=N_("Updating a leaf that requires grad in place raises an error."),
        code=(
            "w = torch.tensor([1.0, 2.0], requires_grad=True)",
            "loss = (w * w).sum()",
            "loss.backward()",
            "w -= 0.1 * w.grad  # a gradient step, by hand",
        ),
        expects=ERROR,
        facts=("w", "w.is_leaf"),
        why=N_(
            "An in-place operation on w would itself be recorded in the graph, and w, a "
            "leaf with requires_grad=True, would stop being a leaf: the values that "
            "autograd computes gradients for would be changed behind its back. An "
            "update of the weights is not part of the model: do it under torch.no_grad(), "
            "or out of place (w = w - ..., which makes a new tensor)."
        ),
        fix=(
            "w = torch.tensor([1.0, 2.0], requires_grad=True)",
            "loss = (w * w).sum()",
            "loss.backward()",
            "with torch.no_grad():  # not recorded in any graph",
            "    w -= 0.1 * w.grad",
        ),
        result=("w", "w.is_leaf", "w.requires_grad"),
    ),
    Case(
        name="inplace-saved",
        symptom=N_("A tensor saved for backward was changed in place: backward() fails."),
        code=(
            "a = torch.tensor([1.0, 2.0], requires_grad=True)",
            "b = a.sigmoid()  # SigmoidBackward0 saves its result, b",
            "b.mul_(2)  # changes b in place",
            "b.sum().backward()",
        ),
        expects=ERROR,
        facts=("b._version",),
        anomaly=True,
        why=N_(
            "The gradient of sigmoid is computed from its result: σ(a)·(1 − σ(a)). "
            "SigmoidBackward0 saved b for that, and every in-place operation adds one "
            "to a tensor's version counter. At backward() the saved b is at version 1, "
            "not the 0 it was saved at, so its values are no longer the ones the "
            "gradient needs. Anomaly mode (torch.autograd.detect_anomaly()) records the "
            "forward line of each node and names the one that failed; the fix is the "
            "out-of-place operation, which leaves the saved tensor alone."
        ),
        fix=(
            "a = torch.tensor([1.0, 2.0], requires_grad=True)",
            "b = a.sigmoid()",
            "b = b * 2  # out of place: a new tensor, the saved one is untouched",
            "b.sum().backward()",
        ),
        result=("a.grad",),
    ),
    Case(
        name="nonscalar-backward",
        symptom=N_("backward() on a tensor of several elements raises an error."),
        code=(
            "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)",
            "y = x * x",
            "y.backward()",
        ),
        expects=ERROR,
        facts=("y.shape",),
        why=N_(
            "backward() computes vᵀ·J, the vector v times the Jacobian of y. For a "
            "scalar y, v is 1 and torch can make it; for a y of several elements it "
            "cannot guess v. Pass it as gradient= (agrad vjp shows vᵀ·J), or reduce y "
            "to a scalar first: y.sum().backward() is the same as v = ones."
        ),
        fix=(
            "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)",
            "y = x * x",
            "y.backward(gradient=torch.ones_like(y))  # vᵀ·J with v = ones",
        ),
        result=("x.grad",),
    ),
    Case(
        name="integer-requires-grad",
        symptom=N_("requires_grad=True on an integer tensor raises an error."),
        code=("x = torch.tensor([1, 2, 3], requires_grad=True)",),
        expects=ERROR,
        facts=("torch.tensor([1, 2, 3]).dtype",),
        why=N_(
            "torch.tensor([1, 2, 3]) is made of integers (int64), and a gradient is a "
            "rate of change over real numbers: autograd only works on floating-point "
            "and complex tensors. Write the numbers as floats, or give dtype=torch.float32."
        ),
        fix=(
            "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)",
            "(x * x).sum().backward()",
        ),
        result=("x.dtype", "x.grad"),
    ),
    Case(
        name="no-grad-fn",
        symptom=N_("backward() on a result made under no_grad() or by detach() fails."),
        code=(
            "x = torch.tensor([1.0, 2.0], requires_grad=True)",
            "with torch.no_grad():",
            "    y = (x * x).sum()",
            "y.backward()",
        ),
        expects=ERROR,
        facts=("y.requires_grad", "y.grad_fn"),  # no graph_of: no_grad() recorded none
        why=N_(
            "Under torch.no_grad() nothing is recorded: y has no grad_fn and "
            "requires_grad=False, so there is no graph for backward() to run. "
            "y = (x * x).detach() gives the same. Compute what you differentiate "
            "outside no_grad(), and detach only what must not be differentiated."
        ),
        fix=(
            "x = torch.tensor([1.0, 2.0], requires_grad=True)",
            "y = (x * x).sum()  # recorded: y.grad_fn is SumBackward0",
            "y.backward()",
        ),
        result=("y.grad_fn", "x.grad"),
    ),
    Case(
        name="zero-grad",
        symptom=N_("Without zero_grad(), .grad adds up over training steps."),
        code=(
            "w = torch.tensor([1.0, 2.0], requires_grad=True)",
            "opt = torch.optim.SGD([w], lr=0.1)",
            "grads = []",
            "for step in range(2):",
            "    loss = (w * w).sum()",
            "    loss.backward()",
            "    grads.append(w.grad.clone())",
            "    opt.step()",
        ),
        expects=SILENT,
        facts=("grads",),
        why=N_(
            "backward() adds each new gradient to what .grad already holds (see agrad "
            "jvp --repeat 3). That is useful to sum gradients over several batches, but "
            "in a training loop the second step's .grad is the sum of both steps' "
            "gradients, not the gradient at the new w (2·w). Call opt.zero_grad() at "
            "the start of each step: it sets .grad to None, and the next backward() "
            "starts afresh."
        ),
        fix=(
            "w = torch.tensor([1.0, 2.0], requires_grad=True)",
            "opt = torch.optim.SGD([w], lr=0.1)",
            "grads = []",
            "for step in range(2):",
            "    opt.zero_grad()  # .grad = None",
            "    loss = (w * w).sum()",
            "    loss.backward()",
            "    grads.append(w.grad.clone())",
            "    opt.step()",
            "opt.zero_grad()",
        ),
        result=("grads", "w.grad"),
    ),
    Case(
        name="data-cuts-graph",
        symptom=N_(".data or .numpy() cuts the graph: no error, a wrong gradient."),
        code=(
            "x = torch.tensor([1.0, 2.0], requires_grad=True)",
            "y = (x * x).data  # the numbers, without the graph",
            "loss = (3 * y + x).sum()",
            "loss.backward()",
        ),
        expects=SILENT,
        facts=("y.grad_fn", "y.requires_grad", "x.grad"),
        graph_of="loss",
        why=N_(
            "y.data (like y.detach(), or a trip through y.detach().numpy()) gives the "
            "same numbers as a new tensor with no grad_fn: the graph of loss has no "
            "path from 3·y back to x, only the one through + x. So x.grad is 1, not "
            "6·x + 1, and nothing says so. Keep every step that needs a gradient as a "
            "torch operation on tensors that are in the graph."
        ),
        fix=(
            "x = torch.tensor([1.0, 2.0], requires_grad=True)",
            "y = x * x",
            "loss = (3 * y + x).sum()",
            "loss.backward()",
        ),
        result=("y.grad_fn", "x.grad"),
    ),
    Case(
        name="graph-rebuilt",
        symptom=N_("The graph is built anew by every forward pass, not once."),
        code=(
            "x = torch.tensor([1.0, 2.0], requires_grad=True)",
            "fns = []",
            "for step in range(2):",
            "    loss = (x * x).sum()",
            "    fns.append(loss.grad_fn)",
        ),
        expects=SILENT,
        facts=("fns", "fns[0] is fns[1]"),
        graph_of="loss",
        why=N_(
            "Each forward pass records its own graph while it runs, operation by "
            "operation: the same code run twice gives two graphs with different nodes. "
            "Nothing is compiled ahead, so a model may use a Python if or loop that "
            "takes another path on other values; backward() walks the graph that this "
            "pass recorded (agrad dynamic shows it)."
        ),
        fix=(
            "x = torch.tensor([1.0, 2.0], requires_grad=True)",
            "def f(t):",
            "    if t.sum() > 0:  # Python decides, on this pass's values",
            "        return (t * t).sum()",
            "    return t.abs().sum()",
            "up, down = f(x), f(-x)",
            "up.backward()",
        ),
        result=(
            "up.grad_fn.next_functions[0][0]",
            "down.grad_fn.next_functions[0][0]",
            "x.grad",
        ),
    ),
)

BY_NAME = {case.name: case for case in CASES}
