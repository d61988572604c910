"""The README's example and the scripts in examples/ run, and say what they show."""

import importlib.util
import re
import sys
from pathlib import Path

from mdocument.testing import new_database_name

ROOT = Path(__file__).parent.parent


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def test_the_readme_example_runs(mongodb_uri, capsys):
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    from pymongo import AsyncMongoClient

    database = new_database_name()
    client = AsyncMongoClient(mongodb_uri)  # closed here: the README's main() does not close it
    code = code.replace('AsyncMongoClient()["blog"]', "readme_database")
    namespace = {"__name__": "readme_example", "readme_database": client[database]}
    exec(compile(code, "README.md", "exec"), namespace)
    try:
        await namespace["main"]()
    finally:
        await client.drop_database(database)
        await client.close()
    printed = capsys.readouterr().out
    assert '"name":"Ada Lovelace"' in printed
    assert "ada@example.com" not in printed


async def test_the_quickstart_runs(mongodb_uri, capsys):
    quickstart = load(ROOT / "examples" / "quickstart.py", "quickstart_example")
    await quickstart.main(mongodb_uri, new_database_name())
    printed = capsys.readouterr().out
    assert "email='***'" in printed
    assert "ada@example.com" not in printed
    assert "refused: User: a document with name='Ada' exists already" in printed
    assert "top user: Ada" in printed
    assert "post by: Ada Lovelace - Notes on the Engine" in printed
    assert "users left: 2 - posts left: 0" in printed


async def test_the_relations_example_runs(mongodb_uri, capsys):
    relations = load(ROOT / "examples" / "relations.py", "relations_example")
    await relations.main(mongodb_uri, new_database_name())
    printed = capsys.readouterr().out
    assert "flowchart LR" in printed
    assert "copy after the rename: Ada Lovelace" in printed
    assert "reviewer after deleting Grace: None" in printed
    assert "Posts left: 0" in printed
    assert "Teams left: 1" in printed


async def test_the_export_example_runs(mongodb_uri, capsys, tmp_path):
    exporter = load(ROOT / "examples" / "export_users.py", "export_users_example")
    await exporter.main(mongodb_uri, new_database_name(), out_dir=tmp_path)
    printed = capsys.readouterr().out
    assert "2 users written to users.csv:" in printed
    assert "id,name,email,karma" in printed
    assert ",Ada,***,12" in printed
    assert "3 users written to users.jsonl:" in printed
    assert '{"name":"Grace","email":"***"}' in printed
    assert "@example.com" not in printed
    assert (tmp_path / "users.csv").read_text().count("\n") == 3


async def test_the_tenants_example_runs(mongodb_uri, capsys):
    tenants = load(ROOT / "examples" / "tenants.py", "tenants_example")
    await tenants.main(mongodb_uri, new_database_name())
    printed = capsys.readouterr().out
    assert "paris: ['Ada (VIP)', 'Grace']" in printed
    assert "lyon: ['Alan (VIP)', 'Barbara', 'Edsger']" in printed
    assert "paris database: 2 orders" in printed
    assert "lyon database: 3 orders" in printed
    assert "outside a tenant: refused" in printed
    assert "lyon orders after deleting Alan: 2" in printed
    assert "paris orders: 2" in printed
