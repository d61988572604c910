"""Cascades at scale: mdocument against the same work written by hand with the raw driver.

Two tasks, each repeated on freshly built data:

- delete: deleting an organisation with 10,000 descendants (100 teams, 9,900 people who also
  appear, by id, in badge lists) -- ``await org.delete()`` against the finds, ``delete_many`` and
  ``update_many`` a developer would write for the same rules;
- rename: renaming a user whose name is copied into 10,000 posts -- ``user.name = ...;
  await user.save()`` against ``update_one`` plus ``update_many`` on ``author.id``.

Both sides run in a transaction (mdocument's default on a replica set, which the embedded server
is); ``--no-transaction`` on the hand-written side shows what that costs. ``--standalone`` runs
both on a server without transactions: the embedded server deletes about 150 documents a second
inside a transaction, and aborts a transaction after 60 seconds (a limit its command line cannot
change), so 10,000 descendants only fit there without one. Reported per task:
round trips (commands seen by the driver's command monitoring), wall time and the client
process's CPU time (the server runs in another process), medians over ``--repeat`` runs.

    python benchmarks/cascade.py            # embedded server, or $MONGODB_URI
    python benchmarks/cascade.py --quick    # 1,000 descendants, for a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, monitoring

from mdocument import Document, Field, ObjectId, Ref, RefList, Synced, init
from mdocument.embedded import EmbeddedServer


class Counter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in ("hello", "isMaster", "ismaster", "endSessions"):
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Org(Document):
    name: str


class Team(Document):
    org_id: Ref[Org]


class Person(Document):
    team_id: Ref[Team]


class Badge(Document):
    person_ids: RefList[Person] = Field(default_factory=list)


class User(Document):
    name: str


class AuthorCard(Synced[User]):
    id: ObjectId
    name: str


class Post(Document):
    author: AuthorCard
    title: str


@dataclass
class Sample:
    round_trips: int
    wall: float
    cpu: float


async def build_org(db: Any, descendants: int) -> ObjectId:
    """An org, 1% of the descendants as teams, the rest people, each person in one badge."""
    teams = max(1, descendants // 100)
    people = descendants - teams
    org_id = ObjectId()
    await db.org.insert_one({"_id": org_id, "name": "acme"})
    team_ids = [ObjectId() for _ in range(teams)]
    await db.team.insert_many([{"_id": t, "org_id": org_id} for t in team_ids])
    person_ids = [ObjectId() for _ in range(people)]
    await db.person.insert_many(
        [{"_id": p, "team_id": team_ids[i % teams]} for i, p in enumerate(person_ids)]
    )
    # Badges live outside the org (they are not its descendants): each lists two people, and
    # loses them, or goes, with them.
    await db.badge.insert_many([{"person_ids": person_ids[i : i + 2]} for i in range(0, people, 2)])
    return org_id


async def build_posts(db: Any, copies: int) -> ObjectId:
    user_id = ObjectId()
    await db.user.insert_one({"_id": user_id, "name": "Ada"})
    await db.post.insert_many(
        [{"author": {"id": user_id, "name": "Ada"}, "title": f"p{i}"} for i in range(copies)]
    )
    return user_id


async def ids(cursor: Any) -> list[Any]:
    return [document["_id"] for document in await cursor.to_list(None)]


async def by_hand_delete(db: Any, org_id: ObjectId, session: Any) -> None:
    """The same rules written with the driver, as an expert would: teams and people cascade,
    badges whose people all go are deleted, the others lose those people; children first."""
    batch = 100_000  # id-only results in one batch, as mdocument reads them
    team_ids = await ids(
        db.team.find({"org_id": org_id}, {"_id": 1}, batch_size=batch, session=session)
    )
    person_ids = await ids(
        db.person.find(
            {"team_id": {"$in": team_ids}}, {"_id": 1}, batch_size=batch, session=session
        )
    )
    await db.badge.delete_many(
        {"person_ids": {"$in": person_ids, "$not": {"$elemMatch": {"$nin": person_ids}}}},
        session=session,
    )
    await db.badge.update_many(
        {"person_ids": {"$in": person_ids}},
        {"$pull": {"person_ids": {"$in": person_ids}}},
        session=session,
    )
    await db.person.delete_many({"_id": {"$in": person_ids}}, session=session)
    await db.team.delete_many({"_id": {"$in": team_ids}}, session=session)
    await db.org.delete_one({"_id": org_id}, session=session)


async def by_hand_rename(db: Any, user_id: ObjectId, name: str, session: Any) -> None:
    await db.user.update_one({"_id": user_id}, {"$set": {"name": name}}, session=session)
    await db.post.update_many(
        {"author.id": user_id}, {"$set": {"author.name": name}}, session=session
    )


async def measure(counter: Counter, work: Callable[[], Awaitable[None]]) -> Sample:
    before = counter.count
    wall, cpu = time.perf_counter(), time.process_time()
    await work()
    return Sample(counter.count - before, time.perf_counter() - wall, time.process_time() - cpu)


async def in_transaction(
    client: Any, transaction: bool, work: Callable[[Any], Awaitable[None]]
) -> None:
    if not transaction:
        await work(None)
        return
    async with client.start_session() as session:
        await session.with_transaction(work)


async def one_round(
    client: Any, counter: Counter, db: Any, contender: str, size: int, transaction: bool
) -> tuple[Sample, Sample]:
    """Build the data, then time the delete and the rename of one contender."""
    await client.drop_database(db.name)
    await init(db, models=[Org, Team, Person, Badge, User, Post])
    org_id = await build_org(db, size)
    user_id = await build_posts(db, size)
    if contender == "mdocument":
        org, user = await Org.get(org_id), await User.get(user_id)
        assert org is not None
        assert user is not None
        user.name = "Ada Lovelace"
        delete = await measure(counter, org.delete)
        rename = await measure(counter, user.save)
    else:

        async def delete_by_hand() -> None:
            await in_transaction(client, transaction, lambda s: by_hand_delete(db, org_id, s))

        async def rename_by_hand() -> None:
            await in_transaction(
                client, transaction, lambda s: by_hand_rename(db, user_id, "Ada L", s)
            )

        delete = await measure(counter, delete_by_hand)
        rename = await measure(counter, rename_by_hand)
    assert await db.person.count_documents({}) == 0
    assert await db.post.count_documents({"author.name": "Ada"}) == 0
    await client.drop_database(db.name)
    return delete, rename


async def run(
    uri: str, size: int, repeat: int, transaction: bool
) -> dict[str, dict[str, list[Sample]]]:
    results: dict[str, dict[str, list[Sample]]] = {
        "delete": {"mdocument": [], "by hand": []},
        "rename": {"mdocument": [], "by hand": []},
    }
    for round_ in range(repeat):
        for contender in ("mdocument", "by hand"):
            # A client per round: the embedded server closes connections idle for 5 minutes,
            # which a long round leaves behind.
            counter = Counter()
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                uri, event_listeners=[counter]
            )
            try:
                db = client[f"bench_cascade_{round_}_{contender.replace(' ', '_')}"]
                delete, rename = await one_round(client, counter, db, contender, size, transaction)
            finally:
                await client.close()
            results["delete"][contender].append(delete)
            results["rename"][contender].append(rename)
            print(
                f"  round {round_ + 1}/{repeat} {contender}: delete {delete.wall:.2f}s, "
                f"rename {rename.wall:.2f}s",
                file=sys.stderr,
            )
    return results


def report(results: dict[str, dict[str, list[Sample]]], size: int, transaction: bool) -> None:
    print(
        f"\n{size:,} descendants / copies; medians; hand-written side "
        f"{'in a transaction' if transaction else 'without a transaction'}\n"
    )
    print(
        f"{'task':<8} {'contender':<10} {'round trips':>11} {'wall s':>8} {'client CPU s':>13}"
        f" {'CPU ratio':>9}"
    )
    for task, contenders in results.items():
        raw_cpu = statistics.median(s.cpu for s in contenders["by hand"])
        for contender, samples in contenders.items():
            trips = statistics.median(s.round_trips for s in samples)
            wall = statistics.median(s.wall for s in samples)
            cpu = statistics.median(s.cpu for s in samples)
            print(
                f"{task:<8} {contender:<10} {trips:>11.0f} {wall:>8.3f} {cpu:>13.4f}"
                f" {cpu / raw_cpu:>9.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 descendants, one round")
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="an embedded server without transactions (neither side uses one)",
    )
    parser.add_argument(
        "--no-transaction",
        action="store_true",
        help="run the hand-written side without a transaction",
    )
    args = parser.parse_args()
    size, repeat = (1_000, 1) if args.quick else (args.size, args.repeat)
    with ExitStack() as stack:
        uri = os.environ.get("MONGODB_URI") or (
            stack.enter_context(EmbeddedServer(standalone=args.standalone)).uri
        )
        transaction = not (args.no_transaction or args.standalone)
        results = asyncio.run(run(uri, size, repeat, transaction))
    report(results, size, transaction)


if __name__ == "__main__":
    main()
