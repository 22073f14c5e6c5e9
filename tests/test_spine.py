"""The shape of the code (issue 13): a scenario is one module, found through the
registry; the torch side never imports the command line; no import cycles; each
report's JSON layout names exactly its fields."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_cli.model import Report
from autograd_cli.scenarios import REGISTRY, scenario

PACKAGE = Path(__file__).resolve().parent.parent / "autograd_cli"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, *, runtime_only: bool = True) -> set[str]:
    """Modules `path` imports, at module level or inside functions; not those under
    `if TYPE_CHECKING:` (annotations only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if runtime_only and id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_registered_scenario_loads_under_its_name():
    for name in REGISTRY:
        assert scenario(name).name == name


def test_scenario_modules_import_neither_torch_nor_rich_until_they_run():
    """The CLI imports every scenario module to build its commands."""
    code = (
        "import sys\n"
        "from autograd_cli.scenarios import REGISTRY, scenario\n"
        "for name in REGISTRY: scenario(name)\n"
        "print(sorted(m for m in ('torch', 'rich', 'numpy', 'pydantic') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_torch_side_never_imports_the_command_line():
    """inspection/ (torch -> facts) and the user-code loader know nothing of options,
    Typer or the CLI: the data flows one way."""
    cli_side = {"typer", "autograd_cli.cli", "autograd_cli.options", "autograd_cli.typer_classes"}
    modules = _modules()
    torch_side = [n for n in modules if n.startswith("autograd_cli.inspection")]
    torch_side += ["autograd_cli.scenarios.user_code", "autograd_cli.model"]
    for name in torch_side:
        imported = _imports(modules[name], runtime_only=False)
        assert not imported & cli_side, f"{name} imports {imported & cli_side}"


def test_no_import_cycles():
    modules = _modules()
    graph = {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    # A package's own __init__ is imported by its modules; that is not a cycle.
    for name, targets in graph.items():
        targets.difference_update(p for p in list(targets) if name.startswith(p + "."))
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def _report_classes() -> set[type[Report]]:
    classes: set[type[Report]] = set()
    for name in REGISTRY:
        module = sys.modules[scenario(name).report.__module__]
        classes.update(
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Report)
            and value.__module__ == module.__name__
        )
    return classes


def test_every_report_layout_names_exactly_its_fields():
    classes = _report_classes()
    assert len(classes) == len({scenario(name).report for name in REGISTRY})
    for cls in classes:
        fields = {f.name for f in dataclasses.fields(cls)}
        if cls.layout is not None:
            assert sorted(cls.layout) == sorted(fields), cls.__name__


def test_a_scenario_name_is_a_string_in_at_most_two_modules():
    """Its registry line and its own module: nothing else dispatches on the name."""
    modules = _modules()
    for name in REGISTRY:
        holding = [
            module
            for module, path in modules.items()
            if any(
                isinstance(node, ast.Constant) and node.value == name
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            )
        ]
        assert len(holding) <= 2, f"{name!r} in {holding}"
