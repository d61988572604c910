"""Running a delete and its cascades: in one transaction, or as a chunked, resumable job.

:func:`cascade_delete` plans the delete (:func:`mdocument.cascade.plan_delete`) and runs the
plan in one transaction where the server has them (the roots guarded first, so that a child
create under them conflicts and waits). Without transactions the plan's writes run children
first, under a journal entry when there are several.

**Chunked deletes.** MongoDB's transactions live 60 seconds by default, and it advises about
1,000 modified documents per transaction. A delete whose plan knows more documents by id than
``registry.cascade_chunk`` (the roots, and every class other documents refer to) therefore runs
as a job:

1. a journal entry is written (``chunked: true``, see :mod:`mdocument.journal`), then the roots
   are marked as being deleted (:data:`~mdocument.integrity.DELETING_FIELD`, one committed
   write): from then on a child create or a reference to them is refused with
   :class:`~mdocument.ParentBeingDeleted`, and a transaction that guarded one of them before
   conflicts with the mark;
2. the delete is planned, and every planned document that others may refer to is marked too,
   then planned again until nothing new appears (children created before a mark are seen);
   then the plan's writes run in their order, children first, each split into chunks of at most
   ``cascade_chunk`` documents, each chunk in its own transaction where the server has them,
   with the entry's ``chunks`` counter increased in the same transaction;
3. the roots go last, then the entry.

An interruption leaves the roots marked and the entry in place, and no reference to a missing
document (children first). Running the delete again, or :func:`mdocument.check` with
``fix=True``, plans what is left and completes it; the entry is reused, not duplicated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mdocument import journal
from mdocument.batching import find_ids
from mdocument.cascade import DeletePlan, plan_delete
from mdocument.integrity import DELETING_FIELD, guard_parents, in_transaction
from mdocument.names import STORED_ID

if TYPE_CHECKING:
    from mdocument.binding import Scope as Registry
    from mdocument.driver import Session
    from mdocument.model import DocumentBase as Document

__all__ = ["CHUNK", "cascade_delete", "delete_in_chunks", "planned_documents"]

CHUNK = 1000
"""The default ``registry.cascade_chunk``: documents per chunk, as MongoDB advises."""

# Rounds of marking and planning before a chunked delete runs what it has (see _plan_marked).
_MARKING_ROUNDS = 5


class _TooLarge(Exception):
    """Raised inside a delete's transaction when its plan is too large for one: roll it back."""

    def __init__(self, roots: list[Any]) -> None:
        super().__init__(f"{len(roots)} roots")
        self.roots = roots


def planned_documents(plan: DeletePlan) -> int:
    """How many documents a plan deletes by id (documents deleted by filter are not known)."""
    return sum(len(ids) for ids in plan.deleting.values())


