"""A recurrent network unrolled over 500 time steps: a deep graph, and the textbook
vanishing gradient. The learned initial state h0 sits 500 tanh steps away from the
loss, so its gradient is a product of 500 Jacobians. With small inputs and zero
biases each step is nearly linear and shrinks it by about `gain` (0.95**500 is
7e-12); the shared weights get a contribution from every step and stay healthy.

    agrad inspect examples/rnn.py:build                  # h0: vanishing
    agrad inspect examples/rnn.py:build --arg steps=20   # h0 recovers
    agrad inspect examples/rnn.py:build --format dot -o rnn.dot --max-nodes 60

`build` returns (model, inputs, targets, loss_fn).
"""

import torch
from torch import nn


class UnrolledRNN(nn.Module):
    def __init__(self, inputs: int, hidden: int, gain: float) -> None:
        super().__init__()
        self.h0 = nn.Parameter(0.5 * torch.randn(1, hidden))
        self.cell = nn.RNNCell(inputs, hidden)
        self.readout = nn.Linear(hidden, 1)
        with torch.no_grad():  # recurrent weights with every singular value = gain
            nn.init.orthogonal_(self.cell.weight_hh)
            self.cell.weight_hh.mul_(gain)
            self.cell.bias_ih.zero_()
            self.cell.bias_hh.zero_()

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        h = self.h0.expand(sequence.shape[1], -1)
        for x in sequence:  # one RNNCell (tanh) step per time step
            h = self.cell(x, h)
        return self.readout(h)


def build(steps: int = 500, hidden: int = 16, gain: float = 0.95, batch: int = 4):
    model = UnrolledRNN(inputs=3, hidden=hidden, gain=gain)
    sequence = 0.1 * torch.randn(steps, batch, 3)
    targets = torch.randn(batch, 1)
    return model, sequence, targets, nn.MSELoss()
