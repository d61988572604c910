"""Class hierarchies in one collection: ``Meta.polymorphic = True`` on a root document.

The root and its subclasses share the root's collection. Every document of the hierarchy is
stored with a discriminator, :data:`KIND_FIELD`, holding its class's kind (``Meta.kind``, else
the class name). A subclass's queries match its own kind and its subclasses' kinds; the root's
match the whole collection. Loading dispatches on the stored kind. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mdocument.exceptions import DocumentException

__all__ = [
    "KIND_FIELD",
    "check_shared_indexes",
    "descendants",
    "in_line",
    "inherited_fields",
    "kind_filter",
    "kind_of",
    "matches_kind",
    "polymorphic_root",
    "same_hierarchy",
    "subclass_for",
    "subtree_kinds",
    "with_hierarchies",
]

KIND_FIELD = "_kind"
"""The stored discriminator of a document of a polymorphic hierarchy."""


def _own_meta(document: type) -> Mapping[str, Any]:
    meta: Any = document.__dict__.get("Meta")
    return meta.__dict__ if meta is not None else {}


def polymorphic_root(document: type) -> type | None:
    """The class of ``document``'s MRO whose own ``Meta`` says ``polymorphic = True``."""
    for cls in document.__mro__:
        if _own_meta(cls).get("polymorphic"):
            return cls
    return None


def kind_of(document: type) -> str:
    """The discriminator value of a class: its own ``Meta.kind``, else its name."""
    return str(_own_meta(document).get("kind") or document.__name__)


def descendants(document: type) -> list[type]:
    """Every subclass of ``document`` (recursively), in definition order, without repeats."""
    found: list[type] = []
    subclasses: list[type] = document.__subclasses__()
    for sub in subclasses:
        if sub not in found:
            found.append(sub)
        found.extend(item for item in descendants(sub) if item not in found)
    return found


def subtree_kinds(document: type) -> list[str]:
    """The kinds a query of ``document`` matches: its own and its subclasses'."""
    return list(dict.fromkeys([kind_of(document), *map(kind_of, descendants(document))]))


def kind_filter(document: type) -> dict[str, Any]:
    """The filter a query of ``document`` needs: none for a root or a class outside hierarchies."""
    mapping: Any = document.__dict__.get("__mdocument_mapping__")
    if mapping is not None and mapping.kind is None:  # outside hierarchies: no walk of the MRO
        return {}
    root = polymorphic_root(document)
    if root is None or root is document:
        return {}
    return {KIND_FIELD: {"$in": subtree_kinds(document)}}


def matches_kind(document: type, raw: Mapping[str, Any]) -> bool:
    """Whether a stored document (its :data:`KIND_FIELD` read) is a ``document``."""
    wanted = kind_filter(document)
    return not wanted or raw.get(KIND_FIELD) in wanted[KIND_FIELD]["$in"]


def subclass_for(document: type, raw: Mapping[str, Any]) -> type:
    """The class a stored document is loaded as: the one of ``document``'s subtree of its kind."""
    kind = raw.get(KIND_FIELD)
    if kind is None or polymorphic_root(document) is None or kind == kind_of(document):
        return document
    for sub in descendants(document):
        if kind_of(sub) == kind:
            return sub
    return document


def same_hierarchy(first: type, second: type) -> bool:
    """Whether two classes belong to one polymorphic hierarchy (they share its collection)."""
    root = polymorphic_root(first)
    return root is not None and root is polymorphic_root(second)


def with_hierarchies(models: Iterable[Any]) -> list[Any]:
    """``init``'s models, each member of a hierarchy bringing its root and all its subclasses.

    A hierarchy is registered whole: loading a root may find any of its subclasses. Abstract
    subclasses (``Meta.abstract``) have no documents and are left out.
    """
    found: list[Any] = []
    for model in models:
        root = polymorphic_root(model) if isinstance(model, type) else None
        members = [model] if root is None else [root, *descendants(root)]
        for member in members:
            if member not in found and not (
                member is not model and _own_meta(member).get("abstract")
            ):
                found.append(member)
    return found


def in_line(first: type, second: type, *, up: bool = False) -> bool:
    """Whether two classes of one hierarchy are related.

    ``second`` is a subclass of ``first``, or (unless ``up``) ``first`` one of ``second``.
    """
    if not same_hierarchy(first, second):
        return False
    return issubclass(second, first) or (not up and issubclass(first, second))


def inherited_fields(document: type, registered: Iterable[type]) -> set[str]:
    """The fields ``document`` inherits from a registered class of its hierarchy."""
    names: set[str] = set()
    for other in registered:
        if other is not document and in_line(other, document, up=True):
            names.update(getattr(other, "__pydantic_fields__", {}))
    return names


def check_shared_indexes(indexes: Mapping[type, list[Mapping[str, Any]]]) -> None:
    """Refuse a unique index a subclass adds to its hierarchy's collection.

    Unique fields and indexes are shared by the whole collection: declare them on the root.
    """
    for document, models in indexes.items():
        root = polymorphic_root(document)
        if root is None or root is document:
            continue
        inherited = {model["name"] for model in indexes.get(root, [])}
        for model in models:
            if model.get("unique") and model["name"] not in inherited:
                raise DocumentException(
                    f"{document.__name__}: the unique index {model['name']!r} is declared on a "
                    f"subclass of {root.__name__}, whose collection its hierarchy shares; "
                    "declare unique fields and unique relations on the root",
                    document=document,
                )
