"""The one place that runs a command's work: on a thread with a large stack, with
the cyclic garbage collector paused.

Why the collector: one short-lived command makes millions of small acyclic objects on
big graphs (nodes, dicts for JSON); the cyclic collector would rescan them over and
over (2-3x the graph walk's time). Reference counting frees them.

Why the stack:

torch 2.13 can segfault when it frees a deep graph whose nodes Python has walked
(from ~25,000 ops; pytorch/pytorch issues 109948 and 155322): releasing the
Python-visible nodes recurses once per node in C++. The main thread's 8 MiB stack
overflows; a thread with a 1 GiB stack (virtual memory, touched only as deep as the
recursion goes) does not. Everything that touches tensors runs and is freed inside.

The worker's end is waited for twice: its Python part (join), then its OS thread, whose
C++ thread_local destructors run after join() has returned. One of them is the autograd
engine's ReadyQueue for this thread. A backward() that raised while branches were still
queued (detect_anomaly()'s "returned nan values", or any exception from a backward
Function) leaves their tasks there, holding gradient tensors that own Python objects;
freeing them takes the GIL. If the main thread is already in Py_FinalizeEx by then,
take_gil ends the thread with pthread_exit, whose forced unwind meets a noexcept C++
destructor: std::terminate, "terminate called without an active exception", SIGABRT
(CPython gh-87135: 3.11 exits such a thread; 3.14 leaves it blocked instead).
gdb on plain torch 2.13 / CPython 3.11 shows that stack on the exiting thread:
__call_tls_dtors -> ReadyQueue dispose -> TensorImpl::decref_pyobject ->
gil_scoped_acquire -> take_gil -> PyThread_exit_thread -> pthread_exit -> terminate,
while the main thread is in Py_FinalizeEx. Plain torch, `(w * 2).sum() +
torch.sqrt(v - 10.0).sum()` run under detect_anomaly() on a joined thread: 24 of 40
runs aborted (28 of 40 with a custom Function raising in backward); with one branch,
or on the main thread (whose thread_local destructors run in exit(), once
Py_FinalizeEx has finished), or with a sleep after join(), none did.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from autograd_cli.interrupts import interruptible

STACK_BYTES = 1 << 30
THREAD_NAME = "agrad-work"


# A worker still busy when Ctrl-C came: Python's shutdown would tear it down in the
# middle of torch's C++ code (std::terminate, SIGABRT), so the CLI leaves by os._exit.
# (Its "finished" event, not Thread.is_alive(): Python 3.11 marks a thread stopped
# when a join() on it is interrupted, though it still runs.)
_left_running: list[threading.Event] = []


def worker_left_running() -> bool:
    return any(not finished.is_set() for finished in _left_running)


T = TypeVar("T")


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off inside (and back on after, if it was on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_work(work: Callable[[], T]) -> T:
    """`work()` on the big-stack worker thread with the collector paused; its value,
    or its exception raised here. Inside the worker already (a batch's line), at once."""
    if threading.current_thread().name == THREAD_NAME:
        return work()
    returned: list[T] = []
    failure: list[BaseException] = []
    finished = threading.Event()
    task: list[str] = []  # the worker's /proc entry, where it can be watched

    def target() -> None:
        try:
            task.extend(_watchable_task())
            with collector_paused():
                returned.append(work())
        except BaseException as e:  # handed to the main thread, which reports it
            failure.append(e)
        finally:
            finished.set()

    thread = threading.Thread(target=target, name=THREAD_NAME, daemon=True)
    previous = threading.stack_size()
    try:
        # The size applies to threads started while it is set, so start() goes inside.
        threading.stack_size(STACK_BYTES)
        thread.start()
    except (ValueError, RuntimeError):  # a platform that refuses: run here instead
        with collector_paused():
            return work()
    finally:
        threading.stack_size(previous)
    # Wait with a timeout, so Ctrl-C reaches the main thread while it waits: the one
    # place where agrad takes a SIGINT at once, and one deferred since start-up
    # (interrupts.py).
    try:
        with interruptible():
            while not finished.wait(0.2):
                pass
    except KeyboardInterrupt:
        if not finished.is_set():
            _left_running.append(finished)
            raise
        # It came as the work ended: let the thread go first, as below.
        thread.join()
        _wait_until_gone(task)
        raise
    thread.join()
    _wait_until_gone(task)
    if failure:
        raise failure[0]
    return returned[0]


# Longer than any thread_local destructor freeing a leftover graph; past it, something
# else holds the thread and waiting more would hang the command.
_EXIT_WAIT_S = 60.0


def _watchable_task() -> list[str]:
    """This thread's /proc entry, checked to exist now (Linux, /proc of our PID
    namespace); elsewhere none, and the OS thread's exit is not waited for."""
    path = f"/proc/self/task/{threading.get_native_id()}"
    return [path] if os.path.isdir(path) else []


def _wait_until_gone(task: list[str]) -> None:
    """Returns once the worker's OS thread has exited: its thread_local destructors
    have run while Python is whole (see the module docstring). Linux removes
    /proc/self/task/TID only after them; a thread id is not reused that fast."""
    deadline = time.monotonic() + _EXIT_WAIT_S
    # Sleeping hands over the GIL, which those destructors may need.
    while task and os.path.exists(task[0]) and time.monotonic() < deadline:
        time.sleep(0.0005)
