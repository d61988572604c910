"""Cascades: what deleting or changing a parent does to its children, as batched writes.

Deleting documents applies the on-delete rule of every edge that points to them, recursively, in
two phases:

1. **Plan** (reads only): level by level from the deleted documents, one ``find`` per edge per
   level collects the ids of the children to delete (a child class nothing refers to is deleted by
   filter instead, without a read). ``RESTRICT`` edges are checked once the whole set is known and
   refuse the delete before anything was written. Self references and cycles end, because a
   document is planned once.
2. **Execute**, children first: the deepest level's deletes, then its ``$set: null`` and
   ``$pull`` updates, up to the deleted documents themselves, last. Each is one ``delete_many`` or
   ``update_many`` per edge per level, never one round trip per child.

Where the server supports transactions both phases run in one transaction. Without them, a
failure leaves the deleted documents in place (they go last), so calling ``delete()`` again
plans what is left and completes the cascade.

Changing a parent's copied fields rewrites every synced copy of it: one ``update_many`` per edge
(array filters for copies inside lists), in the parent's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mdocument.batching import chunks, find_ids
from mdocument.driver import UpdateMany
from mdocument.exceptions import DeleteRestricted
from mdocument.fields import OnDelete
from mdocument.names import ID_FIELD, STORED_ID

if TYPE_CHECKING:
    from mdocument.binding import Scope as Registry
    from mdocument.driver import Session
    from mdocument.graph import Edge
    from mdocument.model import DocumentBase as Document
    from mdocument.store import StoreCollection as Collection

__all__ = ["DeletePlan", "Refusal", "children_first", "plan_delete", "sync_copies"]


@dataclass
class _Write:
    """One batched write of the plan."""

    document: type[Document]
    collection: Collection
    filter: dict[str, Any]
    update: dict[str, Any] | None = None  # None: a delete
    label: str = ""
    edge: Edge | None = None
    """The edge whose rule this write applies; ``None`` for the deleted documents themselves."""

    async def run(self, session: Session | None) -> int:
        if self.update is None:
            result = await self.collection.delete_many(self.filter, session=session)
            return result.deleted_count
        updated = await self.collection.update_many(self.filter, self.update, session=session)
        return updated.modified_count


@dataclass
class _Level:
    deletes: list[_Write] = field(default_factory=list[_Write])
    updates: list[_Write] = field(default_factory=list[_Write])


@dataclass
class DeletePlan:
    """The writes of a delete and of the rules it triggers, by level (0: the deleted ones)."""

    levels: list[_Level]
    deleting: dict[type[Document], set[Any]]
    order: dict[type[Document], int] = field(default_factory=lambda: {})
    """Each class's rank: classes that refer to another one come before it."""
    refusals: list[Refusal] = field(default_factory=lambda: [])
    """The ``RESTRICT`` edges that refuse the delete (planned with ``refuse=False`` only)."""

    @property
    def writes(self) -> list[_Write]:
        """The writes in execution order: children before parents at every depth.

        Class by class, in an order where every class comes before the classes it refers to,
        so that an interruption at any write (without a transaction) leaves no reference to a
        deleted document, even where one collection is reached by two paths (a comment that
        belongs to a post and to the post's author). Within a class, deeper levels first, and
        a level's deletes before its updates (a list cascade's delete reads the list its pull
        then changes).
        """
        by_level: list[tuple[int, int, int, _Write]] = []
        depth = len(self.levels)
        for index, level in enumerate(self.levels):
            for kind, writes in ((0, level.deletes), (1, level.updates)):
                by_level.extend(
                    (self.order.get(write.document, 0), depth - index, kind, write)
                    for write in writes
                )
        by_level.sort(key=lambda item: item[:3])
        return [write for *_, write in by_level]

    async def execute(self, session: Session | None) -> int:
        """Run the writes; returns how many of the planned root documents were deleted."""
        deleted_roots = 0
        roots = set(map(id, self.levels[0].deletes))
        for write in self.writes:
            count = await write.run(session)
            if id(write) in roots:
                deleted_roots += count
        return deleted_roots


def _in(ids: Sequence[Any]) -> dict[str, Any]:
    return {"$in": list(ids)}


def _pull(edge: Edge, ids: Sequence[Any]) -> dict[str, Any]:
    if edge.card is not None:
        return {"$pull": {edge.field.stored: {ID_FIELD: _in(ids)}}}
    return {"$pull": {edge.field.stored: _in(ids)}}


