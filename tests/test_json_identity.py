"""The JSON of every command, and of every batch record, byte for byte: scripts that
parse agrad's output must not notice when the code behind it is rearranged.

The golden documents were written by the code before the spine redesign (issue 13),
then rewritten once for schema version 2 (issue 15: saved tensors only with --saved),
a change checked to be exactly that: each version-1 document minus its nodes'
`saved_tensors` and `saved_attributes`; and once more for issue 16's additions (expr's
six new keys after its others, checked to be the only difference), and for issue
19's (inspect's `flag_counts` gained `"round-off"` after `"frozen"`, checked the same
way). They are a contract on the bytes, not an oracle of the numbers (the maths
tests check those against independent maths); rewrite them only for a deliberate
schema change, with `pytest --update-goldens`, and bump SCHEMA_VERSION then.
"""

from __future__ import annotations

import pytest

CASES = {
    "linear_seed3": ["linear", "--seed", "3"],
    "linear_check_float64": ["linear", "--check", "--dtype", "float64"],
    "linear_max_nodes3": ["linear", "--max-nodes", "3"],
    "linear_sweep": ["linear", "--seed", "0..2,7"],
    "jvp_both_repeat3": ["jvp", "--repeat", "3", "--mode", "both"],
    "jvp_forward_onehot": ["jvp", "--mode", "forward", "--tangent", "onehot:1,2"],
    "jvp_jacobian_check": ["jvp", "--jacobian", "--check"],
    "vjp": ["vjp", "--repeat", "1"],
    "chain_check": ["chain", "--length", "5", "--hidden", "3", "--check"],
    "expr_jacobian_repeat": [
        "expr",
        "(x + 1).pow(2).t()",
        "--var",
        "x=eye(4,5)",
        "--repeat",
        "3",
        "--jacobian",
    ],
    "expr_no_grad_check": [
        "expr",
        "(x * y).sum()",
        "--var",
        "x=randn(2, 3)",
        "--var",
        "y=randn(2, 3)",
        "--no-grad",
        "y",
        "--check",
    ],
    "expr_no_graph": ["expr", "x + 1", "--var", "x=arange(3)"],
    "expr_sweep": ["expr", "(x * 2).sum()", "--var", "x=randn(2)", "--seed", "4..5"],
    "inspect_mlp": ["inspect", "examples/mlp.py:build"],
    "inspect_nan_anomaly": ["inspect", "examples/nan_sqrt.py:loss", "--anomaly"],
    "inspect_dead_fail_on": ["inspect", "examples/dead_relu.py:build", "--fail-on", "any"],
}

BATCH = """\
linear --seed 1
agrad jvp --repeat 3 --json
linear --seed 0..1 --check
expr "x.sum()" --var 'x=ones(2)'
chain --length 2 --check
linear --format dot
linear --output x.json
batch
linear --seed zz
lineer
'unclosed
"""


@pytest.mark.parametrize("name", CASES)
def test_json_is_byte_identical_to_before_the_redesign(agrad, golden, name):
    result = agrad(*CASES[name], "--json")
    assert result.exit_code in (0, 3), result.stderr
    golden(f"json/{name}.json", result.stdout)


def test_batch_records_are_byte_identical_to_before_the_redesign(agrad, golden):
    result = agrad("batch", input=BATCH)
    assert result.exit_code == 2, result.stderr
    golden("json/batch.jsonl", result.stdout)
