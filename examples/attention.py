"""One head of self-attention, as in BERT: query, key and value projections with
biases, a softmax over the keys, an output projection, and a regression loss.

The key bias adds q_i · b_k to every logit of query i's softmax row, one number per
row, and softmax ignores a number added to a whole row: the key bias's gradient is 0
in exact arithmetic. What backward() leaves in key.bias.grad is float32 rounding
(about 1e-9 here, 1e-18 in float64), not a vanishing gradient. The query bias changes
each row's logits differently and learns.

    agrad inspect examples/attention.py:build                  # key.bias: round-off
    agrad inspect examples/attention.py:build --arg tokens=64

`build` returns (model, inputs, targets, loss_fn).
"""

import math

import torch
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)
        self.scale = 1 / math.sqrt(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, tokens, width)
        q, k, v = self.query(x), self.key(x), self.value(x)
        weights = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)  # over the keys
        return self.out(weights @ v)


def build(batch: int = 4, tokens: int = 8, width: int = 16):
    model = SelfAttention(width)
    inputs = torch.randn(batch, tokens, width)
    targets = torch.randn(batch, tokens, width)
    return model, inputs, targets, nn.MSELoss()
