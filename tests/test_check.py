"""`mdocument.check`: inconsistencies seeded with the raw driver are found, repaired by each
edge's own rule, and a second run finds nothing and writes nothing."""

import datetime
import gc
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
import uuid
import warnings
from typing import Any

import bson
import pytest
from click.testing import CliRunner, Result
from pymongo import MongoClient

from mdocument import (
    Document,
    Field,
    ObjectId,
    OnDelete,
    OptionalRef,
    Ref,
    RefList,
    Report,
    Synced,
    check,
    init,
)
from mdocument.check import Finding
from mdocument.cli import cli
from mdocument.cli_check import EXIT_INCONSISTENT, check_command
from mdocument.journal import JOURNAL_COLLECTION
from mdocument.testing import new_database_name

UTC = datetime.timezone.utc
WRITES = {"insert", "update", "delete", "findAndModify", "bulkWrite", "createIndexes"}


class User(Document):
    name: str
    email: str = Field(unique=True, sensitive=True)


class UserCard(Synced[User]):
    id: ObjectId
    name: str


class Tag(Document):
    label: str = Field(unique=True)


class TagCard(Synced[Tag]):
    id: ObjectId
    label: str


class Post(Document):
    author_id: Ref[User]  # CASCADE
    reviewer_id: OptionalRef[User] = Field(default=None, on_delete=OnDelete.SET_NULL)
    tag_ids: RefList[Tag] = Field(default_factory=list, on_delete=OnDelete.PULL)
    tags: list[TagCard] = Field(default_factory=list, synced=Tag, on_delete=OnDelete.PULL)
    title: str = ""


class Group(Document):
    member_ids: RefList[User] = Field(default_factory=list)  # CASCADE on a list


class Profile(Document):
    user: UserCard = Field(unique=True)  # a synced copy, one-to-one, CASCADE


class Invoice(Document):
    customer_id: Ref[User] = Field(on_delete=OnDelete.RESTRICT)


class Like(Document):
    user_id: Ref[User] = Field(on_delete=OnDelete.NOTHING)
    user: UserCard | None = Field(default=None, synced=User, on_delete=OnDelete.NOTHING)


MODELS = [User, Tag, Post, Group, Profile, Invoice, Like]


def writes(commands) -> list[str]:
    return [name for name in commands.names if name in WRITES]


def by_field(report: Report) -> dict[tuple[str, str], Finding]:
    return {(finding.kind, finding.field): finding for finding in report.findings}


