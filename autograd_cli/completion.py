"""Shell completion's answers that Typer cannot know: TARGET's files and the callables
in them, bash's words split at `:`, and help that zsh and fish list on one line.

Typer drives completion (`agrad --install-completion`, `--show-completion`, the
`_AGRAD_COMPLETE` variable its scripts set, its completion classes, subclassed
here); the options' choices are declared with the options (options.py). Nothing here
imports torch or Rich, and nothing runs the user's file: its callables are read from
its syntax tree (`ast`), so a file whose import has side effects, or that does not
parse, is never executed on a TAB.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

# A TAB must answer at once: a bigger file is not parsed (its names are not offered).
MAX_PARSED_BYTES = 2_000_000
# bash splits COMP_WORDS at these (they are in COMP_WORDBREAKS by default), so
# `examples/mlp.py:bu` arrives as three words: `examples/mlp.py`, `:`, `bu`.
BASH_BREAKS = frozenset(":=")


def _files(incomplete: str) -> list[str]:
    """Directories (`dir/`) and .py files whose path starts with `incomplete`."""
    folder, slash, stem = incomplete.rpartition("/")
    # `~/` as bash and zsh pass it, unexpanded; the answers keep it as typed.
    where = Path(os.path.expanduser(folder + "/") if slash else ".")
    try:
        entries = sorted(os.scandir(where), key=lambda entry: entry.name)
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.name.startswith(stem) or (entry.name.startswith(".") and not stem):
            continue
        shown = (folder + "/" if slash else "") + entry.name
        try:
            if entry.is_dir():
                found.append(shown + "/")
            elif entry.name.endswith(".py") and entry.is_file():
                found.append(shown)
        except OSError:
            continue
    return found


def defined_callables(path: Path) -> list[str]:
    """The functions and classes defined at the top level of the Python file `path`,
    in file order, read from its syntax tree without running it; [] when it cannot
    be read or parsed."""
    try:
        if path.stat().st_size > MAX_PARSED_BYTES:
            return []
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    names = [node.name for node in tree.body if isinstance(node, kinds)]
    return list(dict.fromkeys(names))


def complete_target(incomplete: str) -> list[str]:
    """TARGET's completions: `PATH.py:` then the callables defined in PATH.py;
    before the colon, the directories and .py files that match."""
    where, colon, name = incomplete.rpartition(":")
    if not colon:
        return _files(incomplete)
    if not where.endswith(".py"):
        return []  # module:NAME would need the module imported, which runs its code
    private = name.startswith("_")
    return [
        f"{where}:{found}"
        for found in defined_callables(Path(os.path.expanduser(where)))
        if found.startswith(name) and (private or not found.startswith("_"))
    ]


def bash_words(words: list[str], cword: int) -> tuple[list[str], int, str]:
    """bash's COMP_WORDS with the words it split at `:` or `=` joined again, the
    index of the word under the cursor in them, and what bash will replace of that
    word: only the text after its last break character (ours to strip from every
    answer)."""
    joined: list[str] = []
    current = 0
    glue = False
    for index, word in enumerate(words):
        breaks = bool(word) and set(word) <= BASH_BREAKS
        if joined and (glue or breaks):
            joined[-1] += word
        else:
            joined.append(word)
        glue = breaks
        if index == cword:
            current = len(joined) - 1
    if cword >= len(words):
        # An empty word under the cursor (after a space, or right after `:`) is lost
        # when Typer's script joins COMP_WORDS; after `:` it is the joined word's end.
        if not glue:
            joined.append("")
        current = len(joined) - 1
    word = joined[current]
    cut = max((word.rfind(ch) for ch in BASH_BREAKS), default=-1)
    return joined, current, word[: cut + 1]


def one_line(help: str | None) -> str:
    """An option's or command's help as zsh and fish list it: one line (a newline
    would make a second candidate of the rest), its first sentence."""
    words = " ".join((help or "").split())
    for index in range(len(words) - 2):
        if words[index : index + 2] == ". " and words[index + 2].isupper():
            return words[: index + 1]
    return words


def _zsh_escape(text: str) -> str:
    # As Typer's zsh class escapes, for the _arguments spec its script evals.
    return (
        text.replace('"', '""')
        .replace("'", "''")
        .replace("$", "\\$")
        .replace("`", "\\`")
        .replace(":", r"\\:")
    )


def _bash_completion_args(self: Any) -> tuple[list[str], str]:
    from typer._click.shell_completion import split_arg_string

    words = split_arg_string(os.environ["COMP_WORDS"])
    cword = int(os.environ["COMP_CWORD"])
    joined, current, self.replaced_prefix = bash_words(words, cword)
    return joined[1:current], joined[current]


def _bash_format(self: Any, item: Any) -> str:
    value = str(item.value)
    prefix = getattr(self, "replaced_prefix", "")
    return value[len(prefix) :] if prefix and value.startswith(prefix) else value


def _zsh_format(self: Any, item: Any) -> str:
    text = one_line(item.help)
    if text:
        return f'"{_zsh_escape(item.value)}":"{_zsh_escape(text)}"'
    return f'"{_zsh_escape(item.value)}"'


def _fish_format(self: Any, item: Any) -> str:
    text = one_line(item.help)
    return f"{item.value}\t{text}" if text else str(item.value)


# Typer's classes with agrad's changes. bash: `examples/mlp.py:bu` read as one word,
# and answered with what bash replaces. zsh and fish: the help on one line, as plain
# text (Typer renders it through Rich, which wraps it at the terminal's width into
# several candidates and costs Rich's import on every TAB).
_CHANGES: dict[str, dict[str, Callable[..., Any]]] = {
    "bash": {"get_completion_args": _bash_completion_args, "format_completion": _bash_format},
    "zsh": {"format_completion": _zsh_format},
    "fish": {"format_completion": _fish_format},
}


def use_agrad_classes() -> None:
    """Registers agrad's completion classes over Typer's, which Typer registers when
    the app is built, just before this runs (typer_classes.AgradGroup.main)."""
    from typer._click.shell_completion import add_completion_class, get_completion_class

    for shell, methods in _CHANGES.items():
        base = get_completion_class(shell)
        if base is not None and not base.__name__.startswith("Agrad"):
            name = f"Agrad{base.__name__}"
            add_completion_class(type(name, (base,), methods), shell)
