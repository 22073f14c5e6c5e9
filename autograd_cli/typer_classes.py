"""agrad's Typer command and group classes: help in the reader's language, plain
argument names, counted extra arguments, and a group whose `main` turns every
outcome into an exit code and at most one `agrad: error: ...` line (outcome.py).
"""

import contextlib
import difflib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, NoReturn

from typer import TyperException
from typer.core import TyperCommand, TyperGroup

from autograd_cli import coercion
from autograd_cli.errors import ExitCode
from autograd_cli.i18n import (
    N_,
    UnknownLanguage,
    _,
    choose_language,
    language_from_argv,
    ngettext,
    speaking,
)
from autograd_cli.interrupts import ignore_from_now, interrupted
from autograd_cli.outcome import fail, outcome, report
from autograd_cli.usage_errors import UnknownCommand, printable, with_context

# The variable Typer's completion scripts set for `agrad` (Click's _{PROG}_COMPLETE).
COMPLETE_VAR = "_AGRAD_COMPLETE"


@contextlib.contextmanager
def _translated_help(command: Any, ctx: Any) -> Iterator[None]:
    """The command's help, epilog and option help in the current language, while its
    help is formatted. The English texts are the catalog's msgids; they come back after."""
    texts = [(command, "help"), (command, "epilog"), (command, "short_help")]
    texts += [(param, "help") for param in command.get_params(ctx)]
    saved = [(owner, name, getattr(owner, name, None)) for owner, name in texts]
    for owner, name, text in saved:
        if isinstance(text, str) and text:
            setattr(owner, name, _(text))
    try:
        yield
    finally:
        for owner, name, text in saved:
            setattr(owner, name, text)


def _show_help(ctx: Any, param: Any, value: bool) -> None:
    """--help's callback: Click's prints with echo, whose errors (a full disk, an
    encoding that cannot spell ᵀ) would end as "internal error"; agrad writes help as
    it writes every human text (render/emit.py): in the stream's encoding, spelled in
    ASCII where it must, and a failed write is one `cannot write` line, exit 1."""
    if not value or ctx.resilient_parsing:
        return
    from autograd_cli.render.emit import stdout, write_human

    write_human(stdout(), ctx.get_help() + "\n")
    ctx.exit()


def _with_agrad_help(option: Any) -> Any:
    if option is not None:
        option.callback = _show_help
    return option


def _format_usage(command: Any, ctx: Any, formatter: Any) -> None:
    pieces = command.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=_("Usage: "))


def _with_plain_arguments(params: list[Any]) -> list[Any]:
    """Arguments named by their metavar alone in help and usage: Typer would add the
    Python type of the parameter (`TARGET <TargetSpec>`, `EXPR <str>`), which is
    agrad's code, not something the reader types, and write a required one `{TARGET}`
    where Click and POSIX write `TARGET` (and `[EXPR]` for an optional one)."""
    for param in params:
        if getattr(param, "param_type_name", None) == "argument" and param.metavar:
            piece = param.metavar if param.required else f"[{param.metavar}]"
            param.display_type_rich = lambda ctx: None
            param.get_usage_pieces = lambda ctx, piece=piece: [piece]
    return params


# The headings of a command's --help after its own options (cli.py files each shared
# option under one): what is special about the command comes first, what every
# command has last.
TENSOR_OPTIONS = N_("Tensor options")
COMMON_OPTIONS = N_("Common options")


def _format_examples(examples: Sequence[str], formatter: Any) -> None:
    """An Examples section, one command line per line: never wrapped, so that each
    can be pasted into a shell as it stands."""
    if examples:
        with formatter.section(_("Examples")):
            for line in examples:
                formatter.write(f"{'':>{formatter.current_indent}}{line}\n")


