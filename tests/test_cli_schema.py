"""`mdocument graph|indexes|validators|migrate`: output, exit codes, help, masked URIs."""

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pymongo import MongoClient
from pymongo.errors import WriteError

from mdocument.cli import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, cli
from mdocument.cli_schema import EXIT_DRIFT, EXIT_LOCKED, mask_uri
from mdocument.migrations import LOCK_COLLECTION, LOCK_ID, MIGRATIONS_COLLECTION
from mdocument.testing import new_database_name

MODELS = """
from mdocument import Document, Field, Index, Ref, Synced, ObjectId


class Person(Document):
    name: str = Field(unique=True)
    email: str = Field(sensitive=True)
    karma: int = 0

    class Meta:
        collection = "people"


class PersonCard(Synced[Person]):
    id: ObjectId
    name: str


class Article(Document):
    author_id: Ref[Person]
    editor: PersonCard | None = None
    title: str

    class Meta:
        indexes = [Index("title")]
"""

MIGRATION = '''
"""Double the karma."""
from mdocument.migrations import rewrite


async def up(registry, session):
    await rewrite(registry, "people", lambda doc: {"$set": {"karma": doc["karma"] * 2}},
                  session=session)
    runs = registry.store.plain_collection("runs")
    await runs.update_one({"_id": 1}, {"$inc": {"n": 1}}, upsert=True, session=session)


async def down(registry, session):
    await rewrite(registry, "people", lambda doc: {"$set": {"karma": doc["karma"] // 2}},
                  session=session)
'''

FAILING = '''
"""Refuse the person with karma 2."""
from mdocument.migrations import rewrite


def change(doc):
    if doc["karma"] == 4:
        raise ValueError("no way for " + doc["email"])
    return {"$set": {"karma": 0}}


async def up(registry, session):
    await rewrite(registry, "people", change, session=session)
'''


@dataclass
class Project:
    module: str
    uri: str
    db: str
    path: Path
    client: MongoClient

    def run(self, *args: str) -> Result:
        command = [args[0], self.module, *args[1:], "--uri", self.uri, "--db", self.db]
        return CliRunner().invoke(cli, command)


@pytest.fixture
def project(mongodb_uri, tmp_path, monkeypatch):
    module = f"blog_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = new_database_name()
    client: MongoClient = MongoClient(mongodb_uri)
    client[name]["people"].insert_many(
        [
            {"name": "Ada", "email": "ada@s3cret.org", "karma": 1},
            {"name": "Bob", "email": "bob@s3cret.org", "karma": 2},
        ]
    )
    yield Project(module, mongodb_uri, name, tmp_path, client)
    sys.modules.pop(module, None)
    client.drop_database(name)
    client.close()


