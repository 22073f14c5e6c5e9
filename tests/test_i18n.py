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
    forms = catalog.plural_count(po[""])
    assert forms == 1  # Vietnamese nouns do not change with the count
    wrong = [p for m in messages for p in catalog.entry_problems("vi", m, po.get(m, ""), forms)]
    assert wrong == [], wrong[:5]
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
    found = _problems_of_a_copy(catalog, po, tmp_path, monkeypatch)
    assert any("no translation for 'Tensors'" in p for p in found)
    assert any("placeholders differ for 'agrad linear · seed {seed}'" in p for p in found)


def _problems_of_a_copy(catalog, po, tmp_path, monkeypatch, edit=lambda text: text):
    """catalog.problems() for a Vietnamese catalog holding `po` instead of the real
    one; `edit` may change the .po file's text before it is compiled."""
    broken = tmp_path / "vi" / "LC_MESSAGES" / "agrad.po"
    catalog.write_po(broken, [(m, t, []) for m, t in po.items() if m], "vi")
    broken.write_text(edit(broken.read_text(encoding="utf-8")), encoding="utf-8")
    (broken.parent / "agrad.mo").write_bytes(catalog.mo_bytes(catalog.read_po(broken)))
    monkeypatch.setattr(catalog, "LOCALE", tmp_path)
    monkeypatch.setattr(catalog, "POT", ROOT / "autograd_cli" / "locale" / "agrad.pot")
    return catalog.problems()


NODES = "{count} node\0{count} nodes"  # a plural entry, as the catalog tool keys it


def test_the_check_catches_a_missing_or_broken_plural_translation(tmp_path, monkeypatch):
    catalog = _catalog_tool()
    po = catalog.read_po(catalog.po_path("vi"))
    assert po[NODES] == "{count} nút"
    assert _problems_of_a_copy(catalog, po, tmp_path, monkeypatch) == []
    po[NODES] = ""
    found = _problems_of_a_copy(catalog, po, tmp_path, monkeypatch)
    assert found == ["vi: no translation for '{count} node' (plural)"]
    po[NODES] = "nút"  # the count left out
    found = _problems_of_a_copy(catalog, po, tmp_path, monkeypatch)
    assert found == ["vi: placeholders differ for '{count} node': ['count:'] != []"]


def test_the_check_wants_the_plural_forms_header(tmp_path, monkeypatch):
    """Without `Plural-Forms: nplurals=1`, gettext would pick English's rule and look
    for a second Vietnamese form that does not exist."""
    catalog = _catalog_tool()
    po = catalog.read_po(catalog.po_path("vi"))
    found = _problems_of_a_copy(
        catalog,
        po,
        tmp_path,
        monkeypatch,
        edit=lambda text: text.replace('"Plural-Forms: nplurals=1; plural=0;\\n"\n', ""),
    )
    assert "vi: the header lacks Plural-Forms: nplurals=1; plural=0;" in found
    assert "vi: '{count} node' (plural) has 1 plural forms; Plural-Forms says 2" in found


def test_plural_entries_round_trip_through_po_and_mo(tmp_path):
    """msgid_plural and msgstr[N] are written, read back, and compiled the way
    Python's gettext reads them."""
    import gettext

    catalog = _catalog_tool()
    path = tmp_path / "vi" / "LC_MESSAGES" / "agrad.po"
    entries = [(NODES, "{count} nút", ["here"]), ("Tensors", "Các tensor", [])]
    catalog.write_po(path, entries, "vi")
    text = path.read_text(encoding="utf-8")
    assert 'msgid "{count} node"\nmsgid_plural "{count} nodes"\nmsgstr[0] "{count} nút"\n' in text
    assert "Plural-Forms: nplurals=1; plural=0;" in text
    po = catalog.read_po(path)
    assert po[NODES] == "{count} nút" and po["Tensors"] == "Các tensor"
    (path.parent / "agrad.mo").write_bytes(catalog.mo_bytes(po))
    translation = gettext.translation("agrad", tmp_path, languages=["vi"])
    for n in (0, 1, 2, 1000):
        assert translation.ngettext("{count} node", "{count} nodes", n) == "{count} nút"
    # The .pot keeps English's two forms, both empty.
    pot = tmp_path / "agrad.pot"
    catalog.write_po(pot, [(NODES, "", [])])
    assert 'msgstr[0] ""\nmsgstr[1] ""\n' in pot.read_text(encoding="utf-8")


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
    ["pitfalls", "--all", "--json"],
    [
        "expr",
        "h = w @ x\nout = h.tanh().sum()",
        "--var",
        "x=ones(2)",
        "--var",
        "w=eye(2)",
        "--retain-grad",
        "all",
        "--order",
        "3",
        "--hessian",
        "--json",
    ],
]


