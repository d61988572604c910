"""Loading related documents, one query per call and edge.

A child's parents (``fetch``), the parents of many children at once (``prefetch``) and a parent's
children (``children``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from mdocument.exceptions import DocumentDoesntExist, RelationNotSet
from mdocument.expressions import spec_of
from mdocument.names import ID_FIELD

if TYPE_CHECKING:
    from mdocument.binding import Scope as Registry
    from mdocument.driver import Session
    from mdocument.graph import Edge
    from mdocument.model import DocumentBase as Document

__all__ = ["children", "fetch", "field_name", "prefetch"]

D = TypeVar("D", bound="Document")


def field_name(field: Any) -> str:
    """The field a relation argument names: a field name, or ``Doc.field`` (its expression)."""
    if isinstance(field, str):
        return field
    name = spec_of(field).name
    if "." in name:
        raise RelationNotSet(f"{name!r} is a path inside a field; relations are whole fields")
    return name


def _ids(edge: Edge, document: Document) -> list[Any]:
    """The ids ``document`` refers to through ``edge``, from its current values."""
    value = document.__dict__.get(edge.field.name)
    if value is None:
        return []
    items = value if edge.many else [value]
    if edge.card is not None:
        return [getattr(item, ID_FIELD) for item in items if item is not None]
    return [item for item in items if item is not None]


async def _load(
    registry: Registry, parent: type[Document], ids: Iterable[Any], session: Session | None
) -> dict[Any, Any]:
    documents = await registry.repository(parent).load_many(ids, session)
    return {document.id: document for document in documents}


async def fetch(registry: Registry, document: Document, field: Any, session: Session | None) -> Any:
    """The parent (or, for a list, the parents in list order) ``document.field`` refers to."""
    edge = registry.graph.edge(type(document), field_name(field))
    ids = _ids(edge, document)
    found = await _load(registry, edge.parent, ids, session)
    missing = [item for item in ids if item not in found]
    if missing:
        raise DocumentDoesntExist(
            f"{edge.label} of {type(document).__name__} {document.id} refers to "
            f"{edge.parent.__name__} {', '.join(map(str, missing[:5]))}, which does not exist",
            document=edge.child,
            field=edge.field.name,
            ids=missing,
        )
    if edge.many:
        return [found[item] for item in ids]
    return found[ids[0]] if ids else None


async def prefetch(
    registry: Registry,
    parent: type[D],
    documents: Iterable[Document],
    fields: Iterable[Any],
    session: Session | None,
) -> dict[Any, D]:
    """The ``parent`` documents that ``documents`` refer to, by id, in one query.

    ``fields`` name the references to follow (by default every field referring to ``parent``);
    references to missing parents are left out of the result.
    """
    names = [field_name(field) for field in fields]
    ids: list[Any] = []
    edges: dict[type[Document], list[Edge]] = {}
    for document in documents:
        child = type(document)
        if child not in edges:
            edges[child] = (
                [_edge_to(registry, child, parent, name) for name in names]
                if names
                else [e for e in registry.graph.outgoing(child) if e.parent is parent]
            )
            if not edges[child]:
                raise RelationNotSet(
                    f"{child.__name__} has no field referring to {parent.__name__}",
                    document=child,
                )
        for edge in edges[child]:
            ids.extend(_ids(edge, document))
    return await _load(registry, parent, ids, session)


def _edge_to(
    registry: Registry, child: type[Document], parent: type[Document], name: str | None
) -> Edge:
    if name is not None:
        edge = registry.graph.edge(child, name)
        if edge.parent is not parent:
            raise RelationNotSet(
                f"{edge.label} refers to {edge.parent.__name__}, not {parent.__name__}",
                document=child,
                field=name,
            )
        return edge
    edges = [edge for edge in registry.graph.outgoing(child) if edge.parent is parent]
    if len(edges) != 1:
        found = ", ".join(edge.field.name for edge in edges) or "none"
        raise RelationNotSet(
            f"{child.__name__} refers to {parent.__name__} through {len(edges)} fields "
            f"({found}); name the field",
            document=child,
        )
    return edges[0]


async def children(
    registry: Registry,
    document: Document,
    child: type[D],
    field: Any | None,
    session: Session | None,
) -> list[D]:
    """The ``child`` documents that refer to ``document`` (through ``field``, if it is given)."""
    edge = _edge_to(registry, child, type(document), None if field is None else field_name(field))
    repository = registry.repository(child)
    cursor = repository.collection.find({edge.id_path: document.id}, session=session)
    return [repository.load(raw) for raw in await cursor.to_list(None)]
