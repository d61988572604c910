"""Several processes write related documents at once; afterwards nothing dangles or is stale.

Each writer process (tests/stress_worker.py) has its own client and runs random creates of
children, renames and deletes of parents, reference moves and bulk updates over several asyncio
tasks. The raw driver then checks that no reference dangles, that every copy equals its source,
and that only documented exceptions were raised. ``MDOCUMENT_STRESS_OPERATIONS`` (per process)
and ``MDOCUMENT_STRESS_PROCESSES`` run a bigger load than CI's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mdocument import init
from mdocument.testing import new_database_name

sys.path.insert(0, str(Path(__file__).parent))
from stress_models import MODELS, Post, User, UserCard

WORKER = Path(__file__).with_name("stress_worker.py")
OPERATIONS = int(os.environ.get("MDOCUMENT_STRESS_OPERATIONS", "150"))
PROCESSES = int(os.environ.get("MDOCUMENT_STRESS_PROCESSES", "3"))
TASKS = 4
TIME_LIMIT = 240.0


async def inconsistencies(database: Any) -> list[str]:
    """References to missing documents and stale copies, read with the raw driver."""

    async def ids(name: str) -> set[Any]:
        return {doc["_id"] for doc in await database[name].find({}, {"_id": 1}).to_list(None)}

    users = {doc["_id"]: doc for doc in await database["user"].find().to_list(None)}
    posts = await ids("post")
    found: list[str] = []
    for post in await database["post"].find().to_list(None):
        source = users.get(post["author"]["id"])
        if post["author_id"] not in users or source is None:
            found.append(f"post {post['_id']} refers to a missing user")
        elif (post["author"]["name"], post["author"]["city"]) != (source["name"], source["city"]):
            found.append(f"post {post['_id']} holds a stale copy {post['author']} of {source}")
        if post["author"]["id"] != post["author_id"]:
            found.append(f"post {post['_id']}: its copy is of another user")
    for comment in await database["comment"].find().to_list(None):
        if comment["post_id"] not in posts or comment["user_id"] not in users:
            found.append(f"comment {comment['_id']} dangles")
    for like in await database["like"].find().to_list(None):
        if like["user_id"] is not None and like["user_id"] not in users:
            found.append(f"like {like['_id']} refers to a missing user")
        if any(post not in posts for post in like["post_ids"]):
            found.append(f"like {like['_id']} refers to a missing post")
    return found


async def run_worker(uri: str, name: str, seed: int) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        uri,
        name,
        str(seed),
        str(OPERATIONS),
        str(TASKS),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-3000:]
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def test_concurrent_writers_leave_related_data_consistent(mongodb_uri, mongodb_database):
    client = mongodb_database.client
    name = new_database_name()
    database = client[name]
    try:
        registry = await init(database, models=MODELS)
        assert registry.supports_transactions
        users = [await User.create(name=f"seed{i}", city="London") for i in range(8)]
        for user in users:
            await Post.create(author_id=user.id, author=UserCard.of(user))
        started = time.monotonic()
        results = await asyncio.gather(
            *(run_worker(mongodb_uri, name, seed) for seed in range(PROCESSES))
        )
        elapsed = time.monotonic() - started
        done: Counter[str] = Counter()
        raised: Counter[str] = Counter()
        for result in results:
            done.update(result["done"])
            raised.update(result["raised"])
        retries = sum(result["retries"] for result in results)
        summary = (
            f"{PROCESSES} processes x {OPERATIONS} operations in {elapsed:.1f} s; "
            f"operations {dict(done)}; raised {dict(raised)}; transaction retries {retries}"
        )
        print(summary)
        assert sum(done.values()) == PROCESSES * OPERATIONS
        assert [kind for kind in raised if kind.startswith("UNDOCUMENTED")] == [], summary
        assert await inconsistencies(database) == [], summary
        assert elapsed < TIME_LIMIT, summary
        # the load really raced: deletes and renames happened alongside creates
        assert done["delete_user"], summary
        assert done["rename"], summary
        assert done["post"], summary
    finally:
        await client.drop_database(name)