@pytest.mark.parametrize("args", MACHINE_OUTPUTS, ids=lambda a: " ".join(a[:2])[:30])
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
    lines = (
        'linear --seed 1\njvp --repeat 0\nexpr "x.expand(2000, 1000).sum()" --var x=ones(1000)\n'
    )
    english = agrad("batch", input=lines)
    vietnamese = agrad("batch", "--lang", "vi", input=lines)
    assert vietnamese.stdout == english.stdout
    assert "out of range" in english.stdout
    assert "2,000,000 elements" in english.stdout  # grouped the English way in JSON


NOTEBOOK_TERMS = {
    "linear": [
        "Tắt theo dõi gradient",  # "Disabling gradient tracking"
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


# Counts: one plural rule, one way of grouping thousands per language ----------------


def _graph_size(root) -> tuple[int, int]:
    """Nodes and edges of the backward graph from `root`, walked here with torch's own
    next_functions (deduplicated by identity), independently of agrad's walk."""
    seen, edges, stack = {id(root): root}, 0, [root]
    while stack:
        for child, _slot in stack.pop().next_functions:
            if child is None:
                continue
            edges += 1
            if id(child) not in seen:
                seen[id(child)] = child
                stack.append(child)
    return len(seen), edges


def _chain_graph_size(length: int, hidden: int = 4) -> tuple[int, int]:
    import torch

    torch.manual_seed(0)
    h0 = torch.randn(1, hidden, requires_grad=True)
    a = torch.randn(hidden, hidden, requires_grad=True)
    b = torch.randn(hidden, requires_grad=True)
    h = h0
    for _step in range(length):
        h = torch.tanh(h @ a + b)
    return _graph_size(h.sum().grad_fn)


def test_one_node_one_edge_and_two_of_each_in_english(agrad):
    import torch

    x = torch.ones(3, requires_grad=True)
    assert _graph_size(x.sum().grad_fn) == (2, 1)  # SumBackward0 -> AccumulateGrad
    text = " ".join(agrad("expr", "x.sum()", "--var", "x=ones(3)").stdout.split())
    assert "2 nodes, 1 edge. backward() runs this graph" in text
    y = torch.ones(3, requires_grad=True)
    nodes, edges = _graph_size((y * 2).sum().grad_fn)
    assert (nodes, edges) == (3, 2)
    text = " ".join(agrad("expr", "(y * 2).sum()", "--var", "y=ones(3)").stdout.split())
    assert "3 nodes, 2 edges." in text


@pytest.mark.parametrize("fmt", ["table", "dot", "mermaid"])
def test_nodes_left_out_take_the_plural_only_when_there_are_several(agrad, fmt):
    nodes, _edges = _chain_graph_size(1)
    shown = nodes - 1
    one = agrad("chain", "--length", "1", "--max-nodes", str(shown), "--format", fmt).stdout
    assert "… 1 more node not shown (--max-nodes" in one
    two = agrad("chain", "--length", "1", "--max-nodes", str(shown - 1), "--format", fmt).stdout
    assert "… 2 more nodes not shown (--max-nodes" in two


def test_singular_and_plural_calls_and_steps(agrad):
    assert agrad("jvp", "--repeat", "1").stdout.startswith(
        "agrad jvp · 1 accumulating call, then zero_()\n"
    )
    assert agrad("jvp", "--repeat", "2").stdout.startswith(
        "agrad jvp · 2 accumulating calls, then zero_()\n"
    )
    assert agrad("chain", "--length", "1").stdout.startswith("agrad chain · 1 step, ")
    assert agrad("chain", "--length", "2").stdout.startswith("agrad chain · 2 steps, ")
    for language in ("en", "vi"):
        text = agrad("jvp", "--repeat", "3", "--lang", language).stdout
        assert "(s)" not in text


@pytest.mark.parametrize(
    ("var", "said"),
    [
        ("x=tensor(1,2)", "tensor() takes 1 argument, got 2"),
        ("x=full(1)", "full() takes 2 arguments, got 1"),
        ("x=eye()", "eye() takes 1 to 2 arguments, got 0"),
    ],
)
def test_constructor_arity_errors_count_their_arguments(agrad, var, said):
    result = agrad("expr", "x.sum()", "--var", var)
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert result.stderr.startswith(f"agrad: error: {said} (--var, column 3)\n")


def test_every_view_groups_thousands_the_same_way_per_language(agrad):
    """chain --length 1000 has 3,004 nodes (three a step, plus h0, a, b and the sum)
    and 5,001 edges: the tree, DOT and Mermaid write them as the language does."""
    nodes, edges = _chain_graph_size(1000)
    assert (nodes, edges) == (3 * 1000 + 4, 5001)
    left = nodes - 200
    english = {
        fmt: agrad("chain", "--length", "1000", "--max-nodes", "200", "--format", fmt).stdout
        for fmt in ("table", "dot", "mermaid")
    }
    assert "agrad chain · 1,000 steps" in english["table"]
    assert f"… {left:,} more nodes not shown (--max-nodes 200)" in english["table"]
    assert f"{nodes:,} nodes, {edges:,} edges." in english["table"]
    assert f"… {left:,} more nodes not shown (--max-nodes)" in english["dot"]
    assert f"… {left:,} more nodes not shown (--max-nodes)" in english["mermaid"]
    vi = {
        fmt: agrad(
            "chain", "--length", "1000", "--max-nodes", "200", "--format", fmt, "--lang", "vi"
        ).stdout
        for fmt in ("table", "dot", "mermaid")
    }
    dotted = f"{left:,}".replace(",", ".")  # 2.804
    assert "agrad chain · 1.000 bước" in vi["table"]
    assert f"… còn {dotted} nút không hiển thị (--max-nodes 200)" in vi["table"]
    assert (
        f"{nodes:,}".replace(",", ".") + " nút, " + f"{edges:,}".replace(",", ".") + " cạnh."
        in vi["table"]
    )
    assert f"… còn {dotted} nút không hiển thị (--max-nodes)" in vi["dot"]
    assert f"… còn {dotted} nút không hiển thị (--max-nodes)" in vi["mermaid"]
    for text in vi.values():
        assert f"{left:,}" not in text  # no English grouping left in the Vietnamese views


def test_vietnamese_groups_integers_but_leaves_decimals_as_python_writes_them(agrad):
    import math

    import torch

    torch.manual_seed(0)
    w, b = torch.randn(5, 3).double(), torch.randn(3).double()
    z = w.sum(0) + b  # x = ones(5), y = zeros(3)
    dl_dz = [1 / (1 + math.exp(-v)) / 3 for v in z.tolist()]
    text = agrad("linear", "--seed", "0", "--lang", "vi").stdout
    for value in dl_dz:
        assert f" {value:.4f} " in text  # 0.2661, not 0,2661
    from autograd_cli.i18n import group, speaking

    with speaking("vi"):
        assert (group(3011), group(999), group(1068810), group(-2000)) == (
            "3.011",
            "999",
            "1.068.810",
            "-2.000",
        )
    with speaking("en"):
        assert group(3011) == "3,011"


def test_inspect_groups_its_counts_in_vietnamese(agrad):
    """examples/rnn.py's graph, walked here with torch: its node count, and the
    per-class counts and depth agrad reports, grouped as each language does."""
    import importlib.util
    import json

    import torch

    spec = importlib.util.spec_from_file_location("rnn_example", ROOT / "examples" / "rnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    model, inputs, targets, loss_fn = module.build()
    nodes, edges = _graph_size(loss_fn(model(inputs), targets).grad_fn)
    assert nodes > 1000 and edges > 1000

    args = ("inspect", "examples/rnn.py:build", "--max-nodes", "8")
    english = " ".join(agrad(*args).stdout.split())
    vi = " ".join(agrad(*args, "--lang", "vi").stdout.split())
    assert f"… {nodes - 8:,} more nodes not shown" in english
    assert f"{nodes:,} nodes, {edges:,} edges." in english
    assert f"… còn {nodes - 8:,} nút không hiển thị".replace(",", ".") in vi
    assert f"{nodes:,}".replace(",", ".") + " nút, " in vi
    depth = json.loads(agrad(*args, "--json").stdout)["graph_summary"]["depth"]
    assert depth > 1000  # so that it has a separator to show
    assert f"Depth {depth:,}:" in english
    assert f"Độ sâu {depth:,}:".replace(",", ".") in vi


def test_errors_group_their_caps_in_the_language_of_the_reader(agrad):
    args = ("expr", "x.expand(2000, 1000).sum()", "--var", "x=ones(1000)")
    english = agrad(*args)
    vi = agrad(*args, "--lang", "vi")
    assert english.exit_code == vi.exit_code == ExitCode.USAGE
    assert "tensor of 2,000,000 elements (2000, 1000); the cap is 1,000,000" in english.stderr
    assert "tensor 2.000.000 phần tử (2000, 1000); giới hạn là 1.000.000" in vi.stderr


# jvp's call labels -------------------------------------------------------------------

ORDINAL_WORDS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth")
ORDINAL_WORDS += ("Ninth", "Tenth")


def _call_labels(text: str) -> list[str]:
    return [
        line.split("  ")[0]
        for line in text.splitlines()
        if line.endswith("out.backward(v, retain_graph=True)") or "zero_(), then" in line
    ]


def test_the_tutorials_labels_stay_for_the_default_run(agrad):
    assert _call_labels(agrad("jvp").stdout) == [
        "First call",
        "Second call",
        "Call after zeroing gradients",
    ]


def test_ten_calls_are_ordinals_and_twelve_are_numbered_throughout(agrad):
    ten = _call_labels(agrad("jvp", "--repeat", "10").stdout)
    assert ten == [f"{word} call" for word in ORDINAL_WORDS] + ["Call after zeroing gradients"]
    twelve = _call_labels(agrad("jvp", "--repeat", "12").stdout)
    assert twelve == [f"Call {k}" for k in range(1, 13)] + ["Call after zeroing gradients"]
    vi = agrad("jvp", "--repeat", "12", "--lang", "vi").stdout
    assert "Lần gọi 1  " in vi and "Lần gọi 12  " in vi and "thứ nhất" not in vi


def test_expr_numbers_its_calls_the_same_way(agrad):
    text = agrad("expr", "x.sum()", "--var", "x=ones(2)", "--repeat", "11").stdout
    labels = [line for line in text.splitlines() if line.startswith("Call ")]
    assert labels == [f"Call {k}" for k in range(1, 12)] + ["Call after zeroing gradients"]
    assert "First call" not in text


# Vietnamese terms -------------------------------------------------------------------


def _vietnamese_entries() -> dict[str, str]:
    catalog = _catalog_tool()
    return {m: t for m, t in catalog.read_po(catalog.po_path("vi")).items() if m}


def _words(msgid: str) -> str:
    """The English text without its {placeholders} (`{shape}` is not the word)."""
    import re

    return re.sub(r"\{[^{}]*\}", "", msgid)


def test_a_recurrence_is_cong_thuc_truy_hoi_not_a_regression():
    entries = _vietnamese_entries()
    recurrences = [m for m in entries if "recurrence" in m]
    assert recurrences, "the catalog should mention chain's recurrence"
    for msgid in recurrences:
        assert "công thức truy hồi" in entries[msgid], msgid
    assert [m for m, t in entries.items() if "hồi quy" in t and "regression" not in m] == []


def test_shape_is_hinh_dang_everywhere():
    import re

    entries = _vietnamese_entries()
    shaped = [m for m in entries if re.search(r"\bshaped?\b", _words(m))]
    assert len(shaped) >= 4  # the column, inspect's help, two error messages...
    for msgid in shaped:
        assert "hình dạng" in entries[msgid], msgid


def test_requires_grad_is_never_a_vietnamese_verb():
    """`requires_grad` is an attribute: "có requires_grad=True", never "x requires_grad"."""
    import re

    entries = _vietnamese_entries()
    for msgid, text in entries.items():
        for match in re.finditer(r"requires_grad(?!=)", text):
            before = text[: match.start()]
            # z.requires_grad (the attribute read) and "tắt requires_grad" (turn it off)
            assert before.endswith((".", "tắt ")), (msgid, text)
    for msgid in (
        "w and b require grad, so z joins the graph and backward() reaches them.",
        "{root} does not require grad: there is no graph.",
    ):
        assert "có requires_grad=True" in entries[msgid], msgid


def test_disabling_gradient_tracking_and_exit_codes_are_translated():
    entries = _vietnamese_entries()
    heading = "Disabling gradient tracking: frozen parameters, faster inference"
    assert entries[heading].startswith("Tắt theo dõi gradient")
    for msgid, text in entries.items():
        if "(exit 3" in msgid:
            assert "(mã thoát 3" in " ".join(text.split()) and "exit 3" not in text, msgid
