"""The norms a training step records (`agrad inspect --steps`), at the fewest torch
calls the model allows.

Per step and parameter: ‖.grad‖, and on a recorded step ‖p_before‖ and
‖p_after - p_before‖ of the optimizer's step; NaN and inf counts where a norm is not
finite. A norm is a sum of squares of the exact values in float64 (no float32 square
overflows, and a gradient of 1e-12 beside ones of 1 keeps its digits), but for a big
tensor of a big model: float32 sums over rows of 256, joined in float64 (_row_norm).

A small model's step takes a few hundred microseconds, and a call into torch costs a
few whatever its size, more right after the step's own work has run. A norm and a
copy per tensor and quantity made the MLP's step 1.6 times as long as the plain loop
(bench/inspect_steps.py). So there are two ways:

- Flat, for a small model on the CPU (at most FLAT_MAX elements): before
  optimizer.step(), one `_foreach_copy_` puts the gradients and the parameters into a
  slot of a buffer kept for the run; after it, another puts the parameters again. The
  maths waits until the batch of steps is read (`results()`), then runs once for all
  the slots: float64, after - before, squares, and NumPy's `add.reduceat` for each
  parameter's own sum (so one parameter's inf or NaN stays its own).
- Per tensor otherwise (a big model, a GPU, bfloat16, a sparse .grad, a parameter
  whose shape changed): the norms of the gradients and the parameters, then of the
  differences, from a copy of the parameters kept between steps; taken at once. The
  small tensors' in one `_foreach_norm` in float64; a big tensor's, which costs its
  size and not the call, from float32 rows (reading float32 into float64 sums is four
  times as slow).

Both copy or measure before optimizer.step(), so a user's optimizer that clips .grad
in step() does not change what is recorded.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch

from autograd_cli.inspection.health import (
    TINY,
    blocks,
    in_memory_order,
    in_range,
    l2_norm,
    stored_values,
)

# Elements of a model the flat way takes; past it the tensors are big enough that a
# call costs their size, not its own, and a slot of the buffer is memory.
FLAT_MAX = 2**16
# The buffer of a batch of steps: at most this many elements (float32: 1 MiB; its
# float64 maths twice that).
BUFFER_ELEMENTS = 2**18
MAX_SLOTS = 64
_FLAT_DTYPES = (torch.float32, torch.float64, torch.float16)  # NumPy has no bfloat16
# The per-tensor way: a tensor of at least ROWS_FROM elements has its norm summed in
# float32 over rows of ROW (_row_norm); a result below TRUSTED_FROM may have lost
# squares below float32's range, and is read again in float64.
ROWS_FROM = 2**15
ROW = 256
TRUSTED_FROM = 1e-10


# One step's facts, per parameter in order: ‖.grad‖ (None: no .grad); on a recorded
# step the update ratio ‖p_after - p_before‖ / ‖p_before‖ (None where ‖p_before‖ is 0),
# else (); NaN and inf counts (None: no .grad). A tuple, not a dataclass: a run makes
# one per step, and a small model's step is counted in microseconds.
Measured = tuple[
    tuple[float | None, ...],
    tuple[float | None, ...],
    tuple[int | None, ...],
    tuple[int | None, ...],
]


class StepNorms:
    """Each step: `take()` before optimizer.step(), `keep()` after; then `results()`
    for the steps taken since the last call (at most `slots` of them: `full()`)."""

    def __init__(self, parameters: list[torch.Tensor], steps: int = MAX_SLOTS) -> None:
        self.parameters = parameters
        self.sizes = [p.numel() for p in parameters]
        self._shapes = [p.shape for p in parameters]
        self._pending: list[int | Measured] = []  # a slot of the buffer, or done
        self._slot: int | None = None  # the slot of the step being taken
        self._record = False
        # The per-tensor way's copies, by parameter; and for those without .grad, their
        # version counter, memory address and norm when last seen.
        self._before: dict[int, torch.Tensor] = {}
        self._still: dict[int, tuple[int, int, float]] = {}
        # The per-tensor way's step, from take() to keep(): norms, the parameters' norms
        # before the step (recorded), NaN and inf counts, those with a .grad.
        self._taken: (
            tuple[list[float | None], list[float], Any, Any, list[int], list[int]] | None
        ) = None
        self.slots = 1
        self._buffer: torch.Tensor | None = None
        total = sum(self.sizes)
        if (
            parameters
            and min(self.sizes) > 0  # reduceat sums an empty segment as its next element
            and total <= FLAT_MAX
            and len({p.dtype for p in parameters}) == 1
            and parameters[0].dtype in _FLAT_DTYPES
            and all(p.device.type == "cpu" and p.layout == torch.strided for p in parameters)
        ):
            self.slots = max(
                1,
                min(MAX_SLOTS, steps, BUFFER_ELEMENTS // (3 * total)),
            )
            dtype = parameters[0].dtype
            # Not zeroed: a slot's rows are written before they are read, but for those
            # a step not recorded leaves, whose sums are not read.
            self._buffer = torch.empty(self.slots, 3, total, dtype=dtype)
            # The step being taken is copied into `_staging` through views shaped like
            # the parameters ([gradients, before] for take()'s one copy, [after] for
            # keep()'s), then into its slot by one copy: views of every slot would cost
            # a few milliseconds to make, more than a short run's steps.
            self._staging = torch.zeros(3, total, dtype=dtype)
            self._slots = self._buffer.unbind()  # each slot's rows, made once
            self._into = self._shaped(self._staging[0]) + self._shaped(self._staging[1])
            self._after = self._shaped(self._staging[2])
            self._starts = np.cumsum([0, *self.sizes[:-1]])
            self._zeros: dict[int, torch.Tensor] = {}  # stand-ins for a missing .grad
            self._missing: dict[int, list[int]] = {}  # by slot: parameters without .grad
            self._no_counts: tuple[int | None, ...] = (0,) * len(parameters)

    def _shaped(self, row: torch.Tensor) -> list[torch.Tensor]:
        return [
            piece if piece.shape == shape else piece.view(shape)
            for piece, shape in zip(row.split(self.sizes), self._shapes, strict=True)
        ]

    def full(self) -> bool:
        return len(self._pending) >= self.slots

    def take(self, grads: list[torch.Tensor | None], missing: list[int], record: bool) -> None:
        """Before optimizer.step(), with gradient mode off; `missing`: the indices of
        the parameters without .grad."""
        self._record = record
        self._slot = None
        if self._buffer is not None and [p.shape for p in self.parameters] == self._shapes:
            slot = len(self._pending)
            sources = grads
            if missing:
                sources = [g if g is not None else self._zero(i) for i, g in enumerate(grads)]
            into = self._into
            try:
                if record:
                    torch._foreach_copy_(into, sources + self.parameters)
                else:  # the gradients alone: the slot's other rows are not read
                    torch._foreach_copy_(into[: len(sources)], sources)
            except (RuntimeError, TypeError, AttributeError):  # a sparse .grad; no foreach
                pass
            else:
                self._slot = slot
                self._missing[slot] = missing
                return
        present = [i for i, g in enumerate(grads) if g is not None]
        # Only the parameters with a .grad are copied (an optimizer steps those): a
        # frozen backbone is not read four times a step. One without is taken to stay
        # as it is, which keep() checks (its version counter, its memory).
        before = self._copy(present) if record else []
        measured = _norms([grads[i] for i in present] + before)  # type: ignore[misc]
        count, split = len(self.parameters), len(present)
        norms = _placed(count, present, measured[:split], None)
        sizes: list[float] = []
        if record:
            sizes = _placed(count, present, measured[split:], math.nan)
            for i in missing:
                sizes[i] = self._still_norm(i)
        # Counted now, as the flat way copies now: an optimizer may clean .grad.
        nans, infs = _nonfinite_counts(grads, norms)
        self._taken = (norms, sizes, nans, infs, present, missing)

    def keep(self) -> None:
        """After optimizer.step(), with gradient mode off."""
        slot = self._slot
        if slot is not None:
            if self._record:
                try:
                    torch._foreach_copy_(self._after, self.parameters)
                except RuntimeError:  # the optimizer gave a parameter another shape
                    self._pending.append(self._staged(slot))
                    return
                self._slots[slot].copy_(self._staging)
            else:
                self._slots[slot][0].copy_(self._staging[0])
            self._pending.append(slot)
            return
        assert self._taken is not None
        norms, sizes, nans, infs, present, missing = self._taken
        self._taken = None
        ratios: tuple[float | None, ...] = ()
        if self._record:
            changed = _moved(
                [self._before[i] for i in present], [self.parameters[i] for i in present]
            )
            moved = _placed(len(self.parameters), present, changed, None)
            for i in missing:
                p, (version, address, _) = self.parameters[i], self._still[i]
                # Changed without a copy to compare with: no ratio.
                moved[i] = 0.0 if (p._version, p.data_ptr()) == (version, address) else None
            ratios = _ratios(moved, sizes)
        self._pending.append((tuple(norms), ratios, nans, infs))

    def _still_norm(self, index: int) -> float:
        """‖p‖ of a parameter without .grad, kept while it stays the same tensor."""
        p = self.parameters[index]
        known = self._still.get(index)
        if known is not None and known[:2] == (p._version, p.data_ptr()):
            return known[2]
        (norm,) = _norms([p.detach()])
        self._still[index] = (p._version, p.data_ptr(), norm)
        return norm

    def _staged(self, slot: int) -> Measured:
        """The step in the staging buffer, measured per tensor (a parameter changed
        shape in optimizer.step(): it has no ratio)."""
        count = len(self.parameters)
        missing = self._missing[slot]
        grads: list[torch.Tensor | None] = list(self._into[:count])
        for i in missing:
            grads[i] = None
        measured = _norms([g for g in grads if g is not None] + self._into[count:])
        present = [i for i, g in enumerate(grads) if g is not None]
        norms = _placed(count, present, measured[: len(present)], None)
        before = [b.clone() for b in self._into[count:]]
        ratios = _ratios(_moved(before, self.parameters), measured[len(present) :])
        nans, infs = _nonfinite_counts(grads, norms)
        return (tuple(norms), ratios, nans, infs)

    def results(self, recorded: list[bool]) -> list[Measured]:
        """The steps kept since the last call, in order; `recorded`: which of them
        were recorded steps."""
        pending, self._pending = self._pending, []
        if not any(isinstance(entry, int) for entry in pending):
            return pending  # type: ignore[return-value]
        # The slots up to the last one used (a step taken the per-tensor way keeps
        # its place in the batch, and leaves its slot unused).
        norms, ratios, finite = self._flat_norms(len(pending), pending, recorded)
        if (
            all(entry == k for k, entry in enumerate(pending))
            and all(finite)
            and all(recorded)
            and not any(self._missing[k] for k in range(len(pending)))
        ):  # the usual batch, in a few calls
            counts = itertools.repeat(self._no_counts)
            return list(zip(map(tuple, norms), map(tuple, ratios), counts, counts, strict=False))
        out: list[Measured] = []
        for entry, record in zip(pending, recorded, strict=True):
            if not isinstance(entry, int):
                out.append(entry)
                continue
            step_norms: list[float | None] = norms[entry]  # type: ignore[assignment]
            missing = self._missing[entry]
            for i in missing:
                step_norms[i] = None
            if finite[entry]:
                nans = infs = self._zero_counts(missing)
            else:
                nans, infs = self._flat_counts(entry, step_norms)
            out.append(
                (
                    tuple(step_norms),
                    tuple(ratios[entry]) if record else (),
                    nans,
                    infs,
                )
            )
        return out

    def _flat_norms(
        self, used: int, pending: list[int | Measured], recorded: list[bool]
    ) -> tuple[list[list[float]], list[list[float | None]], Any]:
        """For each of the first `used` slots: ‖.grad‖ per parameter, the update
        ratios, and whether every gradient was finite."""
        assert self._buffer is not None
        # A copy (a float64 buffer too): _flat_counts() reads the gradients after this.
        rows = self._buffer[:used].to(torch.float64, copy=True)  # exact: float32 in float64
        rows[:, 2].sub_(rows[:, 1])
        rows.square_()
        # Sums past float64's range are inf (rescued below): no warning.
        with np.errstate(all="ignore"):
            sums = np.add.reduceat(rows.numpy(), self._starts, axis=2)
            norms = np.sqrt(sums, out=sums)
            if self._buffer.dtype == torch.float64:  # float32 squares stay in range
                self._rescue(norms, pending, recorded)
            ratios = norms[:, 2] / norms[:, 1]
        ratio_lists: list[list[float | None]] = ratios.tolist()
        if not norms[:, 1].all():  # a parameter of norm 0 has no ratio
            for row, sizes in zip(ratio_lists, norms[:, 1].tolist(), strict=True):
                for i, size in enumerate(sizes):
                    if size == 0:
                        row[i] = None
        finite = np.isfinite(norms[:, 0]).all(axis=1).tolist()
        return norms[:, 0].tolist(), ratio_lists, finite

    def _rescue(
        self, norms: np.ndarray, pending: list[int | Measured], recorded: list[bool]
    ) -> None:
        """The norms of `_flat_norms` outside [TINY, inf) computed again from the buffer,
        scaled by their largest |x| (health.rescaled): a float64 gradient of 1e160
        squares to inf, one of 1e-170 to 0. Only the rows that are read: a slot's
        gradients, and its parameters' if its step was recorded."""
        assert self._buffer is not None
        with np.errstate(invalid="ignore"):  # NaN: the tensor's own
            outside = ~((norms >= TINY) & (norms < math.inf)) & ~np.isnan(norms)
        for slot, row, i in np.argwhere(outside).tolist():
            if pending[slot] != slot or (row and not recorded[slot]):
                continue  # a step taken per tensor, or a row its step left unwritten
            start, size = self._starts[i], self.sizes[i]
            values = self._buffer[slot, row, start : start + size]
            if row == 2:  # the change, after - before
                values = values - self._buffer[slot, 1, start : start + size]
            norms[slot, row, i] = l2_norm(values)

    def _zero_counts(self, missing: list[int]) -> tuple[int | None, ...]:
        if not missing:
            return self._no_counts
        return tuple(None if i in missing else 0 for i in range(len(self.parameters)))

    def _flat_counts(
        self, slot: int, norms: list[float | None]
    ) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
        assert self._buffer is not None
        row = self._buffer[slot, 0].numpy()
        nans: list[int | None] = []
        infs: list[int | None] = []
        for norm, start, size in zip(norms, self._starts, self.sizes, strict=True):
            if norm is None:
                nans.append(None)
                infs.append(None)
            else:
                part = row[start : start + size]
                nans.append(int(np.isnan(part).sum()))
                infs.append(int(np.isinf(part).sum()))
        return tuple(nans), tuple(infs)

    def _zero(self, index: int) -> torch.Tensor:
        # A parameter without .grad (frozen, unused) gets zeros in the slot: its norm
        # is reported as None all the same.
        zeros = self._zeros.get(index)
        if zeros is None:
            zeros = self._zeros[index] = torch.zeros_like(self.parameters[index])
        return zeros

    def _copy(self, indices: list[int]) -> list[torch.Tensor]:
        """These parameters now, in the buffers kept from the last recorded step."""
        values = [self.parameters[i] for i in indices]
        kept = self._before
        targets = [kept.get(i) for i in indices]
        if any(
            b is None or b.shape != v.shape or b.dtype != _kept_dtype(v)
            for b, v in zip(targets, values, strict=True)
        ):
            for i, v in zip(indices, values, strict=True):
                kept[i] = v.detach().to(_kept_dtype(v), copy=True)
            return [kept[i] for i in indices]
        return _in_place("copy", targets, values)  # type: ignore[arg-type]