def _all_referred_deleted(edge: Edge, ids: Sequence[Any], deleting: set[Any]) -> dict[str, Any]:
    """Children of a list edge whose every reference is being deleted (their list would empty)."""
    others = {"$nin": list(deleting)}
    element = {ID_FIELD: others} if edge.card is not None else others
    return {
        edge.id_path: _in(ids),
        edge.field.stored: {"$not": {"$elemMatch": element}},
    }


@dataclass(frozen=True)
class Refusal:
    """A ``RESTRICT`` edge whose children refuse a delete: how many, and a few of their ids."""

    edge: Edge
    ids: list[Any]
    """The ids of the parents the delete would remove."""
    count: int
    sample: list[Any]


class _Planner:
    def __init__(self, registry: Registry, session: Session | None, refuse: bool = True) -> None:
        self.registry = registry
        self.refuse = refuse
        self.refusals: list[Refusal] = []
        self.graph = registry.graph
        self.session = session
        self.deleting: dict[type[Document], set[Any]] = defaultdict(set)
        self.restricted: list[tuple[Edge, list[Any]]] = []
        # Children deleted by filter must not be needed later: as parents of further edges
        # (nothing refers to them) or as RESTRICT children (they must be excluded by id).
        self.restrict_children = {
            edge.child for edge in self.graph.edges if edge.on_delete is OnDelete.RESTRICT
        }

    def collection(self, document: type[Document]) -> Collection:
        return self.registry.repository(document).collection

    def needs_ids(self, child: type[Document]) -> bool:
        acting = any(edge.on_delete is not OnDelete.NOTHING for edge in self.graph.incoming(child))
        return acting or child in self.restrict_children

    async def edge_writes(
        self, edge: Edge, ids: list[Any], level: _Level, frontier: dict[type[Document], set[Any]]
    ) -> None:
        child, rule = edge.child, edge.on_delete
        collection = self.collection(child)
        if rule is OnDelete.NOTHING:
            return
        if rule is OnDelete.RESTRICT:
            self.restricted.append((edge, ids))
            return
        for part in chunks(ids):
            if rule is OnDelete.SET_NULL:
                update = {"$set": {edge.field.stored: None}}
                level.updates.append(
                    _Write(child, collection, {edge.id_path: _in(part)}, update, edge=edge)
                )
            elif rule is OnDelete.PULL:
                level.updates.append(
                    _Write(
                        child, collection, {edge.id_path: _in(part)}, _pull(edge, part), edge=edge
                    )
                )
            elif edge.many:  # CASCADE on a list: delete the emptied children, pull elsewhere
                doomed = _all_referred_deleted(edge, part, self.deleting[edge.parent])
                await self.cascade(child, doomed, level, frontier, edge)
                level.updates.append(
                    _Write(
                        child, collection, {edge.id_path: _in(part)}, _pull(edge, part), edge=edge
                    )
                )
            else:
                await self.cascade(child, {edge.id_path: _in(part)}, level, frontier, edge)

    async def cascade(
        self,
        child: type[Document],
        filter: dict[str, Any],
        level: _Level,
        frontier: dict[type[Document], set[Any]],
        edge: Edge,
    ) -> None:
        collection = self.collection(child)
        if not self.needs_ids(child):
            level.deletes.append(_Write(child, collection, filter, edge=edge))
            return
        found = [
            item
            for item in await find_ids(self.collection(child), filter, self.session)
            if item not in self.deleting[child]
        ]
        if not found:
            return
        self.deleting[child].update(found)
        frontier[child].update(found)
        # Where the edge's field is part of the child's shard key, the delete carries it too:
        # a cluster then routes it to the shards that hold those children only.
        targeted = filter if edge.id_path in child.__mdocument_mapping__.shard_key else {}
        for part in chunks(found):
            ids = {**targeted, STORED_ID: _in(part)}
            level.deletes.append(_Write(child, collection, ids, edge=edge))

    async def plan(self, roots: Mapping[type[Document], Sequence[Any]]) -> DeletePlan:
        root_level = _Level()
        frontier: dict[type[Document], set[Any]] = {}
        for document, ids in roots.items():
            self.deleting[document].update(ids)
            frontier[document] = set(ids)
            for part in chunks(list(ids)):
                root_level.deletes.append(
                    _Write(document, self.collection(document), {STORED_ID: _in(part)})
                )
        levels = [root_level]
        while frontier:
            level = _Level()
            next_frontier: dict[type[Document], set[Any]] = defaultdict(set)
            for parent, found in frontier.items():
                for edge in self.graph.incoming(parent):
                    await self.edge_writes(edge, sorted(found), level, next_frontier)
            levels.append(level)
            frontier = dict(next_frontier)
        await self.check_restrictions()
        order = children_first(self.registry)
        return DeletePlan(levels, dict(self.deleting), order, self.refusals)

    async def check_restrictions(self) -> None:
        for edge, ids in self.restricted:
            blocking = {edge.id_path: _in(ids)}
            spared = self.deleting.get(edge.child)
            if spared:
                blocking[STORED_ID] = {"$nin": list(spared)}
            collection = self.collection(edge.child)
            count = await collection.count_documents(blocking, session=self.session)
            if not count:
                continue
            cursor = collection.find(blocking, {STORED_ID: 1}, limit=5, session=self.session)
            sample = [raw[STORED_ID] for raw in await cursor.to_list(None)]
            if not self.refuse:
                self.refusals.append(Refusal(edge, ids, count, sample))
                continue
            shown = ", ".join(str(item) for item in sample)
            more = f" and {count - len(sample)} more" if count > len(sample) else ""
            raise DeleteRestricted(
                f"cannot delete {edge.parent.__name__} {', '.join(map(str, ids[:3]))}: "
                f"{count} {edge.child.__name__} {'refers' if count == 1 else 'refer'} to it "
                f"through {edge.label} (on_delete=RESTRICT): {shown}{more}",
                document=edge.parent,
                field=edge.field.name,
                blocking=edge.child,
                count=count,
                ids=sample,
            )


