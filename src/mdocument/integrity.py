"""Reference checks on write: a child never points to a parent that does not exist.

Before a child is written, the ids its reference and synced fields hold are looked up, one query
per parent collection for a whole batch (``insert_many`` included). A missing parent raises
:class:`~mdocument.DocumentDoesntExist` and nothing is written. The same query reads the fields
that synced copies hold, and a copy that differs from its source is refreshed from it: a copy
always mirrors its source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from mdocument.batching import find_by_ids
from mdocument.changes import same
from mdocument.exceptions import (
    CopiedFieldWrite,
    DocumentDoesntExist,
    ParentBeingDeleted,
    ParentSoftDeleted,
    WrongValueType,
)
from mdocument.hierarchy import KIND_FIELD, kind_filter, matches_kind
from mdocument.names import ARRAY_SEGMENT, ID_FIELD, STORED_ID
from mdocument.soft import LIVE_FIELD

if TYPE_CHECKING:
    from mdocument.binding import Scope as Registry
    from mdocument.driver import Session
    from mdocument.graph import Edge
    from mdocument.model import DocumentBase as Document

__all__ = [
    "DELETING_FIELD",
    "GUARD_FIELD",
    "check_ids",
    "check_references",
    "guard_parents",
    "in_transaction",
    "referenced_ids",
    "refuse_copied_paths",
    "update_references",
]

GUARD_FIELD = "_mdocument_guard"
"""A counter in parent documents that writes relying on them increment in their transaction.