def _placed(count: int, indices: list[int], values: list[Any], fill: Any) -> list[Any]:
    """A list of `count`: values[k] at indices[k], `fill` elsewhere (a parameter
    without .grad, say)."""
    placed = [fill] * count
    for i, value in zip(indices, values, strict=True):
        placed[i] = value
    return placed


def _kept_dtype(parameter: torch.Tensor) -> torch.dtype:
    """The dtype the per-tensor way keeps a parameter's copy in: float32 for float16 and
    bfloat16, whose difference after - before it then holds exactly (in their own dtype
    it is rounded to 3 digits), at twice their memory; the parameter's own otherwise."""
    if parameter.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return parameter.dtype


def _norms(tensors: list[torch.Tensor]) -> list[float]:
    """The L2 norm of each tensor: in float64 for a small one (one call for them all);
    for a big one, from float32 norms of rows of ROW elements joined in float64."""
    tensors = [stored_values(t) for t in tensors]
    small = [
        k
        for k, t in enumerate(tensors)
        if t.numel() < ROWS_FROM or t.dtype not in (torch.float32, torch.float16, torch.bfloat16)
    ]
    values = [math.nan] * len(tensors)
    for k, value in zip(small, _float64_norms([tensors[k] for k in small]), strict=True):
        values[k] = value
    if len(small) < len(tensors):
        for k in set(range(len(tensors))) - set(small):
            values[k] = _row_norm(tensors[k])
    # float64 squares past its range, either end (health.TINY): read again, scaled.
    for k in [k for k, t in enumerate(tensors) if t.dtype is torch.float64]:
        if not in_range(values[k]):
            values[k] = l2_norm(tensors[k])
    return values


