"""Shard keys: ``Meta.shard_key`` in the filters of single-document writes, and never changed.

On a sharded cluster, MongoDB routes a write whose filter holds the whole shard key to one
shard; without it, an ``update_one`` or ``delete_one`` goes to every shard (and MongoDB refuses
some of them outright). The repository adds the key's stored values, read from the document's
stored form at its last load or save, to the filter of every ``save()`` update and every
single-document ``delete()``. A ``save()`` that would change one of them is refused before
anything is sent (:class:`~mdocument.ShardKeyChange`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mdocument.exceptions import ShardKeyChange

if TYPE_CHECKING:
    from mdocument.mapping import DocumentMapping

__all__ = ["refuse_shard_key_change", "shard_filter"]

_ABSENT = object()


def _at(form: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted stored path of a stored form (``_ABSENT`` when there is none)."""
    value: Any = form
    for segment in path.split("."):
        if not isinstance(value, Mapping) or segment not in value:
            return _ABSENT
        value = value[segment]  # pyright: ignore[reportUnknownVariableType]
    return value  # pyright: ignore[reportUnknownVariableType]


def shard_filter(mapping: DocumentMapping, form: Mapping[str, Any] | None) -> dict[str, Any]:
    """The shard key's stored paths and values in ``form`` (empty without a shard key)."""
    if not mapping.shard_key or form is None:
        return {}
    found = {path: _at(form, path) for path in mapping.shard_key}
    # A missing value is matched as null, as MongoDB stores a document without it.
    return {path: None if value is _ABSENT else value for path, value in found.items()}


def refuse_shard_key_change(
    mapping: DocumentMapping, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    """Raise :class:`ShardKeyChange` if a shard-key value differs between two stored forms."""
    for path in mapping.shard_key:
        if _at(before, path) != _at(after, path):
            name = mapping.document.__name__
            raise ShardKeyChange(
                f"{name}: save() would change the shard key {path!r} (Meta.shard_key), which "
                "would move the document to another shard; nothing was sent: delete the "
                f"{name} and create it again instead",
                document=mapping.document,
                field=path,
            )
