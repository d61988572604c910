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
    }

Inside a transaction no entry is written: the write is all-or-nothing already.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import bson

if TYPE_CHECKING:
    from mdocument.driver import Session
    from mdocument.store import Store, StoreCollection

__all__ = ["JOURNAL_COLLECTION", "Entry", "finish", "journal", "start"]

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
) -> Entry:
    """Record a multi-step write before it starts; returns the entry."""
    entry: Entry = {
        "_id": bson.ObjectId(),
        "op": op,
        "collection": collection,
        "ids": list(ids),
        "created": datetime.datetime.now(datetime.timezone.utc),
    }
    if op == "sync":
        entry["fields"] = sorted(fields)
    await journal(store).insert_one(entry, session=session)
    return entry


async def finish(store: Store, entry: Entry, session: Session | None) -> None:
    """Remove the record of a multi-step write that completed.

    Older records of the very same write (an interrupted attempt that this one re-ran to the
    end) are complete now too, and go with it.
    """
    same_write = {key: entry[key] for key in ("op", "collection", "ids")}
    await journal(store).delete_many({"$or": [{"_id": entry["_id"]}, same_write]}, session=session)
