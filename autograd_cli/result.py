"""What a command hands back: its exit status and, when it is not 0, why.

As pipx's commands return their result, agrad's do: the output is written first,
then the status travels back to the one place that exits (outcome.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from autograd_cli.errors import ExitCode


@dataclass(frozen=True)
class Result:
    exit_code: int = ExitCode.OK
    message: str | None = None  # said on stderr after the output

    def message_lines(self) -> tuple[str, ...]:
        return () if self.message is None else (self.message,)
