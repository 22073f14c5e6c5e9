"""What a grad_fn saved for backward, read through torch's private `_saved_*`.

These attributes are not public API: names differ across ops and torch versions,
tensors among them are released by backward(). So every read is guarded, and a
failure becomes a state ("freed", "unavailable"), never an error.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_cli.model import TINY_NUMEL, SavedTensor

PREFIX = "_saved_"

# Per grad_fn class: [(attribute, short name, is it a tensor slot?)]. dir() is
# slow, and every node of a class has the same attributes.
_LAYOUTS: dict[type, list[tuple[str, str, bool]]] = {}


def _layout(fn: Any) -> list[tuple[str, str, bool]]:
    cls = type(fn)
    layout = _LAYOUTS.get(cls)
    if layout is None:
        try:
            names = [name for name in dir(fn) if name.startswith(PREFIX)]
        except Exception:  # a torch that cannot even list them: nothing to report
            names = []
        # Tensor slots also have a `_raw_saved_<name>` twin holding the SavedTensor.
        layout = [(name, name[len(PREFIX) :], hasattr(type(fn), "_raw" + name)) for name in names]
        _LAYOUTS[cls] = layout
    return layout


def saved_facts(fn: Any) -> tuple[tuple[SavedTensor, ...], tuple[tuple[str, Any], ...]]:
    """(saved tensors, saved non-tensor attributes) of one grad_fn."""
    tensors: list[SavedTensor] = []
    attributes: list[tuple[str, Any]] = []
    for attr, name, is_tensor_slot in _layout(fn):
        try:
            value = getattr(fn, attr)
        except RuntimeError:
            # torch says "Trying to backward through the graph a second time (or
            # directly access saved tensors after they have already been freed)".
            tensors.append(SavedTensor(name=name, state="freed"))
            continue
        except Exception:
            tensors.append(SavedTensor(name=name, state="unavailable"))
            continue
        if isinstance(value, torch.Tensor):
            tensors.append(_tensor_fact(name, value))
        elif is_tensor_slot and value is None:
            tensors.append(SavedTensor(name=name, state="none"))
        else:
            attributes.append((name, plain_value(value)))
    return tuple(tensors), tuple(attributes)


_DTYPE_NAMES: dict[torch.dtype, str] = {}


def _tensor_fact(name: str, t: torch.Tensor) -> SavedTensor:
    try:
        dtype = _DTYPE_NAMES.get(t.dtype)
        if dtype is None:
            dtype = _DTYPE_NAMES[t.dtype] = str(t.dtype).removeprefix("torch.")
        return SavedTensor(
            name=name,
            state="available",
            shape=tuple(t.shape),
            dtype=dtype,
            # Complex values have no JSON number: the dtype says complex, no values.
            value=t.tolist() if t.numel() <= TINY_NUMEL and not t.is_complex() else None,
        )
    except Exception:  # e.g. a tensor subclass that refuses to be read
        return SavedTensor(name=name, state="unavailable")


_JSON_SCALARS = (type(None), bool, int, float, str)


def plain_value(value: Any) -> Any:
    """A saved attribute as JSON-ready data: numbers, strings, lists, or its repr.

    Floats stay floats, even NaN: the JSON renderer encodes non-finite numbers.
    """
    if type(value) is int and value >= 2**63:
        # Some getters hand back an int64 as unsigned: softmax's dim=-1 arrives as
        # 2**64 - 1. Every saved integer is an int64 in C++, so fold it back.
        return value - 2**64
    if type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, tuple | list):
        if all(type(v) in _JSON_SCALARS and not (type(v) is int and v >= 2**63) for v in value):
            return value  # sizes and strides: the common case, kept as they are
        return [plain_value(v) for v in value]
    return str(value)  # dtypes, memory formats, SymInts...: their printed form