def _float64_norms(tensors: list[torch.Tensor]) -> list[float]:
    if not tensors:
        return []
    foreach_norm = getattr(torch, "_foreach_norm", None)  # private: fall back without it
    if foreach_norm is not None:
        try:
            return torch.stack(foreach_norm(tensors, 2, dtype=torch.float64)).tolist()
        except (TypeError, RuntimeError):
            pass
    return torch.stack([torch.linalg.vector_norm(t, dtype=torch.float64) for t in tensors]).tolist()


def _row_norm(tensor: torch.Tensor) -> float:
    """‖tensor‖ from float32 sums of squares over rows of ROW elements (within 3e-7 of
    the exact value: a row is short), joined in float64. Reading float32 elements into
    float64 sums is 4 times as slow here (0.6 against 0.15 ns an element), which made a
    1M-parameter model's steps 2.4 times the plain loop. A square past float32's range
    (|x| > 1.8e19), or one below it, is read again in float64 (a NaN cannot come from
    squares of numbers, and all zeros are told by their least and largest values)."""
    flat = in_memory_order(tensor)
    # float16 and bfloat16 are cast to float32 on the way: a block at a time, so that
    # the cast is never a float32 copy of the whole tensor.
    pieces = blocks(flat) if flat.dtype != torch.float32 else (flat,)
    squares = 0.0
    for piece in pieces:
        whole = piece.numel() - piece.numel() % ROW
        rows = torch.linalg.vector_norm(piece[:whole].view(-1, ROW), dim=1, dtype=torch.float32)
        squares += float(torch.linalg.vector_norm(rows, dtype=torch.float64)) ** 2
        if whole < piece.numel():
            squares += float(torch.linalg.vector_norm(piece[whole:], dtype=torch.float64)) ** 2
    norm = math.sqrt(squares)
    if TRUSTED_FROM < norm < math.inf or math.isnan(norm):  # a NaN is the tensor's own
        return norm
    if norm == 0 and not any(torch.aminmax(flat)):  # the fastest of max|x|'s ways here
        return 0.0  # all zeros (a frozen parameter's change): no float64 pass needed
    return l2_norm(tensor)  # float64, a block at a time


