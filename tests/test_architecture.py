"""The layering of src/mdocument holds: imports run one way, and only the store talks to drivers.

docs/architecture.md draws the same layers. Every import counts: module-level, inside functions
(lazy) and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mdocument import Document, Ref, init
from mdocument.store import in_store

PACKAGE = Path(__file__).parent.parent / "src" / "mdocument"

LAYERS: dict[int, set[str]] = {
    0: {"exceptions", "types", "annotations", "names", "masks"},
    1: {"fields", "references", "indexes", "exact", "instance_diff", "utc", "mapping", "masking",
        "kinds", "soft",
        "hierarchy"},
    2: {
        "codec", "changes", "forms", "value_types", "paths", "conditions", "expressions",
        "filters",
        "updates",
        "projection", "pagination", "shards",
    },
    3: {"model", "synced", "graph"},
    4: {"driver", "store", "batching", "journal", "binding", "duplicates", "cleanup"},
    5: {
        "cascade", "integrity", "loading", "repository", "query", "registry",
        "check", "check_report", "validators", "plans", "deletes", "watch", "collections_setup",
        "soft_deletes",
    },
    6: {"document", "tenants", "collection", "bulk"},
    7: {
        "__init__", "export", "inputs", "fastapi", "cli", "cli_common", "_cli", "cli_check",
        "cli_schema", "cli_migrate", "index_diff", "migrations", "migration_lock", "testing",
        "embedded", "_embedded_child",
    },
}  # fmt: skip
LAYER = {module: layer for layer, modules in LAYERS.items() for module in modules}
DRIVER_MODULES = {"driver", "store"}
MAX_LINES = 500


def modules() -> dict[str, Path]:
    return {path.stem: path for path in sorted(PACKAGE.glob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module of the package and every top-level package ``path`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "mdocument":
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
            else:
                found.add(f"<{parts[0]}>")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found.add(
                    parts[1] if parts[0] == "mdocument" and len(parts) > 1 else f"<{parts[0]}>"
                )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("importorskip", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(f"<{str(node.args[0].value).split('.')[0]}>")
    return found


def graph() -> dict[str, set[str]]:
    names = modules()
    return {
        name: {module for module in imports(path) if module in names and module != name}
        for name, path in names.items()
    }


def test_every_module_has_a_layer():
    assert sorted(set(modules()) - set(LAYER)) == []


def test_imports_never_go_up_a_layer():
    upward = [
        f"{module} (layer {LAYER[module]}) imports {target} (layer {LAYER[target]})"
        for module, targets in graph().items()
        for target in targets
        if LAYER[target] > LAYER[module]
    ]
    assert upward == []


def test_there_is_no_import_circle():
    edges = graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_only_the_store_and_the_driver_import_a_driver():
    drivers = {"<pymongo>", "<motor>"}  # bson is the data format, not a driver
    offenders = {
        name: sorted(imports(path) & drivers)
        for name, path in modules().items()
        if name not in DRIVER_MODULES and imports(path) & drivers
    }
    assert offenders == {}


def test_no_module_is_over_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


def test_the_import_reader_sees_lazy_and_type_checking_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from mdocument.registry import Registry\n"
        "def f():\n    from mdocument import store\n    import pymongo.errors\n"
    )
    assert imports(sample) >= {"registry", "store", "<pymongo>", "<typing>"}


# -- every command the driver sends has passed through the store ---------------------------------


class Author(Document):
    name: str


class Book(Document):
    author_id: Ref[Author]
    title: str = ""


async def test_every_command_sent_was_sent_from_inside_the_store(database, commands):
    outside: list[str] = []
    original = commands.started

    def started(event):
        if not in_store() and event.command_name not in ("endSessions",):
            outside.append(event.command_name)
        original(event)

    commands.started = started  # the recorder is the driver's command listener
    registry = await init(database, models=[Author, Book])
    seen: list[tuple[str, str]] = []
    registry.store.tracers.append(
        lambda operation, collection: seen.append((operation, collection))
    )
    ada = await Author.create(name="Ada")
    books = await Book.insert_many([Book(author_id=ada.id, title=f"t{i}") for i in range(3)])
    books[0].title = "changed"
    await books[0].save()
    titles = [book.title async for book in Book.find().sort("title")]
    assert titles[0] == "changed"
    assert await Book.find(Book.author_id == ada.id).count() == 3
    await Book.find().update({"$set": {"title": "x"}})
    await Author.aggregate([{"$match": {"name": "Ada"}}])
    await ada.delete()  # the cascade: guard, plan, deletes, commit
    assert await Book.count() == 0
    assert outside == []
    assert ("delete_many", "book") in seen
    if registry.supports_transactions:
        assert ("commit_transaction", "") in seen


@pytest.mark.parametrize("module", ["repository", "cascade", "integrity", "query", "loading"])
def test_services_hold_no_driver_object(module):
    source = (PACKAGE / f"{module}.py").read_text()
    assert "get_collection(" not in source
    assert ".database." not in source
