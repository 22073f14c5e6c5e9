"""`python -m autograd_cli` behaves exactly like the `agrad` console script."""

from autograd_cli.interrupts import defer_interrupts

# Before cli.py imports typer (the package's own call ran before runpy named us
# __main__): see interrupts.py.
defer_interrupts()

from autograd_cli.cli import run  # noqa: E402

if __name__ == "__main__":
    run()