class Seeded:
    """One inconsistency of each kind and rule, written with the raw driver."""

    def __init__(self) -> None:
        self.ghost, self.ghost2, self.ghost_tag = bson.ObjectId(), bson.ObjectId(), bson.ObjectId()
        self.ada, self.bob, self.cy, self.dee = (bson.ObjectId() for _ in range(4))
        self.t1 = bson.ObjectId()
        self.ids = {name: bson.ObjectId() for name in self.NAMES}
        self.entries = {"delete": bson.ObjectId(), "sync": bson.ObjectId()}

    NAMES = (
        "post_ok",
        "post_cascade",
        "post_set_null",
        "post_pull_ids",
        "post_pull_cards",
        "post_stale_list",
        "bob_post",
        "group_pull",
        "group_empty",
        "profile_ada",
        "profile_cy",
        "invoice",
        "like_dangling",
        "like_stale",
    )

    def card(self, user: Any, name: str) -> dict[str, Any]:
        return {"id": user, "name": name}

    async def write(self, db) -> None:
        i = self.ids
        await db["user"].insert_many(
            [
                {"_id": self.ada, "name": "Ada", "email": "ada@s3cret.org"},
                {"_id": self.bob, "name": "Bob", "email": "bob@s3cret.org"},
                {"_id": self.cy, "name": "Cy", "email": "dup@s3cret.org"},
                {"_id": self.dee, "name": "Dee", "email": "dup@s3cret.org"},  # a duplicate
            ]
        )
        await db["tag"].insert_many(
            [
                {"_id": self.t1, "label": "t1"},
                {"_id": bson.ObjectId(), "label": "same"},
                {"_id": bson.ObjectId(), "label": "same"},
            ]
        )
        t1_card = {"id": self.t1, "label": "t1"}
        post = {"author_id": self.ada, "reviewer_id": None, "tag_ids": [], "tags": [], "title": ""}
        await db["post"].insert_many(
            [
                {**post, "_id": i["post_ok"], "tag_ids": [self.t1], "tags": [t1_card]},
                {**post, "_id": i["post_cascade"], "author_id": self.ghost},
                {**post, "_id": i["post_set_null"], "reviewer_id": self.ghost},
                {**post, "_id": i["post_pull_ids"], "tag_ids": [self.t1, self.ghost_tag]},
                {
                    **post,
                    "_id": i["post_pull_cards"],
                    "tags": [t1_card, {"id": self.ghost_tag, "label": "gone"}],
                },
                {**post, "_id": i["post_stale_list"], "tags": [{"id": self.t1, "label": "old"}]},
                {**post, "_id": i["bob_post"], "author_id": self.bob},
            ]
        )
        await db["group"].insert_many(
            [
                {"_id": i["group_pull"], "member_ids": [self.ada, self.ghost]},
                {"_id": i["group_empty"], "member_ids": [self.ghost, self.ghost2]},
            ]
        )
        await db["profile"].insert_many(
            [
                {"_id": i["profile_ada"], "user": self.card(self.ada, "Ada (old)")},
                {"_id": i["profile_cy"], "user": self.card(self.cy, "Cy (old)")},
            ]
        )
        await db["invoice"].insert_one({"_id": i["invoice"], "customer_id": self.ghost})
        await db["like"].insert_many(
            [
                # NOTHING allows a dangling reference, and its copy of a missing user.
                {
                    "_id": i["like_dangling"],
                    "user_id": self.ghost,
                    "user": self.card(self.ghost, "?"),
                },
                {"_id": i["like_stale"], "user_id": self.ada, "user": self.card(self.ada, "A")},
            ]
        )
        created = datetime.datetime.now(UTC)
        await db[JOURNAL_COLLECTION].insert_many(
            [
                # An interrupted delete of Bob (his post is still there), and an interrupted
                # save of Cy whose copies were not rewritten yet.
                {
                    "_id": self.entries["delete"],
                    "op": "delete",
                    "collection": "user",
                    "ids": [self.bob],
                    "created": created,
                },
                {
                    "_id": self.entries["sync"],
                    "op": "sync",
                    "collection": "user",
                    "ids": [self.cy],
                    "fields": ["name"],
                    "created": created,
                },
            ]
        )


def assert_found(report: Report, seeded: Seeded) -> None:
    i = seeded.ids
    found = by_field(report)
    expected = {
        ("journal", "delete"): (1, "user", None, [seeded.entries["delete"]]),
        ("journal", "sync"): (1, "user", None, [seeded.entries["sync"]]),
        ("dangling", "Post.author_id"): (1, "post", "CASCADE", [i["post_cascade"]]),
        ("dangling", "Post.reviewer_id"): (1, "post", "SET_NULL", [i["post_set_null"]]),
        ("dangling", "Post.tag_ids"): (1, "post", "PULL", [i["post_pull_ids"]]),
        ("dangling", "Post.tags"): (1, "post", "PULL", [i["post_pull_cards"]]),
        ("stale_copy", "Post.tags"): (1, "post", "PULL", [i["post_stale_list"]]),
        ("dangling", "Group.member_ids"): (
            2,
            "group",
            "CASCADE",
            [i["group_pull"], i["group_empty"]],
        ),
        ("stale_copy", "Profile.user"): (
            2,
            "profile",
            "CASCADE",
            [i["profile_ada"], i["profile_cy"]],
        ),
        ("dangling", "Invoice.customer_id"): (1, "invoice", "RESTRICT", [i["invoice"]]),
        ("stale_copy", "Like.user"): (1, "like", "NOTHING", [i["like_stale"]]),
        ("duplicate", "User.email"): (2, "user", None, None),
        ("duplicate", "Tag.label"): (2, "tag", None, None),
    }
    assert set(found) == set(expected), sorted(set(found) ^ set(expected))
    for key, (count, collection, rule, sample) in expected.items():
        finding = found[key]
        assert (finding.count, finding.collection, finding.rule) == (count, collection, rule), key
        if sample is not None:
            assert sorted(finding.sample) == sorted(sample), key
    assert not found[("dangling", "Invoice.customer_id")].fixable
    assert "RESTRICT" in found[("dangling", "Invoice.customer_id")].note
    assert found[("duplicate", "User.email")].values == ["***"]  # sensitive: masked
    assert sorted(found[("duplicate", "User.email")].sample) == sorted([seeded.cy, seeded.dee])
    assert found[("duplicate", "Tag.label")].values == ["same"]
    assert not report.ok