def _subtracted(before: list[torch.Tensor], after: list[torch.Tensor]) -> list[torch.Tensor]:
    """before - after, in before's tensors (they are written again next time). A half
    parameter's float32 copy takes its difference a block at a time: torch would
    otherwise make a float32 copy of the whole parameter to subtract it."""
    if all(b.dtype == a.dtype for b, a in zip(before, after, strict=True)):
        return _in_place("sub", before, after)
    for b, a in zip(before, after, strict=True):
        if b.dtype == a.dtype:
            b.sub_(a)
        else:  # the copy is laid out as the parameter: the same order in memory
            for into, block in zip(blocks(b), blocks(a), strict=True):
                into.sub_(block)
    return before


def _in_place(
    op: str, targets: list[torch.Tensor], sources: list[torch.Tensor]
) -> list[torch.Tensor]:
    """target.<op>_(source) for each pair, in one torch._foreach_<op>_ call where torch
    has it (private: one call a pair without it); the targets."""
    foreach = getattr(torch, f"_foreach_{op}_", None)
    if foreach is not None:
        try:
            foreach(targets, sources)
            return targets
        except (TypeError, RuntimeError):
            pass
    for target, source in zip(targets, sources, strict=True):
        getattr(target, f"{op}_")(source)
    return targets


def _moved(before: list[torch.Tensor], after: list[torch.Tensor]) -> list[float | None]:
    """‖before - after‖ per parameter, computed in before's tensors; None where the
    optimizer gave a parameter another shape."""
    same = [b.shape == a.shape for b, a in zip(before, after, strict=True)]
    if all(same):
        return _norms(_subtracted(before, after))  # type: ignore[return-value]
    kept = [k for k, alike in enumerate(same) if alike]
    norms = iter(_norms(_subtracted([before[k] for k in kept], [after[k] for k in kept])))
    return [next(norms) if alike else None for alike in same]


def _ratios(moved: list[float | None], sizes: list[float]) -> tuple[float | None, ...]:
    # A parameter of norm 0 has no ratio; a NaN one gives NaN (NaN == 0 is false).
    return tuple(None if s == 0 or m is None else m / s for m, s in zip(moved, sizes, strict=True))


def _nonfinite_counts(
    grads: list[torch.Tensor | None], norms: list[float | None]
) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
    """NaN and inf counts per gradient: 0 and 0 where the norm is finite (a NaN or an
    inf in it would make the norm NaN or inf), counted only where it is not."""
    nan_counts: list[int | None] = []
    inf_counts: list[int | None] = []
    for g, norm in zip(grads, norms, strict=True):
        if g is None or norm is None:
            nan_counts.append(None)
            inf_counts.append(None)
        elif math.isfinite(norm):
            nan_counts.append(0)
            inf_counts.append(0)
        else:
            values = stored_values(g)
            nan_counts.append(int(torch.isnan(values).sum()))
            inf_counts.append(int(torch.isinf(values).sum()))
    return tuple(nan_counts), tuple(inf_counts)
