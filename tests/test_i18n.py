"""--lang en|vi: the catalogs are complete, the choice of language follows the rules,
human text is Vietnamese and machine output is byte-identical."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_cli.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent


def _catalog_tool():
    spec = importlib.util.spec_from_file_location("catalog", ROOT / "tools" / "catalog.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The catalogs ----------------------------------------------------------------------


def test_every_message_has_a_vietnamese_translation_with_the_same_placeholders():
    catalog = _catalog_tool()
    messages = catalog.all_messages()
    assert len(messages) > 250  # the source, --help texts, the grammar, Typer's words
    po = catalog.read_po(catalog.po_path("vi"))
    missing = [m for m in messages if not po.get(m, "").strip()]
    assert missing == [], f"untranslated: {missing[:5]}"
    mismatched = [m for m in messages if catalog.placeholders(m) != catalog.placeholders(po[m])]
    assert mismatched == [], f"placeholders differ: {mismatched[:5]}"
    obsolete = set(po) - set(messages) - {""}
    assert obsolete == set(), f"obsolete entries: {sorted(obsolete)[:5]}"


def test_the_check_catches_a_missing_entry_and_a_placeholder_mismatch(tmp_path, monkeypatch):
    """The completeness check can fail: a copy of the catalog with one entry emptied
    and one placeholder renamed is reported on both counts."""
    catalog = _catalog_tool()
    po = catalog.read_po(catalog.po_path("vi"))
    emptied = "Tensors"
    renamed = "agrad linear · seed {seed}"
    po[emptied] = ""
    po[renamed] = po[renamed].replace("{seed}", "{hạt}")
    broken = tmp_path / "vi" / "LC_MESSAGES" / "agrad.po"
    catalog.write_po(broken, [(m, t, []) for m, t in po.items() if m])
    (broken.parent / "agrad.mo").write_bytes(catalog.mo_bytes(po))
    monkeypatch.setattr(catalog, "LOCALE", tmp_path)
    monkeypatch.setattr(catalog, "POT", ROOT / "autograd_cli" / "locale" / "agrad.pot")
    found = catalog.problems()
    assert any("no translation for 'Tensors'" in p for p in found)
    assert any("placeholders differ for 'agrad linear · seed {seed}'" in p for p in found)


def test_committed_catalogs_are_current():
    """agrad.pot matches the source, and agrad.mo is exactly what agrad.po compiles to."""
    catalog = _catalog_tool()
    assert catalog.problems() == []


def test_the_compiled_catalog_is_what_gettext_reads():
    import gettext

    from autograd_cli.i18n import DOMAIN, LOCALE_DIR

    translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=["vi"])
    assert translation.gettext("Tensors") == "Các tensor"
    assert translation.gettext("First call") == "Lần gọi thứ nhất"


def test_placeholders_compare_names_conversions_and_format_specs():
    catalog = _catalog_tool()
    assert catalog.placeholders("{a:,} and {b!r}") == ["a:,", "b!r:"]
    assert catalog.placeholders("{a:,}") != catalog.placeholders("{a}")
    assert catalog.placeholders("no fields") == []


# Choosing the language ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "environ", "expected"),
    [
        (None, {}, "en"),
        ("vi", {}, "vi"),
        ("VI", {}, "vi"),
        ("vi_VN.UTF-8", {}, "vi"),
        (None, {"AGRAD_LANG": "vi"}, "vi"),
        ("en", {"AGRAD_LANG": "vi"}, "en"),  # --lang first
        (None, {"AGRAD_LANG": "en", "LANG": "vi_VN.UTF-8"}, "en"),  # then AGRAD_LANG
        (None, {"LANG": "vi_VN.UTF-8"}, "vi"),
        (None, {"LC_MESSAGES": "vi_VN", "LANG": "en_US.UTF-8"}, "vi"),
        (None, {"LC_ALL": "vi_VN.UTF-8", "LC_MESSAGES": "en_US"}, "vi"),
        (None, {"LC_ALL": "C", "LANG": "vi_VN.UTF-8"}, "en"),  # the first one set decides
        (None, {"LANG": "fr_FR.UTF-8"}, "en"),  # a locale agrad lacks: English, no error
        (None, {"LANG": ""}, "en"),
    ],
)
def test_language_precedence(option, environ, expected):
    from autograd_cli.i18n import choose_language

    assert choose_language(option, environ) == expected


def test_lang_is_read_from_argv_before_click_parses():
    from autograd_cli.i18n import language_from_argv

    assert language_from_argv(["linear", "--lang", "vi"]) == "vi"
    assert language_from_argv(["--lang=vi", "linear"]) == "vi"
    assert language_from_argv(["expr", "--", "--lang", "vi"]) is None
    assert language_from_argv(["linear"]) is None


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["linear", "--lang", "fr"], {}),
        (["--lang", "klingon", "jvp"], {}),
        (["jvp"], {"AGRAD_LANG": "de"}),
    ],
)
def test_an_unknown_language_exits_2_listing_the_available_ones(agrad, args, env):
    result = agrad(*args, env=env)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: ")
    assert "unknown language" in line and "en, vi" in line


def test_a_system_locale_agrad_lacks_is_english_not_an_error(agrad):
    result = agrad("linear", env={"LANG": "fr_FR.UTF-8"})
    assert result.exit_code == 0
    assert "Tensors" in result.stdout


# What changes, and what does not ----------------------------------------------------

MACHINE_OUTPUTS = [
    ["linear", "--seed", "3", "--json"],
    ["jvp", "--repeat", "3", "--mode", "both", "--jacobian", "--json"],
    ["chain", "--length", "4", "--check", "--json"],
    ["expr", "mse_loss(x, y)", "--var", "x=ones(3,1)", "--var", "y=zeros(3)", "--json"],
    ["linear", "--seed", "0..2", "--json"],
    ["inspect", "examples/nan_sqrt.py:loss", "--anomaly", "--json"],
]


@pytest.mark.parametrize("args", MACHINE_OUTPUTS, ids=lambda a: " ".join(a[:2]))
def test_json_is_byte_identical_in_every_language(agrad, args):
    english = agrad(*args, "--lang", "en")
    assert english.exit_code == 0, english.stderr
    for env, extra in (
        ({}, ["--lang", "vi"]),
        ({"AGRAD_LANG": "vi"}, []),
        ({"LANG": "vi_VN.UTF-8"}, []),
    ):
        result = agrad(*args, *extra, env=env)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == english.stdout
        assert result.stderr == english.stderr


def test_batch_records_stay_english_under_vi(agrad):
    lines = "linear --seed 1\njvp --repeat 0\n"
    english = agrad("batch", input=lines)
    vietnamese = agrad("batch", "--lang", "vi", input=lines)
    assert vietnamese.stdout == english.stdout
    assert "out of range" in english.stdout


NOTEBOOK_TERMS = {
    "linear": [
        "Tắt tính Gradient",
        "đồ thị có hướng không chu trình (DAG)",
        "quy tắc dây chuyền (chain rule)",
    ],
    "jvp": [
        "Tensor Gradient và tích Jacobian",
        "Lần gọi thứ nhất",
        "Lần gọi thứ hai",
        "Sau khi đặt lại gradient về 0",
    ],
}
PYTORCH_IDENTIFIERS = ["grad_fn", "requires_grad", "backward()", "AccumulateGrad"]


@pytest.mark.parametrize("command", ["linear", "jvp"])
def test_the_notebooks_terms_and_pytorchs_identifiers(agrad, command):
    result = agrad(command, "--lang", "vi")
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())  # wrapped lines joined
    for term in NOTEBOOK_TERMS[command]:
        assert term in text, term
    for identifier in PYTORCH_IDENTIFIERS:
        assert identifier in text, identifier
    english = agrad(command, "--lang", "en").stdout
    assert "Tensors" in english and "Tensors" not in result.stdout


def test_errors_and_help_speak_vietnamese(agrad):
    error = agrad("linear", "--seed", "x", "--lang", "vi")
    assert error.exit_code == ExitCode.USAGE and error.stdout == ""
    (line,) = error.stderr.splitlines()
    # The prefix stays for scripts; Click's frame and agrad's own words are translated.
    assert line.startswith("agrad: error: Giá trị không hợp lệ cho '--seed': 'x' không phải")
    assert "Xem 'agrad linear --help'" in line
    usage = agrad("frobnicate", env={"AGRAD_LANG": "vi"})
    assert "Không có lệnh 'frobnicate'" in usage.stderr and "các lệnh:" in usage.stderr
    help_text = agrad("inspect", "--help", "--lang", "vi").stdout
    for words in ("Cách dùng:", "Tùy chọn:", "Đối số:", "tệp của bạn được chạy như Python"):
        assert words in help_text, words
    group_help = agrad("--lang", "vi").stdout  # a bare agrad shows help
    assert "Lệnh:" in group_help and "Mã thoát:" in group_help


def test_expression_errors_keep_their_caret_in_vietnamese(agrad):
    result = agrad("expr", "x.__class__", "--var", "x=ones(3)", "--lang", "vi")
    assert result.exit_code == ExitCode.USAGE
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and "(cột 1)" in lines[0] and lines[2].strip() == "^"


def test_inspect_speaks_vietnamese_and_keeps_its_flag_names(agrad):
    result = agrad("inspect", "examples/dead_relu.py:build", "--lang", "vi")
    assert result.exit_code == 0, result.stderr
    assert "Gradient sau một lần loss.backward()" in result.stdout
    assert "Cờ: 0 vanishing · 0 exploding · 5 dead" in result.stdout  # --fail-on's words


def test_the_language_does_not_leak_into_the_next_run(agrad):
    agrad("linear", "--lang", "vi")
    assert "Tensors" in agrad("linear").stdout


def test_a_real_process_reads_lang_from_the_environment():
    result = subprocess.run(
        [sys.executable, "-m", "autograd_cli", "jvp", "--repeat", "0"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "vi_VN.UTF-8", "PYTHONIOENCODING": "utf-8"},
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == ExitCode.USAGE
    assert "nằm ngoài khoảng" in result.stderr