async def assert_repaired(db, seeded: Seeded) -> None:
    i = seeded.ids
    posts = {raw["_id"]: raw async for raw in db["post"].find()}
    assert i["post_cascade"] not in posts  # CASCADE: deleted
    assert i["bob_post"] not in posts  # the journal's delete ran with its cascade
    assert posts[i["post_set_null"]]["reviewer_id"] is None
    assert posts[i["post_pull_ids"]]["tag_ids"] == [seeded.t1]
    assert posts[i["post_pull_cards"]]["tags"] == [{"id": seeded.t1, "label": "t1"}]
    assert posts[i["post_stale_list"]]["tags"] == [{"id": seeded.t1, "label": "t1"}]
    groups = {raw["_id"]: raw async for raw in db["group"].find()}
    assert groups == {i["group_pull"]: {"_id": i["group_pull"], "member_ids": [seeded.ada]}}
    profiles = {raw["_id"]: raw["user"] async for raw in db["profile"].find()}
    assert profiles == {
        i["profile_ada"]: seeded.card(seeded.ada, "Ada"),
        i["profile_cy"]: seeded.card(seeded.cy, "Cy"),
    }
    assert await db["user"].count_documents({"_id": seeded.bob}) == 0
    assert await db[JOURNAL_COLLECTION].count_documents({}) == 0
    # Left alone: RESTRICT cannot be honoured, NOTHING allows it, duplicates are a person's call.
    assert await db["invoice"].count_documents({}) == 1
    likes = {raw["_id"]: raw async for raw in db["like"].find()}
    assert likes[i["like_dangling"]]["user"] == seeded.card(seeded.ghost, "?")
    assert likes[i["like_stale"]]["user"] == seeded.card(seeded.ada, "Ada")
    assert await db["tag"].count_documents({"label": "same"}) == 2


async def run_scenario(db, commands) -> None:
    await init(db, models=MODELS, create_indexes=False)
    seeded = Seeded()
    await seeded.write(db)

    commands.clear()
    report = await check()
    assert writes(commands) == []  # a check without fix writes nothing
    assert_found(report, seeded)
    assert report.fixed == 0
    assert report.scanned > 0

    report = await check(fix=True)
    found = by_field(report)
    for key, count in {
        ("journal", "delete"): 1,
        ("journal", "sync"): 1,
        ("dangling", "Post.author_id"): 1,
        ("dangling", "Post.reviewer_id"): 1,
        ("dangling", "Post.tag_ids"): 1,
        ("dangling", "Post.tags"): 1,
        ("stale_copy", "Post.tags"): 1,
        ("dangling", "Group.member_ids"): 2,
        ("stale_copy", "Profile.user"): 1,  # Cy's copy was rewritten by the journal's sync
        ("stale_copy", "Like.user"): 1,
    }.items():
        assert (found[key].count, found[key].fixed) == (count, count), key
    unfixable = {key for key, finding in found.items() if finding.remaining}
    assert unfixable == {
        ("dangling", "Invoice.customer_id"),
        ("duplicate", "User.email"),
        ("duplicate", "Tag.label"),
    }
    assert not report.ok
    await assert_repaired(db, seeded)

    commands.clear()
    again = await check(fix=True)
    assert writes(commands) == []  # idempotent: nothing left that a fix could write
    assert {(f.kind, f.field) for f in again.findings} == unfixable
    assert all(finding.fixed == 0 for finding in again.findings)


async def test_finds_and_fixes_every_kind_and_rule(database, commands):
    await run_scenario(database, commands)


@pytest.mark.standalone
async def test_finds_and_fixes_every_kind_and_rule_without_transactions(
    standalone_database, commands
):
    await run_scenario(standalone_database, commands)


async def test_consistent_data_reports_nothing_and_a_fix_writes_nothing(mongodb_database, commands):
    registry = await init(mongodb_database, models=MODELS)
    ada = await User.create(name="Ada", email="ada@s3cret.org")
    tag = await Tag.create(label="t1")
    await Post.create(author_id=ada.id, tag_ids=[tag.id], tags=[TagCard.of(tag)])
    await Group.create(member_ids=[ada.id])
    await Profile.create(user=UserCard.of(ada))
    await Invoice.create(customer_id=ada.id)
    await Like.create(user_id=ada.id, user=UserCard.of(ada))
    ada.name = "Ada Lovelace"
    await ada.save()

    commands.clear()
    report = await check(fix=True, registry=registry)
    assert report.ok
    assert report.findings == []
    assert writes(commands) == []
    # The unique indexes exist: their values are not aggregated.
    assert "aggregate" not in commands.names
    assert str(report).startswith("consistent: no findings")
    assert report.to_dict()["ok"] is True