class AgradCommand(TyperCommand):
    """A command whose --help leads with what it shows and its examples, then its own
    options, then the shared ones under their headings."""

    examples: tuple[str, ...] = ()
    # A shared option's parameter name -> its heading (TENSOR_OPTIONS, COMMON_OPTIONS).
    shared_headings: ClassVar[dict[str, str]] = {}

    def get_params(self, ctx: Any) -> list[Any]:
        return _with_plain_arguments(coercion.direct(super().get_params(ctx)))

    def get_help_option(self, ctx: Any) -> Any:
        return _with_agrad_help(super().get_help_option(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # Click says "Got unexpected extra argument(s) (...)" in English; agrad counts
        # them itself, so the message has the right plural and is in the catalog.
        allowed = ctx.allow_extra_args
        ctx.allow_extra_args = True
        try:
            rest = super().parse_args(ctx, args)
        except TyperException as e:
            with_context(e, ctx)
            raise
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            ctx.fail(
                ngettext(
                    "Got an unexpected extra argument ({extra})",
                    "Got unexpected extra arguments ({extra})",
                    len(rest),
                ).format(extra=" ".join(printable(arg) for arg in rest))
            )
        return rest

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _translated_help(self, ctx):
            super().format_help(ctx, formatter)

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        # What it shows, then its examples under their own heading, then its options.
        super().format_help_text(ctx, formatter)
        _format_examples(self.examples, formatter)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        # Typer's one "Options" list, split: the command's own, then each shared heading.
        sections: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
        sections |= {TENSOR_OPTIONS: [], COMMON_OPTIONS: []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                heading = "Arguments"
            elif param.name == "help" or param.name in self.shared_headings:
                heading = self.shared_headings.get(param.name, COMMON_OPTIONS)
            else:
                heading = "Options"
            sections[heading].append(record)
        for heading, records in sections.items():
            if records:
                # "Arguments" and "Options" are Typer's words, in agrad's catalog too.
                with formatter.section(_(heading)):
                    formatter.write_dl(records)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _format_usage(self, ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        with _translated_help(self, ctx):  # zsh and fish show the options' help
            return super().shell_complete(ctx, incomplete)


def _hold_closed_std_fds() -> None:
    """A standard stream closed by the caller (`>&-`, `2>&-`) gets /dev/null on its
    file descriptor: otherwise the next file opened (an --output temp file) would be
    given descriptor 1 or 2, and whatever torch's C++ code or a library writes to
    "stdout" or "stderr" would land in it. sys.stderr stays None; sys.stdout becomes
    a stream whose writes are an error (render/emit.py, outcome.py)."""
    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
        if stream is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                if devnull != fd:
                    os.dup2(devnull, fd)
                    os.close(devnull)
    if sys.stdout is None:
        from autograd_cli.render.emit import ClosedStdout

        sys.stdout = ClosedStdout()  # type: ignore[assignment]


class AgradGroup(TyperGroup):
    """Runs Click non-standalone so every failure becomes one `agrad: error:` line.
    Its --help reads: what agrad is, first commands to try, the commands, the options."""

    examples: tuple[str, ...] = ()

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> NoReturn:
        argv = list(sys.argv[1:] if args is None else args)
        _hold_closed_std_fds()
        if os.environ.get(COMPLETE_VAR):  # a shell asks for completions (completion.py)
            from autograd_cli.completion import use_agrad_classes

            use_agrad_classes()
        try:
            language = choose_language(language_from_argv(argv), os.environ)
        except UnknownLanguage as e:
            sys.exit(fail(e.message(), ExitCode.USAGE))
        with speaking(language):
            # A bare `agrad` (or `agrad --lang vi`) teaches instead of failing.
            bare = (
                not argv
                or (len(argv) == 2 and argv[0] == "--lang")
                or (len(argv) == 1 and argv[0].startswith("--lang="))
            )
            code, lines = outcome(
                lambda: super(AgradGroup, self).main(
                    args=[*argv, "--help"] if bare else argv,
                    prog_name="agrad",
                    standalone_mode=False,
                    **extra,
                )
            )
            if interrupted():  # a Ctrl-C deferred since the last safe point
                code, lines = ExitCode.INTERRUPTED, (_("interrupted"),)
            code = report(code, lines)
            ignore_from_now()
        from autograd_cli.worker import worker_left_running

        if worker_left_running():  # interrupted mid-work: see worker.py
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)

    def get_params(self, ctx: Any) -> list[Any]:
        return coercion.direct(super().get_params(ctx))

    def get_help_option(self, ctx: Any) -> Any:
        return _with_agrad_help(super().get_help_option(ctx))

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # As AgradCommand.parse_args: the root's options' errors name `agrad --help`.
        try:
            return super().parse_args(ctx, args)
        except TyperException as e:
            with_context(e, ctx)
            raise

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        """Click's lookup of a command, with an unknown name reported as facts
        (the name, close matches, the commands) rather than Typer's English
        "Did you mean ...?" appended to its message."""
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None and ctx.token_normalize_func is not None:
            name = ctx.token_normalize_func(name)
            command = self.get_command(ctx, name)
        if command is None and not ctx.resilient_parsing:
            if args[0][:1] and not args[0][:1].isalnum():
                # As Click does: a word that looks like an option is parsed as one,
                # so `agrad -- --bogus` says "No such option".
                self.parse_args(ctx, args)
            commands = self.list_commands(ctx)
            close = difflib.get_close_matches(args[0], commands) if self.suggest_commands else []
            raise UnknownCommand(args[0], close, commands, ctx)
        return (name if command else None), command, args[1:]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _translated_help(self, ctx):
            super().format_help(ctx, formatter)

    def format_help_text(self, ctx: Any, formatter: Any) -> None:
        super().format_help_text(ctx, formatter)
        _format_examples(self.examples, formatter)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        self.format_commands(ctx, formatter)  # what to run, before how to tune it
        records = [
            record for param in self.get_params(ctx) if (record := param.get_help_record(ctx))
        ]
        if records:
            with formatter.section(_("Options")):
                formatter.write_dl(records)

    def listed_help(self, ctx: Any, name: str) -> str | None:
        """A command's line in this group's --help, translated (None: not listed)."""
        command = self.get_command(ctx, name)
        if command is None or command.hidden:
            return None
        return _(command.short_help) if command.short_help else command.get_short_help_str()

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        """Command names from list_commands and listed_help (Typer's would build
        every scenario's command to read its help), then the group's options."""
        from typer._click.shell_completion import CompletionItem

        names = [name for name in self.list_commands(ctx) if name.startswith(incomplete)]
        helps = [(name, self.listed_help(ctx, name)) for name in names]
        with _translated_help(self, ctx):
            options = super(TyperGroup, self).shell_complete(ctx, incomplete)
        commands = [CompletionItem(name, help=text) for name, text in helps if text is not None]
        return [*commands, *options]

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, self.listed_help(ctx, name)) for name in self.list_commands(ctx)]
        listed = [(name, text) for name, text in rows if text is not None]
        if listed:
            with formatter.section(_("Commands")):
                formatter.write_dl(listed)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _format_usage(self, ctx, formatter)
