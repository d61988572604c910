"""Running soft deletes and restores (``Meta.soft_delete = True``, see :mod:`mdocument.soft`).

:func:`soft_delete` plans the delete as a real one would (:func:`mdocument.cascade.plan_delete`:
``RESTRICT`` refuses it the same way) and runs the plan softly, in one transaction where the
server has them:

- the deleted documents, and their ``CASCADE`` children, are marked (``_live: false``,
  ``_deleted_at``, and one ``_deletion`` id for the whole delete) instead of removed; documents
  soft-deleted earlier keep their own deletion;
- ``SET_NULL`` and ``PULL`` children are left as they are: the parent still exists, so their
  references stay, and a restore is exact;
- a ``CASCADE`` edge from a soft-delete class to a class without soft delete is refused
  (``TypeError``): its children could not be restored.

:func:`restore` unmarks every document of the deletion that soft-deleted a given one, in every
class, and nothing else.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import bson

from mdocument.batching import find_ids
from mdocument.cascade import plan_delete
from mdocument.driver import BulkWriteError, DuplicateKeyError
from mdocument.duplicates import duplicate_error
from mdocument.exceptions import ParentSoftDeleted
from mdocument.fields import OnDelete
from mdocument.integrity import guard_parents, in_transaction, referenced_ids
from mdocument.names import STORED_ID
from mdocument.soft import DELETED_AT_FIELD, DELETION_FIELD, LIVE_FIELD, hidden, is_soft

if TYPE_CHECKING:
    from mdocument.binding import Scope as Registry
    from mdocument.driver import Session
    from mdocument.graph import Graph
    from mdocument.model import DocumentBase as Document

__all__ = ["Deleting", "refuse_hard_cascades", "restore", "soft_delete"]


def refuse_hard_cascades(graph: Graph, document: type[Document]) -> None:
    """Refuse a ``CASCADE`` edge reached from ``document`` to a class without soft delete."""
    seen: set[type[Document]] = set()
    waiting = [document]
    while waiting:
        parent = waiting.pop()
        if parent in seen:
            continue
        seen.add(parent)
        for edge in graph.incoming(parent):
            if edge.on_delete is not OnDelete.CASCADE:
                continue
            if not is_soft(edge.child):
                raise TypeError(
                    f"{document.__name__} is soft-deleted (Meta.soft_delete = True), but "
                    f"{edge.label} deletes {edge.child.__name__} with it (on_delete=CASCADE) "
                    f"and {edge.child.__name__} has no soft delete: give "
                    f"{edge.child.__name__} Meta.soft_delete = True, or use delete(hard=True)"
                )
            waiting.append(edge.child)


class Deleting(Protocol):
    """What a soft delete needs of the repository of the deleted class."""

    @property
    def registry(self) -> Registry:
        """The registry of the delete."""
        ...

    @property
    def document(self) -> type[Document]:
        """The deleted class."""
        ...

    def not_found(self, query: Mapping[str, Any]) -> Exception:
        """The error of a filter that matches nothing."""
        ...


async def soft_delete(
    repository: Deleting,
    filter: Mapping[str, Any],
    session: Session | None,
    *,
    ids: list[Any] | None = None,
) -> int:
    """Soft-delete the matching live documents and their ``CASCADE`` children (see above).

    With ``ids``, those documents are soft-deleted, and they must all be live (else the
    repository's ``not_found`` of the filter is raised before anything is written). Returns
    how many were.
    """
    registry, document, not_found = repository.registry, repository.document, repository.not_found
    refuse_hard_cascades(registry.graph, document)
    collection = registry.repository(document).collection
    deletion = bson.ObjectId()
    now = datetime.datetime.now(datetime.timezone.utc)
    mark = {"$set": {LIVE_FIELD: False, DELETED_AT_FIELD: now, DELETION_FIELD: deletion}}

    async def work(in_session: Session | None) -> int:
        if ids is not None:
            live = hidden(document, {STORED_ID: {"$in": ids}})
            if await collection.count_documents(live, session=in_session) < len(ids):
                raise not_found(filter)
            roots = ids
        else:
            roots = await find_ids(collection, hidden(document, filter), in_session)
        if not roots:
            return 0
        if in_transaction(in_session):  # a child create under them now conflicts and waits
            await guard_parents(registry, document, set(roots), in_session)
        plan = await plan_delete(registry, {document: roots}, in_session)
        root_writes = set(map(id, plan.levels[0].deletes))
        deleted = 0
        for write in plan.writes:
            if write.update is not None:
                continue  # SET_NULL and PULL: the parent still exists, references stay
            target = hidden(write.document, write.filter)
            result = await write.collection.update_many(target, mark, session=in_session)
            if id(write) in root_writes:
                deleted += result.modified_count
        return deleted

    return await registry.atomic(work, session)


async def restore(repository: Deleting, item: Any, session: Session | None) -> int:
    """Restore every document of the deletion that soft-deleted ``item``; how many were.

    A restored document that refers to a parent soft-deleted by another deletion refuses the
    restore (:class:`~mdocument.ParentSoftDeleted`): restore the parent first.
    """
    registry, not_found = repository.registry, repository.not_found
    collection = registry.repository(repository.document).collection
    target = {STORED_ID: item, LIVE_FIELD: False}
    soft = [each for each in registry.documents if is_soft(each)]

    async def work(in_session: Session | None) -> int:
        raw = await collection.find_one(target, {DELETION_FIELD: 1}, session=in_session)
        if raw is None or raw.get(DELETION_FIELD) is None:
            raise not_found(target)
        deletion = raw[DELETION_FIELD]
        for child in soft:
            await _refuse_deleted_parents(registry, child, deletion, in_session)
        restored = 0
        for each in soft:
            try:
                result = await registry.repository(each).collection.update_many(
                    {DELETION_FIELD: deletion, LIVE_FIELD: False},
                    {
                        "$set": {LIVE_FIELD: True},
                        "$unset": {DELETED_AT_FIELD: "", DELETION_FIELD: ""},
                    },
                    session=in_session,
                )
            except (DuplicateKeyError, BulkWriteError) as exc:
                error = duplicate_error(each, {}, exc)
                if error is None:
                    raise
                raise error from None  # the driver's message holds the raw value
            restored += result.modified_count
        return restored

    return await registry.atomic(work, session)


async def _refuse_deleted_parents(
    registry: Registry, child: type[Document], deletion: Any, session: Session | None
) -> None:
    """Refuse restoring children of ``deletion`` whose parent another deletion soft-deleted."""
    for edge in registry.graph.outgoing(child):
        if not is_soft(edge.parent):
            continue
        rows = await (
            registry.repository(child)
            .collection.find({DELETION_FIELD: deletion}, {edge.field.stored: 1}, session=session)
            .to_list(None)
        )
        wanted = {value for row in rows for value in referenced_ids(edge, row)}
        if not wanted:
            continue
        blocking = {
            STORED_ID: {"$in": list(wanted)},
            LIVE_FIELD: False,
            DELETION_FIELD: {"$ne": deletion},
        }
        parents = registry.repository(edge.parent).collection
        found = await parents.find(blocking, {STORED_ID: 1}, session=session).to_list(None)
        if found:
            ids = [raw[STORED_ID] for raw in found]
            raise ParentSoftDeleted(
                f"{edge.label} refers to {edge.parent.__name__} "
                f"{', '.join(map(str, ids[:5]))}, which was soft-deleted by another deletion: "
                f"restore it first (nothing was restored)",
                document=child,
                field=edge.field.name,
                ids=ids,
            )
