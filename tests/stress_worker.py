"""One writer process of the concurrency stress test (tests/test_stress.py runs several).

Usage: ``python tests/stress_worker.py URI DATABASE SEED OPERATIONS TASKS``. Runs ``OPERATIONS``
random writes over ``TASKS`` asyncio tasks sharing one client, then prints one JSON line: the
operations done, the exceptions raised by type, the transaction retries, the seconds taken.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from typing import Any

from pymongo import AsyncMongoClient

from mdocument import DocumentDoesntExist, NotFoundError, TransactionConflict, init, store

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from stress_models import MODELS, Comment, Like, Post, User, UserCard

# What the docs say concurrent writes may raise: the parent went first, or the document did.
DOCUMENTED = (DocumentDoesntExist, NotFoundError, TransactionConflict)


async def pick(model: Any, rng: random.Random) -> Any:
    ids = [doc["_id"] async for doc in model._repository().collection.find({}, {"_id": 1})]
    return rng.choice(ids) if ids else None


async def one(rng: random.Random, done: Counter[str]) -> None:
    operation = rng.choice(
        ["user", "post", "post", "comment", "comment", "like", "rename", "delete_user",
         "delete_post", "move_post"]
    )  # fmt: skip
    done[operation] += 1
    if operation == "user":
        await User.create(name=f"u{rng.randrange(10**6)}")
        return
    user_id = await pick(User, rng)
    if user_id is None:
        return
    user = await User.get(user_id)
    if operation == "post" and user is not None:
        await Post.create(author_id=user.id, author=UserCard.of(user))
    elif operation == "comment":
        post_id = await pick(Post, rng)
        if post_id is not None:
            await Comment.create(post_id=post_id, user_id=user_id)
    elif operation == "like":
        post_id = await pick(Post, rng)
        await Like.create(user_id=user_id, post_ids=[post_id] if post_id else [])
    elif operation == "rename" and user is not None:
        user.name = f"renamed{rng.randrange(10**6)}"
        user.city = rng.choice(["London", "Paris", "Rome"])
        await user.save()
    elif operation == "delete_user" and user is not None:
        await user.delete()
    elif operation == "delete_post":
        post = await Post.get(await pick(Post, rng)) if await Post.count() else None
        if post is not None:
            await post.delete()
    elif operation == "move_post" and user is not None:
        post_id = await pick(Post, rng)
        if post_id is not None:
            await Post.find(Post.id == post_id).update(
                {"$set": {"author_id": user.id, "author": UserCard.of(user)}}
            )


async def main(uri: str, name: str, seed: int, operations: int, tasks: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    await init(client[name], models=MODELS, create_indexes=False)
    rng = random.Random(seed)
    done: Counter[str] = Counter()
    raised: Counter[str] = Counter()
    queue = list(range(operations))
    started = time.monotonic()

    async def worker() -> None:
        while queue:
            queue.pop()
            try:
                await one(rng, done)
            except DOCUMENTED as exc:
                raised[type(exc).__name__] += 1
            except Exception as exc:
                raised[f"UNDOCUMENTED {type(exc).__name__}: {exc}"[:300]] += 1

    await asyncio.gather(*(worker() for _ in range(tasks)))
    print(
        json.dumps(
            {
                "done": done,
                "raised": raised,
                "retries": store.retries,
                "seconds": round(time.monotonic() - started, 2),
            }
        )
    )
    await client.close()


if __name__ == "__main__":
    uri, name, seed, operations, tasks = sys.argv[1:6]
    asyncio.run(main(uri, name, int(seed), int(operations), int(tasks)))
