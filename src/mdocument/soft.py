"""Soft delete, as a class declares it: ``Meta.soft_delete = True``.

A soft-delete class stores three fields besides its declared ones (never loaded into instances):

- :data:`LIVE_FIELD` (``_live``): ``True`` from the insert on, ``False`` once soft-deleted. It
  is always present (documents stored before soft delete was turned on lack it and count as
  live), because a partial index cannot filter on ``$exists: false``: unique indexes of the
  class use ``partialFilterExpression: {"_live": true}`` so soft-deleted documents hold no
  unique value;
- :data:`DELETED_AT_FIELD` (``_deleted_at``): when it was soft-deleted;
- :data:`DELETION_FIELD` (``_deletion``): an ``ObjectId`` naming the deletion, shared by every
  document one ``delete()`` soft-deleted (its cascades included): ``restore()`` restores
  exactly those.

Queries of the class add :data:`HIDE` to their filter unless they ask for soft-deleted documents
(``QuerySet.with_deleted()``). Running soft deletes and restores is :mod:`mdocument.soft_deletes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DELETED_AT_FIELD",
    "DELETION_FIELD",
    "HIDE",
    "LIVE_FIELD",
    "hidden",
    "is_soft",
    "marked",
    "shown",
]

LIVE_FIELD = "_live"
"""``True`` in live documents of a soft-delete class, ``False`` in soft-deleted ones."""

DELETED_AT_FIELD = "_deleted_at"
"""When a document was soft-deleted (absent while it is live)."""

DELETION_FIELD = "_deletion"
"""The id of the deletion that soft-deleted a document, shared by its whole cascade."""

HIDE: dict[str, Any] = {LIVE_FIELD: {"$ne": False}}
"""The condition that leaves soft-deleted documents out (documents without the field match)."""


def is_soft(document: type[Any]) -> bool:
    """Whether ``document`` declares ``Meta.soft_delete = True``."""
    meta: Any = document.__dict__.get("Meta")
    value: object = getattr(meta, "soft_delete", False)
    if not isinstance(value, bool):
        raise TypeError(f"{document.__name__}.Meta.soft_delete is True or False, not {value!r}")
    return value


def hidden(document: type[Any], filter: Mapping[str, Any]) -> dict[str, Any]:
    """``filter``, leaving out the soft-deleted documents of a soft-delete class."""
    if not is_soft(document) or LIVE_FIELD in filter:
        return dict(filter)
    return {**filter, **HIDE}


def shown(filter: Mapping[str, Any]) -> dict[str, Any]:
    """``filter`` without the condition :func:`hidden` added: soft-deleted documents included."""
    return {key: value for key, value in filter.items() if key != LIVE_FIELD}


def marked(document: type[Any], row: dict[str, Any]) -> dict[str, Any]:
    """A row to insert, with ``_live: true`` for a soft-delete class."""
    return {**row, LIVE_FIELD: True} if is_soft(document) else row
