"""The `mdocument export` command: output, one-line errors and exit codes scripts can rely on."""

import datetime
import json
import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import bson
import pytest
from click.testing import CliRunner, Result
from pymongo import MongoClient

from mdocument.cli import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    cli,
    main,
    redact,
)
from mdocument.testing import new_database_name

MODELS = """
import datetime
from pydantic import BaseModel
from mdocument import Document, Field


class Address(BaseModel):
    city: str
    street: str = Field(sensitive=True)


class Customer(Document):
    name: str
    email: str = Field(sensitive=True)
    joined: datetime.datetime
    tags: list[str] = []
    address: Address | None = None

    class Meta:
        collection = "customers"


class Base(Document):
    class Meta:
        abstract = True


NOT_A_DOCUMENT = 42
"""

UTC = datetime.timezone.utc
ADA_ID = bson.ObjectId()
ROWS = [
    {
        "_id": ADA_ID,
        "name": "Ada",
        "email": "ada@s3cret.org",
        "joined": datetime.datetime(2024, 1, 10, tzinfo=UTC),
        "tags": ["math"],
        "address": {"city": "London", "street": "12 S3cret Street"},
    },
    {
        "_id": bson.ObjectId(),
        "name": "Bob",
        "email": "bob@s3cret.org",
        "joined": datetime.datetime(2024, 6, 1, tzinfo=UTC),
        "tags": [],
        "address": None,
    },
    {
        "_id": bson.ObjectId(),
        "name": "Cy",
        "email": "cy@s3cret.org",
        "joined": datetime.datetime(2024, 9, 1, tzinfo=UTC),
    },
]


@dataclass
class Shop:
    module: str
    uri: str
    db: str
    path: Path
    client: MongoClient

    @property
    def target(self) -> str:
        return f"{self.module}:Customer"

    def export(self, *args: str) -> Result:
        """Run `mdocument export` in this process, as a script would."""
        command = ["export", self.target, "--uri", self.uri, "--db", self.db, *args]
        return CliRunner().invoke(cli, command)


@pytest.fixture
def shop(mongodb_uri, tmp_path, monkeypatch):
    """A project directory with a models module, and a database holding three customers."""
    module = f"shop_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the command adds the project to it
    name = new_database_name()
    client: MongoClient = MongoClient(mongodb_uri)
    client[name]["customers"].insert_many([dict(row) for row in ROWS])
    yield Shop(module, mongodb_uri, name, tmp_path, client)
    sys.modules.pop(module, None)
    client.drop_database(name)
    client.close()


def one_line_error(result: Result) -> str:
    """The error a failed command printed: a single `Error: ...` line, nothing on stdout."""
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mdocument_script() -> str:
    script = shutil.which("mdocument", path=os.path.dirname(sys.executable))
    assert script is not None, "the `mdocument` console script is installed with the package"
    return script


# -- output ------------------------------------------------------------------------------------


def test_exports_jsonl_to_stdout_masked_and_quiet_when_not_a_terminal(shop):
    result = shop.export()
    assert result.exit_code == EXIT_OK, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["name"] for row in rows] == ["Ada", "Bob", "Cy"]
    assert rows[0]["id"] == str(ADA_ID)
    assert rows[0]["email"] == "***"
    assert rows[0]["address"] == {"city": "London", "street": "***"}
    assert rows[0]["joined"] == "2024-01-10T00:00:00Z"
    assert "s3cret" not in result.stdout
    assert result.stderr == ""  # no progress bar, no summary: output is not a terminal


def test_format_follows_the_out_suffix_and_fields_pick_columns(shop):
    result = shop.export("--out", "customers.csv", "--fields", "name, address.city")
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout == result.stderr == ""
    assert (shop.path / "customers.csv").read_text().splitlines() == [
        "name,address.city",
        "Ada,London",
        "Bob,",
        "Cy,",
    ]


def test_a_dash_is_standard_output(shop):
    result = shop.export("--out", "-", "--format", "csv", "--fields", "name")
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout.splitlines() == ["name", "Ada", "Bob", "Cy"]


def test_format_option_wins_over_the_suffix(shop):
    result = shop.export("--out", "customers.txt", "--format", "json")
    assert result.exit_code == EXIT_OK, result.output
    assert len(json.loads((shop.path / "customers.txt").read_text())) == 3


