"""Round-off zeros: a gradient that is 0 in exact arithmetic, left non-zero by rounding.

An attention layer's key bias adds the same number to every logit of a softmax row,
and softmax ignores that: the bias's gradient, the sum over positions of the gradient
flowing into `x @ W.T + b`, cancels to exactly 0 in exact arithmetic. In float32 the
sum of those terms keeps their rounding errors, about eps × (their size): ‖grad‖ of
1e-9 or 1e-12 where the terms are 1e-2. Far below --vanish, yet nothing vanished on the
way: in float64 it shrinks a billionfold, as rounding does, while a real gradient keeps
its value. A bias right before a BatchNorm (training mode) is another: the batch mean
is subtracted, and the bias with it.

The criterion compares a parameter with the gradient it is summed from, measured
during the same backward():

    ‖grad‖ ≤ ROUNDOFF_FACTOR · eps(dtype) · S

S is the L2 norm of the gradient with respect to the output of the operation the
parameter is added into (a bias: `AddmmBackward0` of nn.Linear, `AddBackward0` of
`x + b`, `ExpandBackward0` of `b.expand(...)`, the bias slot of a convolution or a
norm layer), seen through views (`.view`, `.t()`, `.unsqueeze`, ...), whose backward
moves values without adding them. Summing n terms G_j with independent rounding
errors leaves an error of about eps · ‖G‖ in L2 norm, whatever n is; a real sum is
of the size of ‖G‖ itself, or of a small part of it.

Only additive uses give a bound: there the parameter's gradient has the units of S.
A parameter that is also multiplied (a weight) gets none, so a real gradient made
small by small activations is never called round-off. A gradient made small by depth
is small where it is summed too: an RNN's h0, expanded over the batch, has S of the
size of its own gradient, and stays vanishing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from autograd_cli.inspection.health import in_range, l2_norm

# A sum of n rounded terms is off by about eps · ‖terms‖. examples/attention.py's key
# bias measures 1 to 4 eps · S in float32 from 8 to 512 tokens (up to 18 with 2 tokens
# and 4 features, 200 seeds), its real biases 1.7e5 eps · S and more.
ROUNDOFF_FACTOR = 64
# Told apart only where the bound is a small share of S. In float16 and bfloat16
# (eps 2**-10, 2**-7) 64 · eps is 6% and 50% of S: a real bias gradient, cancelled by
# its own signs to a few percent of S, would be called rounding. Those stay vanishing.
MAX_SHARE = 1e-3

# (grad_fn class, input slot): the backward hands that input the output's gradient
# summed over the positions the input was broadcast to, and nothing else (a bias),
# times the scalar the node saved under that name: x.add(b, alpha=1e-9) makes b's real
# gradient tiny, so a scale other than ±1 (or one that cannot be read) gives no bound.
SUMMED_SLOTS: dict[tuple[str, int], str | None] = {
    ("AddBackward0", 0): None,
    ("AddBackward0", 1): "_saved_alpha",
    ("SubBackward0", 0): None,
    ("SubBackward0", 1): "_saved_alpha",
    ("AddmmBackward0", 0): "_saved_beta",  # nn.Linear's bias
    ("ExpandBackward0", 0): None,
    ("ConvolutionBackward0", 2): None,  # nn.Conv*d's bias
    ("NativeLayerNormBackward0", 2): None,  # nn.LayerNorm's bias
}
# Views and copies: their backward moves or copies the gradient's values without
# adding any, so the sum that matters happens at the operation they feed.
PASS_THROUGH = frozenset(
    {
        "ViewBackward0",
        "UnsafeViewBackward0",
        "ReshapeAliasBackward0",
        "TBackward0",
        "TransposeBackward0",
        "PermuteBackward0",
        "UnsqueezeBackward0",
        "SqueezeBackward0",
        "SqueezeBackward1",
        "CloneBackward0",
    }
)


@dataclass
class _Site:
    """The gradient with respect to one summing operation's output, once backward ran."""

    norm: float = 0.0  # of every output's gradient together, in float64
    eps: float = 0.0  # the largest eps among their dtypes: the coarsest rounding
    seen: bool = False


