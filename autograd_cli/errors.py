"""Exit codes and the errors that carry them.

Every failure agrad reports on purpose is an `AgradError`; the CLI runner turns it
into one `agrad: error: ...` line on stderr and the error's exit code.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RUNTIME = 1  # the command was fine, the environment or computation failed
    USAGE = 2  # bad option, value, or command
    CHECK_FAILED = 3  # ran fine, but --check found a gradient that disagrees
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class AgradError(Exception):
    """A failure with a message fit for the user and a fixed exit code."""

    exit_code: ExitCode = ExitCode.RUNTIME

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def report_lines(self) -> tuple[str, ...]:
        """The one-line message, then any lines that show where (e.g. a caret)."""
        return (self.message,)


class UsageProblem(AgradError):
    exit_code = ExitCode.USAGE


class RuntimeProblem(AgradError):
    exit_code = ExitCode.RUNTIME


class CheckFailed(AgradError):
    exit_code = ExitCode.CHECK_FAILED
