"""A delete larger than ``registry.cascade_chunk`` runs as a chunked, resumable job.

Children go first, chunk by chunk, each chunk in its own transaction where the server has them;
the roots are marked as being deleted meanwhile, and a child create under them is refused. An
interruption (a failing command, a killed process) leaves no dangling reference, and running the
delete again or ``check(fix=True)`` completes it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from chunked_models import MODELS, Author, Comment, Post, Shelf, tree
from mdocument import DocumentDoesntExist, ParentBeingDeleted, check, init
from mdocument.integrity import DELETING_FIELD
from mdocument.journal import JOURNAL_COLLECTION
from mdocument.testing import FailPoint

HERE = Path(__file__).parent


@pytest.fixture(params=["replica", "standalone"])
def server(request):
    """(database, uri) on a replica set (transactions) and on a standalone server."""
    if request.param == "replica":
        return request.getfixturevalue("mongodb_database"), request.getfixturevalue("mongodb_uri")
    return (
        request.getfixturevalue("standalone_database"),
        request.getfixturevalue("mongodb_standalone_uri"),
    )


async def dangling(database) -> list[str]:
    """References to missing documents, read from the raw collections."""
    authors = {raw["_id"] async for raw in database["author"].find({}, {"_id": 1})}
    posts = {raw["_id"] async for raw in database["post"].find({}, {"_id": 1})}
    found = [
        f"post {raw['_id']}"
        async for raw in database["post"].find()
        if raw["author_id"] not in authors
    ]
    found += [
        f"comment {raw['_id']}"
        async for raw in database["comment"].find()
        if raw["post_id"] not in posts
    ]
    found += [
        f"shelf {raw['_id']}"
        async for raw in database["shelf"].find()
        if not set(raw["post_ids"]) <= posts
    ]
    return found


async def counts(database) -> dict[str, int]:
    return {
        name: await database[name].count_documents({})
        for name in ("author", "post", "comment", "shelf", JOURNAL_COLLECTION)
    }


async def test_a_large_delete_runs_in_chunks_and_equals_an_unchunked_one(
    mongodb_database, commands
):
    registry = await init(mongodb_database, models=MODELS, cascade_chunk=10)
    assert registry.supports_transactions
    ada, bob = await tree("Ada"), await tree("Bob")
    commands.clear()
    await ada.delete()
    commits = commands.names.count("commitTransaction")
    # 120 comments and 30 posts by 10, the shelf's pull, the author: 17 transactions.
    assert commits == 17
    for command in commands.of("delete"):
        for statement in command["deletes"]:
            assert (
                len(statement["q"].get("_id", {}).get("$in", [])) <= 10 or "$and" in statement["q"]
            )
    after_chunked = await counts(mongodb_database)
    assert after_chunked == {
        "author": 1,
        "post": 30,
        "comment": 120,
        "shelf": 2,
        JOURNAL_COLLECTION: 0,
    }
    assert await dangling(mongodb_database) == []
    assert (
        await mongodb_database["author"].count_documents({DELETING_FIELD: {"$exists": True}}) == 0
    )

    registry.cascade_chunk = 1000  # the same delete in one transaction leaves the same data
    commands.clear()
    await bob.delete()
    assert commands.names.count("commitTransaction") == 1
    assert await counts(mongodb_database) == {
        "author": 0, "post": 0, "comment": 0, "shelf": 2, JOURNAL_COLLECTION: 0
    }  # fmt: skip
    shelves = await Shelf.find().to_list()
    assert [shelf.post_ids for shelf in shelves] == [[], []]


async def test_a_delete_below_the_threshold_sends_what_it_always_sent(mongodb_database, commands):
    await init(mongodb_database, models=MODELS, cascade_chunk=61)
    ada = await tree("Ada")
    commands.clear()
    await ada.delete()
    assert commands.names.count("commitTransaction") == 1
    assert "insert" not in commands.names  # no journal entry, no mark
    assert await counts(mongodb_database) == {
        "author": 0, "post": 0, "comment": 0, "shelf": 1, JOURNAL_COLLECTION: 0
    }  # fmt: skip


@pytest.mark.parametrize("resume", ["delete", "check"])
async def test_an_interrupted_chunked_delete_dangles_nothing_and_completes(server, resume):
    database, _ = server
    if not await FailPoint.available(database.client):
        pytest.skip("the server does not accept configureFailPoint")
    await init(database, models=MODELS, cascade_chunk=10)
    ada, _ = await tree("Ada"), await tree("Bob")
    async with FailPoint(database.client, ["delete"], skip=5):
        with pytest.raises(OperationFailure):
            await ada.delete()
    # Five chunks of comments went, nothing else: no reference to a missing document.
    assert (await counts(database))["comment"] == 240 - 50
    assert await dangling(database) == []
    raw = await database["author"].find_one({"_id": ada.id})
    entry = await database[JOURNAL_COLLECTION].find_one({})
    assert raw[DELETING_FIELD] == entry["_id"]
    assert entry["chunked"] is True
    assert entry["chunks"] == 5
    assert entry["ids"] == [ada.id]
    # The author is being deleted: a child create or a reference to it is refused.
    with pytest.raises(ParentBeingDeleted) as refused:
        await Post.create(author_id=ada.id)
    assert isinstance(refused.value, DocumentDoesntExist)
    assert refused.value.field == "author_id"
    assert refused.value.ids == (ada.id,)
    assert "being deleted" in str(refused.value)
    other = await Post.find({"author_id": {"$ne": ada.id}}).first()
    assert other is not None
    other.author_id = ada.id
    with pytest.raises(ParentBeingDeleted):
        await other.save()
    with pytest.raises(ParentBeingDeleted):
        await Post.find({"_id": other.id}).update({"$set": {"author_id": ada.id}})

    if resume == "delete":
        await ada.delete()
    else:
        report = await check(fix=True)
        assert report.ok, report
    assert await counts(database) == {
        "author": 1, "post": 30, "comment": 120, "shelf": 2, JOURNAL_COLLECTION: 0
    }  # fmt: skip
    assert await dangling(database) == []
    assert (await check()).ok


KILLED = """
import asyncio, sys
sys.path.insert(0, {tests!r})
import bson
from pymongo import AsyncMongoClient
from chunked_models import MODELS, Author
from mdocument import init


