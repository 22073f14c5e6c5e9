"""agrad: shows what PyTorch autograd does, as rich tables or strict JSON."""

__version__ = "0.1.0"