def test_query_takes_extended_json(shop):
    since = '{"joined": {"$gte": {"$date": "2024-05-01T00:00:00Z"}}}'
    result = shop.export("--query", since)
    assert [json.loads(line)["name"] for line in result.stdout.splitlines()] == ["Bob", "Cy"]
    result = shop.export("-q", json.dumps({"id": {"$oid": str(ADA_ID)}}))
    assert [json.loads(line)["name"] for line in result.stdout.splitlines()] == ["Ada"]


def test_reveal_writes_the_real_values(shop):
    result = shop.export("--reveal", "--query", '{"name": "Ada"}')
    assert result.exit_code == EXIT_OK
    row = json.loads(result.stdout)
    assert row["email"] == "ada@s3cret.org"
    assert row["address"]["street"] == "12 S3cret Street"


def test_the_database_may_come_from_the_uri(shop):
    parts = urlsplit(shop.uri)
    uri = urlunsplit(parts._replace(path=f"/{shop.db}"))
    result = CliRunner().invoke(cli, ["export", shop.target, "--uri", uri])
    assert result.exit_code == EXIT_OK, result.output
    assert len(result.stdout.splitlines()) == 3


def test_the_uri_may_come_from_the_environment(shop):
    result = CliRunner(env={"MONGODB_URI": shop.uri}).invoke(
        cli, ["export", shop.target, "--db", shop.db]
    )
    assert result.exit_code == EXIT_OK, result.output


def test_help_documents_the_exit_codes():
    result = CliRunner().invoke(cli, ["export", "--help"])
    assert result.exit_code == EXIT_OK
    assert "Exit codes" in result.stdout
    assert "3    the server could not be reached" in result.stdout


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("{module}:Custmer", "did you mean 'Customer'?"),
        ("{module}:NOT_A_DOCUMENT", "is not a Document class"),
        ("{module}:Base", "is abstract"),
        ("{module}", "MODULE:Document"),
        ("no_such_module_here:Customer", "no module named 'no_such_module_here'"),
    ],
)
def test_an_unknown_document_is_a_usage_error(shop, target, expected):
    target = target.format(module=shop.module)
    result = CliRunner().invoke(cli, ["export", target, "--uri", shop.uri, "--db", shop.db])
    assert result.exit_code == EXIT_USAGE
    assert expected in one_line_error(result)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('{"name": ', "--query is not valid JSON"),
        ("[1, 2]", "--query is a JSON object"),
        ('{"nmae": "Ada"}', "did you mean 'name'?"),
        ('{"$where_is": 1}', "the server refused --query"),
    ],
)
def test_a_malformed_query_is_a_usage_error(shop, query, expected):
    result = shop.export("--query", query)
    assert result.exit_code == EXIT_USAGE
    assert expected in one_line_error(result)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("localhost:27017", "a MongoDB URI starts with mongodb://"),
        ("mongodb://", "bad --uri"),
        ("mongodb://db.example:notaport", "bad --uri"),
    ],
)
def test_a_bad_uri_is_a_usage_error(shop, uri, expected):
    result = CliRunner().invoke(cli, ["export", shop.target, "--uri", uri, "--db", "x"])
    assert result.exit_code == EXIT_USAGE
    assert expected in one_line_error(result)


def test_a_bad_uri_never_shows_its_password(shop):
    uri = "mongodb://admin:pa55-s3cret@db.example:notaport"
    result = CliRunner().invoke(cli, ["export", shop.target, "--uri", uri, "--db", "x"])
    assert result.exit_code == EXIT_USAGE
    assert "pa55-s3cret" not in one_line_error(result)
    assert redact(uri, uri) == "mongodb://***@db.example:notaport"


def test_other_usage_errors(shop):
    result = shop.export("--fields", "name,emial")
    assert result.exit_code == EXIT_USAGE
    assert "did you mean 'email'?" in one_line_error(result)
    result = shop.export("--out", "no/such/dir/out.csv")
    assert result.exit_code == EXIT_USAGE
    assert "no directory" in one_line_error(result)
    result = CliRunner().invoke(cli, ["export", shop.target, "--uri", shop.uri])
    assert result.exit_code == EXIT_USAGE
    assert "pass --db NAME" in one_line_error(result)
    result = shop.export("--format", "xml")
    assert result.exit_code == EXIT_USAGE  # click's own usage error


