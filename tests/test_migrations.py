"""Migrations: files run once each, in order, in a transaction where possible, under a lock."""

import asyncio
import datetime
import textwrap

import pytest
from pymongo import AsyncMongoClient

from mdocument import Document, Field, init
from mdocument.migrations import (
    LOCK_COLLECTION,
    LOCK_ID,
    MIGRATIONS_COLLECTION,
    MigrationError,
    MigrationFailed,
    MigrationLocked,
    load_migrations,
    migrate,
    migration_status,
)


class Member(Document):
    name: str
    email: str = Field(sensitive=True)
    level: int = 0

    class Meta:
        collection = "members"


ADD_LEVEL = '''
"""Give every member a level of 1."""
from mdocument.migrations import rewrite


async def up(registry, session):
    await rewrite(
        registry, "members", lambda doc: {"$set": {"level": 1}}, session=session,
        query={"level": {"$ne": 1}}, batch_size=2,
    )
    counter = registry.store.plain_collection("runs")
    await counter.update_one({"_id": "0001"}, {"$inc": {"n": 1}}, upsert=True, session=session)


async def down(registry, session):
    await rewrite(registry, "members", lambda doc: {"$set": {"level": 0}}, session=session)
'''

RENAME = '''
"""Upper-case the names."""
from mdocument.migrations import rewrite


async def up(registry):
    await rewrite(registry, "members", lambda doc: {"$set": {"name": doc["name"].upper()}},
                  session=None)
'''

BREAKS_ON_BOB = '''
"""Fails on Bob."""
from mdocument.migrations import rewrite
from tests_members import Member


def change(doc):
    if doc["name"] == "Bob":
        raise ValueError("cannot migrate " + doc["email"])
    return {"$set": {"level": 7}}


async def up(registry, session):
    await rewrite(registry, Member, change, session=session, batch_size=1)
'''

BAD_WRITE = """
from mdocument.migrations import rewrite
from tests_members import Member


async def up(registry, session):
    # The validator refuses both: an int for a string, a string for an int.
    await rewrite(registry, Member, lambda doc: {"$set": {"email": 12345, "level": doc["email"]}},
                  session=session)
"""


def write(directory, files):
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text))
    return directory


@pytest.fixture(autouse=True)
def members_module(monkeypatch):
    # Migrations import the application's documents, as they would from its package.
    import sys
    import types

    module = types.ModuleType("tests_members")
    module.Member = Member  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tests_members", module)


async def seed(database):
    await database["members"].insert_many(
        [
            {"name": "Ada", "email": "ada@s3cret.org", "level": 0},
            {"name": "Bob", "email": "bob@s3cret.org", "level": 0},
            {"name": "Cy", "email": "cy@s3cret.org", "level": 0},
        ]
    )


async def levels(database):
    rows = await database["members"].find({}, sort=[("_id", 1)]).to_list(None)
    return [row["level"] for row in rows]


async def test_up_runs_each_once_and_records_it(database, tmp_path):
    await seed(database)
    registry = await init(database, models=[Member])
    folder = write(
        tmp_path / "migrations",
        {"0001_add_level.py": ADD_LEVEL, "0002_rename.py": RENAME, "helpers.py": "X = 1"},
    )
    migrations = load_migrations(folder)
    assert [m.id for m in migrations] == ["0001_add_level", "0002_rename"]
    assert migrations[0].description == "Give every member a level of 1."

    dry = await migrate(registry, migrations, dry_run=True)
    assert dry.planned == ["0001_add_level", "0002_rename"]
    assert dry.done == []
    assert await levels(database) == [0, 0, 0]

    run = await migrate(registry, migrations)
    assert run.done == ["0001_add_level", "0002_rename"]
    assert await levels(database) == [1, 1, 1]
    names = [row["name"] for row in await database["members"].find({}).to_list(None)]
    assert names == ["ADA", "BOB", "CY"]

    again = await migrate(registry, migrations)  # running twice changes nothing
    assert again.done == []
    assert again.planned == []
    assert (await database["runs"].find_one({"_id": "0001"}))["n"] == 1
    records = await database[MIGRATIONS_COLLECTION].find({}).to_list(None)
    assert [row["_id"] for row in records] == ["0001_add_level", "0002_rename"]
    assert await database[LOCK_COLLECTION].count_documents({}) == 0  # released

    states = await migration_status(registry, migrations)
    assert [(s.id, s.applied, s.changed) for s in states] == [
        ("0001_add_level", True, False),
        ("0002_rename", True, False),
    ]


