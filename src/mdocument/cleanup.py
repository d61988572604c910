"""What a failed write leaves behind without a transaction, and removing exactly that.

An ordered ``insert_many`` that fails part-way has written a prefix of its batch. Without a
transaction to roll it back, :func:`undo_partial_insert` deletes what this call wrote, and never
a document that was stored before it (one whose id collided).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mdocument.driver import BulkWriteError
from mdocument.names import STORED_ID

if TYPE_CHECKING:
    from mdocument.driver import Session
    from mdocument.store import StoreCollection

__all__ = ["undo_partial_insert"]


async def undo_partial_insert(
    collection: StoreCollection,
    stored: Sequence[Mapping[str, Any]],
    error: BaseException,
    session: Session | None,
) -> None:
    """Delete what a failed ordered ``insert_many`` wrote, and nothing else.

    Without transactions the insert may have written a prefix of the batch. An id that
    collided belongs to a document stored before this call (a retried call, or a batch
    holding a stored document's id): it must survive, so deleting by the batch's ids is
    wrong. The server reports where the ordered insert stopped; when it cannot say (the
    connection dropped), only documents equal to this call's own are deleted.
    """
    if isinstance(error, BulkWriteError):
        errors: list[dict[str, Any]] = error.details.get("writeErrors") or []
        written: int = min((int(e["index"]) for e in errors), default=len(stored))
        ids = [form[STORED_ID] for form in stored[:written]]
        if ids:
            await collection.delete_many({STORED_ID: {"$in": ids}}, session=session)
        return
    # Whole-document equality, as a literal so that no stored key acts as an operator.
    await collection.delete_many(
        {
            STORED_ID: {"$in": [form[STORED_ID] for form in stored]},
            "$expr": {"$in": ["$$ROOT", {"$literal": stored}]},
        },
        session=session,
    )
