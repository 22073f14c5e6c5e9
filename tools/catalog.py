"""agrad's message catalogs: extract, update, compile, check. Standard library only.

    python tools/catalog.py extract   # every message -> autograd_cli/locale/agrad.pot
    python tools/catalog.py update    # .pot -> each <lang>.po: new entries empty, old dropped
    python tools/catalog.py compile   # each .po -> .mo (what gettext reads at run time)
    python tools/catalog.py check     # exit 1 when a catalog is stale or incomplete

Messages come from two places: the source's `_("...")`, `N_("...")` and
`ngettext("...", "...", n)` calls (read with `ast`, so their messages must be string
literals), and texts that only exist
once the CLI is built: every command's and option's --help text, the epilogs, and
the `agrad expr` grammar. Typer's own help words ("Options", "default: {default}")
are listed here too: Typer looks them up through gettext's global domain, which
agrad points at its catalog.

A plural message (from `ngettext`) is held here as gettext's .mo file holds it: the
key is "singular\0plural" and the translation "form 0\0form 1...", with as many
forms as the language's Plural-Forms header says (Vietnamese: one, for every count).
In the .po file it is msgid, msgid_plural and msgstr[0], msgstr[1]...
"""

from __future__ import annotations

import ast
import re
import string
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "autograd_cli"
LOCALE = PACKAGE / "locale"
POT = LOCALE / "agrad.pot"
LANGUAGES = ("vi",)  # en is the source language
# gettext's Plural-Forms header: how many forms a count's noun takes, and which one
# a count n gets. English (the msgids) has two; Vietnamese nouns do not change.
PLURAL_FORMS = {"vi": "nplurals=1; plural=0;"}
SOURCE_PLURALS = 2  # singular and plural, as the .pot and the msgids hold them
PLURAL_SEPARATOR = "\0"

TYPER_MESSAGES = (
    "Options",
    "Arguments",
    "Commands",
    "default: {default}",
    "required",
    "Missing command.",
    "No such command {name!r}.",
)
HEADER = (
    "Project-Id-Version: agrad\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
)


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def source_messages() -> Iterator[tuple[str, str]]:
    """(message, where) for every `_("...")`, `N_("...")` and `ngettext("...", "...", n)`
    in the package; a plural message is "singular\0plural"."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if node.func.id in ("_", "N_") and node.args:
                message = _literal(node.args[0])
                if message is not None:
                    yield message, where
                elif node.func.id == "N_":
                    raise SystemExit(f"{where}: N_() needs one string literal")
            elif node.func.id == "ngettext":
                forms = [_literal(arg) for arg in node.args[:2]]
                if len(forms) != 2 or None in forms:
                    raise SystemExit(f"{where}: ngettext() needs two string literals")
                yield PLURAL_SEPARATOR.join(forms), where  # type: ignore[arg-type]


def runtime_messages() -> Iterator[tuple[str, str]]:
    """--help texts, epilogs and the grammar, as the built CLI holds them."""
    sys.path.insert(0, str(ROOT))
    import typer.main

    from autograd_cli.cli import app
    from autograd_cli.expression.grammar import GRAMMAR

    group = typer.main.get_command(app)
    ctx = group.make_context("agrad", ["--help"], resilient_parsing=True)
    commands = [(group, ctx)]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        commands.append(
            (command, command.make_context(name, [], parent=ctx, resilient_parsing=True))
        )
    for command, command_ctx in commands:
        where = f"agrad {command.name}" if command is not group else "agrad"
        for text in (command.help, command.short_help, command.epilog):
            if text:
                yield text, where
        for param in command.get_params(command_ctx):
            if getattr(param, "help", None):
                yield param.help, f"{where} {param.opts[0] if param.opts else param.name}"
    yield GRAMMAR.lstrip("\n"), "agrad expr --grammar"
    for text in TYPER_MESSAGES:
        yield text, "typer"


def all_messages() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for text, where in (*source_messages(), *runtime_messages()):
        found.setdefault(text, []).append(where)
    return found


# PO files ------------------------------------------------------------------------


def _quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\t", "\\t")
        .replace("\b", "\\b")  # Click's "keep this paragraph as is" mark
    )
    lines = escaped.split("\n")
    parts = [line + "\\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    if len(parts) <= 1:
        return f'"{parts[0] if parts else ""}"'
    return '""\n' + "\n".join(f'"{part}"' for part in parts)


def _unquote(literal: str) -> str:
    body = literal.strip()[1:-1]
    return re.sub(
        r'\\(["\\ntb])', lambda m: {"n": "\n", "t": "\t", "b": "\b"}.get(m[1], m[1]), body
    )


def header(language: str | None) -> str:
    """The header entry of the .pot (language None) or of a language's .po."""
    if language is None:
        return HEADER
    return HEADER + f"Language: {language}\nPlural-Forms: {PLURAL_FORMS[language]}\n"


