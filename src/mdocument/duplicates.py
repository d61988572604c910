"""Unique-index violations, named: a driver's duplicate-key error becomes a ``DuplicateError``.

The error names the document class, the unique field (or fields) and the value, masked when
sensitive. The driver's own error is never chained to it: its message holds the raw value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mdocument.driver import BulkWriteError, DuplicateKeyError
from mdocument.exceptions import DuplicateError
from mdocument.masks import SENSITIVE_PLACEHOLDER

if TYPE_CHECKING:
    from mdocument.model import DocumentBase as Document

__all__ = ["duplicate_error"]

_INDEX_NAME = re.compile(r"index: (\S+) dup key")


def duplicate_error(
    document: type[Document],
    index_keys: Mapping[str, tuple[str, ...]],
    exc: DuplicateKeyError | BulkWriteError,
) -> DuplicateError | None:
    """The ``DuplicateError`` for a driver error, or ``None`` if it is not a duplicate."""
    details: Mapping[str, Any] = exc.details or {}
    if isinstance(exc, BulkWriteError):
        duplicates = [e for e in details.get("writeErrors", ()) if e.get("code") == 11000]
        if not duplicates:
            return None
        details = duplicates[0]
    key_pattern: Mapping[str, Any] = details.get("keyPattern") or {}
    key_value: Mapping[str, Any] = details.get("keyValue") or {}
    paths = list(key_pattern)
    if not paths:
        # Servers before MongoDB 4.4 name only the index, in the message; its values are
        # not read from there (the message is no place to parse sensitive values from).
        index = _INDEX_NAME.search(str(details.get("errmsg", "")))
        paths = list(index_keys.get(index.group(1), ())) if index else []
    mapping = document.__mdocument_mapping__
    fields: list[str] = []
    values: dict[str, Any] = {}
    for stored_path in paths:
        field = mapping.field_of_stored(stored_path.split(".", 1)[0])
        name = field.name + stored_path[len(field.stored) :] if field else stored_path
        fields.append(name)
        sensitive = mapping.is_sensitive_path(stored_path)
        values[name] = SENSITIVE_PLACEHOLDER if sensitive else key_value.get(stored_path)
    label = "field" if len(fields) == 1 else "fields"
    if key_value:
        shown = ", ".join(f"{name}={values[name]!r}" for name in fields)
        what = f"a document with {shown} exists already"
    else:
        what = "a document with the same values exists already"
    return document.DuplicateError(
        f"{document.__name__}: {what} "
        f"(unique {label} {', '.join(repr(name) for name in fields) or 'unknown'})",
        document=document,
        fields=fields,
        value=values[fields[0]] if len(fields) == 1 else values,
    )
