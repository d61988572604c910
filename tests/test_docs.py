"""Every code block of the documentation runs, so the docs cannot drift from the code.

The pages are docs/**/*.md and README.md. Each fenced block is one of:

- a ``python`` block: run. The blocks of one page run in order in one namespace (a page defines
  a class in one block and uses it in the next), with top-level ``await`` allowed, in a module
  whose ``database`` is a fresh database on the test server (``mongodb_database``) and whose
  ``uri`` is the server's URI. A block that defines ``async def main()`` gets it called.
- a ``python`` block after ``<!-- file: tests/test_x.py -->``: a test module of a user's
  project, written to a temporary directory and run by pytest against the same server.
- a block after ``<!-- excerpt: examples/path.py -->``: its lines are lines of that file, in
  order (the file itself is run by tests/test_examples.py).
- a ``toml`` block after ``<!-- file: pyproject.toml -->``: parsed.
- a ``mermaid`` block: a diagram, rendered by the site. After ``<!-- diagram: expression -->``
  it must equal what the expression gives in the page's namespace at that point
  (``registry.graph.to_mermaid()``: the relation graph mdocument built from the classes above).
- ``--8<-- "examples/..."`` lines inside a block: pymdownx.snippets includes a file of examples/,
  which tests/test_examples.py runs.
- an exception, marked ``<!-- not-run: reason -->`` on the line before the block or with an info
  string ``title="not run: reason"``: a peer ODM's code, shell commands, output listings.
  ``test_not_run_blocks_stay_few`` lists them and fails when there are more than MAX_NOT_RUN.

README.md holds no markers (it stays short): its block with ``main()`` is run on the test
database; its other Python blocks are fragments of the examples/ module its text links to just
before them, run in that module's namespace (its imports and models); its shell blocks are
counted as exceptions.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from mdocument import pagination
from mdocument.embedded import EmbeddedServer

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"

MAX_NOT_RUN = 26
"""Blocks that cannot run in the tests (peers' code, shell commands, output). Keep it small."""

UNTESTED_PAGES: dict[str, str] = {}
"""Pages whose blocks are not run yet, with the reason: none today, and it should stay so."""

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+)(?P<info>[^`\n]*)$")
MARKER = re.compile(r"<!--\s*(?P<kind>not-run|file|excerpt|diagram):\s*(?P<value>.*?)\s*-->")
NOT_RUN_TITLE = re.compile(r'title="not run: (?P<reason>[^"]+)"')
SNIPPET = re.compile(r'^\s*-+8<-+\s+"(?P<path>[^"]+)"')
EXAMPLES_LINK = re.compile(r"\]\((?P<path>examples/[^)#]+)\)")


@dataclass
class Block:
    """A fenced code block of a page."""

    page: str
    line: int  # of the opening fence, 1-based
    language: str
    info: str
    code: str
    marker: tuple[str, str] | None  # ("not-run" | "file" | "excerpt", value)
    before: str  # the page's text before the block

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def not_run_reason(self) -> str | None:
        title = NOT_RUN_TITLE.search(self.info)
        if title:
            return title.group("reason")
        if self.marker and self.marker[0] == "not-run":
            return self.marker[1]
        return None


def parse(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with the marker on the line before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        body = [
            line[len(indent) :] if line.startswith(indent) else line
            for line in lines[index + 1 : end]
        ]
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.search(previous)
        blocks.append(
            Block(
                page=page,
                line=index + 1,
                language=info.split()[0].lower() if info else "",
                info=info,
                code="\n".join(body) + "\n",
                marker=(marker["kind"], marker["value"]) if marker else None,
                before="\n".join(lines[:index]),
            )
        )
        index = end + 1
    return blocks


def pages() -> list[Path]:
    # docs/_*.md are drafts and partials, left out of the site (mkdocs.yml: exclude_docs).
    found = sorted(path for path in DOCS.rglob("*.md") if not path.name.startswith("_"))
    return [ROOT / "README.md", *found]


def page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


TESTED_PAGES = [path for path in pages() if path.name not in UNTESTED_PAGES]


def is_python(block: Block) -> bool:
    return block.language in {"python", "py", "python3"}


def snippet_paths(block: Block) -> list[str]:
    return [match["path"] for line in block.code.splitlines() if (match := SNIPPET.match(line))]


def kind(block: Block) -> str:
    """What the test does with a block."""
    if block.language == "mermaid":
        return "diagram"
    if block.not_run_reason is not None:
        return "not-run"
    if snippet_paths(block):
        return "snippet"
    if block.marker and block.marker[0] == "excerpt":
        return "excerpt"
    if block.marker and block.marker[0] == "file":
        return "test-file" if is_python(block) else "config-file"
    if block.page == "README.md":
        if is_python(block):
            return "readme-main" if "async def main" in block.code else "readme-fragment"
        return "not-run"
    if is_python(block):
        return "run"
    return "unmarked"


def not_run_blocks() -> list[tuple[Block, str]]:
    listed = []
    for path in pages():
        for block in parse(path):
            if kind(block) == "not-run":
                listed.append((block, block.not_run_reason or "README shell command"))
    return listed


# --- static checks -------------------------------------------------------------------------


def test_every_block_is_run_or_marked():
    unmarked = [
        block.where for path in TESTED_PAGES for block in parse(path) if kind(block) == "unmarked"
    ]
    assert not unmarked, (
        "blocks that are neither run nor marked <!-- not-run: reason -->: " + ", ".join(unmarked)
    )


def test_not_run_blocks_stay_few():
    listed = not_run_blocks()
    report = "\n".join(f"  {block.where} [{block.language}]: {reason}" for block, reason in listed)
    print(f"{len(listed)} blocks are not run:\n{report}")
    assert len(listed) <= MAX_NOT_RUN, (
        f"{len(listed)} blocks are not run, more than MAX_NOT_RUN = {MAX_NOT_RUN}; "
        f"make them run instead:\n{report}"
    )
    for block, reason in listed:
        assert reason.strip(), f"{block.where}: a not-run block must say why"


def excerpt_lines(code: str) -> list[str]:
    """The code of each line, without comments (a page comments it for its readers)."""
    lines = (line.split("  #")[0].strip() for line in code.splitlines())
    return [line for line in lines if line and not line.startswith("#") and line != "..."]


def assert_excerpt(block: Block, source: Path) -> None:
    assert source.is_file(), f"{block.where}: {source} does not exist"
    wanted = excerpt_lines(block.code)
    have = excerpt_lines(source.read_text(encoding="utf-8"))
    position = 0
    for line in wanted:
        assert line in have[position:], (
            f"{block.where}: {line!r} is not in {source.relative_to(ROOT)} (in this order)"
        )
        position = have.index(line, position) + 1


@pytest.mark.parametrize("path", TESTED_PAGES, ids=page_id)
def test_excerpts_snippets_and_config_blocks_match_the_code(path: Path):
    for block in parse(path):
        match kind(block):
            case "excerpt":
                assert_excerpt(block, ROOT / block.marker[1])
            case "snippet":
                for snippet in snippet_paths(block):
                    assert (ROOT / snippet).is_file(), f"{block.where}: no file {snippet}"
                    assert snippet.startswith("examples/"), f"{block.where}: {snippet}"
            case "config-file":
                assert block.marker[1] == "pyproject.toml", block.where
                tomllib = pytest.importorskip("tomllib")  # Python 3.11+
                config = tomllib.loads(block.code)
                ours = tomllib.loads((ROOT / "pyproject.toml").read_text())
                options = config["tool"]["pytest"]["ini_options"]
                for key, value in options.items():
                    assert ours["tool"]["pytest"]["ini_options"][key] == value, block.where


def test_every_example_is_run_by_the_tests():
    tested = (ROOT / "tests" / "test_examples.py").read_text()
    for script in sorted((ROOT / "examples").glob("*.py")):
        assert f'"{script.name}"' in tested, f"examples/{script.name} is not run by a test"


# --- running the blocks --------------------------------------------------------------------


def defines_main(code: str) -> bool:
    tree = ast.parse(code)
    return any(isinstance(node, ast.AsyncFunctionDef) and node.name == "main" for node in tree.body)


async def run_block(block: Block, namespace: dict[str, object]) -> None:
    code = compile(
        block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    result = eval(code, namespace)  # the docs' own code: the point of this test
    if inspect.iscoroutine(result):
        await result
    if defines_main(block.code):
        await namespace["main"]()


def page_module(path: Path) -> types.ModuleType:
    """A module per page: pydantic resolves a page's forward references in it."""
    name = "docs_page_" + re.sub(r"\W", "_", page_id(path).removesuffix(".md"))
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    return module


RUN_KINDS = {"run", "readme-main", "readme-fragment", "test-file"}
RUNNABLE_PAGES = [
    path for path in TESTED_PAGES if any(kind(block) in RUN_KINDS for block in parse(path))
]


@pytest.mark.parametrize("path", RUNNABLE_PAGES, ids=page_id)
async def test_the_code_blocks_of_a_page_run(path, mongodb_database, mongodb_uri, tmp_path):
    if str(ROOT) not in sys.path:  # the pages run from a clone: `examples` is importable
        sys.path.insert(0, str(ROOT))
    module = page_module(path)
    namespace = module.__dict__
    namespace.update(database=mongodb_database, uri=mongodb_uri)
    old_directory = Path.cwd()
    os.chdir(tmp_path)  # files a page writes (an export) land here
    page_token_keys = pagination._configured  # a page may configure them for the process
    try:
        for block in parse(path):
            match kind(block):
                case "run":
                    await run_block(block, namespace)
                case "readme-main":
                    code = block.code.replace('AsyncMongoClient()["blog"]', "database")
                    await run_block(
                        Block(**{**block.__dict__, "code": code}),
                        namespace,
                    )
                case "readme-fragment":
                    await run_block(block, example_namespace(block))
                case "test-file":
                    run_test_file(block, tmp_path, mongodb_uri)
                case "diagram" if block.marker and block.marker[0] == "diagram":
                    drawn = eval(block.marker[1], namespace)  # an expression of the page
                    assert drawn.strip() == block.code.strip(), f"{block.where}:\n{drawn}"
    finally:
        for value in list(namespace.values()):  # a page that failed half-way
            if isinstance(value, EmbeddedServer):
                value.stop()
        pagination._configured = page_token_keys
        os.chdir(old_directory)
        sys.modules.pop(module.__name__, None)


def example_namespace(block: Block) -> dict[str, object]:
    """A copy of the globals of the examples/ module linked last before a README block."""
    links = EXAMPLES_LINK.findall(block.before)
    assert links, f"{block.where}: README's code must come from a linked example"
    module_name = links[-1].removesuffix(".py").replace("/", ".")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return dict(vars(importlib.import_module(module_name)))


def run_test_file(block: Block, directory: Path, uri: str) -> None:
    """A user's test module from the docs, run by pytest on the same server."""
    target = directory / "project" / block.marker[1]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.code, encoding="utf-8")
    (directory / "project" / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
        'asyncio_default_fixture_loop_scope = "function"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target)],
        cwd=directory / "project",
        env={**os.environ, "MONGODB_URI": uri},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{block.where}:\n{result.stdout}\n{result.stderr}"