def plural_count(header_text: str) -> int:
    """nplurals of a header's Plural-Forms (English's 2 when there is none)."""
    match = re.search(r"^Plural-Forms:.*?nplurals\s*=\s*(\d+)", header_text, flags=re.M)
    return int(match[1]) if match else SOURCE_PLURALS


def write_po(
    path: Path, entries: list[tuple[str, str, list[str]]], language: str | None = None
) -> None:
    """entries: (msgid, msgstr, where); the header entry is written first. A plural
    entry gets as many msgstr[i] as the language has forms (the .pot: two, empty)."""
    head = header(language)
    forms = plural_count(head)
    out = ['msgid ""', "msgstr " + _quote(head), ""]
    for msgid, msgstr, where in entries:
        out += [f"#: {w}" for w in where[:3]]
        if "{" in msgid:
            out.append("#, python-brace-format")
        singular, separator, plural = msgid.partition(PLURAL_SEPARATOR)
        out.append("msgid " + _quote(singular))
        if separator:
            out.append("msgid_plural " + _quote(plural))
            translated = msgstr.split(PLURAL_SEPARATOR) if msgstr else []
            translated += [""] * (forms - len(translated))
            out += [f"msgstr[{i}] " + _quote(text) for i, text in enumerate(translated[:forms])]
        else:
            out.append("msgstr " + _quote(msgstr))
        out.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out), encoding="utf-8")


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr, the header included (msgid ""); a plural entry as
    "singular\0plural" -> "form 0\0form 1...", as in the .mo file."""
    entries: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    current = ""

    def flush() -> None:
        if "msgid" not in parts:
            return
        msgid = "".join(parts["msgid"])
        if "msgid_plural" in parts:
            msgid += PLURAL_SEPARATOR + "".join(parts["msgid_plural"])
            count = 1 + max((int(k[7:-1]) for k in parts if k.startswith("msgstr[")), default=-1)
            forms = ["".join(parts.get(f"msgstr[{i}]", [])) for i in range(count)]
            entries[msgid] = PLURAL_SEPARATOR.join(forms)
        else:
            entries[msgid] = "".join(parts.get("msgstr", []))

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _space, literal = line.partition(" ")
        if keyword == "msgid":
            flush()
            parts = {"msgid": [_unquote(literal)]}
            current = "msgid"
        elif keyword in ("msgid_plural", "msgstr") or re.fullmatch(r"msgstr\[\d+\]", keyword):
            parts[keyword] = [_unquote(literal)]
            current = keyword
        elif line.startswith('"'):
            parts[current].append(_unquote(line))
        else:
            raise SystemExit(f"{path}: cannot read line {raw!r}")
    flush()
    return entries


def mo_bytes(entries: dict[str, str]) -> bytes:
    """GNU .mo: the layout gettext.GNUTranslations reads (no hash table)."""
    pairs = sorted(
        (k.encode("utf-8"), v.encode("utf-8")) for k, v in entries.items() if v or k == ""
    )
    count = len(pairs)
    ids_start = 7 * 4
    strs_start = ids_start + count * 8
    data_start = strs_start + count * 8
    ids, strs, blob = [], [], b""
    for key, _value in pairs:
        ids.append((len(key), data_start + len(blob)))
        blob += key + b"\0"
    for _key, value in pairs:
        strs.append((len(value), data_start + len(blob)))
        blob += value + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, count, ids_start, strs_start, 0, 0)
    table = b"".join(struct.pack("<2I", *pair) for pair in (*ids, *strs))
    return header + table + blob


def entry_problems(language: str, msgid: str, msgstr: str, forms: int) -> list[str]:
    """What is wrong with one translation: missing, or with other placeholders than
    the English; a plural entry needs `forms` forms, each with the plural's fields."""
    singular, separator, plural = msgid.partition(PLURAL_SEPARATOR)
    name = f"{singular[:70]!r}" + (" (plural)" if separator else "")
    translations = msgstr.split(PLURAL_SEPARATOR) if separator else [msgstr]
    if separator and msgstr and len(translations) != forms:
        return [
            f"{language}: {name} has {len(translations)} plural forms; Plural-Forms says {forms}"
        ]
    if not all(t.strip() for t in translations):
        return [f"{language}: no translation for {name}"]
    english = plural if separator else msgid
    return [
        f"{language}: placeholders differ for {singular[:50]!r}: "
        f"{placeholders(english)} != {placeholders(text)}"
        for text in translations
        if placeholders(english) != placeholders(text)
    ]