def error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines, result.output
    assert lines[-1].startswith("Error: "), result.stderr
    return lines[-1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mdocument_script() -> str:
    script = shutil.which("mdocument", path=os.path.dirname(sys.executable))
    assert script is not None
    return script


# -- graph --------------------------------------------------------------------------------------


def test_graph_in_three_formats(project):
    mermaid = CliRunner().invoke(cli, ["graph", project.module])
    assert mermaid.exit_code == EXIT_OK, mermaid.output
    assert mermaid.stdout.startswith("flowchart LR")
    assert 'Article -->|"author_id: one_to_many, cascade"| Person' in mermaid.stdout
    dot = CliRunner().invoke(cli, ["graph", project.module, "--format", "dot"])
    assert dot.exit_code == EXIT_OK
    assert dot.stdout.splitlines()[-3:] == [
        '    "Article" -> "Person" [label="author_id: one_to_many, on delete cascade"];',
        '    "Article" -> "Person" [label="editor (copy): one_to_many, on delete cascade"];',
        "}",
    ]
    assert dot.stdout.startswith("digraph mdocument {")
    text = CliRunner().invoke(cli, ["graph", project.module, "--format", "text"])
    assert text.stdout.splitlines() == [
        "Person (people)",
        "  (refers to nothing)",
        "Article (article)",
        "  author_id: one_to_many, on delete cascade -> Person",
        "  editor (copy): one_to_many, on delete cascade -> Person",
    ]


def test_graph_of_an_unknown_module_is_a_usage_error(project):
    result = CliRunner().invoke(cli, ["graph", "no_such_module_here"])
    assert result.exit_code == EXIT_USAGE
    assert "no module named 'no_such_module_here'" in error_line(result)


# -- indexes ------------------------------------------------------------------------------------


def test_indexes_shows_the_difference_and_applies_only_when_asked(project):
    people = project.client[project.db]["people"]
    people.create_index("karma", name="by_karma")
    shown = project.run("indexes")
    assert shown.exit_code == EXIT_DRIFT, shown.output
    assert "people (Person):\n  + name_1 {name: 1}, unique=True\n  - by_karma {karma: 1}" in (
        shown.stdout
    )
    assert "  + author_id_1 {author_id: 1}" in shown.stdout
    assert "warning: Article.author_id (article.author_id) has no index" in shown.stderr
    assert "warning: Article.editor (article.editor.id) has no index" in shown.stderr
    assert "by_karma" in people.index_information()  # nothing changed

    usage = project.run("indexes", "--drop-extra")
    assert usage.exit_code == EXIT_USAGE
    assert "--drop-extra drops indexes: it needs --apply" in error_line(usage)

    applied = project.run("indexes", "--apply")
    assert applied.exit_code == EXIT_OK, applied.output
    assert "created people.name_1" in applied.stdout
    assert "created article.author_id_1" in applied.stdout
    assert "warning" not in applied.stderr
    assert "by_karma" in people.index_information()  # extra: kept without --drop-extra

    again = project.run("indexes")
    assert again.exit_code == EXIT_DRIFT  # by_karma is still extra
    dropped = project.run("indexes", "--apply", "--drop-extra")
    assert dropped.exit_code == EXIT_OK
    assert "dropped people.by_karma" in dropped.stdout
    clean = project.run("indexes")
    assert clean.exit_code == EXIT_OK
    assert "people (Person): in line" in clean.stdout


def test_indexes_on_a_misspelled_database_is_a_usage_error(project):
    result = CliRunner().invoke(
        cli, ["indexes", project.module, "--uri", project.uri, "--db", "nope_" + project.db]
    )
    assert result.exit_code == EXIT_USAGE
    assert f"no database 'nope_{project.db}'" in error_line(result)


# -- validators ---------------------------------------------------------------------------------


def test_validators_show_apply_and_the_server_refuses_a_broken_write(project):
    shown = project.run("validators", "--show")
    assert shown.exit_code == EXIT_DRIFT, shown.output
    assert "people (Person): differs (no validator)" in shown.stdout
    assert "article (Article): differs (no collection yet)" in shown.stdout
    assert '"$jsonSchema"' in shown.stdout

    applied = project.run("validators", "--apply", "--level", "moderate", "--action", "warn")
    assert applied.exit_code == EXIT_OK, applied.output
    assert "applied people (moderate, warn)" in applied.stdout
    people = project.client[project.db]["people"]
    people.insert_one({"name": "Cy", "email": "cy@x.org", "karma": "lots"})  # warn: accepted

    stricter = project.run("validators")
    assert stricter.exit_code == EXIT_DRIFT
    assert "validator in line, but moderate, warn" in stricter.stdout
    assert project.run("validators", "--apply").exit_code == EXIT_OK
    with pytest.raises(WriteError) as caught:
        people.insert_one({"name": "Dee", "email": "dee@x.org", "karma": "lots"})
    assert caught.value.code == 121
    in_line = project.run("validators")
    assert in_line.exit_code == EXIT_OK
    assert "people (Person): in line (strict, error)" in in_line.stdout


def test_validators_refuse_a_bad_level(project):
    result = project.run("validators", "--level", "lax")
    assert result.exit_code == EXIT_USAGE


# -- migrate ------------------------------------------------------------------------------------


def migrations(project: Project, files: dict[str, str]) -> Path:
    folder = project.path / "migrations"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def karma(project: Project) -> list[int]:
    return [row["karma"] for row in project.client[project.db]["people"].find().sort("name")]


def test_migrate_status_up_twice_and_down(project):
    migrations(project, {"0001_double.py": MIGRATION})
    status = project.run("migrate")
    assert status.exit_code == EXIT_DRIFT
    assert status.stdout == "[ ] 0001_double  pending  Double the karma.\n"

    dry = project.run("migrate", "up", "--dry-run")
    assert dry.exit_code == EXIT_OK
    assert dry.stdout == "would be applied: 0001_double\n"
    assert karma(project) == [1, 2]

    up = project.run("migrate", "up")
    assert up.exit_code == EXIT_OK, up.output
    assert up.stdout == "applied 0001_double\n"
    assert karma(project) == [2, 4]
    twice = project.run("migrate", "up")
    assert twice.exit_code == EXIT_OK
    assert twice.stdout == "nothing to apply\n"
    assert karma(project) == [2, 4]

    status = project.run("migrate", "status")
    assert status.exit_code == EXIT_OK
    assert status.stdout.startswith("[x] 0001_double  applied 20")
    assert " UTC  Double the karma." in status.stdout

    down = project.run("migrate", "down")
    assert down.exit_code == EXIT_OK
    assert down.stdout == "reverted 0001_double\n"
    assert karma(project) == [1, 2]


def test_a_failed_migration_names_the_document_masked_and_what_was_applied(project):
    migrations(project, {"0001_double.py": MIGRATION, "0002_failing.py": FAILING})
    result = project.run("migrate", "up")
    assert result.exit_code == EXIT_FAILED
    line = error_line(result)
    bob = project.client[project.db]["people"].find_one({"name": "Bob"})
    assert f"{bob['_id']!r} in collection 'people'" in line
    assert "no way for ***" in line
    assert "s3cret" not in result.output
    assert "Applied before it in this run: 0001_double" in line
    assert result.stdout == ""
    records = project.client[project.db][MIGRATIONS_COLLECTION].find()
    assert [row["_id"] for row in records] == ["0001_double"]


def test_migrate_usage_errors(project):
    missing = project.run("migrate", "up", "--dir", "nowhere")
    assert missing.exit_code == EXIT_USAGE
    assert "no migrations directory 'nowhere'" in error_line(missing)
    migrations(project, {"0001_bad.py": "def up(registry, session): pass"})
    bad = project.run("migrate", "up")
    assert bad.exit_code == EXIT_USAGE
    assert "must be `async def up" in error_line(bad)


def test_a_held_lock_has_its_own_exit_code(project):
    import datetime

    migrations(project, {"0001_double.py": MIGRATION})
    now = datetime.datetime.now(datetime.timezone.utc)
    project.client[project.db][LOCK_COLLECTION].insert_one(
        {"_id": LOCK_ID, "owner": "host:42", "since": now, "heartbeat": now}
    )
    result = project.run("migrate", "up", "--wait", "0")
    assert result.exit_code == EXIT_LOCKED
    assert "held by host:42" in error_line(result)
    assert karma(project) == [1, 2]


def test_two_processes_started_together_run_each_migration_once(project):
    migrations(project, {"0001_double.py": MIGRATION})
    command = [
        mdocument_script(),
        "migrate",
        project.module,
        "up",
        "--uri",
        project.uri,
        "--db",
        project.db,
    ]
    env = {**os.environ, "PYTHONPATH": str(project.path)}
    processes = [
        subprocess.Popen(
            command,
            cwd=project.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [EXIT_OK, EXIT_OK], outputs
    assert sorted(out for out, _ in outputs) == ["applied 0001_double\n", "nothing to apply\n"]
    assert karma(project) == [2, 4]  # doubled once
    assert project.client[project.db]["runs"].find_one({"_id": 1})["n"] == 1


# -- connections, help, exit codes --------------------------------------------------------------


def test_an_unreachable_server_fails_fast_naming_the_uri_with_the_password_masked(project):
    uri = f"mongodb://reader:pa55-s3cret@127.0.0.1:{closed_port()}/"
    started = time.monotonic()
    done = subprocess.run(
        [
            mdocument_script(),
            "indexes",
            project.module,
            "--uri",
            uri,
            "--db",
            "x",
            "--timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=project.path,
    )
    assert time.monotonic() - started < 10
    assert done.returncode == EXIT_UNREACHABLE, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: cannot reach the server at mongodb://reader:***@127.0.0.1:")
    assert "within 1s" in line
    assert "pa55-s3cret" not in done.stderr


def test_mask_uri_keeps_the_user_and_hides_the_password():
    assert mask_uri("mongodb://ada:pw@host:27017/db?x=1") == "mongodb://ada:***@host:27017/db?x=1"
    assert mask_uri("mongodb+srv://ada:p%40ss@cluster/") == "mongodb+srv://ada:***@cluster/"
    assert mask_uri("mongodb://host/") == "mongodb://host/"


def test_a_bad_uri_is_a_usage_error_without_its_password(project):
    result = CliRunner().invoke(
        cli, ["validators", project.module, "--uri", "http://ada:pw-s3cret@host", "--db", "x"]
    )
    assert result.exit_code == EXIT_USAGE
    assert "s3cret" not in result.output
    assert "http://ada:***@host" in error_line(result)


@pytest.mark.parametrize("command", ["graph", "indexes", "validators", "migrate"])
def test_every_help_shows_an_example_and_the_exit_codes(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == EXIT_OK
    assert "Example:" in result.stdout
    assert f"mdocument {command} myapp.models" in result.stdout
    assert "Exit codes:" in result.stdout
    assert "3    the server could not be reached" in result.stdout
