"""Index declarations: ``Meta.indexes = [Index(keys, **options)]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Index", "IndexKeys"]

IndexKeys = str | Sequence[str | tuple[str, int | str]]
"""A field name, or a sequence of field names and ``(field, direction)`` pairs."""


class Index:
    """An index on a document's collection, created by :func:`mdocument.init`.

    Keys name fields as the document declares them (``"id"``, nested paths such as
    ``"address.city"``); mdocument translates them to the stored names. Options are those of
    :class:`pymongo.operations.IndexModel` (``unique=True``, ``name=``, ``sparse=``,
    ``partialFilterExpression=``, ``expireAfterSeconds=`` ...)::

        class Meta:
            indexes = [Index([("name", 1), ("email", -1)], unique=True), Index("created")]
    """

    __slots__ = ("keys", "options")

    def __init__(self, keys: IndexKeys, **options: Any) -> None:
        if isinstance(keys, str):
            keys = [keys]
        normalized: list[tuple[str, int | str]] = []
        for key in keys:
            if isinstance(key, str):
                normalized.append((key, 1))
            else:
                name, direction = key
                normalized.append((name, direction))
        if not normalized:
            raise ValueError("an Index needs at least one key")
        self.keys: tuple[tuple[str, int | str], ...] = tuple(normalized)
        self.options: dict[str, Any] = options

    @property
    def unique(self) -> bool:
        """Whether the index is unique."""
        return bool(self.options.get("unique"))

    def __repr__(self) -> str:
        options = "".join(f", {key}={value!r}" for key, value in self.options.items())
        return f"Index({list(self.keys)!r}{options})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Index):
            return NotImplemented
        return self.keys == other.keys and self.options == other.options

    def __hash__(self) -> int:
        return hash(self.keys)
