"""docs/schema/agrad.schema.json holds every document agrad writes with --json, and
every record of `agrad batch`: each command's output, over a broad set of command
lines, is validated against it; real documents with a key removed, a key added or a
value of the wrong type are rejected by it; its enums are the code's own names.

The schema is a contract for scripts (README, *JSON schema*): a change that makes
agrad write something the schema does not allow fails here, and so does a schema
too loose to notice a broken document.
"""

from __future__ import annotations

import copy
import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.test_i18n import MACHINE_OUTPUTS
from tests.test_json_identity import BATCH
from tests.test_json_stream import CASES

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "docs" / "schema" / "agrad.schema.json"
GOLDEN_BATCH = Path(__file__).parent / "golden" / "json" / "batch.jsonl"

SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
DOCUMENT = Draft202012Validator(SCHEMA)
# A record is validated as a script would: by reference to $defs/batch_record.
_REGISTRY = Registry().with_resource(SCHEMA["$id"], Resource.from_contents(SCHEMA))
RECORD = Draft202012Validator({"$ref": f"{SCHEMA['$id']}#/$defs/batch_record"}, registry=_REGISTRY)

# Beyond the byte-identity, streaming and language cases reused above.
MORE_CASES: dict[str, list[str]] = {
    "linear_saved_check": ["linear", "--saved", "--check"],
    "linear_max_nodes1": ["linear", "--max-nodes", "1", "--saved"],
    "dynamic_check_saved": ["dynamic", "--check", "--saved", "--dtype", "float64"],
    "jvp_forward_randn": ["jvp", "--mode", "forward", "--tangent", "randn", "--saved"],
    "vjp_jacobian": ["vjp", "--jacobian", "--check"],
    "chain_sweep": ["chain", "--length", "3", "--seed", "0..2", "--check"],
    "expr_statements_retain": [
        "expr",
        "h = x * x; g = h.exp(); out = (g * h).sum()",
        "--var",
        "x=ones(3)",
        "--retain-grad",
        "h",
        "--retain-grad",
        "out",
        "--saved",
    ],
    "expr_orders_hessian": [
        "expr",
        "(x.pow(3) * y).sum()",
        "--var",
        "x=randn(3)",
        "--var",
        "y=randn(3)",
        "--order",
        "4",
        "--hessian",
        "--jacobian",
        "--check",
    ],
    "expr_nonscalar_repeat": ["expr", "x.exp() * 2", "--var", "x=randn(2,3)", "--repeat", "2"],
    "expr_nonfinite": ["expr", "(x / 0).sum()", "--var", "x=ones(2)", "--check"],
    "expr_int_no_graph": ["expr", "x * 2", "--var", "x=arange(3)"],
    "expr_sweep_max_nodes": [
        "expr",
        "(x * 2).sum()",
        "--var",
        "x=randn(2)",
        "--seed",
        "1..3",
        "--max-nodes",
        "1",
    ],
    "inspect_anomaly": ["inspect", "examples/nan_sqrt.py:loss", "--anomaly", "--saved"],
    "inspect_rnn": ["inspect", "examples/rnn.py:build", "--fail-on", "vanishing,nonfinite"],
    "inspect_args": [
        "inspect",
        "examples/mlp.py:build",
        "--arg",
        "hidden=4",
        "--arg",
        "scale=1e6",
        "--seed",
        "9",
        "--vanish",
        "1e-3",
        "--explode",
        "10",
    ],
    "inspect_cnn_max_nodes": ["inspect", "examples/cnn.py:build", "--max-nodes", "5"],
    "inspect_dead_frozen": ["inspect", "examples/dead_relu.py:build", "--fail-on", "frozen"],
    # --steps: JSON Lines, a record per recorded step, then a summary.
    "inspect_steps_anomaly": [
        "inspect",
        "examples/explode_lr.py:build",
        "--steps",
        "50",
        "--every",
        "10",
        "--anomaly",
        "--fail-on",
        "nonfinite",
    ],
    "inspect_steps_frozen_adam": [
        "inspect",
        "examples/dead_relu.py:build",
        "--steps",
        "3",
        "--optimizer",
        "adam",
        "--lr",
        "0.1",
    ],
    "gradcheck_ok_all_kinds": [
        "gradcheck",
        "examples/gradcheck_ok.py:build",
        "--forward",
        "--second-order",
    ],
    "gradcheck_ok_fast": ["gradcheck", "examples/gradcheck_ok.py:build", "--fast"],
    "gradcheck_ok_inputs": [
        "gradcheck",
        "examples/gradcheck_ok.py:MulSin",
        "--input",
        "x=randn(3)",
        "--input",
        "w=randn(3)",
    ],
    "gradcheck_factor": ["gradcheck", "examples/gradcheck_factor.py:build"],
    "gradcheck_factor_fast": ["gradcheck", "examples/gradcheck_factor.py:build", "--fast"],
    "gradcheck_swapped": ["gradcheck", "examples/gradcheck_swapped.py:build"],
    "gradcheck_kink": ["gradcheck", "examples/gradcheck_kink.py:build"],
    "pitfalls_list": ["pitfalls"],
    "pitfalls_one": ["pitfalls", "inplace-saved"],
    "pitfalls_all_saved": ["pitfalls", "--all", "--saved", "--max-nodes", "2"],
}

