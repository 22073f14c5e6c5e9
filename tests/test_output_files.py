"""--output: files written whole, pictures through Graphviz, clear failures."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from autograd_cli.errors import ExitCode

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed"
)


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("json", "g.json"), ("dot", "g.dot"), ("mermaid", "g.mmd"), ("table", "g.txt")],
)
def test_output_writes_the_same_text_as_stdout(agrad, tmp_path, fmt, name):
    target = tmp_path / name
    result = agrad("jvp", "--format", fmt, "--output", str(target))
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    expected = agrad("jvp", "--format", fmt, "--color", "never").stdout
    assert target.read_text(encoding="utf-8") == expected
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


@needs_dot
def test_svg_output_is_drawn_by_dot_and_is_xml(agrad, tmp_path):
    target = tmp_path / "graph.svg"
    result = agrad("linear", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    svg = ET.parse(target).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    text = target.read_text(encoding="utf-8")
    assert "AccumulateGrad" in text and "w (5, 3)" in text


@needs_dot
def test_png_output_is_a_png(agrad, tmp_path):
    target = tmp_path / "graph.png"
    assert agrad("jvp", "--format", "dot", "-o", str(target)).exit_code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_picture_without_dot_says_what_to_install(agrad, tmp_path):
    target = tmp_path / "graph.svg"
    result = agrad("linear", "--output", str(target), env={"PATH": str(tmp_path / "empty")})
    assert result.exit_code == ExitCode.RUNTIME
    assert result.stdout == "" and not target.exists()
    assert result.stderr.count("\n") == 1 and "install Graphviz" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--output", "{tmp}/missing/x.json"], ExitCode.USAGE, ["does not exist"]),
        (["--output", "{tmp}"], ExitCode.USAGE, ["is a directory"]),
        (["--format", "json", "--output", "{tmp}/x.svg"], ExitCode.USAGE, ["--format json"]),
        (["--format", "mermaid", "--output", "{tmp}/x.png"], ExitCode.USAGE, ["--format dot"]),
        (["--output", "/proc/agrad-test.txt"], ExitCode.RUNTIME, ["cannot write"]),
    ],
)
def test_bad_output_paths(agrad, tmp_path, args, code, words):
    result = agrad("linear", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == code
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: --output ")
    assert all(word in line for word in words)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_json_output_file_is_strict_json(agrad, tmp_path):
    target = tmp_path / "chain.json"
    assert agrad("chain", "--json", "-o", str(target)).exit_code == 0
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["command"] == "chain" and doc["graph"]["node_count"] == 34


@pytest.mark.parametrize("kind", ["svg", "html", "txt"])
def test_export_needs_no_graphviz(agrad, tmp_path, kind):
    # --export draws the terminal view with Rich; only --output FILE.svg|png needs dot.
    target = tmp_path / f"view.{kind}"
    result = agrad("linear", "--export", str(target), env={"PATH": str(tmp_path / "empty")})
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert "AccumulateGrad" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("target", "code", "words"),
    [
        ("{tmp}/missing/x.svg", ExitCode.USAGE, ["does not exist"]),
        ("{tmp}/picture.svg", ExitCode.USAGE, ["is a directory"]),
        ("/proc/agrad-test.svg", ExitCode.RUNTIME, ["cannot write"]),
    ],
)
def test_export_errors_name_export(agrad, tmp_path, target, code, words):
    (tmp_path / "picture.svg").mkdir()
    result = agrad("linear", "--export", target.replace("{tmp}", str(tmp_path)))
    assert result.exit_code == code
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("agrad: error: --export ")
    assert "--output" not in line and all(word in line for word in words)
    assert [p.name for p in tmp_path.iterdir()] == ["picture.svg"]  # nothing written
