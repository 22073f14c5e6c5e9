"""The README and the hand-written docs stay true: their examples are real output, their
links lead somewhere, the quick start fits one screen and its test command is CI's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).parent.parent
README_PATH = ROOT / "README.md"
README = README_PATH.read_text(encoding="utf-8")
DOCS = ROOT / "docs"
GENERATED = DOCS / "reference"  # written by tools/reference.py, not by hand
# The pages whose examples run: the README and every hand-written page of docs/.
PAGES = [README_PATH, *sorted(DOCS.glob("*.md"))]
# The pages whose links are checked here (the generated ones are their generator's).
LINKING_PAGES = [README_PATH, ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]

EXAMPLE = re.compile(r"<!-- example:(.*?) -->\n```(\w+)\n(.*?)```\n<!-- /example -->", re.S)
MARKER = re.compile(r"^<!-- example:", re.M)  # one at the start of a line opens a block
QUICK_START_MAX_LINES = 60  # one screen, picture included
README_MAX_BYTES = 10_000


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else str(page)


def _examples() -> list[tuple[str, str, str, str]]:
    return [
        (_name(page), args, kind, block)
        for page in PAGES
        for args, kind, block in EXAMPLE.findall(page.read_text(encoding="utf-8"))
    ]


EXAMPLES = _examples()


@pytest.mark.parametrize(
    ("page", "args", "kind", "block"), EXAMPLES, ids=[f"{p}:{a}" for p, a, _, _ in EXAMPLES]
)
def test_example_lines_are_real_output_in_order(agrad, page, args, kind, block):
    result = agrad(*shlex.split(args))
    if kind == "mermaid":  # a whole document: it must be exactly what agrad prints
        assert result.stdout == block
        return
    assert result.exit_code == 0
    actual = [line.rstrip() for line in result.stdout.splitlines()]
    position = 0
    for line in (raw for raw in block.splitlines() if raw.strip()):
        assert line in actual[position:], f"{page}: line not in output (in order): {line!r}"
        position = actual.index(line, position) + 1


def test_every_example_in_the_docs_is_run():
    assert len(EXAMPLES) >= 2
    # A marker the pattern above does not match (a typo, a missing /example) is an
    # example nobody runs.
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert len(MARKER.findall(text)) == len(EXAMPLE.findall(text)), _name(page)
    # A hand-written page with examples anywhere under docs/ is one of PAGES.
    with_examples = {
        page
        for page in DOCS.rglob("*.md")
        if GENERATED not in page.parents and MARKER.search(page.read_text(encoding="utf-8"))
    }
    assert with_examples <= set(PAGES), sorted(map(_name, with_examples - set(PAGES)))
    assert DOCS / "guide.md" in with_examples


def test_readme_has_exactly_the_two_setup_commands_and_ci_runs_the_test_one():
    blocks = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    assert len(blocks) == 2
    run, test = blocks
    assert run.endswith("agrad linear --seed 0")
    assert "-r requirements/torch-cpu.txt" in run and "-r requirements/torch-cpu.txt" in test
    assert "'.[test]'" in test and test.endswith("python -m pytest")
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_ci_installs_nothing_the_readme_does_not_ask_for():
    # CI must see what a fresh machine sees: no apt, no Graphviz, no extra pip install.
    lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    installs = [line for line in lines if re.search(r"\b(apt|apt-get|brew|pip|conda)\b", line)]
    _, test = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    assert installs == [test]


# --- the quick start --------------------------------------------------------------------

FIRST_FIVE = "## First five commands"


def _quick_start() -> list[str]:
    """The README from its first line to the end of the first-five section."""
    lines = README.splitlines()
    if FIRST_FIVE not in lines:
        return lines
    start = lines.index(FIRST_FIVE)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def _first_five_items() -> list[str]:
    quick = _quick_start()
    if FIRST_FIVE not in quick:
        return []
    section = "\n".join(quick[quick.index(FIRST_FIVE) :])
    items = re.findall(r"^\d+\. (.*?)(?=^\d+\. |\Z)", section, re.M | re.S)
    return [" ".join(item.split()) for item in items]


def test_the_quick_start_fits_one_screen_with_the_picture():
    quick = _quick_start()
    assert len(quick) <= QUICK_START_MAX_LINES
    assert any(re.fullmatch(r"!\[[^\]]+\]\(docs/agrad-jvp\.svg\)", line) for line in quick)
    assert len(_first_five_items()) == 5
    assert len(README.encode("utf-8")) < README_MAX_BYTES


@pytest.mark.parametrize("item", _first_five_items(), ids=lambda item: item.split("`")[1])
def test_first_five_commands_run_and_show_what_they_point_at(agrad, item):
    # Each item is `agrad ...`: what to look at, naming sections in *italics* and output
    # in `code`. Every name must be in the output (a span that starts with "-" is an
    # option to add, not output).
    command, *spans = re.findall(r"`([^`]+)`", item)
    argv = shlex.split(command)
    assert argv[0] == "agrad"
    result = agrad(*argv[1:])
    assert result.exit_code == 0, result.stderr
    named = [s for s in spans if not s.startswith("-")] + re.findall(r"\*([^*`]+)\*", item)
    assert named, item
    output = " ".join(result.stdout.split())
    missing = [name for name in named if " ".join(name.split()) not in output]
    assert missing == [], item


# --- links ------------------------------------------------------------------------------

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`+[^`\n]*`+")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
HTML_ID = re.compile(r"<[a-zA-Z][^>]*\b(?:id|name)=\"([^\"]+)\"")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (links and code as their words),
    lowercased, punctuation dropped, each space a hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", text)):
        anchor = github_anchor(heading)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")  # GitHub's duplicates
    return found | set(HTML_ID.findall(text))


def relative_links(text: str) -> list[str]:
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    return [t for t in LINK.findall(prose) if not re.match(r"[a-zA-Z][\w+.-]*:", t)]


def link_problem(page: Path, target: str) -> str | None:
    """Why `target`, linked from `page`, leads nowhere (None: it leads somewhere)."""
    path, _, anchor = target.partition("#")
    where = (page.parent / unquote(path)).resolve() if path else page
    if not where.exists():
        return f"{_name(page)}: {target}: no such file"
    if anchor and where.suffix == ".md" and anchor not in anchors(where.read_text("utf-8")):
        return f"{_name(page)}: {target}: no heading with that anchor"
    return None


def _links(into_generated: bool) -> list[tuple[Path, str]]:
    links = []
    for page in LINKING_PAGES:
        for target in relative_links(page.read_text(encoding="utf-8")):
            path = target.partition("#")[0]
            where = (page.parent / unquote(path)).resolve() if path else page
            if (GENERATED.resolve() in [where, *where.parents]) == into_generated:
                links.append((page, target))
    return links


def test_links_lead_to_a_file_and_a_heading():
    links = _links(into_generated=False)
    assert len(links) > 30
    problems = [p for page, target in links if (p := link_problem(page, target))]
    assert problems == []


def test_links_into_the_generated_reference_lead_somewhere():
    # docs/reference/ is made by tools/reference.py; this holds once it is generated.
    links = _links(into_generated=True)
    assert {t for _, t in links} >= {
        f"docs/reference/commands.md#agrad-{name}"
        for name in ("linear", "jvp", "expr", "inspect", "gradcheck", "batch")
    }
    problems = [p for page, target in links if (p := link_problem(page, target))]
    assert problems == []


def test_the_link_check_catches_a_missing_file_or_anchor(tmp_path):
    other = tmp_path / "other.md"
    other.write_text(
        "# Languages: `--lang vi`\n## Your own model: `agrad inspect`\n## Notes\n## Notes\n"
        "```sh\n# Not a heading\n```\n",
        encoding="utf-8",
    )
    page = tmp_path / "page.md"
    good = [
        "other.md#languages---lang-vi",
        "other.md#your-own-model-agrad-inspect",
        "other.md#notes-1",
        "other.md",
    ]
    bad = ["missing.md", "other.md#notes-2", "other.md#not-a-heading", "#nowhere"]
    links = " ".join(f"[x]({t})" for t in good + bad)
    page.write_text(f"{links} `[y](in-code.md)` ![p](other.md) <https://a.b/c>\n", "utf-8")
    assert relative_links(page.read_text(encoding="utf-8")) == [*good, *bad, "other.md"]
    assert [t for t in good + bad if link_problem(page, t)] == bad


def test_the_picture_is_what_its_caption_command_draws(agrad, tmp_path):
    caption = re.search(
        r"\*`agrad jvp`, drawn by agrad itself: `COLUMNS=(\d+) agrad (.*?)`", README
    )
    assert caption, "the picture's caption names the command that drew it"
    columns, command = caption.groups()
    args = [str(tmp_path / "jvp.svg") if a == "docs/agrad-jvp.svg" else a for a in command.split()]
    result = agrad(*args, env={"COLUMNS": columns})
    assert result.exit_code == 0, result.stderr
    drawn = (tmp_path / "jvp.svg").read_bytes()
    assert drawn == (ROOT / "docs" / "agrad-jvp.svg").read_bytes()


def test_the_commands_the_readme_says_take_check_are_those_that_do(agrad):
    said = re.search(r"`linear`,\s+`dynamic`(.*?) also `--check`", README, re.S)
    assert said
    named = set(re.findall(r"`(\w+)`", "`linear`, `dynamic`" + said.group(1)))
    commands = ["linear", "dynamic", "jvp", "vjp", "chain", "expr", "inspect", "gradcheck"]
    taking = {c for c in commands if "--check " in agrad(c, "--help").stdout}
    assert named == taking