async def test_down_reverts_the_last_applied(mongodb_database, tmp_path):
    await seed(mongodb_database)
    registry = await init(mongodb_database, models=[Member])
    folder = write(tmp_path / "m", {"0001_add_level.py": ADD_LEVEL, "0002_rename.py": RENAME})
    await migrate(registry, load_migrations(folder))
    with pytest.raises(MigrationError, match="0002_rename has no `async def down"):
        await migrate(registry, load_migrations(folder), direction="down")
    (folder / "0002_rename.py").write_text(
        RENAME + "\n\nasync def down(registry, session):\n    pass\n"
    )
    migrations = load_migrations(folder)
    states = await migration_status(registry, migrations)
    assert [s.changed for s in states] == [False, True]  # the file changed since it ran
    run = await migrate(registry, migrations, direction="down", steps=2)
    assert run.done == ["0002_rename", "0001_add_level"]
    assert await levels(mongodb_database) == [0, 0, 0]
    assert await mongodb_database[MIGRATIONS_COLLECTION].count_documents({}) == 0
    assert [s.applied for s in await migration_status(registry, migrations)] == [False, False]


async def test_a_failure_in_a_transaction_names_the_document_masked_and_rolls_back(
    mongodb_database, tmp_path
):
    await seed(mongodb_database)
    registry = await init(mongodb_database, models=[Member])
    assert registry.supports_transactions
    folder = write(
        tmp_path / "m", {"0001_add_level.py": ADD_LEVEL, "0002_breaks.py": BREAKS_ON_BOB}
    )
    with pytest.raises(MigrationFailed) as caught:
        await migrate(registry, load_migrations(folder))
    message = str(caught.value)
    bob = await mongodb_database["members"].find_one({"name": "Bob"})
    assert "migration 0002_breaks (up) failed" in message
    assert f"Member {bob['_id']!r} in collection 'members'" in message
    assert "cannot migrate ***" in message
    assert "s3cret" not in message
    assert "rolled back" in message
    assert "Applied before it in this run: 0001_add_level" in message
    assert caught.value.applied == ("0001_add_level",)
    assert caught.value.rolled_back
    assert await levels(mongodb_database) == [1, 1, 1]  # Ada's 7 was rolled back
    records = await mongodb_database[MIGRATIONS_COLLECTION].find({}).to_list(None)
    assert [row["_id"] for row in records] == ["0001_add_level"]


async def test_without_transactions_a_failure_says_what_stays_written(
    standalone_database, tmp_path
):
    await seed(standalone_database)
    registry = await init(standalone_database, models=[Member])
    assert not registry.supports_transactions
    folder = write(tmp_path / "m", {"0002_breaks.py": BREAKS_ON_BOB})
    with pytest.raises(MigrationFailed) as caught:
        await migrate(registry, load_migrations(folder))
    assert "the 1 documents it wrote before failing stay written" in str(caught.value)
    assert "Nothing applied" in str(caught.value)
    assert caught.value.written == 1
    assert await levels(standalone_database) == [7, 0, 0]  # batches of one: Ada was written