async def test_a_fix_leaves_nothing_to_find(mongodb_database, commands):
    await init(mongodb_database, models=MODELS)
    ada = await User.create(name="Ada", email="ada@s3cret.org")
    ghost = bson.ObjectId()
    posts = mongodb_database["post"]
    await posts.insert_one({"author_id": ghost, "tags": [], "tag_ids": [ghost]})
    await mongodb_database["profile"].insert_one({"user": {"id": ada.id, "name": "Old"}})

    report = await check(fix=True)
    assert report.ok
    assert report.fixed == 2  # the post deleted (and its tag id with it), the copy rewritten
    commands.clear()
    report = await check(fix=True)
    assert report.findings == []
    assert report.ok
    assert writes(commands) == []


async def test_cascade_fix_runs_the_childs_own_cascades(mongodb_database):
    class Comment(Document):
        post_id: Ref[Post]

    await init(mongodb_database, models=[*MODELS, Comment])
    ghost, post = bson.ObjectId(), bson.ObjectId()
    await mongodb_database["post"].insert_one({"_id": post, "author_id": ghost, "tags": []})
    await mongodb_database["comment"].insert_one({"post_id": post})
    report = await check(fix=True)
    assert report.ok
    assert await mongodb_database["post"].count_documents({}) == 0
    assert await mongodb_database["comment"].count_documents({}) == 0  # through Post's cascade


async def test_cascade_fix_that_a_restrict_blocks_is_reported(mongodb_database):
    class Receipt(Document):
        post_id: Ref[Post] = Field(on_delete=OnDelete.RESTRICT)

    await init(mongodb_database, models=[*MODELS, Receipt])
    ghost, post = bson.ObjectId(), bson.ObjectId()
    await mongodb_database["post"].insert_one({"_id": post, "author_id": ghost, "tags": []})
    await mongodb_database["receipt"].insert_one({"post_id": post})
    report = await check(fix=True)
    finding = by_field(report)[("dangling", "Post.author_id")]
    assert (finding.count, finding.fixed) == (1, 0)
    assert "restricted" in finding.note
    assert not report.ok
    assert await mongodb_database["post"].count_documents({}) == 1


async def test_fixes_run_in_batches_and_samples_stay_small(mongodb_database, commands):
    await init(mongodb_database, models=MODELS)
    ghosts = [bson.ObjectId() for _ in range(25)]
    await mongodb_database["post"].insert_many(
        [{"author_id": ghost, "tags": []} for ghost in ghosts]
    )
    steps: list[tuple[str, int]] = []
    commands.clear()
    report = await check(fix=True, batch_size=10, progress=lambda s, n: steps.append((s, n)))
    finding = by_field(report)[("dangling", "Post.author_id")]
    assert (finding.count, finding.fixed) == (25, 25)
    assert len(finding.sample) == 5
    assert ("Post.author_id", 25) in steps
    assert [n for s, n in steps if s == "Post.author_id"] == [0, 10, 20, 25]
    # One delete a batch (10, 10, 5), not one per document.
    deletes = [c for c in commands.of("delete") if c["delete"] == "post"]
    assert len(deletes) == 3
    assert await mongodb_database["post"].count_documents({}) == 0


async def test_journal_entries_that_cannot_be_completed_are_left(mongodb_database):
    await init(mongodb_database, models=MODELS)
    broken = bson.ObjectId()
    await mongodb_database["user"].insert_one({"_id": broken, "email": "x@s3cret.org"})  # no name
    await mongodb_database[JOURNAL_COLLECTION].insert_many(
        [
            {"op": "sync", "collection": "user", "ids": [broken], "fields": ["name"]},
            {"op": "delete", "collection": "gone", "ids": [bson.ObjectId()]},
            {"op": "rename", "collection": "user", "ids": []},
        ]
    )
    report = await check(fix=True)
    found = by_field(report)
    assert {key: (f.count, f.fixed) for key, f in found.items()} == {
        ("journal", "sync"): (1, 0),
        ("journal", "delete"): (1, 0),
        ("journal", "rename"): (1, 0),
    }
    assert "does not load" in found[("journal", "sync")].note
    assert "'gone' is not registered" in found[("journal", "delete")].note
    assert "unknown operation" in found[("journal", "rename")].note
    assert "s3cret" not in str(report)
    assert await mongodb_database[JOURNAL_COLLECTION].count_documents({}) == 3


