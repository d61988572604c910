"""The journal: a durable record of a multi-step write, written before it and removed after.

Without transactions, a cascade or a sync of copies is several commands, and the process can die
between two of them. Before such a write starts, one entry is inserted into the
``mdocument_journal`` collection of the registry's database; it is deleted once the last command
succeeded. An entry still there names work that may be unfinished, and
:func:`mdocument.check` with ``fix=True`` (``mdocument check --fix``) completes it: completing
is re-running the write, which is idempotent.

Format (one document per multi-step write; the chunked cascades of larger deletes reuse it)::

    {
        "_id": ObjectId,               # the entry
        "op": "delete" | "sync",       # a cascading delete, or a rewrite of synced copies
        "collection": "user",          # the collection of the deleted or changed documents
        "ids": [ObjectId, ...],        # their ids
        "fields": ["name", ...],       # sync only: the stored names whose copies are rewritten
        "created": datetime,           # UTC, when the write started
        "chunked": true,               # chunked deletes only (absent: false)
        "chunks": 12,                  # chunked deletes only: the chunks committed so far
    }

Inside a transaction no entry is written: the write is all-or-nothing already. A chunked delete
(:mod:`mdocument.chunked`) writes its entry on every server, transactions or not: each of its
chunks is a transaction of its own. Entries without ``chunked`` (older ones included) read as
unchunked; completing either kind is the same re-run of the delete.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import bson

if TYPE_CHECKING:
    from mdocument.driver import Session
    from mdocument.store import Store, StoreCollection

__all__ = ["JOURNAL_COLLECTION", "Entry", "finish", "journal", "progress", "start"]

JOURNAL_COLLECTION = "mdocument_journal"
"""The collection that holds the journal, in each registry's database."""

Entry = dict[str, Any]
"""One journal entry, as stored (see the module's documentation for the format)."""


def journal(store: Store) -> StoreCollection:
    """The journal collection of a registry's database."""
    return store.plain_collection(JOURNAL_COLLECTION)


async def start(
    store: Store,
    op: Literal["delete", "sync"],
    collection: str,
    ids: Sequence[Any],
    session: Session | None,
    *,
    fields: Iterable[str] = (),
    chunked: bool = False,
) -> Entry:
    """Record a multi-step write before it starts; returns the entry.

    A ``chunked`` delete resumes the entry of an interrupted run of the very same delete, if
    there is one, instead of writing a second one.
    """
    if chunked:
        same: Entry = {"op": op, "collection": collection, "ids": list(ids), "chunked": True}
        found = await journal(store).find_one(same, session=session)
        if found is not None:
            return dict(found)
    entry: Entry = {
        "_id": bson.ObjectId(),
        "op": op,
        "collection": collection,
        "ids": list(ids),
        "created": datetime.datetime.now(datetime.timezone.utc),
    }
    if op == "sync":
        entry["fields"] = sorted(fields)
    if chunked:
        entry.update(chunked=True, chunks=0)
    await journal(store).insert_one(entry, session=session)
    return entry


async def progress(store: Store, entry: Entry, session: Session | None) -> None:
    """Count one more committed chunk of a chunked delete (in the chunk's transaction)."""
    await journal(store).update_one({"_id": entry["_id"]}, {"$inc": {"chunks": 1}}, session=session)


async def finish(store: Store, entry: Entry, session: Session | None) -> None:
    """Remove the record of a multi-step write that completed.

    Older records of the very same write (an interrupted attempt that this one re-ran to the
    end) are complete now too, and go with it.
    """
    same_write = {key: entry[key] for key in ("op", "collection", "ids")}
    await journal(store).delete_many({"$or": [{"_id": entry["_id"]}, same_write]}, session=session)
