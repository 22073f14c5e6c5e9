"""`python -m autograd_cli` behaves exactly like the `agrad` console script."""

from autograd_cli.cli import run

if __name__ == "__main__":
    run()