ALL_CASES: dict[str, list[str]] = {
    **{name: [*args, "--json"] for name, args in CASES.items()},
    **{name: [*args, "--json"] for name, args in MORE_CASES.items()},
    **{"i18n:" + " ".join(args)[:40]: args for args in MACHINE_OUTPUTS},
}


def _strict(name: str) -> None:
    raise AssertionError(f"non-strict JSON constant {name} in output")


def _lines(text: str) -> Iterator[dict[str, Any]]:
    lines = text.splitlines()
    assert lines, "no output"
    for line in lines:
        yield json.loads(line, parse_constant=_strict)


def _errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [
        f"{e.json_path}: {e.message[:200]}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    ]


@pytest.fixture
def documents(agrad: Callable[..., Any]) -> Callable[..., list[dict[str, Any]]]:
    """Runs `agrad ARGS...` (exit 0, or 3 for a failed check) and parses each line."""

    def run(*args: str) -> list[dict[str, Any]]:
        result = agrad(*args)
        assert result.exit_code in (0, 3), result.stderr
        return list(_lines(result.stdout))

    return run


def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)
    # every reference points at a definition that exists
    refs, stack = [], [SCHEMA]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            refs.extend([node["$ref"]] if "$ref" in node else [])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    assert refs and all(r.startswith("#/$defs/") for r in refs)
    assert {r.removeprefix("#/$defs/") for r in refs} <= set(SCHEMA["$defs"])


@pytest.mark.parametrize("name", ALL_CASES)
def test_every_commands_json_is_valid(documents, name):
    for document in documents(*ALL_CASES[name]):
        assert _errors(DOCUMENT, document) == []


# chain_in_pieces with --saved: 15 s of validation, nothing the other chains lack
@pytest.mark.parametrize("name", [name for name in CASES if name != "chain_in_pieces"])
def test_every_commands_json_with_saved_is_valid(documents, name):
    docs = documents(*CASES[name], "--json", "--saved")
    for document in docs:
        assert _errors(DOCUMENT, document) == []
    nodes = [n for d in docs if "graph" in d for n in d["graph"]["nodes"]]
    assert all("saved_tensors" in n for n in nodes)


def test_gradcheck_problems_and_non_tensor_inputs_are_valid(documents, tmp_path):
    """What the examples do not show: a backward that is not deterministic (a
    `problem`), an input passed through as it is (no shape, no dtype)."""
    path = tmp_path / "user_ops.py"
    path.write_text(
        textwrap.dedent(
            """\
            import torch

            class Noisy(torch.autograd.Function):
                @staticmethod
                def forward(ctx, x, scale):
                    ctx.scale = scale
                    return x * scale

                @staticmethod
                def backward(ctx, g):
                    return g * (ctx.scale + 1e-9 * torch.randn_like(g)), None

            def build():
                x = torch.randn(3, dtype=torch.float64, requires_grad=True)
                return Noisy.apply, (x, 2.0)
            """
        ),
        encoding="utf-8",
    )
    (document,) = documents("gradcheck", f"{path}:build", "--json")
    assert _errors(DOCUMENT, document) == []
    assert document["runs"][0]["problem"] == "nondeterministic"
    assert document["inputs"][1]["shape"] is None


