"""Peak memory of the tree view against the chain's length, in real processes.

    python bench/tree_memory.py [--lengths 2000,4000,8000]

Runs `agrad chain --length N --max-nodes 10000000` (every node in the tree view)
in a child process per length and prints its peak RSS (getrusage of the child), and
the growth from one length to the next: about the length's ratio when memory is
linear in the nodes shown (the quadratic tree gave 3.1x and 3.7x from 2000 to 4000
to 8000).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys


def peak_rss_mib(length: int) -> float:
    """The peak RSS of one run, alone: a fork that runs it, so that getrusage's
    children's maximum is this run's."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run agrad, then report its children's peak RSS
        os.close(read)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "autograd_cli",
                "chain",
                "--length",
                str(length),
                "--max-nodes",
                "10000000",
                "--color",
                "never",
            ],
            stdout=subprocess.DEVNULL,
            check=True,
        )
        os.write(write, str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        kib = int(pipe.read())
    os.waitpid(pid, 0)
    return kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="2000,4000,8000")
    lengths = [int(n) for n in parser.parse_args().lengths.split(",")]
    previous = None
    for length in lengths:
        mib = peak_rss_mib(length)
        growth = "" if previous is None else f"   x{mib / previous:.2f} from the previous"
        print(f"--length {length:>6}: peak RSS {mib:8.0f} MiB{growth}")
        previous = mib


if __name__ == "__main__":
    main()