async def test_a_write_the_server_refuses_names_the_document_with_values_masked(
    mongodb_database, tmp_path
):
    await seed(mongodb_database)
    registry = await init(mongodb_database, models=[Member], validators=True)
    folder = write(tmp_path / "m", {"0001_bad.py": BAD_WRITE})
    with pytest.raises(MigrationFailed) as caught:
        await migrate(registry, load_migrations(folder))
    message = str(caught.value)
    ada = await mongodb_database["members"].find_one({"name": "Ada"})
    assert f"Member {ada['_id']!r} in collection 'members'" in message
    assert "the server refused update {'$set': {'email': '***', 'level': '***'}}" in message
    assert "Document failed validation" in message
    assert "s3cret" not in message


async def test_two_runners_started_together_run_each_migration_once(mongodb_uri, tmp_path):
    from mdocument.testing import new_database_name

    name = new_database_name()
    folder = write(tmp_path / "m", {"0001_add_level.py": ADD_LEVEL, "0002_rename.py": RENAME})
    clients = [AsyncMongoClient(mongodb_uri) for _ in range(2)]
    try:
        await seed(clients[0][name])
        registries = [await init(client[name], models=[Member]) for client in clients]
        runs = await asyncio.gather(
            *(migrate(registry, load_migrations(folder)) for registry in registries)
        )
        assert sorted(run.done for run in runs) == [[], ["0001_add_level", "0002_rename"]]
        assert (await clients[0][name]["runs"].find_one({"_id": "0001"}))["n"] == 1
        names = [row["name"] for row in await clients[0][name]["members"].find({}).to_list(None)]
        assert names == ["ADA", "BOB", "CY"]  # upper-cased once: not run twice
    finally:
        await clients[0].drop_database(name)
        for client in clients:
            await client.close()


async def test_a_live_lock_is_waited_for_and_a_stale_one_needs_force_unlock(
    mongodb_database, tmp_path
):
    registry = await init(mongodb_database, models=[Member])
    folder = write(tmp_path / "m", {"0002_rename.py": RENAME})
    now = datetime.datetime.now(datetime.timezone.utc)
    locks = mongodb_database[LOCK_COLLECTION]
    await locks.insert_one({"_id": LOCK_ID, "owner": "other:1", "since": now, "heartbeat": now})
    with pytest.raises(MigrationLocked, match=r"held by other:1.*gave up after waiting"):
        await migrate(registry, load_migrations(folder), wait=0.3)
    with pytest.raises(MigrationLocked, match="held by other:1"):
        await migrate(registry, load_migrations(folder), wait=0, force_unlock=True)  # not stale
    old = now - datetime.timedelta(minutes=45)
    await locks.update_one({"_id": LOCK_ID}, {"$set": {"heartbeat": old}})
    with pytest.raises(MigrationLocked, match=r"silent for 45 minutes.*--force-unlock"):
        await migrate(registry, load_migrations(folder))
    run = await migrate(registry, load_migrations(folder), force_unlock=True)
    assert run.done == ["0002_rename"]
    assert await locks.count_documents({}) == 0


def test_bad_migration_files_are_refused(tmp_path):
    with pytest.raises(MigrationError, match="no migrations directory"):
        load_migrations(tmp_path / "missing")
    write(
        tmp_path / "a",
        {
            "0001_x.py": "async def up(registry, session): pass",
            "1_y.py": "async def up(registry): pass",
        },
    )
    with pytest.raises(MigrationError, match="have the same number 1"):
        load_migrations(tmp_path / "a")
    write(tmp_path / "b", {"0001_x.py": "def up(registry, session): pass"})
    with pytest.raises(MigrationError, match="must be `async def up"):
        load_migrations(tmp_path / "b")
    write(tmp_path / "c", {"0001_x.py": "X = 1"})
    with pytest.raises(MigrationError, match="defines no `async def up"):
        load_migrations(tmp_path / "c")
    write(tmp_path / "d", {"0001_x.py": "import nowhere_to_be_found"})
    with pytest.raises(MigrationError, match=r"importing migration 0001_x\.py failed"):
        load_migrations(tmp_path / "d")
