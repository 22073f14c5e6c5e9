"""The dtypes --dtype offers, by name."""

import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64}
