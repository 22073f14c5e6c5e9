"""A model of about 100 million parameters for bench/inspect_cost.py's memory
comparison, defined here (no downloads): shaped like GPT-2 small, with 8 of its 12
blocks. A token embedding of 50257 x 768 (38.6M parameters, tied to the output layer
as in GPT-2), positions 1024 x 768, 8 pre-norm nn.TransformerEncoderLayer blocks
(768 wide, 12 heads, 3072 in the MLP; 7.1M each) and a final LayerNorm:
96,088,320 parameters, on a batch of 2 sequences of 64 random tokens."""

import torch
from torch import nn

VOCAB, CONTEXT, WIDTH, HEADS, BLOCKS = 50257, 1024, 768, 12, 8


class SmallGPT(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(VOCAB, WIDTH)
        self.wpe = nn.Embedding(CONTEXT, WIDTH)
        layer = nn.TransformerEncoderLayer(
            WIDTH, HEADS, 4 * WIDTH, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, BLOCKS, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(WIDTH)
        for table in (self.wte, self.wpe):  # GPT-2's scale: a loss near ln(VOCAB) at the start
            nn.init.normal_(table.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        steps = tokens.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(steps)
        x = self.wte(tokens) + self.wpe(torch.arange(steps))
        x = self.ln_f(self.blocks(x, mask=mask, is_causal=True))
        return x @ self.wte.weight.T  # the output layer is the embedding, as in GPT-2


def next_token_loss(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), tokens[:, 1:].reshape(-1))


def build(batch: int = 2, steps: int = 64):
    model = SmallGPT()
    tokens = torch.randint(0, VOCAB, (batch, steps))
    return model, tokens, tokens, next_token_loss