async def main():
    client = AsyncMongoClient({uri!r})
    registry = await init(client[{name!r}], models=MODELS, cascade_chunk=5)
    chunks = 0

    async def pause(point, subject):
        nonlocal chunks
        if point == "chunk":
            chunks += 1
            if chunks == 7:
                print("mid-job", flush=True)
                await asyncio.sleep(3600)

    registry.pause_hook = pause
    author = await Author.get(bson.ObjectId({author!r}))
    await author.delete()


asyncio.run(main())
"""


async def test_a_process_killed_mid_job_is_completed_by_check(server):
    database, uri = server
    await init(database, models=MODELS)
    ada, _ = await tree("Ada"), await tree("Bob")
    script = KILLED.format(tests=str(HERE), uri=uri, name=database.name, author=str(ada.id))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line.strip() == b"mid-job"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == -signal.SIGKILL
    assert (await counts(database))["comment"] == 240 - 35  # seven chunks of five comments
    assert await dangling(database) == []
    entry = await database[JOURNAL_COLLECTION].find_one({})
    assert entry["chunks"] == 7
    with pytest.raises(ParentBeingDeleted):
        await Comment.create(post_id=(await Post.create(author_id=ada.id)).id)
    report = await check(fix=True)
    assert report.ok, report
    assert await counts(database) == {
        "author": 1, "post": 30, "comment": 120, "shelf": 2, JOURNAL_COLLECTION: 0
    }  # fmt: skip
    assert await dangling(database) == []
    assert await Author.get(ada.id) is None


async def test_a_child_under_any_document_of_a_running_job_is_refused(server):
    database, _ = server
    registry = await init(database, models=MODELS, cascade_chunk=10)
    author = await tree("ada", posts=12, comments=2)
    posts = [post.id for post in await Post.many(Post.author_id == author.id)]
    created: list[Any] = []

    async def pause(point: str, subject: Any) -> None:
        if point == "chunk" and not created:
            # The job is under way: its comments go first, its posts later. A comment under
            # one of those posts, not deleted yet, must be refused, not left dangling.
            remaining = [post for post in posts if await Post.get(post) is not None]
            assert remaining
            try:
                created.append(await Comment.create(post_id=remaining[-1]))
            except ParentBeingDeleted as exc:
                created.append(exc)

    registry.pause_hook = pause
    await author.delete()
    registry.pause_hook = None
    assert isinstance(created[0], ParentBeingDeleted), created
    assert await dangling(database) == []
    assert await database["post"].count_documents({}) == 0
