"""Scenario builders: run the tutorial's statements and hand back named tensors.

Torch lives here and in `inspection`; nothing in this package is imported until a
command has parsed its options.
"""