def test_a_stored_document_that_does_not_fit_fails_the_export_and_leaves_no_file(shop):
    bad = bson.ObjectId()
    shop.client[shop.db]["customers"].insert_one({"_id": bad, "name": "Zed", "email": 7})
    result = shop.export("--out", "customers.jsonl")
    assert result.exit_code == EXIT_FAILED
    line = one_line_error(result)
    assert str(bad) in line
    assert "7" not in line.replace(str(bad), "")  # the sensitive stored value is not shown
    assert list(shop.path.glob("*customers*")) == []


def test_main_exits_with_the_command_exit_code(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["export", "no-colon", "--uri", "mongodb://localhost"])
    assert caught.value.code == EXIT_USAGE
    assert capsys.readouterr().err.startswith("Error: name the document as MODULE:Document")
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == EXIT_OK


# -- the installed command ---------------------------------------------------------------------


def test_an_unreachable_server_fails_fast_with_its_own_exit_code(shop):
    uri = f"mongodb://reader:pa55-s3cret@127.0.0.1:{closed_port()}/"
    started = time.monotonic()
    done = subprocess.run(
        [mdocument_script(), "export", shop.target, "--uri", uri, "--db", "x", "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert time.monotonic() - started < 10
    assert done.returncode == EXIT_UNREACHABLE
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: cannot reach the server at mongodb://***@127.0.0.1:")
    assert "within 1s" in lines[0]
    assert "pa55-s3cret" not in done.stderr


def test_a_terminal_gets_a_progress_bar_and_a_summary(shop):
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    command = [mdocument_script(), "export", shop.target, "--uri", shop.uri, "--db", shop.db]
    with subprocess.Popen(
        [*command, "--out", "customers.jsonl"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    ) as process:
        os.close(terminal)
        screen = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # the terminal is closed once the command exits
                    break
                if not chunk:
                    break
                screen += chunk
            elif process.poll() is not None:
                break
        process.wait(10)
    os.close(controller)
    text = screen.decode("utf-8", "replace")
    assert process.returncode == EXIT_OK, text
    assert "3/3" in text  # the progress bar's count
    assert "exported 3 Customer documents to customers.jsonl" in text
    assert len((shop.path / "customers.jsonl").read_text().splitlines()) == 3


# -- a database or collection that is not there ------------------------------------------------


def test_a_misspelled_database_is_a_usage_error_not_an_empty_export(shop):
    misspelled = shop.db[:-1]
    result = CliRunner().invoke(
        cli, ["export", shop.target, "--uri", shop.uri, "--db", misspelled, "--out", "c.jsonl"]
    )
    assert result.exit_code == EXIT_USAGE
    error = one_line_error(result)
    assert f"no database {misspelled!r} on the server" in error
    assert f"did you mean {shop.db!r}?" in error
    assert not (shop.path / "c.jsonl").exists()


def test_a_collection_that_is_not_there_is_a_usage_error(shop):
    (shop.path / "other_models.py").write_text(
        "from mdocument import Document\n\n\nclass Customer(Document):\n    name: str\n\n"
        "    class Meta:\n        collection = 'customer'\n"
    )
    try:
        result = CliRunner().invoke(
            cli, ["export", "other_models:Customer", "--uri", shop.uri, "--db", shop.db]
        )
    finally:
        sys.modules.pop("other_models", None)
    assert result.exit_code == EXIT_USAGE
    error = one_line_error(result)
    assert f"no collection 'customer' (of Customer) in database {shop.db!r}" in error
    assert "did you mean 'customers'?" in error


def test_the_help_names_the_missing_database_exit_code():
    result = CliRunner().invoke(cli, ["export", "--help"])
    assert "a database or collection that does not exist" in result.stdout


def test_a_revealed_export_file_is_readable_by_its_owner_only(shop):
    old = os.umask(0o022)
    try:
        result = shop.export("--reveal", "--out", "secrets.jsonl")
        masked = shop.export("--out", "masked.jsonl")
    finally:
        os.umask(old)
    assert result.exit_code == masked.exit_code == EXIT_OK
    assert (shop.path / "secrets.jsonl").stat().st_mode & 0o777 == 0o600
    assert (shop.path / "masked.jsonl").stat().st_mode & 0o777 == 0o644  # the umask decides