def placeholders(text: str) -> list[str]:
    """The {fields} of a str.format template, with their format specs, sorted."""
    return sorted(
        f"{name}{'!' + conversion if conversion else ''}:{spec}"
        for _literal, name, spec, conversion in string.Formatter().parse(text)
        if name is not None
    )


# Commands ------------------------------------------------------------------------


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "agrad.po"


def mo_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "agrad.mo"


def extract() -> None:
    messages = all_messages()
    write_po(POT, [(msgid, "", where) for msgid, where in messages.items()])
    print(f"{POT.relative_to(ROOT)}: {len(messages)} messages")


def update() -> None:
    messages = all_messages()
    for language in LANGUAGES:
        path = po_path(language)
        old = read_po(path) if path.exists() else {}
        entries = [(m, old.get(m, ""), where) for m, where in messages.items()]
        write_po(path, entries, language)
        missing = sum(1 for _m, translated, _w in entries if not translated.strip("\0"))
        print(f"{path.relative_to(ROOT)}: {len(entries)} messages, {missing} untranslated")


def compile_all() -> None:
    for language in LANGUAGES:
        mo_path(language).write_bytes(mo_bytes(read_po(po_path(language))))
        print(f"{mo_path(language).relative_to(ROOT)} written")


def problems() -> list[str]:
    """What makes the catalogs stale or incomplete; empty when all is well."""
    found: list[str] = []
    messages = all_messages()
    pot = read_po(POT) if POT.exists() else {}
    if set(pot) - {""} != set(messages):
        found.append("agrad.pot is stale: run python tools/catalog.py extract")
    for language in LANGUAGES:
        po = read_po(po_path(language))
        head = po.get("", "")
        if f"Plural-Forms: {PLURAL_FORMS[language]}" not in head:
            found.append(f"{language}: the header lacks Plural-Forms: {PLURAL_FORMS[language]}")
        forms = plural_count(head)
        for msgid in messages:
            found += entry_problems(language, msgid, po.get(msgid, ""), forms)
        for msgid in set(po) - set(messages) - {""}:
            found.append(f"{language}: obsolete entry {msgid[:70]!r} (run update)")
        if not mo_path(language).exists() or mo_path(language).read_bytes() != mo_bytes(po):
            found.append(f"{language}: agrad.mo is stale: run python tools/catalog.py compile")
    return found


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "extract":
        extract()
    elif command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        found = problems()
        print("\n".join(found) or "catalogs complete and current")
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