def test_every_batch_record_is_valid_golden_and_fresh(agrad):
    golden = list(_lines(GOLDEN_BATCH.read_text(encoding="utf-8")))
    fresh = agrad("batch", input=BATCH)
    assert fresh.exit_code == 2, fresh.stderr
    more = agrad(
        "batch",
        input=(
            "gradcheck examples/gradcheck_factor.py:build\n"
            "inspect examples/dead_relu.py:build --fail-on any\n"
            "pitfalls --all\n"
            "pitfalls\n"
            "chain --length 2 --seed 0..1 --saved\n"
            "jvp --repeat 0\n"
            "inspect examples/missing.py:build\n"
        ),
    )
    assert more.exit_code == 3, more.stderr
    records = [*golden, *_lines(fresh.stdout), *_lines(more.stdout)]
    for record in records:
        assert _errors(RECORD, record) == [], record.get("command")
    codes = {r["exit_code"] for r in records}
    assert codes == {0, 2, 3}
    # A result with a non-zero exit code (gradcheck failed: 3) carries its error too.
    assert any("result" in r and "error" in r for r in records)


# --- The schema can fail: real documents, broken one way each ---------------------


@pytest.fixture(scope="module")
def real() -> dict[str, dict[str, Any]]:
    """One real document per kind, made once for the mutation tests."""
    from typer.testing import CliRunner

    from autograd_cli.cli import app
    from tests.conftest import PINNED_ENV

    made = {}
    for name, args in {
        "linear": ["linear", "--saved", "--check"],
        "dynamic": ["dynamic"],
        "jvp": ["jvp", "--mode", "both", "--jacobian"],
        "chain": ["chain", "--length", "2"],
        "expr": ["expr", "h = x * x; out = h.sum()", "--var", "x=ones(2)", "--order", "2"],
        "inspect": ["inspect", "examples/nan_sqrt.py:loss", "--anomaly"],
        "gradcheck": ["gradcheck", "examples/gradcheck_factor.py:build"],
        "pitfall": ["pitfalls", "backward-twice", "--saved"],
        "pitfalls_list": ["pitfalls"],
    }.items():
        result = CliRunner().invoke(app, [*args, "--json"], env=PINNED_ENV)
        assert result.exit_code in (0, 3), result.stderr
        (made[name],) = _lines(result.stdout)
        assert _errors(DOCUMENT, made[name]) == []
    return made


def _mutated(document: dict[str, Any], path: tuple[Any, ...], how: str, value: Any = None) -> Any:
    broken = copy.deepcopy(document)
    *parents, last = path
    target = broken
    for key in parents:
        target = target[key]
    if how == "remove":
        del target[last]
    else:  # "add" a key, or "set" one that is there
        there = last < len(target) if isinstance(target, list) else last in target
        assert there == (how == "set"), path
        target[last] = value
    return broken


