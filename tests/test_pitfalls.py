"""`agrad pitfalls` (issue 16): each mistake's captured words against what a plain
Python process on the same torch raises or warns for the same code (written again
here), each fix's result against closed forms, and the command's manners."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import pytest
import torch

from autograd_cli.pitfalls.cases import BY_NAME, CASES
from autograd_cli.pitfalls.facts import SILENT
from autograd_cli.pitfalls.run import run_pitfall

NAMES = [case.name for case in CASES]

# The mistakes, written again (not read from agrad), each run in a fresh process.
ORACLE = r"""
import json, warnings, torch

def caught(code, anomaly=False):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            if anomaly:
                with torch.autograd.detect_anomaly():
                    exec(code, {"torch": torch})
            else:
                exec(code, {"torch": torch})
        except Exception as e:
            return {"kind": "error", "type": type(e).__name__, "message": str(e), "warnings":
                    [str(w.message) for w in seen]}
    if seen:
        w = seen[0]
        return {"kind": "warning", "type": w.category.__name__, "message": str(w.message)}
    return {"kind": "silent", "type": None, "message": None}

mistakes = {
    "nonleaf-grad": "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
                    "z = x * 2\nl = (z * z).sum()\nl.backward()\nz.grad",
    "backward-twice": "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                      "y = x.exp().sum()\ny.backward()\ny.backward()",
    "inplace-leaf": "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                    "(w * w).sum().backward()\nw -= 0.1 * w.grad",
    "inplace-saved": "a = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                     "b = a.sigmoid()\nb.mul_(2)\nb.sum().backward()",
    "nonscalar-backward": "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\n"
                          "(x * x).backward()",
    "integer-requires-grad": "torch.tensor([1, 2, 3], requires_grad=True)",
    "no-grad-fn": "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                  "with torch.no_grad():\n    y = (x * x).sum()\ny.backward()",
    "zero-grad": "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                 "o = torch.optim.SGD([w], lr=0.1)\n"
                 "for _ in range(2):\n    (w * w).sum().backward()\n    o.step()",
    "data-cuts-graph": "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                       "(3 * (x * x).data + x).sum().backward()",
    "graph-rebuilt": "x = torch.tensor([1.0, 2.0], requires_grad=True)\n"
                     "a = (x * x).sum()\nb = (x * x).sum()",
}
out = {name: caught(code) for name, code in mistakes.items()}
out["anomaly"] = caught(mistakes["inplace-saved"], anomaly=True)
# After backward(), the saved result of ExpBackward0 is gone.
x = torch.tensor([1.0, 2.0], requires_grad=True)
y = x.exp().sum()
y.backward()
try:
    y.grad_fn.next_functions[0][0]._saved_result
    out["freed"] = False
except RuntimeError:
    out["freed"] = True
