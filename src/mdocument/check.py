"""Checking and repairing what mdocument keeps consistent: ``await mdocument.check()``.

mdocument keeps references, synced copies and unique values consistent as it writes. Data can
still drift: another program writes to the collections, a server without transactions loses a
process between two commands of a cascade, or documents were registered with
``init(..., create_indexes=False)`` and their unique indexes were never built. :func:`check`
reads the whole database of a registry and reports four kinds of findings:

``dangling``
    a reference (an id, a list of ids, a synced copy or a list of copies) to a document that
    does not exist. Edges with ``on_delete=NOTHING`` allow them and are not checked for it.
``stale_copy``
    a synced copy whose values differ from the current stored values of its source.
``journal``
    an unfinished entry of the journal (:mod:`mdocument.journal`): a multi-step write that a
    process started without a transaction and did not finish.
``duplicate``
    documents sharing a value of a ``unique`` field, or a parent referred to twice through a
    one-to-one or many-to-one edge, where the collection lacks the unique index that would
    have refused it.

With ``fix=True`` it repairs what it can, as the rules declared on the fields would have: each
edge's own on-delete rule for dangling references, a rewrite from the source for stale copies,
a re-run for unfinished journal entries. Duplicates and ``RESTRICT`` references are reported,
never changed: which document keeps a value, or what a child should refer to instead, is a
decision for a person.

The check streams: children are read in batches with only their id and reference field, each
batch's parents are looked up with one ``$in`` query, and the report keeps counts and at most
five sample ids per finding. Memory stays flat however large the collections are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from mdocument.batching import find_by_ids
from mdocument.cascade import sync_copies
from mdocument.changes import same
from mdocument.check_report import NOTES, SAMPLE, Finding, FindingKind, Progress, Report
from mdocument.driver import UpdateOne
from mdocument.exceptions import DeleteRestricted, DocumentException
from mdocument.fields import OnDelete
from mdocument.journal import Entry, journal
from mdocument.masking import SENSITIVE_PLACEHOLDER
from mdocument.names import ID_FIELD, STORED_ID
from mdocument.registry import active_registry

if TYPE_CHECKING:
    from mdocument.graph import Edge
    from mdocument.model import DocumentBase as Document
    from mdocument.registry import Registry
    from mdocument.store import StoreCollection as Collection

__all__ = ["Finding", "FindingKind", "Progress", "Report", "check"]

# -- reading references -----------------------------------------------------------------------


def _items(edge: Edge, row: Mapping[str, Any]) -> list[Any]:
    """The stored ids, or copies, one child holds through ``edge`` (``None`` left out)."""
    value = row.get(edge.field.stored)
    if value is None:
        return []
    items = cast("list[Any]", value) if edge.many and isinstance(value, list) else [value]
    return [item for item in items if item is not None]


def _id_of(edge: Edge, item: Any) -> Any:
    if edge.card is None:
        return item
    return cast("Mapping[str, Any]", item).get(ID_FIELD) if isinstance(item, Mapping) else None


def _ids(edge: Edge, row: Mapping[str, Any]) -> list[Any]:
    """The ids one stored child refers to through ``edge``."""
    found = (_id_of(edge, item) for item in _items(edge, row))
    return [item for item in found if item is not None]


def _in(ids: Iterable[Any]) -> dict[str, Any]:
    return {"$in": list(ids)}


def _pull(edge: Edge, ids: Sequence[Any]) -> dict[str, Any]:
    # As cascade.py pulls: a copy by its id, a plain reference by value.
    if edge.card is not None:
        return {"$pull": {edge.field.stored: {ID_FIELD: _in(ids)}}}
    return {"$pull": {edge.field.stored: _in(ids)}}


def _fresh_card(edge: Edge, parent: Mapping[str, Any]) -> dict[str, Any]:
    """The copy ``edge`` would hold of a stored parent, as a save of the parent writes it.

    Built from the stored values (a field the stored parent lacks takes its default, as a
    loaded parent would have it), validated and dumped by the card model.
    """
    model = edge.card
    assert model is not None
    fields = edge.parent.__mdocument_mapping__.by_stored
    values: dict[str, Any] = {ID_FIELD: parent[STORED_ID]}
    for parent_key, card_key in edge.copied.items():
        if parent_key in parent:
            values[card_key] = parent[parent_key]
            continue
        info = fields[parent_key].info
        if not info.is_required():
            values[card_key] = info.get_default(call_default_factory=True, validated_data={})
    return model.model_validate(values).model_dump(by_alias=True)


# -- the checker ------------------------------------------------------------------------------


class _Checker:
    def __init__(
        self, registry: Registry, fix: bool, progress: Progress | None, batch_size: int
    ) -> None:
        self.registry = registry
        self.fix = fix
        self.progress = progress
        self.batch_size = batch_size
        self.report = Report(fix=fix)
        self.findings: dict[tuple[str, str, str], Finding] = {}

    def finding(
        self, kind: FindingKind, collection: str, field: str, rule: str | None = None
    ) -> Finding:
        key = (kind, collection, field)
        found = self.findings.get(key)
        if found is None:
            found = self.findings[key] = Finding(kind, collection, field, rule)
            self.report.findings.append(found)
        return found

    def collection(self, document: type[Document]) -> Collection:
        return self.registry.repository(document).collection

    def tick(self, step: str, count: int) -> None:
        if self.progress is not None:
            self.progress(step, count)

    # -- references and copies

    async def edge(self, edge: Edge) -> None:
        """Scan the children of one edge, in batches of ids and the reference field only."""
        acts = edge.on_delete is not OnDelete.NOTHING
        if not acts and edge.card is None:
            return  # dangling references allowed, no copies: nothing to check
        # Sorted on `_id` through its index: the fixes below update and delete documents of
        # this very collection, and an index on the (unchanged) `_id` never returns one twice.
        cursor = self.collection(edge.child).find(
            {edge.id_path: {"$type": "objectId"}},
            {edge.field.stored: 1},
            sort=[(STORED_ID, 1)],
            hint=[(STORED_ID, 1)],
            batch_size=self.batch_size,
        )
        read, batch = 0, list[dict[str, Any]]()
        self.tick(edge.label, 0)
        async for row in cursor:
            batch.append(row)
            if len(batch) == self.batch_size:
                await self.edge_batch(edge, batch)
                read += len(batch)
                batch = []
                self.tick(edge.label, read)
        if batch:
            await self.edge_batch(edge, batch)
            read += len(batch)
            self.tick(edge.label, read)
        self.report.scanned += read

    async def edge_batch(self, edge: Edge, rows: list[dict[str, Any]]) -> None:
        wanted = {item for row in rows for item in _ids(edge, row)}
        projection = {STORED_ID: 1, **dict.fromkeys(edge.copied, 1)}
        parents = {
            raw[STORED_ID]: raw
            for raw in await find_by_ids(
                self.collection(edge.parent), list(wanted), None, projection
            )
        }
        if edge.on_delete is not OnDelete.NOTHING:
            await self.dangling(edge, rows, parents)
        if edge.card is not None:
            await self.stale(edge, rows, parents)

    async def dangling(
        self, edge: Edge, rows: list[dict[str, Any]], parents: Mapping[Any, Any]
    ) -> None:
        # child id -> (its missing ids, whether every one of its references is missing)
        broken: dict[Any, tuple[list[Any], bool]] = {}
        for row in rows:
            ids = _ids(edge, row)
            missing = [item for item in ids if item not in parents]
            if missing:
                broken[row[STORED_ID]] = (missing, len(missing) == len(ids))
        if not broken:
            return
        rule = edge.on_delete
        finding = self.finding(
            "dangling", edge.child.__mdocument_mapping__.collection, edge.label, rule.name
        )
        finding.add(len(broken), broken)
        if rule is OnDelete.RESTRICT:
            finding.fixable = False
            finding.explain(NOTES[OnDelete.RESTRICT])
            return
        if self.fix:
            finding.fixed += min(await self.apply_rule(edge, broken, finding), len(broken))

    async def apply_rule(
        self, edge: Edge, broken: Mapping[Any, tuple[list[Any], bool]], finding: Finding
    ) -> int:
        """Do what the edge's rule does on delete, for children whose parents are gone.

        Writes go through the child's repository: a delete cascades to the child's own
        children, an update rewrites the copies others hold of the child.
        """
        repository = self.registry.repository(edge.child)
        missing = {item for ids, _ in broken.values() for item in ids}
        # Each filter also names the missing ids: a child changed since it was read is spared.
        if edge.on_delete is OnDelete.SET_NULL:
            return await repository.update_many(
                {STORED_ID: _in(broken), edge.id_path: _in(missing)},
                {"$set": {edge.field.stored: None}},
                None,
            )
        if edge.on_delete is OnDelete.PULL:
            return await repository.update_many(
                {STORED_ID: _in(broken), edge.id_path: _in(missing)},
                _pull(edge, list(missing)),
                None,
            )
        # CASCADE: delete the child; from a list, as cascade.py does, pull the missing ids and
        # delete only the children left with none of their references.
        doomed = [child for child, (_, emptied) in broken.items() if emptied or not edge.many]
        pulled = [child for child, (_, emptied) in broken.items() if edge.many and not emptied]
        repaired = 0
        if pulled:
            repaired += await repository.update_many(
                {STORED_ID: _in(pulled), edge.id_path: _in(missing)},
                _pull(edge, list(missing)),
                None,
            )
        if doomed:
            try:
                repaired += await repository.delete_many(
                    {STORED_ID: _in(doomed), edge.id_path: _in(missing)}, None
                )
            except DeleteRestricted as exc:
                finding.explain(f"deleting them is restricted: {exc}")
        return repaired

    async def stale(
        self, edge: Edge, rows: list[dict[str, Any]], parents: Mapping[Any, Any]
    ) -> None:
        # child id, parent id, the fresh copy (None: the source does not validate as a copy)
        stale: list[tuple[Any, Any, dict[str, Any] | None]] = []
        invalid = 0
        for row in rows:
            pairs: dict[Any, dict[str, Any] | None] = {}
            for card in _items(edge, row):
                parent_id = _id_of(edge, card)
                if parent_id not in parents or parent_id in pairs:
                    continue  # dangling (reported as such), or this pair is known already
                try:
                    fresh = _fresh_card(edge, parents[parent_id])
                except ValidationError:
                    pairs[parent_id] = None
                    invalid += 1
                    continue
                if not same(fresh, card):
                    pairs[parent_id] = fresh
            stale.extend((row[STORED_ID], parent, fresh) for parent, fresh in pairs.items())
        if not stale:
            return
        finding = self.finding(
            "stale_copy",
            edge.child.__mdocument_mapping__.collection,
            edge.label,
            edge.on_delete.name,
        )
        finding.add(len(stale), dict.fromkeys(child for child, _, _ in stale))
        if invalid:
            finding.explain("some sources do not validate as their copy: fix the sources first")
        fixable = [(child, parent, fresh) for child, parent, fresh in stale if fresh]
        if self.fix and fixable:
            finding.fixed += await self.rewrite(edge, fixable)

    async def rewrite(self, edge: Edge, stale: list[tuple[Any, Any, dict[str, Any]]]) -> int:
        """Rewrite stale copies from their sources, as ``sync_copies`` does, one write a copy."""
        key = edge.field.stored
        operations = [
            UpdateOne(
                {STORED_ID: child},
                {"$set": {f"{key}.$[copy]": fresh}},
                array_filters=[{f"copy.{ID_FIELD}": parent}],
            )
            if edge.many
            else UpdateOne({STORED_ID: child, edge.id_path: parent}, {"$set": {key: fresh}})
            for child, parent, fresh in stale
        ]
        result = await self.collection(edge.child).bulk_write(operations, ordered=False)
        # The rewritten field may itself be copied into other documents: keep those in step.
        if any(key in other.copied for other in self.registry.graph.synced(edge.child)):
            children = list(dict.fromkeys(child for child, _, _ in stale))
            await self.registry.resync(edge.child, {STORED_ID: _in(children)})
        return result.modified_count

    # -- the journal

    async def journal(self) -> None:
        """Report (and with ``fix`` complete) the unfinished entries of the journal."""
        classes = {
            document.__mdocument_mapping__.collection: document
            for document in self.registry.documents
        }
        cursor = journal(self.registry.store).find(
            {}, sort=[(STORED_ID, 1)], batch_size=max(1, self.batch_size // 100)
        )
        read = 0
        async for entry in cursor:
            read += 1
            op = str(entry.get("op"))
            collection = str(entry.get("collection"))
            finding = self.finding("journal", collection, op)
            finding.add(1, [entry[STORED_ID]])
            document = classes.get(collection)
            if document is None or op not in ("delete", "sync"):
                finding.fixable = False
                finding.explain(
                    f"collection {collection!r} is not registered"
                    if document is None
                    else f"unknown operation {op!r}"
                )
            elif self.fix and await self.complete(document, entry, finding):
                # This entry only, by its id: the check counts and completes entries one by one.
                await journal(self.registry.store).delete_one({STORED_ID: entry[STORED_ID]})
                finding.fixed += 1
            self.tick("journal", read)

    async def complete(self, document: type[Document], entry: Entry, finding: Finding) -> bool:
        """Re-run the write of a journal entry (each is idempotent); whether it completed."""
        ids = list(cast("Sequence[Any]", entry.get("ids") or ()))
        repository = self.registry.repository(document)
        for start in range(0, len(ids), self.batch_size):
            part = ids[start : start + self.batch_size]
            if entry["op"] == "delete":
                try:
                    await repository.delete_many({STORED_ID: _in(part)}, None)
                except DeleteRestricted as exc:
                    finding.explain(f"the delete is restricted now: {exc}")
                    return False
            else:
                copied = {
                    stored
                    for edge in self.registry.graph.synced(document)
                    for stored in edge.copied
                }
                fields = set(cast("Sequence[str]", entry.get("fields") or ())) or copied
                try:
                    parents = await repository.load_many(part, None)
                except DocumentException as exc:
                    # The message is left out: it would name the stored document's fields.
                    finding.explain(
                        f"a {document.__name__} of the entry does not load "
                        f"({type(exc).__name__}): fix it, then check again"
                    )
                    return False
                await sync_copies(self.registry, parents, fields, None)
        return True

    # -- duplicates

    async def duplicates(self, document: type[Document]) -> None:
        """Report duplicated values of unique keys that have no unique index."""
        mapping = document.__mdocument_mapping__
        edges = self.registry.graph.outgoing(document)
        related = {edge.field.name for edge in edges}
        # label, stored path of the values, the list to unwind first (None: a single value)
        keys = [
            (
                f"{document.__name__}.{name.name}",
                name.stored,
                name.stored if name.shape.many else None,
            )
            for name in mapping.unique_fields
            if name.name not in related
        ]
        keys.extend(
            (edge.label, edge.id_path, edge.field.stored if edge.many else None)
            for edge in edges
            if edge.unique
        )
        if not keys:
            return
        collection = self.collection(document)
        indexes: Mapping[str, Mapping[str, Any]] = await collection.index_information()
        indexed = {
            tuple(str(key) for key, _ in info["key"])
            for info in indexes.values()
            if info.get("unique")
        }
        for label, path, unwind in keys:
            if (path,) not in indexed:
                await self.duplicated(document, label, path, unwind)

    async def duplicated(
        self, document: type[Document], label: str, path: str, unwind: str | None
    ) -> None:
        mapping = document.__mdocument_mapping__
        present = {"$exists": True, "$ne": None}
        pipeline: list[dict[str, Any]] = [{"$match": {path: present}}]
        if unwind is None:
            pipeline.append({"$group": {STORED_ID: f"${path}", "count": {"$sum": 1}}})
        else:
            # A value repeated inside one document's list is no duplicate (a unique multikey
            # index allows it): one row per value and document first.
            pipeline += [
                {"$unwind": f"${unwind}"},
                {"$match": {path: present}},
                {"$group": {STORED_ID: {"v": f"${path}", "d": f"${STORED_ID}"}}},
                {"$group": {STORED_ID: f"${STORED_ID}.v", "count": {"$sum": 1}}},
            ]
        pipeline.append({"$match": {"count": {"$gt": 1}}})
        rows = self.collection(document).aggregate(pipeline, None, allowDiskUse=True)
        documents, values = 0, list[Any]()
        async for row in rows:
            documents += row["count"]
            if len(values) < SAMPLE:
                values.append(row[STORED_ID])
        self.tick(f"{label} unique", documents)
        if not documents:
            return
        finding = self.finding("duplicate", mapping.collection, label)
        finding.fixable = False
        finding.explain(NOTES["duplicate"])
        cursor = self.collection(document).find(
            {path: _in(values)}, {STORED_ID: 1}, sort=[(STORED_ID, 1)], limit=SAMPLE
        )
        finding.add(documents, [raw[STORED_ID] async for raw in cursor])
        sensitive = mapping.is_sensitive_path(path)
        finding.values = [SENSITIVE_PLACEHOLDER if sensitive else value for value in values]


async def check(
    *,
    fix: bool = False,
    registry: Registry | None = None,
    progress: Progress | None = None,
    batch_size: int = 1000,
) -> Report:
    """Find (and with ``fix=True`` repair) inconsistent data of the registered documents.

    Checks, in order: unfinished journal entries, then every edge of the registry's relation
    graph (references to missing documents, except on ``on_delete=NOTHING`` edges; synced
    copies that differ from their source), then values duplicated under a ``unique`` field or
    a unique reference whose collection lacks the unique index. Without ``fix`` nothing is
    written.

    With ``fix=True``:

    - a dangling reference gets its edge's rule: ``CASCADE`` deletes the child through its
      repository, so its own cascades run (from a list, the missing ids are pulled and only a
      child left without references is deleted); ``SET_NULL`` sets the field to ``None``;
      ``PULL`` pulls the missing ids (copies by their id); ``RESTRICT`` cannot be honoured
      and is left, reported as not fixable;
    - a stale copy is rewritten from its stored source;
    - an unfinished journal entry is run again (a ``delete`` deletes its documents with
      their cascades, a ``sync`` rewrites their copies), then removed;
    - duplicates are reported and never changed.

    A second run after a fix finds nothing to fix and writes nothing.

    Args:
        fix: repair what the declared rules say how to repair.
        registry: the registry to check; default: the one of the most recent :func:`init`.
        progress: called with a step (an edge such as ``"Post.author_id"``, ``"journal"``,
            ``"Post.email unique"``) and the number of documents read in it so far.
        batch_size: documents read (and ids written) per round trip.

    Returns:
        The :class:`Report`: ``report.ok`` is true when the data is consistent after the run.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size is at least 1, not {batch_size}")
    registry = registry if registry is not None else active_registry()
    checker = _Checker(registry, fix, progress, batch_size)
    # The journal first: completing an interrupted cascade repairs its references at once.
    await checker.journal()
    for edge in registry.graph.edges:
        await checker.edge(edge)
    for document in registry.documents:
        await checker.duplicates(document)
    return checker.report