# (document, path, how, value): each must be rejected.
MUTATIONS = [
    # A key removed, at the top and deep inside.
    ("linear", ("gradients",), "remove", None),
    ("linear", ("schema_version",), "remove", None),
    ("linear", ("tensors", 0, "is_leaf"), "remove", None),
    ("linear", ("graph", "nodes", 0, "saved_tensors"), "remove", None),
    ("linear", ("check", "leaves", 0, "cannot_verify"), "remove", None),
    ("dynamic", ("second_graph",), "remove", None),
    ("jvp", ("forward", "product"), "remove", None),
    ("chain", ("hidden",), "remove", None),
    ("expr", ("order_graphs",), "remove", None),
    ("inspect", ("flag_counts", "frozen"), "remove", None),
    ("inspect", ("anomaly", "origin", "line"), "remove", None),
    ("gradcheck", ("runs", 0, "pairs", 0, "diagnoses"), "remove", None),
    ("pitfall", ("outcome", "expected"), "remove", None),
    ("pitfalls_list", ("pitfalls",), "remove", None),
    # A key added where the README lists the keys.
    ("linear", ("extra",), "add", 1),
    ("linear", ("graph", "nodes", 0, "weight"), "add", 1),
    ("linear", ("graph", "edges", 0, "label"), "add", "x"),
    ("linear", ("tensors", 0, "device"), "add", "cpu"),
    ("dynamic", ("passes", 0, "note"), "add", ""),
    ("jvp", ("steps", 0, "v"), "add", 1.0),
    ("expr", ("hessian",), "set", {"leaves": ["x"]}),  # an object missing its keys
    ("expr", ("orders", 0, "extra"), "add", 0),
    ("inspect", ("parameters", 0, "grad"), "add", []),
    ("inspect", ("check",), "add", None),  # inspect has no check
    ("gradcheck", ("graph",), "add", {}),  # gradcheck has no graph
    ("gradcheck", ("runs", 0, "pairs", 0, "worst", 0, "ratio"), "add", 1.0),
    ("pitfall", ("statements",), "add", []),  # a pitfall has no statements
    ("pitfalls_list", ("graph",), "add", {}),
    # A value of the wrong type, or outside its enum.
    ("linear", ("schema_version",), "set", 1),
    ("linear", ("command",), "set", "vjp"),
    ("linear", ("seed",), "set", "1"),
    ("chain", ("statements",), "set", {"a": 1}),
    ("linear", ("tensors", 0, "value", 0), "set", "nan"),  # non-finite is "NaN"
    ("linear", ("tensors", 0, "value", 0), "set", True),
    ("linear", ("tensors", 0, "shape"), "set", ["5"]),
    ("linear", ("tensors", 0, "shape"), "set", [5.5]),
    ("linear", ("graph", "root"), "set", "root"),
    ("linear", ("graph", "nodes", 0, "saved_tensors", 0, "state"), "set", "gone"),
    ("linear", ("freezing", 0, "case"), "set", "frozen"),
    ("dynamic", ("same_grad_fn",), "set", "false"),
    ("jvp", ("mode",), "set", "sideways"),
    ("jvp", ("forward", "tangent"), "set", "onehot:9,9"),
    ("expr", ("order",), "set", 5),
    ("expr", ("steps", 0, "grads", "x"), "set", "zero"),
    ("inspect", ("parameters", 0, "flags"), "set", ["nonfinite", "dead"]),
    ("inspect", ("parameters", 0, "flags"), "set", ["broken"]),
    ("inspect", ("form",), "set", "module"),
    ("inspect", ("model",), "set", "Net"),  # form "loss" has no model
    ("gradcheck", ("runs", 0, "kind"), "set", "third_order"),
    ("gradcheck", ("runs", 0, "problem"), "set", "flaky"),
    ("gradcheck", ("runs", 0, "pairs", 0, "diagnoses"), "set", ["sign"]),
    ("gradcheck", ("runs", 0, "pairs", 0, "factor"), "set", None),  # "factor" needs it
    ("gradcheck", ("ok",), "set", "false"),
    ("pitfall", ("outcome", "kind"), "set", "crash"),
    ("pitfall", ("outcome", "message"), "set", None),  # backward-twice raised: a message
    ("pitfall", ("graph", "nodes", 0, "id"), "set", "node0"),
    # Facts that go together, apart.
    ("linear", ("tensors", 0, "grad_fn"), "set", "AddBackward0"),  # a leaf has none
    ("linear", ("tensors", 4, "grad_fn"), "set", None),  # z is not a leaf
    ("linear", ("graph", "root"), "set", None),  # no root, yet nodes
    ("linear", ("graph", "nodes", 0, "saved_tensors", 0, "shape"), "set", [3]),  # "none"
    ("jvp", ("forward",), "set", None),  # --mode both computed J·t
    ("jvp", ("steps",), "set", []),
    ("expr", ("order",), "set", 1),  # yet orders 1 to 2 are there
    ("inspect", ("parameters", 0, "grad_norm"), "set", None),  # yet statistics
    ("gradcheck", ("ok",), "set", True),  # yet its one run failed
    ("gradcheck", ("runs", 0, "pairs", 0, "worst"), "set", []),  # yet 6 mismatches
    ("linear", ("check", "ok"), "set", False),  # yet every leaf is within tolerance
    ("linear", ("check", "leaves", 0, "ok"), "set", False),  # yet the check passed
]


@pytest.mark.parametrize(
    ("kind", "path", "how", "value"),
    MUTATIONS,
    ids=[f"{k}:{how}:{'.'.join(map(str, p))}" for k, p, how, _ in MUTATIONS],
)
def test_a_broken_document_is_rejected(real, kind, path, how, value):
    document = real[kind]
    broken = _mutated(document, path, how, value)
    assert json.dumps(broken) != json.dumps(document)  # True == 1.0 in Python, not in JSON
    assert _errors(DOCUMENT, broken) != []


