"""The repository: the only layer that talks to the driver for a document class.

One :class:`Repository` serves one document class in one :class:`~mdocument.Registry`. It loads
stored documents into instances, validates and encodes documents before every write, sends
changes only, and turns driver errors into mdocument's. ``Document`` methods delegate here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import bson
from pydantic import ValidationError

from mdocument import journal
from mdocument.batching import find_by_ids, find_ids
from mdocument.cascade import sync_copies
from mdocument.changes import (
    RAW,
    REVISION_FIELD,
    STORED,
    Changes,
    RegistryRef,
    diff,
    inserted,
    load_batch,
    loaded,
    remember,
    revision_of,
    set_registry,
    set_revision,
)
from mdocument.cleanup import undo_partial_insert
from mdocument.codec import decode, encode
from mdocument.deletes import cascade_delete
from mdocument.driver import BulkWriteError, DuplicateKeyError
from mdocument.duplicates import duplicate_error
from mdocument.exceptions import DuplicateError, NotFoundError, RevisionConflict
from mdocument.forms import (
    baseline,
    checked_form,
    insert_rows,
    instances,
    normalized,
    parse_id,
    quick_changes,
    shared_names,
)
from mdocument.hierarchy import kind_filter, subclass_for
from mdocument.integrity import (
    check_ids,
    check_references,
    in_transaction,
    referenced_ids,
    refuse_copied_paths,
    update_references,
)
from mdocument.masking import mask_filter
from mdocument.model import overridden_hooks
from mdocument.names import STORED_ID
from mdocument.shards import refuse_shard_key_change, shard_filter
from mdocument.soft import hidden, is_soft, marked
from mdocument.soft_deletes import soft_delete

if TYPE_CHECKING:
    from mdocument.binding import Scope as Registry
    from mdocument.driver import Session
    from mdocument.graph import Edge
    from mdocument.mapping import DocumentMapping
    from mdocument.model import DocumentBase as Document
    from mdocument.store import StoreCollection as Collection

__all__ = ["Repository"]

D = TypeVar("D", bound="Document")
T = TypeVar("T")


class Repository(Generic[D]):
    """CRUD for one document class on one collection."""

    def __init__(
        self,
        registry: Registry,
        document: type[D],
        collection: Collection,
        loads: Collection | None = None,
    ) -> None:
        self.registry = registry
        self.document = document
        self.mapping: DocumentMapping = document.__mdocument_mapping__
        self.collection = collection
        self.loads, self.attach_utc = loads or collection, self.mapping.utc_attacher  # utc module
        self.index_keys: dict[str, tuple[str, ...]] = {}
        """Index name → stored key paths, of the indexes init declares for this class."""
        self.shared_names = shared_names(self.mapping)
        self._ref = RegistryRef(registry)  # one per repository: instances share it
        meta: Any = document.__dict__.get("Meta")
        self.revisioned: bool = bool(getattr(meta, "revision", False))
        """``Meta.revision = True``: saves from stale instances raise ``RevisionConflict``."""
        self.hooks = overridden_hooks(document)  # the others are skipped, not awaited
        plain = not (self.revisioned or self.mapping.shard_key) and registry.graph.plain(document)
        self.plain = plain  # an update involves no reference, copy, revision or shard key

    # -- loading ------------------------------------------------------------------------------

    def load(self, raw: dict[str, Any]) -> D:
        """An instance from a stored document (the raw dict is kept as the change baseline)."""
        if self.mapping.kind is not None:  # a hierarchy: loaded as the class of its kind
            kind = subclass_for(self.document, raw)
            if kind is not self.document and kind in self.registry.graph.nodes:
                return self.registry.repository(kind).load(raw)  # type: ignore[no-any-return]
        if self.attach_utc is not None:
            self.attach_utc(raw)
        document: D = decode(self.mapping, raw)
        revision = raw.get(REVISION_FIELD, 0) if self.revisioned else None
        shared = self.shared_names
        loaded(document, baseline(raw, shared) if shared else raw, self._ref, revision)
        return document

    def load_all(self, raws: list[dict[str, Any]]) -> list[D]:
        """Instances of many stored documents: :meth:`load` without a call per document."""
        if self.revisioned or self.shared_names or self.mapping.kind is not None:
            return [self.load(raw) for raw in raws]
        validate = self.document.__pydantic_validator__.validate_python
        try:
            return load_batch(validate, raws, self._ref, self.attach_utc)
        except ValidationError:
            for raw in raws:  # the error naming the first document that does not match
                decode(self.mapping, raw)
            raise

    def stored_form(self, document: D) -> dict[str, Any] | None:
        """The stored form of ``document`` at its last load or save; ``None`` if never stored."""
        private = document.__pydantic_private__
        if private is None:
            return None
        stored: Any = private.get(STORED)
        if stored is not None and private.get(RAW):
            stored = normalized(self.mapping, stored, self.collection.codec_options)
            remember(document, stored, raw=False)
        return stored  # type: ignore[no-any-return]

    def checked_form(self, document: D) -> dict[str, Any]:
        """Validate ``document`` as a whole and return its stored form (see :mod:`forms`)."""
        return checked_form(self.mapping, document)

    def parse_id(self, value: Any) -> bson.ObjectId:
        """An ``ObjectId`` from an ``ObjectId`` or its hex string; a clear error otherwise."""
        return parse_id(self.document, value)

    # -- reads --------------------------------------------------------------------------------

    async def find_one(self, filter: Mapping[str, Any], session: Session | None) -> D | None:
        """The first document matching a compiled filter."""
        filter = {**filter, **kind_filter(self.document)}  # by id: of this class's subtree
        raw = await self.loads.find_one(hidden(self.document, filter), session=session)
        return None if raw is None else self.load(raw)

    def not_found(self, query: Mapping[str, Any]) -> NotFoundError:
        """The class's ``NotFoundError`` for a compiled filter (sensitive values masked)."""
        shown = mask_filter(query, self.document)
        return self.document.NotFoundError(
            f"no {self.document.__name__} matches {shown!r}", document=self.document, query=shown
        )

    # -- writes -------------------------------------------------------------------------------

    @property
    def outgoing(self) -> tuple[Edge, ...]:
        """The relations this document's fields declare (it is their child)."""
        return self.registry.graph.outgoing(self.document)

    @property
    def incoming(self) -> tuple[Edge, ...]:
        """The relations of other documents that refer to this one."""
        return self.registry.graph.incoming(self.document)

    async def save(self, document: D, session: Session | None, *, validated: bool = False) -> None:
        """Insert a new document, or send the paths that changed since it was loaded or saved.

        References are checked before the write (only those that changed); copies of this
        document held elsewhere are rewritten from the stored document, all in one transaction
        where supported (retried on write conflicts; hooks run once, outside it).
        """
        if "before_save" in self.hooks:
            await document.before_save()
            validated = False  # the hook may have changed anything
        # A plain update: its changes read from the instance, without a dump (instance_diff).
        quick = quick_changes(self.mapping, document) if self.plain and not validated else None
        if quick is not None:
            changes, stored = quick
            await self._send(document, changes, session) if changes else None
        else:  # A document its constructor has just validated needs no second validation.
            stored = encode(document, self.mapping) if validated else self.checked_form(document)
            baseline = self.stored_form(document)
            if baseline is None:
                await self._insert(document, stored, session)
            else:
                await self._update(document, baseline, stored, session)
        remember(document, stored, raw=False)
        if "after_save" in self.hooks:
            await document.after_save()

    async def _insert(self, document: D, stored: dict[str, Any], session: Session | None) -> None:
        edges = [edge for edge in self.outgoing if referenced_ids(edge, stored)]
        revision = self.revision_field
        row = marked(self.document, {**stored, revision: 1} if revision else stored)

        async def work(in_session: Session | None) -> None:
            if edges:
                await check_references(self.registry, edges, [(document, stored)], in_session)
                await self.registry.pause("checked", document)
            await self._write(lambda: self.collection.insert_one(row, session=in_session))

        if edges:  # the check and the insert must commit together, or not at all
            async with self.registry.guarding(self._parent_keys(edges, [stored], session)):
                await self.registry.atomic(work, session)
        else:
            await work(session)
        if revision:
            set_revision(document, 1)
        set_registry(document, self._ref)

    async def _update(
        self, document: D, baseline: dict[str, Any], stored: dict[str, Any], session: Session | None
    ) -> None:
        shard = shard_filter(self.mapping, baseline)
        if shard:  # refused before anything is sent; then every update names the shard key
            refuse_shard_key_change(self.mapping, baseline, stored)
        # ``==`` where the class's own types allow it, before a check refreshes copies.
        own: DocumentMapping = type(document).__mdocument_mapping__
        first = diff(baseline, stored, own.equality_names)
        touched = first.top_level()
        edges = [edge for edge in self.outgoing if edge.field.stored in touched]
        syncing = self.syncs(touched)
        revision = self.revision_field
        expected = revision_of(document) if revision else None

        async def work(in_session: Session | None) -> None:
            if edges:
                await check_references(self.registry, edges, [(document, stored)], in_session)
                await self.registry.pause("checked", document)
            # Refreshed copies may differ from the input: diffed again only after a check.
            changes = diff(baseline, stored) if edges else first
            if not changes:
                return
            spec = changes.update_spec()
            target: dict[str, Any] = {STORED_ID: document.id, **shard}
            if revision:
                # A document stored before Meta.revision was turned on has no counter yet.
                target[revision] = expected or {"$in": [None, 0]}
                spec["$inc"] = {revision: 1}
            result = await self._write(
                lambda: self.collection.update_one(target, spec, session=in_session)
            )
            if result.matched_count == 0:
                raise await self._missing_or_stale(document, expected, in_session)
            if syncing:
                await self.registry.pause("written", document)
                await self.sync_from_stored([document.id], touched, in_session)

        if edges or syncing:
            async with self.registry.guarding(self._parent_keys(edges, [stored], session)):
                await self.registry.atomic(work, session)
        else:
            await work(session)
        if revision and expected is not None and (diff(baseline, stored) if edges else first):
            set_revision(document, expected + 1)

    async def _send(self, document: D, changes: Changes, session: Session | None) -> None:
        """The update of a plain save: no reference, copy, revision or shard key involved."""
        target, update = {STORED_ID: document.id}, self.collection.update_one
        result = await self._write(lambda: update(target, changes.update_spec(), session=session))
        if result.matched_count == 0:
            raise await self._missing_or_stale(document, None, session)

    def _parent_keys(
        self, edges: Iterable[Edge], stored: Iterable[Mapping[str, Any]], session: Session | None
    ) -> set[tuple[str, Any]]:
        """The parents a write guards, as (collection, id), for :meth:`Registry.guarding`.

        None when the caller's transaction is open: its commit is not this write's to wait for.
        """
        if in_transaction(session):
            return set()
        return {
            (edge.parent.__mdocument_mapping__.collection, item)
            for edge in edges
            for form in stored
            for item in referenced_ids(edge, form)
        }

    def syncs(self, touched: set[str]) -> bool:
        """Whether a change of these top-level stored names must rewrite copies elsewhere."""
        return any(not touched.isdisjoint(edge.copied) for edge in self.incoming)

    async def sync_from_stored(
        self, ids: list[Any], touched: set[str], session: Session | None
    ) -> None:
        """Rewrite the copies of these documents from what is stored, never from an instance.

        A stale instance may hold old values of fields it did not change: the copies are built
        from the documents read back in the same transaction. Without one, the rewrite is
        journaled first, so that ``check --fix`` completes it after a crash.
        """
        entry = None
        if not in_transaction(session):
            entry = await journal.start(
                self.registry.store, "sync", self.mapping.collection, ids, session,
                fields=touched,
            )  # fmt: skip
        sources = await self.load_many(ids, session)
        await sync_copies(self.registry, sources, touched, session)
        if entry is not None:
            await journal.finish(self.registry.store, entry, session)

    async def _missing_or_stale(
        self, document: D, expected: int | None, session: Session | None
    ) -> NotFoundError | RevisionConflict:
        """Why an update by id matched nothing: the document is gone, or it is newer."""
        if expected is not None:
            exists = await self.collection.find_one(
                {STORED_ID: document.id}, {STORED_ID: 1}, session=session
            )
            if exists is not None:
                name = self.document.__name__
                return RevisionConflict(
                    f"{name} {document.id} changed since this instance was loaded or saved "
                    f"(revision {expected}); nothing was written: reload it and apply the "
                    "change again",
                    document=self.document,
                    document_id=document.id,
                    expected=expected,
                )
        return self.not_found({STORED_ID: document.id})

    @property
    def revision_field(self) -> str | None:
        """The stored name of the revision counter, when ``Meta.revision = True``."""
        return REVISION_FIELD if self.revisioned else None

    async def insert_many(self, documents: Iterable[D], session: Session | None) -> list[D]:
        """Insert new documents in one batch: all of them, or none (see :meth:`save`)."""
        batch = instances(self.document, documents)
        if not batch:
            return batch
        if "before_save" in self.hooks:
            for document in batch:
                await document.before_save()
        revision, outgoing = self.revision_field, self.outgoing
        options = self.collection.codec_options
        pairs, rows, baselines = insert_rows(self.mapping, batch, options, revision, bool(outgoing))

        async def insert(in_session: Session | None) -> None:
            if outgoing:
                await check_references(self.registry, outgoing, pairs, in_session)
            await self.registry.pause("checked", batch[0])
            try:
                await self.collection.insert_many(rows, session=in_session)
            except BaseException as exc:
                if not in_transaction(in_session):
                    await undo_partial_insert(self.collection, rows, exc, in_session)
                raise

        # One document is atomic alone: no transaction (0.6 to 1 ms of CPU), as create() sends.
        solo = len(rows) == 1 and not outgoing
        await self._write(
            lambda: insert(session) if solo else self.registry.atomic(insert, session)
        )
        ref, first = self._ref, 1 if revision else None
        for document, data in zip(batch, baselines, strict=True):
            inserted(document, data, ref, first)  # the BSON sent: its baseline (encode_bson)
        if "after_save" in self.hooks:
            for document in batch:
                await document.after_save()
        return batch

    async def delete(self, document: D, session: Session | None, *, soft: bool = False) -> None:
        """Delete a stored document and apply the rules of the relations that refer to it."""
        if "before_delete" in self.hooks:
            await document.before_delete()
        if soft and is_soft(self.document):  # Meta.soft_delete: see mdocument.soft_deletes
            await soft_delete(self, {STORED_ID: document.id}, session, ids=[document.id])
        elif self.incoming:
            await self._cascade({STORED_ID: document.id}, session, ids=[document.id])
        else:
            shard = shard_filter(self.mapping, self.stored_form(document))
            target = {STORED_ID: document.id, **shard}
            result = await self.collection.delete_one(target, session=session)
            if result.deleted_count == 0:
                raise self.not_found({STORED_ID: document.id})
        remember(document, None, raw=False)
        if "after_delete" in self.hooks:
            await document.after_delete()

    async def _cascade(
        self, filter: Mapping[str, Any], session: Session | None, *, ids: list[Any] | None = None
    ) -> int:
        """Delete the matching documents and apply the rules of the relations to them.

        With ``ids``, those documents are deleted, and they must all exist. See
        :mod:`mdocument.deletes`: in one transaction, or as a chunked job when it is large.
        """
        return await cascade_delete(
            self.registry, self.document, filter, session, ids=ids, not_found=self.not_found
        )

    async def delete_many(self, filter: Mapping[str, Any], session: Session | None) -> int:
        """Delete every document matching a compiled filter, cascades included.

        Returns how many matching documents were deleted. Their hooks are not called.
        """
        if self.incoming:
            return await self._cascade(filter, session)
        result = await self.collection.delete_many(filter, session=session)
        return result.deleted_count

    async def update_many(
        self, filter: Mapping[str, Any], update: Mapping[str, Any], session: Session | None
    ) -> int:
        """Apply a compiled update to every document matching a compiled filter.

        This is the raw bulk path: the caller validates the update's values against the fields
        before calling it. References it writes are checked; copies of the updated documents
        held elsewhere, and copies the update writes here, are rewritten from their sources.
        Returns the number of documents modified.
        """
        touched = {path.split(".", 1)[0] for changes in update.values() for path in changes}
        references = [edge for edge in self.outgoing if edge.field.stored in touched]
        copies = [edge for edge in references if edge.card is not None]
        for edge in copies:
            refuse_copied_paths(edge, update)
        written = {edge: update_references(edge, update) for edge in references}
        syncing = self.syncs(touched)
        revision = self.revision_field
        if revision:
            update = {**update, "$inc": {**update.get("$inc", {}), revision: 1}}

        async def work(in_session: Session | None) -> int:
            await check_ids(self.registry, written, in_session)
            await self.registry.pause("checked", self.document)
            target: Mapping[str, Any] = filter
            ids: list[Any] = []
            if syncing:  # the ids first: the update may change what the filter matches
                ids = await find_ids(self.collection, filter, in_session)
                target = {STORED_ID: {"$in": ids}}
            result = await self._write(
                lambda: self.collection.update_many(target, update, session=in_session)
            )
            if syncing and ids:
                await self.sync_from_stored(ids, touched, in_session)
            for edge in copies:  # copies written by value: make them equal to their sources
                parents = await self.registry.repository(edge.parent).load_many(
                    written[edge], in_session
                )
                await sync_copies(self.registry, parents, set(edge.copied), in_session)
            return result.modified_count

        if syncing or copies or any(written.values()):
            return await self.registry.atomic(work, session)
        return await work(session)

    async def load_many(self, ids: Iterable[Any], session: Session | None) -> list[D]:
        """The stored documents with these ids, in any order (missing ones left out)."""
        found = await find_by_ids(self.collection, list(dict.fromkeys(ids)), session)
        return [self.load(raw) for raw in found]

    async def reload(self, document: D, session: Session | None) -> None:
        """Replace the instance's values with the stored ones."""
        raw = await self.collection.find_one({STORED_ID: document.id}, session=session)
        if raw is None:
            raise self.not_found({STORED_ID: document.id})
        fresh = self.load(raw)
        values = vars(document)
        values.clear()
        values.update(vars(fresh))
        object.__setattr__(document, "__pydantic_fields_set__", fresh.__pydantic_fields_set__)
        object.__setattr__(document, "__pydantic_private__", fresh.__pydantic_private__)

    # -- errors -------------------------------------------------------------------------------

    async def _write(self, write: Callable[[], Awaitable[T]]) -> T:
        """Run a write; a unique-index violation becomes the class's ``DuplicateError``."""
        try:
            return await write()
        except (DuplicateKeyError, BulkWriteError) as exc:
            error = self.duplicate_error(exc)
            if error is None:
                raise
        # The driver's message holds the raw value: it must not be chained, or every traceback
        # would print it. Raised outside the except block, and from None where a caller's
        # frame still handles the driver's error (Motor on Python 3.10 resumes coroutines
        # from inside an except block).
        raise error from None

    def duplicate_error(self, exc: DuplicateKeyError | BulkWriteError) -> DuplicateError | None:
        """The ``DuplicateError`` for a driver error, or ``None`` if it is not a duplicate."""
        return duplicate_error(self.document, self.index_keys, exc)