def children_first(registry: Registry) -> dict[type[Document], int]:
    """A rank per class in which a class comes before every class it refers to.

    Self references are left out (a level order handles them); a cycle through several
    classes is broken at the class with the fewest children still unranked.
    """
    graph = registry.graph
    children = {
        document: {edge.child for edge in graph.incoming(document) if edge.child is not document}
        for document in registry.documents
    }
    rank: dict[type[Document], int] = {}
    while len(rank) < len(children):
        waiting = [document for document in children if document not in rank]
        ready = [document for document in waiting if children[document] <= rank.keys()]
        if not ready:  # a cycle: break it where the fewest children are still waiting
            ready = [min(waiting, key=lambda document: len(children[document] - rank.keys()))]
        for document in ready:
            rank[document] = len(rank)
    return rank


async def plan_delete(
    registry: Registry,
    roots: Mapping[type[Document], Sequence[Any]],
    session: Session | None,
    *,
    refuse: bool = True,
) -> DeletePlan:
    """Plan the delete of ``roots`` (class → ids) and of everything their rules reach.

    A ``RESTRICT`` edge with children raises ``DeleteRestricted``; with ``refuse=False`` it is
    recorded in the plan's ``refusals`` instead (a plan to show, not to execute).
    """
    return await _Planner(registry, session, refuse).plan(roots)


def _card_update(edge: Edge, parent: Document) -> UpdateMany:
    assert edge.card is not None
    card = edge.card.of(parent).model_dump(by_alias=True)
    key = edge.field.stored
    if edge.many:
        return UpdateMany(
            {edge.id_path: parent.id},
            {"$set": {f"{key}.$[copy]": card}},
            array_filters=[{f"copy.{ID_FIELD}": parent.id}],
        )
    return UpdateMany({edge.id_path: parent.id}, {"$set": {key: card}})


async def sync_copies(
    registry: Registry,
    parents: Sequence[Document],
    changed: set[str],
    session: Session | None,
) -> int:
    """Rewrite the synced copies of ``parents`` that hold a field in ``changed``.

    ``changed`` holds top-level stored names. One write per edge; returns the number of copies
    rewritten.
    """
    if not parents:
        return 0
    rewritten = 0
    for edge in registry.graph.synced(type(parents[0])):
        if changed.isdisjoint(edge.copied):
            continue
        collection = registry.repository(edge.child).collection
        operations = [_card_update(edge, parent) for parent in parents]
        for start in range(0, len(operations), 1000):
            result = await collection.bulk_write(
                operations[start : start + 1000], ordered=False, session=session
            )
            rewritten += result.modified_count
    return rewritten
