"""Run a command's work on a thread with a large stack.

torch 2.13 can segfault when it frees a deep graph whose nodes Python has walked
(from ~25,000 ops; pytorch/pytorch issues 109948 and 155322): releasing the
Python-visible nodes recurses once per node in C++. The main thread's 8 MiB stack
overflows; a thread with a 1 GiB stack (virtual memory, touched only as deep as the
recursion goes) does not. Everything that touches tensors runs and is freed inside.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

STACK_BYTES = 1 << 30
THREAD_NAME = "agrad-work"


# A worker still busy when Ctrl-C came: Python's shutdown would tear it down in the
# middle of torch's C++ code (std::terminate, SIGABRT), so the CLI leaves by os._exit.
# (Its "finished" event, not Thread.is_alive(): Python 3.11 marks a thread stopped
# when a join() on it is interrupted, though it still runs.)
_left_running: list[threading.Event] = []


def worker_left_running() -> bool:
    return any(not finished.is_set() for finished in _left_running)


def run_with_big_stack(work: Callable[[], None]) -> None:
    if threading.current_thread().name == THREAD_NAME:  # already there (agrad batch)
        work()
        return
    failure: list[BaseException] = []
    finished = threading.Event()

    def target() -> None:
        # One short-lived command makes millions of small acyclic objects on big
        # graphs (nodes, dicts for JSON); the cyclic collector would rescan them
        # over and over, doubling the run time. Reference counting frees them.
        gc.disable()
        try:
            work()
        except BaseException as e:  # handed to the main thread, which reports it
            failure.append(e)
        finally:
            gc.enable()
            finished.set()

    thread = threading.Thread(target=target, name=THREAD_NAME, daemon=True)
    previous = threading.stack_size()
    try:
        # The size applies to threads started while it is set, so start() goes inside.
        threading.stack_size(STACK_BYTES)
        thread.start()
    except (ValueError, RuntimeError):  # a platform that refuses: run here instead
        work()
        return
    finally:
        threading.stack_size(previous)
    # Wait with a timeout, so Ctrl-C reaches the main thread while it waits.
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        _left_running.append(finished)
        raise
    thread.join()
    if failure:
        raise failure[0]
