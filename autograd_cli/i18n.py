"""Human text in the reader's language, through Python's gettext.

The catalogs live in autograd_cli/locale/: `agrad.pot` (every message, extracted),
`<lang>/LC_MESSAGES/agrad.po` (the translations, edited by people) and `agrad.mo`
(compiled, committed; `python tools/catalog.py compile` rebuilds it). Only human
text is translated: tables, notes, errors, --help. JSON never changes with the
language: reports hold English data, and renderers translate as they draw.

The language, first found wins: --lang, AGRAD_LANG, then the locale variables
LC_ALL, LC_MESSAGES and LANG (`vi_VN.UTF-8` -> vi; a locale agrad has no catalog
for, or C/POSIX, means English). An unknown --lang or AGRAD_LANG is an error.

A count with a noun goes through `ngettext` (`1 node`, `2 nodes`; Vietnamese has one
form) and its number through `group` (`3,011` in English, `3.011` in Vietnamese).
"""

from __future__ import annotations

import contextlib
import gettext
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

DOMAIN = "agrad"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "vi")  # en is the source language: its "catalog" is the msgids
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
# How each language groups the thousands of an integer. Decimal numbers are not
# touched: they stay as Python writes them (0.2661), like the code they come from.
THOUSANDS_SEPARATOR = {"en": ",", "vi": "."}

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def _(message: str) -> str:
    """`message` in the current language (itself when there is no translation)."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message for `count` things, in the current language: English
    has `singular` for 1 and `plural` otherwise; the catalog says how many forms
    another language has (Vietnamese: one). Format the count in with `group()`."""
    return _translation.ngettext(singular, plural, count)


def group(number: int) -> str:
    """An integer with its thousands grouped as the reader's language writes them:
    3,011 in English, 3.011 in Vietnamese. For counts and sizes people read; not for
    decimals, seeds, or values typed on the command line."""
    return f"{number:,}".replace(",", THOUSANDS_SEPARATOR.get(_language, ","))


def N_(message: str) -> str:  # gettext's conventional name
    """Marks a message for the catalog where it is defined; `_()` translates it where
    it is shown (module-level tables are built before the language is known)."""
    return message


class UnknownLanguage(ValueError):
    def __init__(self, source: str, value: str) -> None:
        super().__init__(source, value)
        self.source, self.value = source, value

    def message(self) -> str:
        return _("{source} {value!r}: unknown language; available: {languages}").format(
            source=self.source, value=self.value, languages=", ".join(LANGUAGES)
        )


def _normalise(value: str) -> str:
    """`vi_VN.UTF-8`, `vi-VN`, `VI` -> `vi`."""
    return value.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()


def language_from_argv(argv: Sequence[str]) -> str | None:
    """--lang X or --lang=X anywhere before `--`, read before Click parses, so that
    eager options (--help) and parse errors already speak the chosen language."""
    for index, arg in enumerate(argv):
        if arg == "--":
            return None
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
    return None


def choose_language(option: str | None, environ: Mapping[str, str]) -> str:
    """The language to speak, or UnknownLanguage for a bad --lang or AGRAD_LANG."""
    for source, value in (("--lang", option), ("AGRAD_LANG", environ.get("AGRAD_LANG"))):
        if value is not None and value.strip():
            language = _normalise(value)
            if language not in LANGUAGES:
                raise UnknownLanguage(source, value)
            return language
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable, "")
        if value.strip():
            # The first one set decides, as in POSIX; a locale agrad lacks is English.
            language = _normalise(value)
            return language if language in LANGUAGES else "en"
    return "en"


# One catalog object per language: gettext.translation() looks for the .mo on disk on
# every call (8 stat calls), which `agrad batch` would pay on each of its lines.
_catalogs: dict[str, gettext.NullTranslations] = {}


def use_language(language: str) -> None:
    global _translation, _language
    _language = language
    if language not in _catalogs:
        _catalogs[language] = gettext.translation(
            DOMAIN, LOCALE_DIR, languages=[language], fallback=True
        )
    _translation = _catalogs[language]


@contextlib.contextmanager
def speaking(language: str) -> Iterator[None]:
    """Speak `language` for one invocation, and whatever was spoken before after it.

    Typer formats its own help words ("Options", "default: ...") with the standard
    `gettext.gettext`, which reads the global domain and the LANGUAGE variable; for
    the invocation both point at agrad's catalog, so they follow --lang too.
    """
    previous_language = _language
    previous_domain = gettext.textdomain()
    previous_env = os.environ.get("LANGUAGE")
    gettext.bindtextdomain(DOMAIN, str(LOCALE_DIR))
    gettext.textdomain(DOMAIN)
    os.environ["LANGUAGE"] = language
    use_language(language)
    try:
        yield
    finally:
        use_language(previous_language)
        gettext.textdomain(previous_domain)
        if previous_env is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = previous_env