@dataclass
class RoundoffProbe:
    """Hooks on the summing operations of each parameter; read after backward()."""

    sites: dict[str, list[_Site]] = field(default_factory=dict)  # name -> where it is summed
    grad_eps: dict[str, float] = field(default_factory=dict)  # eps of the .grad it sums into
    handles: list[Any] = field(default_factory=list)

    def bounds(self) -> dict[str, float]:
        """name -> the round-off bound on ‖grad‖, for parameters only ever added, in
        float32 or float64 (no entry for the others). Removes the hooks."""
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        out: dict[str, float] = {}
        for name, sites in self.sites.items():
            reached = [s for s in sites if s.seen]
            if not reached:
                continue
            scale = max(s.norm for s in reached)
            eps = max(max(s.eps for s in reached), self.grad_eps[name])
            # An infinite (or NaN) S bounds nothing: every gradient would be under it.
            if ROUNDOFF_FACTOR * eps <= MAX_SHARE and math.isfinite(scale):
                out[name] = ROUNDOFF_FACTOR * eps * scale
        return out


def roundoff_probe(root_fn: Any, named: Iterable[tuple[str, torch.Tensor]]) -> RoundoffProbe:
    """Before backward(): find where each named leaf is only ever added, and hook there.

    The walk goes from `root_fn` over next_functions with an explicit queue (any
    depth), recording who consumes each node through which input slot.
    """
    tensors = dict(named)
    names = {id(t): n for n, t in tensors.items()}
    if root_fn is None:
        return RoundoffProbe()
    # Only leaves and views need their consumers: the walk up from a leaf stops elsewhere.
    consumers: dict[Any, list[tuple[Any, int]]] = {}
    leaves: dict[str, Any] = {}  # parameter name -> its AccumulateGrad
    order = [root_fn]
    known = {root_fn}
    for fn in order:  # grows while it is read
        for slot, (child, _) in enumerate(fn.next_functions):
            if child is None:  # an input that needs no gradient
                continue
            kind = type(child).__name__
            if kind == "AccumulateGrad" or kind in PASS_THROUGH:
                consumers.setdefault(child, []).append((fn, slot))
            if child not in known:
                known.add(child)
                order.append(child)
                if kind == "AccumulateGrad" and id(getattr(child, "variable", None)) in names:
                    leaves[names[id(child.variable)]] = child
    shared: dict[Any, _Site] = {}
    probe = RoundoffProbe()
    for name, leaf in leaves.items():
        sites = _summing_sites(leaf, consumers)
        if sites is None:
            continue
        probe.sites[name] = []
        probe.grad_eps[name] = _eps(tensors[name].dtype)
        for node in sites:
            if node not in shared:
                shared[node] = _Site()
                probe.handles.append(node.register_hook(_recorder(shared[node])))
            probe.sites[name].append(shared[node])
    return probe


def _summing_sites(leaf: Any, consumers: dict[Any, list[tuple[Any, int]]]) -> list[Any] | None:
    """The operations where the leaf's gradient is summed, or None when some use of it
    (through views) is not a plain sum: then its gradient's units are not theirs."""
    sites: list[Any] = []
    stack = [leaf]
    seen = {leaf}
    while stack:
        node = stack.pop()
        for consumer, slot in consumers.get(node, []):
            kind = type(consumer).__name__
            if kind in PASS_THROUGH:
                if consumer not in seen:
                    seen.add(consumer)
                    stack.append(consumer)
            elif (kind, slot) in SUMMED_SLOTS and _unit_scale(consumer, SUMMED_SLOTS[kind, slot]):
                sites.append(consumer)
            else:
                return None
    return sites or None


def _unit_scale(node: Any, attribute: str | None) -> bool:
    """Whether the node passes the sum on unscaled (up to sign)."""
    if attribute is None:
        return True
    try:
        return abs(complex(getattr(node, attribute))) == 1
    except (AttributeError, RuntimeError, TypeError, ValueError):  # freed, renamed
        return False


def _recorder(site: _Site) -> Callable[[Any, Any], None]:
    def record(_grad_inputs: Any, grad_outputs: Any) -> None:
        with torch.no_grad():
            for g in grad_outputs:
                if g is None:
                    continue
                # in float64: float32 values near 1e38 would overflow the norm; and
                # float64 ones whose squares leave its range are rescaled (l2_norm),
                # the norms joined by hypot.
                norm = float(torch.linalg.vector_norm(g, dtype=torch.float64))
                if g.dtype is torch.float64 and not in_range(norm):
                    norm = l2_norm(g)
                site.norm = math.hypot(site.norm, norm)
                site.eps = max(site.eps, _eps(g.dtype))
        site.seen = True

    return record


def _eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps if dtype.is_floating_point else 0.0