async def test_report_is_json_and_readable_without_sensitive_values(mongodb_database):
    await init(mongodb_database, models=MODELS, create_indexes=False)
    seeded = Seeded()
    await seeded.write(mongodb_database)
    report = await check()
    text = json.dumps(report.to_dict())
    assert "s3cret" not in text
    assert "s3cret" not in str(report)
    data = json.loads(text)
    assert data["ok"] is False
    assert data["fix"] is False
    kinds = {(row["kind"], row["field"]) for row in data["findings"]}
    assert ("dangling", "Post.author_id") in kinds
    assert str(seeded.ids["post_cascade"]) in text
    readable = str(report)
    assert "Invoice.customer_id" in readable
    assert "RESTRICT" in readable
    assert "'***'" in readable  # the duplicated email, masked


async def test_explicit_registry_and_bad_batch_size(mongodb_database):
    registry = await init(mongodb_database, models=[User])
    assert (await check(registry=registry)).ok
    with pytest.raises(ValueError, match="batch_size"):
        await check(batch_size=0)


async def test_stale_copy_of_a_source_missing_a_defaulted_field_is_not_stale(mongodb_database):
    class Member(Document):
        name: str
        nickname: str = "anon"

    class MemberCard(Synced[Member]):
        id: ObjectId
        nickname: str

    class Badge(Document):
        member: MemberCard

    await init(mongodb_database, models=[Member, Badge])
    member = bson.ObjectId()
    # Stored before `nickname` existed: a loaded Member has the default, and so does the copy.
    await mongodb_database["member"].insert_one({"_id": member, "name": "Ada"})
    await mongodb_database["badge"].insert_one({"member": {"id": member, "nickname": "anon"}})
    assert (await check()).findings == []


# -- memory ----------------------------------------------------------------------------------


class Reader(Document):
    name: str


class ReaderCard(Synced[Reader]):
    id: ObjectId
    name: str


class Review(Document):
    reader_id: Ref[Reader]
    reader: ReaderCard
    text: str


async def _check_peak() -> tuple[Report, int, float]:
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        report = await check()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report, peak, time.perf_counter() - started


async def test_memory_stays_flat_however_many_documents_are_checked(mongodb_database):
    await init(mongodb_database, models=[Reader, Review])
    readers = [bson.ObjectId() for _ in range(10)]
    await mongodb_database["reader"].insert_many(
        [{"_id": reader, "name": f"r{n}"} for n, reader in enumerate(readers)]
    )

    def reviews(start: int, stop: int) -> list[dict[str, Any]]:
        rows = []
        for n in range(start, stop):
            # One in ten refers to a missing reader, one in ten holds a stale copy.
            reader = bson.ObjectId() if n % 10 == 0 else readers[n % 10]
            name = "stale" if n % 10 == 1 else f"r{n % 10}"
            rows.append(
                {"reader_id": reader, "reader": {"id": reader, "name": name}, "text": "x" * 50}
            )
        return rows

    small = 1000
    await mongodb_database["review"].insert_many(reviews(0, small))
    await _check_peak()  # one-time costs: caches, connections
    report, small_peak, _ = await _check_peak()
    assert by_field(report)[("dangling", "Review.reader_id")].count == small // 10
    await mongodb_database["review"].insert_many(reviews(small, 10 * small))
    report, large_peak, seconds = await _check_peak()
    found = by_field(report)
    assert found[("dangling", "Review.reader_id")].count == small
    assert found[("dangling", "Review.reader")].count == small
    assert found[("stale_copy", "Review.reader")].count == small
    assert report.scanned == 2 * 10 * small
    # Holding every id would cost about ten times as much; streaming costs about the same.
    assert large_peak < small_peak * 4, (small_peak, large_peak)
    print(f"peaks {small_peak:,} B / {large_peak:,} B, {seconds:.2f} s traced")


# -- the command line ------------------------------------------------------------------------

CLI_MODELS = """
from mdocument import Document, Field, ObjectId, Ref, Synced


class Owner(Document):
    name: str
    email: str = Field(unique=True, sensitive=True)


class OwnerCard(Synced[Owner]):
    id: ObjectId
    name: str


class Pet(Document):
    owner_id: Ref[Owner]
    owner: OwnerCard
"""


