"""One intra-op thread while a sweep or a batch line works on tiny tensors.

Some torch ops open an OpenMP parallel region whatever the size of their tensors
(binary_cross_entropy_with_logits in `linear`: on the 2-core machine beside CPU-bound
processes, 130 us a call on 2 threads, 25 us on one; `linear`'s whole forward and
backward 730 us against 100 us).
Each region waits until every thread of its team is scheduled, so a loop of a thousand
tiny runs pays that wait a thousand times. A second thread only pays off from about
8,192 elements (measured idle on that machine: a 90 x 90 matmul 15 us on 2 threads,
20 us on one; 64 x 64 and 4,096-element elementwise chains with their backward take
the same time on both), so runs whose tensors all have at most TINY_NUMEL elements
get one thread; larger ones (a real model in `inspect`, a big `expr`) keep them all.
torch.set_num_threads is process-wide, so the previous count is put back afterwards,
also on error. Inter-op threads (torch.jit.fork) are another setting, unused here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

TINY_NUMEL = 4096  # a 64 x 64 matrix


@contextmanager
def one_thread_if_tiny(numel: int | None) -> Iterator[None]:
    """torch.set_num_threads(1) inside when no tensor of the command has more than
    TINY_NUMEL elements (`numel`: its largest, from the scenario; None: unknown);
    the previous count is restored on the way out."""
    if numel is None or numel > TINY_NUMEL:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