def _slices(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _by_ids(filter: dict[str, Any]) -> list[Any] | None:
    """The ids of a filter that is only ``{_id: {$in: ids}}``, else ``None``."""
    if list(filter) != [STORED_ID]:
        return None
    condition = filter[STORED_ID]
    if isinstance(condition, dict) and list(condition) == ["$in"]:  # pyright: ignore[reportUnknownArgumentType]
        return list(condition["$in"])  # pyright: ignore[reportUnknownArgumentType]
    return None


async def cascade_delete(
    registry: Registry,
    document: type[Document],
    filter: Mapping[str, Any],
    session: Session | None,
    *,
    ids: list[Any] | None,
    not_found: Callable[[Mapping[str, Any]], Exception],
) -> int:
    """Delete the matching documents and apply the rules of the relations to them.

    With ``ids``, those documents are deleted, and they must all exist (else ``not_found`` of
    the filter is raised, and nothing is kept). Returns how many were deleted. Inside the
    caller's open transaction the delete is never chunked: the caller asked for one.
    """
    chunkable = not in_transaction(session)
    store = registry.store
    collection = registry.repository(document).collection

    async def work(in_session: Session | None) -> int:
        roots = ids if ids is not None else await find_ids(collection, filter, in_session)
        if not roots:
            return 0
        atomic = in_transaction(in_session)
        if atomic:
            # The parents first: a child create that relies on one of them now conflicts
            # and waits, so a steady flow of creates cannot starve a long cascade.
            await guard_parents(registry, document, set(roots), in_session)
            await registry.pause("written", document)
        plan = await plan_delete(registry, {document: roots}, in_session)
        await registry.pause("planned", document)
        if chunkable and planned_documents(plan) > registry.cascade_chunk:
            raise _TooLarge(roots)  # rolled back, nothing written: run as a job instead
        entry = None
        if not atomic and len(plan.writes) > 1:
            name = document.__mdocument_mapping__.collection
            entry = await journal.start(store, "delete", name, roots, in_session)
        deleted = await plan.execute(in_session)
        if entry is not None:
            await journal.finish(store, entry, in_session)
        if ids is not None and deleted < len(ids):
            raise not_found(filter)  # inside the transaction: nothing is kept
        return deleted

    try:
        return await registry.atomic(work, session)
    except _TooLarge as large:
        done = await delete_in_chunks(
            registry, document, large.roots, session, must_exist=ids is not None
        )
    if done is None:
        raise not_found(filter)
    return done


async def delete_in_chunks(
    registry: Registry,
    document: type[Document],
    roots: list[Any],
    session: Session | None,
    *,
    must_exist: bool,
) -> int | None:
    """Delete ``roots`` of ``document`` and their cascades as a chunked job (see above).

    Returns how many roots were deleted; ``None`` when ``must_exist`` and one of them does not
    exist (nothing was written then).
    """
    size = max(1, registry.cascade_chunk)
    store = registry.store
    collection = registry.repository(document).collection
    mapping = document.__mdocument_mapping__
    entry = await journal.start(store, "delete", mapping.collection, roots, None, chunked=True)
    marked = await collection.update_many(
        {STORED_ID: {"$in": roots}}, {"$set": {DELETING_FIELD: entry["_id"]}}, session=session
    )
    if must_exist and marked.matched_count < len(roots):
        await _abandon(registry, {document: set(roots)}, entry, session)
        return None
    marks: dict[type[Document], set[Any]] = {document: set(roots)}
    try:
        plan = await _plan_marked(registry, document, roots, entry, marks, session, size)
    except BaseException:
        await _abandon(registry, marks, entry, session)
        raise
    root_writes = set(map(id, plan.levels[0].deletes))
    deleted = 0
    for write in plan.writes:
        ids = _by_ids(write.filter)
        parts: list[dict[str, Any]]
        if ids is None:
            ids = await find_ids(write.collection, write.filter, session)
            parts = [
                {"$and": [write.filter, {STORED_ID: {"$in": part}}]} for part in _slices(ids, size)
            ]
        else:
            parts = [{STORED_ID: {"$in": part}} for part in _slices(ids, size)]
        for part in parts:
            chunk = dataclasses.replace(write, filter=part)

            async def run(in_session: Session | None, chunk: Any = chunk) -> int:
                count: int = await chunk.run(in_session)
                await journal.progress(store, entry, in_session)
                return count

            count = await registry.atomic(run, session)
            if id(write) in root_writes:
                deleted += count
            await registry.pause("chunk", document)
    await journal.finish(store, entry, session)
    return deleted


async def _plan_marked(
    registry: Registry,
    document: type[Document],
    roots: list[Any],
    entry: journal.Entry,
    marks: dict[type[Document], set[Any]],
    session: Session | None,
    size: int,
) -> DeletePlan:
    """Plan the delete, marking every planned document that others may refer to first.

    A child created under any document of the job (a comment under one of the posts being
    deleted) must be refused while the job runs, or it would be left referring to a deleted
    document. So every planned document of a class that others refer to is marked as being
    deleted, and the delete planned again: the children created before a mark are seen by the
    new plan, and none can be created after it. Until the planned documents are all marked
    (a few rounds: only children created meanwhile add to them).
    """
    for _ in range(_MARKING_ROUNDS):
        plan = await plan_delete(registry, {document: roots}, session)
        new = {
            child: ids - marks.get(child, set())
            for child, ids in plan.deleting.items()
            if registry.graph.incoming(child) and ids - marks.get(child, set())
        }
        if not new:
            return plan
        for child, ids in new.items():
            collection = registry.repository(child).collection
            for part in _slices(sorted(ids), size):
                await collection.update_many(
                    {STORED_ID: {"$in": part}},
                    {"$set": {DELETING_FIELD: entry["_id"]}},
                    session=session,
                )
            marks.setdefault(child, set()).update(ids)
    return await plan_delete(registry, {document: roots}, session)


async def _abandon(
    registry: Registry,
    marks: Mapping[type[Document], set[Any]],
    entry: journal.Entry,
    session: Session | None,
) -> None:
    """Undo the marks and the entry of a chunked delete that deleted nothing."""
    for marked, ids in marks.items():
        collection = registry.repository(marked).collection
        for part in _slices(sorted(ids), max(1, registry.cascade_chunk)):
            await collection.update_many(
                {STORED_ID: {"$in": part}, DELETING_FIELD: entry["_id"]},
                {"$unset": {DELETING_FIELD: ""}},
                session=session,
            )
    await journal.finish(registry.store, entry, session)
