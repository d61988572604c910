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

from mdocument.batching import find_by_ids
from mdocument.exceptions import DocumentDoesntExist
from mdocument.mapping import ID_FIELD, STORED_ID

if TYPE_CHECKING:
    from mdocument.document import Document
    from mdocument.driver import Session
    from mdocument.graph import Edge
    from mdocument.registry import Registry

__all__ = ["check_ids", "check_references", "referenced_ids", "update_references"]


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
        return model.model_validate(source).model_dump(by_alias=True)

    if edge.many:
        cards = [fresh(card) for card in stored[key]]
        if cards != stored[key]:
            stored[key] = cards
            values[name] = [model.model_validate(card) for card in cards]
    elif stored.get(key) is not None:
        card = fresh(stored[key])
        if card != stored[key]:
            stored[key] = card
            values[name] = model.model_validate(card)


async def _existing(
    registry: Registry,
    parent: type[Document],
    ids: set[Any],
    projection: dict[str, Any],
    session: Session | None,
) -> dict[Any, Mapping[str, Any]]:
    """The stored parents among ``ids``, by id (``projection`` chooses the fields read)."""
    collection = registry.repository(parent).collection
    found = await find_by_ids(collection, list(ids), session, projection)
    return {raw[STORED_ID]: raw for raw in found}


def _missing_error(edge: Edge, missing: Sequence[Any], written: str) -> DocumentDoesntExist:
    shown = ", ".join(str(item) for item in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return DocumentDoesntExist(
        f"{edge.label} refers to {edge.parent.__name__} {shown}{more}, which does not exist "
        f"({written} was not written)",
        document=edge.child,
        field=edge.field.name,
        ids=missing,
    )


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
        projection = {STORED_ID: 1}
        for edge in parent_edges:
            projection.update(dict.fromkeys(edge.copied, 1))
        found = await _existing(registry, parent, wanted, projection, session)
        for edge in parent_edges:
            for document, stored in batch:
                missing = [item for item in referenced_ids(edge, stored) if item not in found]
                if missing:
                    raise _missing_error(edge, missing, f"{type(document).__name__} {document.id}")
                if edge.card is not None:
                    _refresh_card(edge, document, stored, found)


async def check_ids(
    registry: Registry, ids: Mapping[Edge, Sequence[Any]], session: Session | None
) -> None:
    """Check that the ids a bulk update writes into each edge exist; one query per parent."""
    for parent, parent_edges in _by_parent(edge for edge, values in ids.items() if values).items():
        wanted = {item for edge in parent_edges for item in ids[edge]}
        found = await _existing(registry, parent, wanted, {STORED_ID: 1}, session)
        for edge in parent_edges:
            missing = [item for item in ids[edge] if item not in found]
            if missing:
                raise _missing_error(edge, missing, "the update")


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
