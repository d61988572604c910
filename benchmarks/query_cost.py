"""What building and compiling a typed query costs, next to the round trip that runs it.

For each query: the client CPU time of building the expression and compiling it to the filter
MongoDB receives (``Post.id == oid`` -> ``{"_id": oid}``), per query, over many repetitions; and
the median wall time of a find-by-id round trip on the same server (``await Post.get(id)``).
The ratio is the share of a find-by-id that the query language adds.

    python benchmarks/query_cost.py           # embedded server, or $MONGODB_URI
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from mdocument import Document, Field, desc, in_, init
from mdocument.embedded import EmbeddedServer
from mdocument.query import compile_filter, compile_sort


class Author(Document):
    name: str


class Post(Document):
    title: str
    views: int = 0
    tags: list[str] = Field(default_factory=list)


def per_call(work: Callable[[], Any], repeat: int = 20_000) -> float:
    """Median client CPU seconds of one call, over five runs of ``repeat`` calls."""
    runs = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(repeat):
            work()
        runs.append((time.process_time() - started) / repeat)
    return statistics.median(runs)


async def round_trip(uri: str, samples: int = 300) -> tuple[float, float]:
    """Median wall and client-CPU seconds of ``await Post.get(id)``."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    database = client["bench_query_cost"]
    try:
        await client.drop_database(database.name)
        await init(database, models=[Author, Post])
        posts = await Post.insert_many([Post(title=f"t{i}", views=i) for i in range(samples)])
        walls, cpus = [], []
        for post in posts:
            wall, cpu = time.perf_counter(), time.process_time()
            await Post.get(post.id)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        return statistics.median(walls), statistics.median(cpus)
    finally:
        await client.drop_database(database.name)
        await client.close()


def measure(uri: str) -> list[tuple[str, float]]:
    """The queries' build+compile costs in seconds (after the round trips, to warm up)."""
    mapping = Post.__mdocument_mapping__
    oid = ObjectId()
    queries: list[tuple[str, Callable[[], Any]]] = [
        ("Post.id == oid", lambda: compile_filter(mapping, Post.id == oid)),
        ('{"_id": oid} (dict)', lambda: compile_filter(mapping, {"_id": oid})),
        (
            '(Post.views > 10) & (Post.title == "x")',
            lambda: compile_filter(mapping, (Post.views > 10) & (Post.title == "x")),
        ),
        ('in_(Post.tags, ["a", "b"])', lambda: compile_filter(mapping, in_(Post.tags, ["a", "b"]))),
        ("sort(desc(Post.views))", lambda: compile_sort(mapping, [desc(Post.views)])),
    ]
    return [(label, per_call(work)) for label, work in queries]


def main() -> None:
    with ExitStack() as stack:
        uri = os.environ.get("MONGODB_URI") or stack.enter_context(EmbeddedServer()).uri
        wall, cpu = asyncio.run(round_trip(uri))
    costs = measure(uri)
    print(
        f"find-by-id round trip (await Post.get(id)): {wall * 1e6:,.0f} µs wall, "
        f"{cpu * 1e6:,.0f} µs client CPU (medians)\n"
    )
    print(f"{'query':<42} {'build+compile µs':>16} {'% of round trip':>16}")
    for label, seconds in costs:
        print(f"{label:<42} {seconds * 1e6:>16.1f} {seconds / wall * 100:>15.2f}%")


if __name__ == "__main__":
    main()
