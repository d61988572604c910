"""Moving many ids in few round trips: large cursor batches and bounded ``$in`` lists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mdocument.names import STORED_ID

if TYPE_CHECKING:
    from mdocument.driver import Session
    from mdocument.store import StoreCollection as Collection

__all__ = ["CHUNK", "chunks", "find_ids"]

CHUNK = 50_000
"""Ids per ``$in`` list: a command must stay well under MongoDB's 16 MB document limit."""

# An id-only result is ~25 bytes a document: one batch holds a whole cascade level, where the
# server's default (101 documents, then getMore) would cost a round trip per hundred children.
_ID_BATCH = 100_000


def chunks(ids: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``ids`` in slices small enough for one command."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


async def find_ids(
    collection: Collection, filter: Mapping[str, Any], session: Session | None
) -> list[Any]:
    """The ids of the documents matching ``filter``, in as few batches as the server allows."""
    cursor = collection.find(filter, {STORED_ID: 1}, batch_size=_ID_BATCH, session=session)
    return [raw[STORED_ID] for raw in await cursor.to_list(None)]


async def find_by_ids(
    collection: Collection,
    ids: Sequence[Any],
    session: Session | None,
    projection: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The stored documents with these ids (in any order), a chunk of ids per query."""
    found: list[dict[str, Any]] = []
    for part in chunks(list(ids)):
        cursor = collection.find(
            {STORED_ID: {"$in": list(part)}},
            projection,
            # One more than can match: with exactly len(part) the server keeps the cursor
            # open and the driver asks again.
            batch_size=len(part) + 1,
            session=session,
        )
        found.extend(await cursor.to_list(None))
    return found
