"""What a grad_fn saved for backward, read through torch's private `_saved_*`.

These attributes are not public API: names differ across ops and torch versions,
tensors among them are released by backward(). So every read is guarded, and a
failure becomes a state ("freed", "unavailable"), never an error.
"""

from __future__ import annotations

from typing import Any

import torch

from autograd_cli.model import TINY_NUMEL, SavedFacts

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


def saved_facts(fn: Any) -> SavedFacts:
    """What one grad_fn saved: its tensors (plain tuples in SavedTensor's field order),
    and its non-tensor attributes by name."""
    tensors: list[tuple[Any, ...]] = []  # in SavedTensor's field order
    attributes: list[tuple[str, Any]] = []
    for attr, name, is_tensor_slot in _layout(fn):
        try:
            value = getattr(fn, attr)
        except RuntimeError:
            # torch says "Trying to backward through the graph a second time (or
            # directly access saved tensors after they have already been freed)".
            tensors.append((name, "freed", None, None, None))
            continue
        except Exception:
            tensors.append((name, "unavailable", None, None, None))
            continue
        kind = type(value)
        if kind is tuple and value and set(map(type, value)) == _INT and max(value) < _INT64_END:
            attributes.append((name, value))  # sizes and strides: plain_value's fast path
        elif kind in _PLAIN_TYPES:  # alpha, reduction...: tested before the tensors, cheaply
            attributes.append((name, plain_value(value)))
        elif kind is torch.Tensor or isinstance(value, torch.Tensor):
            tensors.append(_tensor_fact(name, value))
        elif is_tensor_slot and value is None:
            tensors.append((name, "none", None, None, None))
        else:
            attributes.append((name, plain_value(value)))
    return tuple(tensors), tuple(attributes)


# No tensor is of these types; isinstance(value, torch.Tensor) costs ~3x more for a
# value that is not a tensor than for one that is.
_PLAIN_TYPES = frozenset((tuple, int, float, bool, str))


_DTYPE_NAMES: dict[torch.dtype, str] = {}


def _tensor_fact(name: str, t: torch.Tensor) -> tuple[Any, ...]:
    # Each fact read once, into a plain tuple: a 100,000-step chain reads 200,000.
    try:
        dtype = t.dtype
        dtype_name = _DTYPE_NAMES.get(dtype)
        if dtype_name is None:
            dtype_name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
        # Complex values have no JSON number: the dtype says complex, no values.
        value = t.tolist() if t.numel() <= TINY_NUMEL and not dtype.is_complex else None
        return (name, "available", tuple(t.shape), dtype_name, value)
    except Exception:  # e.g. a tensor subclass that refuses to be read
        return (name, "unavailable", None, None, None)


_JSON_SCALARS = (type(None), bool, int, float, str)
_INT64_END = 2**63
_INT = frozenset((int,))


def plain_value(value: Any) -> Any:
    """A saved attribute as JSON-ready data: numbers, strings, lists, or its repr.

    Floats stay floats, even NaN: the JSON renderer encodes non-finite numbers.
    """
    kind = type(value)
    if kind is tuple:
        # Sizes and strides, the common case, are kept as they are: tested without a
        # Python loop over their elements.
        if value and set(map(type, value)) == _INT and max(value) < _INT64_END:
            return value
    elif kind is int:
        # Some getters hand back an int64 as unsigned: softmax's dim=-1 arrives as
        # 2**64 - 1. Every saved integer is an int64 in C++, so fold it back.
        return value - 2**64 if value >= _INT64_END else value
    elif kind in _JSON_SCALARS:
        return value
    if isinstance(value, tuple | list):
        if all(type(v) in _JSON_SCALARS and not _unsigned(v) for v in value):
            return value
        return [plain_value(v) for v in value]
    return str(value)  # dtypes, memory formats, SymInts...: their printed form


def _unsigned(value: Any) -> bool:
    return type(value) is int and value >= _INT64_END