@pytest.fixture
def farm(mongodb_uri, tmp_path, monkeypatch):
    """A project directory with a models module, and a database with inconsistencies."""
    module = f"farm_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(CLI_MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = new_database_name()
    client: MongoClient = MongoClient(mongodb_uri)
    db = client[name]
    ada, ghost = bson.ObjectId(), bson.ObjectId()
    db["owner"].insert_many(
        [
            {"_id": ada, "name": "Ada", "email": "same@s3cret.org"},
            {"_id": bson.ObjectId(), "name": "Bo", "email": "same@s3cret.org"},
        ]
    )
    db["pet"].insert_many(
        [
            {"owner_id": ghost, "owner": {"id": ghost, "name": "?"}},
            {"owner_id": ada, "owner": {"id": ada, "name": "Ada (old)"}},
        ]
    )

    def run(*args: str) -> Result:
        return CliRunner().invoke(
            check_command, [module, "--uri", mongodb_uri, "--db", name, *args]
        )

    run.module, run.db_name, run.uri = module, name, mongodb_uri  # type: ignore[attr-defined]
    yield run, db
    sys.modules.pop(module, None)
    client.drop_database(name)
    client.close()


def test_cli_json_report_and_exit_codes(farm):
    run, db = farm
    result = run("--json")
    assert result.exit_code == EXIT_INCONSISTENT, result.output
    data = json.loads(result.stdout)
    assert {(row["kind"], row["field"], row["count"]) for row in data["findings"]} == {
        ("dangling", "Pet.owner_id", 1),
        ("dangling", "Pet.owner", 1),
        ("stale_copy", "Pet.owner", 1),
        ("duplicate", "Owner.email", 2),
    }
    assert "s3cret" not in result.output
    assert db["pet"].count_documents({}) == 2  # nothing written

    result = run("--fix", "--json")
    assert result.exit_code == EXIT_INCONSISTENT  # the duplicate is never fixed
    data = json.loads(result.stdout)
    assert data["fixed"] == 2
    assert data["remaining"] == 2
    assert db["pet"].count_documents({}) == 1
    db["owner"].delete_one({"name": "Bo"})

    result = run("--fix")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("consistent: no findings")


def test_cli_human_table_masks_sensitive_values(farm):
    run, _ = farm
    result = run()
    assert result.exit_code == EXIT_INCONSISTENT
    assert "Pet.owner_id" in result.stdout
    assert "CASCADE" in result.stdout
    assert "***" in result.stdout
    assert "s3cret" not in result.output


def test_cli_usage_and_unreachable_server(farm, tmp_path):
    run, _ = farm
    result = CliRunner().invoke(check_command, ["no_such_module", "--uri", "mongodb://x"])
    assert result.exit_code == 2
    assert "no module named" in result.stderr
    result = CliRunner().invoke(check_command, ["farm", "--uri", "http://x"])
    assert result.exit_code == 2
    (tmp_path / "empty_models.py").write_text("X = 1\n")
    result = CliRunner().invoke(check_command, ["empty_models", "--uri", "mongodb://x"])
    assert result.exit_code == 2
    assert "holds no document classes" in result.stderr
    sys.modules.pop("empty_models", None)
    with warnings.catch_warnings():
        # The client is closed right after its first command; PyMongo's monitor may be opening
        # a connection then, which PyMongo 4.20 leaves unclosed when the close cancels it (a
        # ResourceWarning that is PyMongo's, not the command's): collected here, expected.
        warnings.simplefilter("ignore", ResourceWarning)
        result = run("--db", "no_such_database_here")
        assert result.exit_code == 2
        assert "no database 'no_such_database_here'" in result.stderr
        del result  # its exception's frames hold the client, and that connection
        gc.collect()
        result = run(
            "--uri", "mongodb://user:pw@127.0.0.1:1/?directConnection=true", "--timeout", "0.3"
        )
        assert result.exit_code == 3, result.output
        assert "pw" not in result.stderr
        del result
        gc.collect()


def test_cli_is_registered_and_exits_through_the_console_script(farm, tmp_path):
    run, _ = farm
    assert cli.commands["check"] is check_command
    script = shutil.which("mdocument", path=os.path.dirname(sys.executable))
    assert script is not None
    command = [script, "check", run.module, "--uri", run.uri, "--db", run.db_name, "--json"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_INCONSISTENT, done.stderr
    assert json.loads(done.stdout)["ok"] is False
    assert "s3cret" not in done.stdout + done.stderr