def test_inspect_steps_records_are_valid_and_broken_ones_rejected(agrad):
    result = agrad("inspect", "examples/explode_lr.py:build", "--steps", "45", "--json")
    assert result.exit_code == 0, result.stderr
    *steps, summary = _lines(result.stdout)
    for record in (*steps, summary):
        assert _errors(DOCUMENT, record) == []
    step = steps[-1]  # NaN by then: "NaN" strings where numbers were
    for path, how, value, document in [
        (("step",), "set", 0, step),
        (("record",), "set", "steps", step),
        (("loss",), "set", "nan", step),
        (("parameters", 0, "flag"), "set", "broken", step),
        (("parameters", 0, "update_ratio"), "remove", None, step),
        (("parameters", 0, "grad"), "add", 1.0, step),
        (("graph",), "add", {}, step),  # a step record has no graph
        (("first_steps", "exploding"), "set", 0, summary),
        (("first_steps", "sideways"), "add", 1, summary),
        (("parameters", 0, "flags", 0, "first_step"), "remove", None, summary),
        (("loss", "first_nonfinite_step"), "remove", None, summary),
        (("form",), "set", "loss", summary),  # --steps trains a model
        (("flag_counts",), "add", {}, summary),
    ]:
        broken = _mutated(document, path, how, value)
        assert _errors(DOCUMENT, broken) != [], path
    batch = agrad("batch", input="inspect examples/mlp.py:build --steps 3 --every 2\n")
    assert batch.exit_code == 0, batch.stderr
    records = list(_lines(batch.stdout))
    assert [r["result"]["record"] for r in records] == ["step", "step", "summary"]
    for record in records:
        assert _errors(RECORD, record) == []


def test_a_broken_batch_record_is_rejected(real):
    good = {"line": 1, "command": "linear", "exit_code": 0, "result": real["linear"]}
    assert _errors(RECORD, good) == []
    error = {"line": 2, "command": "lineer", "exit_code": 2, "error": "No such command"}
    assert _errors(RECORD, error) == []
    for broken in (
        {k: v for k, v in good.items() if k != "line"},
        {**good, "extra": 1},
        {**good, "line": "1"},
        {**good, "exit_code": 4},
        {**good, "error": "a success has no error"},
        {k: v for k, v in error.items() if k != "error"},  # a failure says why
        {**good, "result": {**real["linear"], "seed": None}},  # the result is checked too
    ):
        assert _errors(RECORD, broken) != [], broken


# --- The schema's names are the code's ------------------------------------------


def _enum(*path: str) -> list[Any]:
    node: Any = SCHEMA["$defs"]
    for key in path:
        node = node[key]
    return node


def test_the_schemas_names_are_the_codes():
    from autograd_cli.inspection.gradcheck import DIAGNOSES, KINDS, PROBLEMS
    from autograd_cli.model import HEALTH_FLAGS, SCHEMA_VERSION
    from autograd_cli.pitfalls.cases import CASES as PITFALLS
    from autograd_cli.scenarios import REGISTRY
    from autograd_cli.scenarios.jvp import MODES

    assert SCHEMA["$defs"]["head"]["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    # vjp is jvp in reverse mode: its documents say "jvp"
    commands = [name for name in REGISTRY if name != "vjp"]
    assert sorted(_enum("head", "properties", "command", "enum")) == sorted(commands)
    assert _enum("health_flag", "enum") == list(HEALTH_FLAGS)
    run = _enum("gradcheck_run", "properties")
    assert run["kind"]["enum"] == list(KINDS)
    assert run["problem"]["anyOf"][0]["enum"] == list(PROBLEMS)
    pair = _enum("gradcheck_pair", "properties")
    assert pair["diagnoses"]["items"]["enum"] == list(DIAGNOSES)
    assert _enum("jvp", "properties", "mode", "enum") == list(MODES)
    pattern = _enum("pitfalls", "oneOf")[1]["properties"]["name"]["pattern"]
    validator = Draft202012Validator({"type": "string", "pattern": pattern})
    assert all(validator.is_valid(case.name) for case in PITFALLS)
    # every command has its own definition, picked by its name
    branches = SCHEMA["$defs"]["document"]["allOf"]
    picked = {b["if"]["properties"]["command"]["const"]: b["then"] for b in branches}
    assert picked == {c: {"$ref": f"#/$defs/{c}"} for c in commands}


def test_saved_tensor_states_are_those_the_walk_writes(documents):
    """Every state the README names is allowed, and the walk writes only those."""
    allowed = _enum("saved_tensor", "properties", "state", "enum")
    assert allowed == ["available", "freed", "none", "unavailable"]
    seen = set()
    for args in (["linear", "--saved"], ["pitfalls", "--all", "--saved"]):
        for document in documents(*args, "--json"):
            for node in document.get("graph", {}).get("nodes", []):
                seen.update(t["state"] for t in node["saved_tensors"])
    assert {"available", "freed", "none"} <= seen <= set(allowed)
