"""agrad: shows what PyTorch autograd does, as rich tables or strict JSON."""

from autograd_cli.interrupts import defer_interrupts

__version__ = "0.1.0"

# First thing in the agrad process, before typer or torch load: see interrupts.py.
defer_interrupts()