print(json.dumps(out))
"""


def _words(message: str | None) -> str | None:
    """The message without the C++ location torch may append."""
    if message is None:
        return None
    return message.split(" (Triggered internally at", 1)[0].strip()


@pytest.fixture(scope="module")
def oracle() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", ORACLE], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    from typer.testing import CliRunner

    from autograd_cli.cli import app

    result = CliRunner().invoke(app, ["pitfalls", "--all", "--json"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    parsed = [json.loads(line, parse_constant=_reject) for line in lines]
    return {document["name"]: document for document in parsed}


def _reject(name: str) -> None:
    raise ValueError(f"not strict JSON: {name}")


def _result(document: dict) -> dict:
    return {fact["code"]: fact["value"] for fact in document["fix"]["result"]}


def _facts(document: dict) -> dict:
    return {fact["code"]: fact["value"] for fact in document["facts"]}


@pytest.mark.parametrize("name", NAMES)
def test_each_mistake_says_what_plain_torch_says(name, oracle, documents):
    seen, outcome = oracle[name], documents[name]["outcome"]
    assert outcome["kind"] == seen["kind"]
    assert outcome["type"] == seen["type"]
    assert outcome["message"] == _words(seen["message"])
    assert outcome["expected"] is True  # on the torch these pitfalls were written for


def test_the_messages_are_the_ones_the_issue_names(documents):
    expected = {
        "nonleaf-grad": "is not a leaf Tensor",
        "backward-twice": "Trying to backward through the graph a second time",
        "inplace-leaf": "a leaf Variable that requires grad is being used in an in-place",
        "inplace-saved": "has been modified by an inplace operation",
        "nonscalar-backward": "grad can be implicitly created only for scalar outputs",
        "integer-requires-grad": "Only Tensors of floating point and complex dtype",
        "no-grad-fn": "element 0 of tensors does not require grad and does not have a grad_fn",
    }
    for name, words in expected.items():
        assert words in documents[name]["outcome"]["message"], name
    for name in ("zero-grad", "data-cuts-graph", "graph-rebuilt"):
        assert documents[name]["outcome"]["kind"] == SILENT


def test_backward_twice_shows_the_saved_result_freed(oracle, agrad):
    assert oracle["freed"] is True
    result = agrad("pitfalls", "backward-twice", "--json", "--saved")
    assert result.exit_code == 0, result.stderr
    graph = json.loads(result.stdout)["graph"]
    states = {
        node["grad_fn"]: [t["state"] for t in node["saved_tensors"]] for node in graph["nodes"]
    }
    assert states["ExpBackward0"] == ["freed"]
    view = agrad("pitfalls", "backward-twice").stdout
    assert "saved result: freed" in view


def test_inplace_saved_names_the_forward_line_as_anomaly_mode_does(oracle, documents):
    warnings = "\n".join(oracle["anomaly"]["warnings"])
    assert "Error detected in SigmoidBackward0" in warnings
    anomaly = documents["inplace-saved"]["anomaly"]
    assert anomaly["grad_fn"] == "SigmoidBackward0"
    assert [line.split("#")[0].strip() for line in anomaly["lines"]] == ["b = a.sigmoid()"]
    assert _facts(documents["inplace-saved"])["b._version"] == 1


def test_each_fix_gives_the_closed_form(documents):
    x3, x2 = [1.0, 2.0, 3.0], [1.0, 2.0]
    approx = pytest.approx

    nonleaf = _result(documents["nonleaf-grad"])
    assert nonleaf["z.grad"] == approx([2 * (2 * v) for v in x3])  # dL/dz = 2z, z = 2x
    assert nonleaf["x.grad"] == approx([8 * v for v in x3])
    assert _facts(documents["nonleaf-grad"])["z.grad"] is None

    twice = _result(documents["backward-twice"])  # two backward() calls add up
    assert twice["x.grad"] == approx([2 * math.exp(v) for v in x2], rel=1e-6)
    assert _facts(documents["backward-twice"])["x.grad"] == approx([math.exp(v) for v in x2])

    step = _result(documents["inplace-leaf"])  # w − 0.1·2w
    assert step["w"] == approx([0.8 * v for v in x2])
    assert step["w.is_leaf"] is True and step["w.requires_grad"] is True

    sigma = [1 / (1 + math.exp(-v)) for v in x2]
    saved = _result(documents["inplace-saved"])
    assert saved["a.grad"] == approx([2 * s * (1 - s) for s in sigma], rel=1e-6)

    assert _result(documents["nonscalar-backward"])["x.grad"] == approx([2 * v for v in x3])

    integer = _result(documents["integer-requires-grad"])
    assert integer["x.dtype"] == "float32" and integer["x.grad"] == approx([2 * v for v in x3])
    assert _facts(documents["integer-requires-grad"])["torch.tensor([1, 2, 3]).dtype"] == "int64"

    nograd = _result(documents["no-grad-fn"])
    assert nograd["y.grad_fn"] == "SumBackward0" and nograd["x.grad"] == approx([2.0, 4.0])
    assert _facts(documents["no-grad-fn"]) == {"y.requires_grad": False, "y.grad_fn": None}

    w1 = [v - 0.1 * 2 * v for v in x2]  # after one SGD step on Σw²
    mistake = _facts(documents["zero-grad"])["grads"]
    assert mistake[0] == approx([2 * v for v in x2])
    assert mistake[1] == approx([2 * a + 2 * b for a, b in zip(x2, w1, strict=True)])
    fixed = _result(documents["zero-grad"])
    assert fixed["grads"][1] == approx([2 * v for v in w1]) and fixed["w.grad"] is None

    cut = documents["data-cuts-graph"]
    assert _facts(cut)["x.grad"] == approx([1.0, 1.0])  # only the path through + x
    assert _result(cut)["x.grad"] == approx([6 * v + 1 for v in x2])

    rebuilt = documents["graph-rebuilt"]
    assert _facts(rebuilt)["fns[0] is fns[1]"] is False
    branches = _result(rebuilt)
    assert branches["up.grad_fn.next_functions[0][0]"] == "MulBackward0"
    assert branches["down.grad_fn.next_functions[0][0]"] == "AbsBackward0"
    assert branches["x.grad"] == approx([2 * v for v in x2])
    for name, document in documents.items():
        assert document["fix"]["error"] is None, name


@pytest.mark.parametrize("name", NAMES)
def test_each_pitfall_exits_0_with_its_sections(agrad, name):
    result = agrad("pitfalls", name)
    assert result.exit_code == 0 and result.stderr == ""
    for mark in (f"agrad pitfalls · {name}", "What torch does", "Why", "The fix"):
        assert mark in result.stdout


def test_all_json_is_one_strict_document_per_pitfall_in_order(agrad, documents):
    assert list(documents) == NAMES
    for name, document in documents.items():
        assert document["command"] == "pitfalls" and document["name"] == name
        assert document["torch_version"] == torch.__version__
        assert list(document)[4:] == [
            "name", "symptom", "code", "outcome", "facts", "why", "anomaly", "fix", "graph"
        ]  # fmt: skip
        assert document["code"] == list(BY_NAME[name].code)
    result = agrad("pitfalls", "zero-grad", "--json")
    assert json.loads(result.stdout)["fix"] == documents["zero-grad"]["fix"]
    assert result.stdout.count("\n") == 1


def test_a_batch_line_gives_one_record_per_pitfall(agrad):
    result = agrad("batch", input="pitfalls --all\npitfalls zero-grad\n")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in records] == [1] * len(NAMES) + [2]
    assert [r["result"]["name"] for r in records] == [*NAMES, "zero-grad"]


def test_json_is_the_same_in_every_language(agrad):
    english = agrad("pitfalls", "--all", "--json").stdout
    assert agrad("pitfalls", "--all", "--json", "--lang", "vi").stdout == english
    listed = agrad("pitfalls", "--json").stdout
    assert agrad("pitfalls", "--json", "--lang", "vi").stdout == listed


def test_the_list_names_every_pitfall_and_its_symptom(agrad):
    result = agrad("pitfalls", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    document = json.loads(result.stdout)
    assert list(document) == [
        "schema_version", "agrad_version", "torch_version", "command", "pitfalls"
    ]  # fmt: skip
    assert [p["name"] for p in document["pitfalls"]] == NAMES
    assert all(p["symptom"] == BY_NAME[p["name"]].symptom for p in document["pitfalls"])
    text = agrad("pitfalls").stdout
    assert all(name in text for name in NAMES)


@pytest.mark.parametrize(
    "args",
    [
        ["pitfalls", "no-such-thing"],
        ["pitfalls", "zero-grad", "--all"],
    ],
)
def test_bad_input_is_one_line_naming_the_allowed_names(agrad, args):
    result = agrad(*args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("agrad: error: ") and result.stderr.count("\n") == 1
    assert all(name in result.stderr for name in NAMES)


DRAWN = [case.name for case in CASES if case.graph_of is not None]


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "dot"],
        ["--all", "--format", "mermaid"],
        *(
            [case.name, "--format", fmt]
            for case, fmt in zip(CASES, ["dot", "mermaid"] * 5, strict=True)
            if case.graph_of is None
        ),
    ],
)
def test_a_graph_is_drawn_only_for_a_pitfall_that_has_one(agrad, args):
    """The list, --all and a pitfall whose mistake leaves no graph printed an empty
    digraph (exit 0): now one line naming the pitfalls that have one."""
    result = agrad("pitfalls", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("agrad: error: ") and result.stderr.count("\n") == 1
    assert all(name in result.stderr for name in DRAWN)
    if args[0] in BY_NAME:  # what it says is so: the pitfall, run, leaves no graph
        assert json.loads(agrad("pitfalls", args[0], "--json").stdout)["graph"]["root"] is None


@pytest.mark.parametrize("name", DRAWN)
def test_each_pitfall_with_a_graph_draws_its_nodes(agrad, name):
    text = agrad("pitfalls", name, "--format", "dot").stdout
    assert "AccumulateGrad" in text and " -> " in text


@pytest.mark.parametrize(
    "args", [["--format", "dot", "--output", "graph.dot"], ["zero-grad", "--output", "graph.svg"]]
)
def test_a_graph_file_without_one_pitfall_is_refused_and_not_written(agrad, tmp_path, args):
    """Refused before anything else: a picture's check for Graphviz (exit 1 when `dot`
    is missing) came first."""
    path = tmp_path / args[-1]
    result = agrad("pitfalls", *args[:-1], str(path))
    assert result.exit_code == 2 and result.stdout == "" and not path.exists()
    assert result.stderr.count("\n") == 1 and "backward-twice" in result.stderr
    path = tmp_path / "graph.dot"
    drawn = agrad("pitfalls", "backward-twice", "--format", "dot", "--output", str(path))
    assert drawn.exit_code == 0 and "AccumulateGrad" in path.read_text(encoding="utf-8")


def test_torch_global_state_is_unchanged():
    before = (torch.is_grad_enabled(), torch.is_anomaly_enabled())
    for case in CASES:
        run_pitfall(case)
    assert (torch.is_grad_enabled(), torch.is_anomaly_enabled()) == before
    torch.set_grad_enabled(False)
    try:
        run_pitfall(BY_NAME["inplace-saved"])
        assert torch.is_grad_enabled() is False and torch.is_anomaly_enabled() is False
    finally:
        torch.set_grad_enabled(True)


def test_another_behaviour_is_shown_and_never_fails(agrad, monkeypatch):
    """As a torch version that raised nothing, or whose fix fails, would be shown."""
    case = BY_NAME["backward-twice"]
    monkeypatch.setitem(
        BY_NAME, case.name, dataclasses.replace(case, expects=SILENT, fix=("1 / 0",))
    )
    result = agrad("pitfalls", "backward-twice")
    assert result.exit_code == 0 and result.stderr == ""
    assert "This pitfall expects nothing" in result.stdout
    assert "The fix raised on this torch: ZeroDivisionError" in result.stdout
    document = json.loads(agrad("pitfalls", "backward-twice", "--json").stdout)
    assert document["outcome"]["expected"] is False
    assert document["fix"]["error"].startswith("ZeroDivisionError")
