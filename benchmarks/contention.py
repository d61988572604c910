"""Hot parents: what the consistency guard costs when many children are created at once.

A child's create writes its parent (the guard, see docs/relations.md "Consistency") in the
create's transaction, so creates under one parent serialize: the losers of each write conflict
are retried with backoff. Three runs of ``--creates`` concurrent creates (asyncio tasks on one
client, a transaction each):

- one parent: every create refers to the same document (a popular tag, a tenant root);
- spread: every create refers to a parent of its own (no conflicts);
- no relation: the same document without a reference (no transaction, no guard): the floor.

Reported per run: wall time, creates per second, transaction retries, and the slowest create.

    python benchmarks/contention.py                 # embedded server, or $MONGODB_URI
    python benchmarks/contention.py --creates 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from contextlib import ExitStack
from typing import Any

from pymongo import AsyncMongoClient

from mdocument import Document, Ref, init, store
from mdocument.embedded import EmbeddedServer


class Tenant(Document):
    name: str


class Item(Document):
    tenant_id: Ref[Tenant]
    label: str = ""


class Loose(Document):
    label: str = ""


async def timed(creates: list[Any]) -> tuple[float, float]:
    slowest = 0.0

    async def one(create: Any) -> None:
        nonlocal slowest
        started = time.perf_counter()
        await create()
        slowest = max(slowest, time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(create) for create in creates))
    return time.perf_counter() - started, slowest


async def run(uri: str, creates: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    database = client[f"mdocument_contention_{os.getpid()}"]
    try:
        registry = await init(database, models=[Tenant, Item, Loose])
        registry.transaction_deadline = 60.0
        hot = await Tenant.create(name="hot")
        tenants = [await Tenant.create(name=f"t{i}") for i in range(creates)]
        runs = {
            "one parent": [lambda: Item.create(tenant_id=hot.id) for _ in range(creates)],
            "spread": [lambda t=t: Item.create(tenant_id=t.id) for t in tenants],
            "no relation": [lambda: Loose.create() for _ in range(creates)],
        }
        print(f"{creates} concurrent creates, transactions: {registry.supports_transactions}")
        print(f"{'run':<12} {'wall s':>8} {'creates/s':>10} {'retries':>8} {'slowest s':>10}")
        for name, work in runs.items():
            before = store.retries
            wall, slowest = await timed(work)
            print(
                f"{name:<12} {wall:>8.2f} {creates / wall:>10.0f} "
                f"{store.retries - before:>8} {slowest:>10.2f}"
            )
        assert await Item.count() == 2 * creates
    finally:
        await client.drop_database(database.name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=50)
    args = parser.parse_args()
    with ExitStack() as stack:
        uri = os.environ.get("MONGODB_URI") or stack.enter_context(EmbeddedServer()).uri
        asyncio.run(run(uri, args.creates))


if __name__ == "__main__":
    main()