Snapshot isolation lets a transaction that reads a parent (to check it exists, to copy its
fields) and one that deletes or renames it both commit: the child then dangles or holds a stale
copy. Both writing the parent turns that write skew into a write conflict, and the loser is
retried and sees the truth. A delete or a rename writes the parent anyway; the child's side
writes this counter (``$inc``: a ``$set`` of an unchanged value is skipped and conflicts with
nothing). It is never loaded into instances.
"""

DELETING_FIELD = "_mdocument_deleting"
"""Set (to its journal entry's id) in the roots of a chunked delete while the job runs.

A chunked delete (see :mod:`mdocument.chunked`) commits it before its first chunk; the reference
checks here refuse a parent that carries it (:class:`~mdocument.ParentBeingDeleted`), and the
guard write of a transaction matches only parents without it. It is never loaded into instances.
"""


def referenced_ids(edge: Edge, stored: Mapping[str, Any]) -> list[Any]:
    """The ids one stored child document refers to through ``edge``."""
    value = stored.get(edge.field.stored)
    if value is None:
        return []
    items = value if edge.many else [value]
    if edge.card is not None:
        return [item[ID_FIELD] for item in items if item is not None]
    return [item for item in items if item is not None]


def _refresh_card(
    edge: Edge,
    document: Document,
    stored: dict[str, Any],
    parents: Mapping[Any, Mapping[str, Any]],
) -> None:
    """Make the synced copies of one child equal to their fetched sources."""
    model = edge.card
    assert model is not None
    name, key = edge.field.name, edge.field.stored
    copied = edge.copied
    values = vars(document)

    def fresh(card: Mapping[str, Any]) -> dict[str, Any]:
        parent = parents[card[ID_FIELD]]
        source = {ID_FIELD: card[ID_FIELD]}
        source.update({card_key: parent.get(parent_key) for parent_key, card_key in copied.items()})
        try:
            return model.model_validate(source).model_dump(by_alias=True)
        except ValidationError as exc:
            raise _stale_source_error(edge, card[ID_FIELD], exc) from None

    if edge.many:
        cards = [fresh(card) for card in stored[key]]
        if not same(cards, stored[key]):
            stored[key] = cards
            values[name] = [model.model_validate(card) for card in cards]
    elif stored.get(key) is not None:
        card = fresh(stored[key])
        if not same(card, stored[key]):
            stored[key] = card
            values[name] = model.model_validate(card)


def _stale_source_error(edge: Edge, parent_id: Any, exc: ValidationError) -> WrongValueType:
    """A stored parent whose values no longer fit the copy: named, and no value shown."""
    first = exc.errors(include_url=False)[0]
    card_key = str(first["loc"][0]) if first["loc"] else ""
    by_card = {card: stored for stored, card in edge.copied.items()}
    source = by_card.get(card_key, card_key)
    assert edge.card is not None
    return WrongValueType(
        f"{edge.parent.__name__} {parent_id} in collection "
        f"{edge.parent.__mdocument_mapping__.collection!r}: its stored field {source!r} does "
        f"not fit the copy {edge.card.__name__}.{card_key} held by {edge.label}: {first['msg']}",
        document=edge.parent,
        field=source,
        stored=True,
    )


async def _existing(
    registry: Registry,
    parent: type[Document],
    ids: set[Any],
    projection: dict[str, Any],
    session: Session | None,
) -> dict[Any, Mapping[str, Any]]:
    """The stored parents among ``ids``, by id (``projection`` chooses the fields read)."""
    collection = registry.repository(parent).collection
    projection = {**projection, KIND_FIELD: 1}  # in a hierarchy, only the parent's kinds count
    found = await find_by_ids(collection, list(ids), session, projection)
    return {raw[STORED_ID]: raw for raw in found if matches_kind(parent, raw)}


def _parent_error(
    kind: type[DocumentDoesntExist], edge: Edge, ids: Sequence[Any], state: str, written: str
) -> DocumentDoesntExist:
    """The error for references to parents that cannot be referred to (missing, going...)."""
    shown = ", ".join(str(item) for item in ids[:5])
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return kind(
        f"{edge.label} refers to {edge.parent.__name__} {shown}{more}, which {state} "
        f"({written} was not written)",
        document=edge.child,
        field=edge.field.name,
        ids=list(ids),
    )


def _missing_error(edge: Edge, missing: Sequence[Any], written: str) -> DocumentDoesntExist:
    return _parent_error(DocumentDoesntExist, edge, missing, "does not exist", written)


def _refuse_absent(
    edge: Edge, ids: Sequence[Any], found: Mapping[Any, Mapping[str, Any]], written: str
) -> None:
    """Raise if one of ``ids`` is missing from ``found``, being deleted, or soft-deleted."""
    missing = [item for item in ids if item not in found]
    if missing:
        raise _missing_error(edge, missing, written)
    deleting = [item for item in ids if found[item].get(DELETING_FIELD) is not None]
    if deleting:
        state = "is being deleted by a running chunked delete"
        raise _parent_error(ParentBeingDeleted, edge, deleting, state, written)
    soft = [item for item in ids if found[item].get(LIVE_FIELD) is False]
    if soft:
        raise _parent_error(ParentSoftDeleted, edge, soft, "is soft-deleted", written)


def _by_parent(edges: Iterable[Edge]) -> dict[type[Document], list[Edge]]:
    grouped: dict[type[Document], list[Edge]] = defaultdict(list)
    for edge in edges:
        grouped[edge.parent].append(edge)
    return grouped


async def check_references(
    registry: Registry,
    edges: Iterable[Edge],
    batch: Sequence[tuple[Document, dict[str, Any]]],
    session: Session | None,
) -> None:
    """Check that every id the ``batch`` refers to through ``edges`` exists.

    ``batch`` pairs each child with its stored form; synced copies in both are refreshed from
    their sources. One query per parent collection.
    """
    for parent, parent_edges in _by_parent(edges).items():
        wanted = {
            item
            for edge in parent_edges
            for _, stored in batch
            for item in referenced_ids(edge, stored)
        }
        if not wanted:
            continue
        projection = {STORED_ID: 1, DELETING_FIELD: 1, LIVE_FIELD: 1}
        for edge in parent_edges:
            projection.update(dict.fromkeys(edge.copied, 1))
        copies = any(edge.card is not None for edge in parent_edges)
        guarded = in_transaction(session)
        # In a transaction, the guard write doubles as the existence check: no read then.
        if (
            guarded
            and not copies
            and await guard_parents(registry, parent, wanted, session, live=True) == len(wanted)
        ):
            continue
        found = await _existing(registry, parent, wanted, projection, session)
        for edge in parent_edges:
            for document, stored in batch:
                written = f"{type(document).__name__} {document.id}"
                _refuse_absent(edge, referenced_ids(edge, stored), found, written)
                if edge.card is not None:
                    _refresh_card(edge, document, stored, found)
        if guarded and copies:
            # Read first, then write: a rename committed after this transaction's snapshot
            # makes this write conflict, so the copies just read cannot be stale at commit.
            await guard_parents(registry, parent, wanted, session)


def in_transaction(session: Session | None) -> bool:
    """Whether writes with ``session`` run in a transaction."""
    return session is not None and session.in_transaction


async def guard_parents(
    registry: Registry,
    parent: type[Document],
    ids: set[Any],
    session: Session | None,
    *,
    live: bool = False,
) -> int:
    """Write the parents a child relies on, in the child's transaction; returns how many exist.

    See :data:`GUARD_FIELD`. One ``update_many`` per parent collection. With ``live``, parents
    being deleted (:data:`DELETING_FIELD`) are neither written nor counted.
    """
    collection = registry.repository(parent).collection
    target: dict[str, Any] = {STORED_ID: {"$in": list(ids)}, **kind_filter(parent)}
    if live:
        target[DELETING_FIELD] = None
        target[LIVE_FIELD] = {"$ne": False}  # nor soft-deleted ones (Meta.soft_delete)
    result = await collection.update_many(target, {"$inc": {GUARD_FIELD: 1}}, session=session)
    return result.matched_count


async def check_ids(
    registry: Registry, ids: Mapping[Edge, Sequence[Any]], session: Session | None
) -> None:
    """Check that the ids a bulk update writes into each edge exist; one query per parent.

    In a transaction the parents are guarded too (see :data:`GUARD_FIELD`).
    """
    for parent, parent_edges in _by_parent(edge for edge, values in ids.items() if values).items():
        wanted = {item for edge in parent_edges for item in ids[edge]}
        if in_transaction(session) and (
            await guard_parents(registry, parent, wanted, session, live=True) == len(wanted)
        ):
            continue
        projection = {STORED_ID: 1, DELETING_FIELD: 1, LIVE_FIELD: 1}
        found = await _existing(registry, parent, wanted, projection, session)
        for edge in parent_edges:
            _refuse_absent(edge, ids[edge], found, "the update")


def _inside_copy(rest: str) -> bool:
    """Whether a path below a copy's field writes a copied value (not the copy or its id).

    ``name``, ``0.name`` and ``$[].name`` do; ``id`` and ``0.id`` do not.
    """
    segments = [part for part in rest.split(".") if part and not ARRAY_SEGMENT.match(part)]
    return bool(segments) and segments != [ID_FIELD]


def refuse_copied_paths(edge: Edge, update: Mapping[str, Any]) -> None:
    """Refuse a bulk update that writes a value inside ``edge``'s synced copies.

    Copies belong to their source: a copy is written whole (or by its id) and then made equal
    to its source, never edited in place, or it would silently diverge from the source.
    """
    key = edge.field.stored
    for operator, changes in update.items():
        paths: list[str] = list(cast("Mapping[str, Any]", changes))
        if operator == "$rename":
            paths += [str(target) for target in cast("Mapping[str, Any]", changes).values()]
        for path in paths:
            head, _, rest = path.partition(".")
            if head == key and _inside_copy(rest):
                raise CopiedFieldWrite(
                    f"{edge.child.__name__}: {operator} of {path!r} writes inside the synced "
                    f"copy {edge.label} of {edge.parent.__name__}; copies follow their source: "
                    f"change the {edge.parent.__name__} instead, or set the whole copy",
                    document=edge.child,
                    field=edge.field.name,
                )


def update_references(edge: Edge, update: Mapping[str, Any]) -> list[Any]:
    """The ids a compiled bulk update writes into ``edge``'s field.

    Looks at ``$set``, ``$setOnInsert``, ``$push`` and ``$addToSet`` of the field itself, of an
    element (``tags.0``) or of a copy's id (``author.id``); other paths hold no reference.
    """
    key = edge.field.stored
    found: list[Any] = []
    for operator in ("$set", "$setOnInsert", "$push", "$addToSet"):
        changes: Mapping[str, Any] = update.get(operator) or {}
        for path, value in changes.items():
            head, _, rest = path.partition(".")
            if head != key:
                continue
            items: list[Any]
            if operator in ("$push", "$addToSet"):
                spec: Mapping[str, Any] = (
                    cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else {}
                )
                items = list(spec["$each"]) if "$each" in spec else [value]
            elif rest == "" and edge.many:
                items = list(value or ())
            else:
                items = [value]
            for item in items:
                if edge.card is not None:
                    if isinstance(item, Mapping):
                        item = cast("Mapping[str, Any]", item).get(ID_FIELD)
                    elif rest.rsplit(".", 1)[-1] != ID_FIELD:
                        continue  # a copied value, not the id
                if item is not None:
                    found.append(item)
    return found
