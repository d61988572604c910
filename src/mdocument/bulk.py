"""The bulk writer: creates, saves and deletes queued, then sent in few batched writes.

``async with mdocument.bulk() as bulk:`` queues writes; when the block ends normally they are
sent, in one transaction where the server has them:

1. the hooks ``before_save`` / ``before_delete`` run, then every queued create and save is
   validated (nothing is sent when one is invalid);
2. class by class, parents before children, the references of the class's creates and saves
   are checked (and their parents guarded), then one ``bulk_write`` per collection sends its
   inserts and updates (a child created in the same bulk as its parent sees it);
3. copies of the saved documents held elsewhere are rewritten from the stored documents;
4. every queued delete, of every class, is planned once and executed once (their cascades
   batched: one write per edge per level, children first).

An exception inside the block sends nothing. An error while sending names the queued document
and the operation (``error.operation``, ``error.document_id``), keeping its type; in a
transaction nothing of the batch is kept. Without transactions, classes are written parents
first and deletes children first, so an interruption leaves no reference to a missing
document, but leaves the writes made before it (copies rewritten are journaled first).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mdocument import binding, journal
from mdocument.batching import find_ids
from mdocument.cascade import children_first, plan_delete
from mdocument.changes import (
    REVISION_FIELD,
    RegistryRef,
    diff,
    inserted,
    registry_of,
    remember,
    revision_of,
    set_registry,
    set_revision,
)
from mdocument.driver import BulkWriteError, InsertOne, UpdateOne
from mdocument.exceptions import DocumentDoesntExist, DocumentException, RevisionConflict
from mdocument.integrity import check_references, guard_parents, in_transaction, referenced_ids
from mdocument.kinds import refuse_write
from mdocument.names import STORED_ID
from mdocument.shards import refuse_shard_key_change, shard_filter
from mdocument.soft import marked

if TYPE_CHECKING:
    from mdocument.binding import Scope as Registry
    from mdocument.driver import Session
    from mdocument.graph import Edge
    from mdocument.model import DocumentBase as Document
    from mdocument.repository import Repository

__all__ = ["Bulk", "bulk"]

Operation = Literal["create", "save", "delete"]


@dataclass(eq=False)
class _Queued:
    """One queued write."""

    operation: Operation
    document: Document
    repository: Repository[Any]
    stored: dict[str, Any] = field(default_factory=lambda: {})
    baseline: dict[str, Any] | None = None
    edges: list[Edge] = field(default_factory=lambda: [])
    touched: set[str] = field(default_factory=lambda: set[str]())
    expected: int | None = None
    changed: bool = False

    @property
    def label(self) -> str:
        return f"{self.operation} of {type(self.document).__name__} {self.document.id}"


def _named(error: DocumentException, queued: _Queued) -> DocumentException:
    """``error`` with a message that names the queued document and operation (same type)."""
    error.message = f"bulk: {queued.label}: {error.message}"
    error.args = (error.message,)
    vars(error).update(operation=queued.operation, document_id=queued.document.id)
    return error


class Bulk:
    """Writes queued by :func:`bulk`, sent when its block ends (see :mod:`mdocument.bulk`)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._queued: list[_Queued] = []
        self._ref = RegistryRef(registry)

    def __len__(self) -> int:
        return len(self._queued)

    def _queue(self, operation: Operation, document: Document) -> None:
        refuse_write(type(document), f"bulk {operation}()")
        own = registry_of(document)
        if own is not None and own is not self.registry:
            raise binding.CrossRegistryWrite(
                f"{type(document).__name__} {document.id} belongs to {own!r}, but the bulk "
                f"writes to {self.registry!r}; nothing was queued",
                document=type(document),
            )
        if any(queued.document is document for queued in self._queued):
            raise ValueError(
                f"{type(document).__name__} {document.id} is queued in this bulk already"
            )
        repository: Repository[Any] = binding.repository_of(type(document), self.registry)
        stored = repository.stored_form(document) is not None
        if operation == "create" and stored:
            raise ValueError(
                f"bulk create of {type(document).__name__} {document.id}: it is stored "
                "already (queue a save instead)"
            )
        if operation == "delete" and not stored:
            raise repository.not_found({STORED_ID: document.id})
        self._queued.append(_Queued(operation, document, repository))

    def create(self, document: Document) -> None:
        """Queue the insert of a new document."""
        self._queue("create", document)

    def save(self, document: Document) -> None:
        """Queue a save: an insert if the document is new, else its changes."""
        self._queue("save", document)

    def delete(self, document: Document) -> None:
        """Queue the delete of a stored document (its cascade rules run with it)."""
        self._queue("delete", document)

    # -- sending ------------------------------------------------------------------------------

    async def _prepare(self) -> None:
        """Hooks, validation, and what each create or save sends (before any write)."""
        for queued in self._queued:
            hook = "before_delete" if queued.operation == "delete" else "before_save"
            if hook in queued.repository.hooks:
                await getattr(queued.document, hook)()
        for queued in self._queued:
            if queued.operation == "delete":
                continue
            repository, document = queued.repository, queued.document
            queued.stored = repository.checked_form(document)
            queued.baseline = repository.stored_form(document)
            if queued.baseline is None:
                queued.operation = "create"
                queued.edges = [
                    edge for edge in repository.outgoing if referenced_ids(edge, queued.stored)
                ]
                continue
            if shard_filter(repository.mapping, queued.baseline):
                refuse_shard_key_change(repository.mapping, queued.baseline, queued.stored)
            queued.touched = diff(queued.baseline, queued.stored).top_level()
            queued.edges = [
                edge for edge in repository.outgoing if edge.field.stored in queued.touched
            ]
            queued.expected = revision_of(document) if repository.revisioned else None

    def _parent_keys(self, session: Session | None) -> set[tuple[str, Any]]:
        if in_transaction(session):
            return set()
        return {
            (edge.parent.__mdocument_mapping__.collection, item)
            for queued in self._queued
            for edge in queued.edges
            for item in referenced_ids(edge, queued.stored)
        }

    async def flush(self, session: Session | None = None) -> None:
        """Send the queued writes (the end of the ``async with`` block calls it)."""
        queued = list(self._queued)
        try:
            await self._prepare()
            async with self.registry.guarding(self._parent_keys(session)):
                await self.registry.atomic(self._work, session)
        finally:
            self._queued = []
        for item in queued:
            self._mark(item)
        for item in queued:
            hook = "after_delete" if item.operation == "delete" else "after_save"
            if hook in item.repository.hooks:
                await getattr(item.document, hook)()

    def _mark(self, queued: _Queued) -> None:
        """Record the state of a written instance, as the repository does."""
        repository, document = queued.repository, queued.document
        if queued.operation == "delete":
            remember(document, None, raw=False)
        elif queued.operation == "create":
            inserted(document, queued.stored, self._ref, 1 if repository.revisioned else None)
        else:
            remember(document, queued.stored, raw=False)
            if queued.changed and queued.expected is not None:
                set_revision(document, queued.expected + 1)
            set_registry(document, self._ref)

    async def _work(self, session: Session | None) -> None:
        writes = [item for item in self._queued if item.operation != "delete"]
        by_class: dict[type[Document], list[_Queued]] = defaultdict(list)
        for item in writes:
            by_class[type(item.document)].append(item)
        rank = children_first(self.registry)
        # Parents first: a child's check sees a parent created in the same bulk.
        for document in sorted(by_class, key=lambda cls: -rank.get(cls, 0)):
            await self._write_class(by_class[document], session)
        await self._sync(writes, session)
        await self._delete([item for item in self._queued if item.operation == "delete"], session)

    async def _check(self, batch: list[_Queued], session: Session | None) -> None:
        groups: dict[frozenset[Edge], list[_Queued]] = defaultdict(list)
        for item in batch:
            if item.edges:
                groups[frozenset(item.edges)].append(item)
        for edges, items in groups.items():
            pairs = [(item.document, item.stored) for item in items]
            try:
                await check_references(self.registry, edges, pairs, session)
            except DocumentDoesntExist as exc:
                raise _named(exc, _culprit(exc, items)) from None

    async def _write_class(self, batch: list[_Queued], session: Session | None) -> None:
        await self._check(batch, session)
        repository = batch[0].repository
        revision = REVISION_FIELD if repository.revisioned else None
        requests: list[InsertOne[dict[str, Any]] | UpdateOne] = []
        sent: list[_Queued] = []
        for item in batch:  # the inserts, then the updates: one command of each
            if item.operation == "create":
                row = {**item.stored, revision: 1} if revision else item.stored
                row = marked(repository.document, row)  # Meta.soft_delete: _live
                requests.append(InsertOne(row))
                sent.append(item)
        updates: list[_Queued] = []
        for item in batch:
            if item.operation != "save":
                continue
            assert item.baseline is not None
            changes = diff(item.baseline, item.stored)  # after the check refreshed copies
            if not changes:
                continue
            item.changed = True
            spec = changes.update_spec()
            target: dict[str, Any] = {
                STORED_ID: item.document.id,
                **shard_filter(repository.mapping, item.baseline),
            }
            if revision:
                target[revision] = item.expected or {"$in": [None, 0]}
                spec["$inc"] = {revision: 1}
            requests.append(UpdateOne(target, spec))
            sent.append(item)
            updates.append(item)
        if not requests:
            return
        if revision and updates:
            await self._missing(updates, session, written=False)
        try:
            result = await repository.collection.bulk_write(requests, ordered=True, session=session)
        except BulkWriteError as exc:
            errors: list[dict[str, Any]] = (exc.details or {}).get("writeErrors") or [{}]
            index: int = errors[0].get("index", 0)
            failed = sent[index]
            error = repository.duplicate_error(exc)
            if error is None:
                raise
            raise _named(error, failed) from None
        if result.matched_count < len(updates):
            await self._missing(updates, session, written=True)

    async def _missing(
        self, updates: list[_Queued], session: Session | None, *, written: bool
    ) -> None:
        """Name the first update that cannot match: its document is gone, or newer.

        Before the write (``written=False``) for revisioned classes: the stored revisions are
        read and compared with the instances'. After it, for an update that matched nothing.
        """
        repository = updates[0].repository
        ids = [item.document.id for item in updates]
        found = await repository.collection.find(
            {STORED_ID: {"$in": ids}}, {STORED_ID: 1, REVISION_FIELD: 1}, session=session
        ).to_list()
        revisions = {raw[STORED_ID]: raw.get(REVISION_FIELD) or 0 for raw in found}
        stale: _Queued | None = None
        for item in updates:
            document = item.document
            if document.id not in revisions:
                raise _named(repository.not_found({STORED_ID: document.id}), item)
            if item.expected is not None and revisions[document.id] != item.expected:
                stale = stale or item
        if written:  # every document exists: one changed between the read and the write
            stale = stale or next((item for item in updates if item.expected is not None), None)
        if stale is not None:
            document, expected = stale.document, stale.expected or 0
            error = RevisionConflict(
                f"{type(document).__name__} {document.id} changed since this instance was "
                f"loaded or saved (revision {expected}); nothing was written: reload it "
                "and apply the change again",
                document=type(document),
                document_id=document.id,
                expected=expected,
            )
            raise _named(error, stale)

    async def _sync(self, writes: list[_Queued], session: Session | None) -> None:
        """Rewrite the copies of saved documents from the stored documents, class by class."""
        by_class: dict[type[Document], list[_Queued]] = defaultdict(list)
        for item in writes:
            if item.changed and item.repository.syncs(item.touched):
                by_class[type(item.document)].append(item)
        for items in by_class.values():
            ids = [item.document.id for item in items]
            touched = set[str]().union(*(item.touched for item in items))
            await items[0].repository.sync_from_stored(ids, touched, session)

    async def _delete(self, deletes: list[_Queued], session: Session | None) -> None:
        """Plan every queued delete at once and run the plan once (children first)."""
        if not deletes:
            return
        roots: dict[type[Document], list[Any]] = defaultdict(list)
        for item in deletes:
            roots[type(item.document)].append(item.document.id)
        for document, ids in roots.items():
            collection = self.registry.repository(document).collection
            existing = set(await find_ids(collection, {STORED_ID: {"$in": ids}}, session))
            for item in deletes:
                if type(item.document) is document and item.document.id not in existing:
                    not_found = item.repository.not_found({STORED_ID: item.document.id})
                    raise _named(not_found, item)
            if in_transaction(session):
                await guard_parents(self.registry, document, set(ids), session)
        plan = await plan_delete(self.registry, roots, session)
        entries: list[journal.Entry] = []
        if not in_transaction(session) and len(plan.writes) > 1:
            for document, ids in roots.items():
                name = document.__mdocument_mapping__.collection
                entries.append(
                    await journal.start(self.registry.store, "delete", name, ids, session)
                )
        await plan.execute(session)
        for entry in entries:
            await journal.finish(self.registry.store, entry, session)


def _culprit(error: DocumentDoesntExist, items: Iterable[_Queued]) -> _Queued:
    """The queued write whose references hold an id the error names."""
    missing = set(error.ids)
    candidates = list(items)
    for item in candidates:
        for edge in item.edges:
            if missing.intersection(referenced_ids(edge, item.stored)):
                return item
    return candidates[0]


@contextlib.asynccontextmanager
async def bulk(*, session: Session | None = None) -> AsyncGenerator[Bulk]:
    """Queue creates, saves and deletes; send them in batches when the block ends.

    ``async with mdocument.bulk() as batch: batch.create(post); batch.delete(old)``. The
    writes go to the active registry, in one transaction where the server has them, with
    ``session`` when given. An exception inside the block sends nothing.
    """
    writer = Bulk(binding.active())
    yield writer
    with binding.use(writer.registry):  # hooks see the registry of the write
        await writer.flush(session)
