"""Stored names every layer agrees on: the id field, its stored name, list-element segments."""

from __future__ import annotations

import re

__all__ = ["ARRAY_SEGMENT", "ID_FIELD", "STORED_ID"]

ID_FIELD = "id"
"""The id field of every document (and of every synced copy)."""

STORED_ID = "_id"
"""Where MongoDB stores a document's id."""

ARRAY_SEGMENT = re.compile(r"^(\d+|\$|\$\[\]|\$\[[A-Za-z][A-Za-z0-9]*\])$")
"""Path segments that address list elements: an index, or an update's positional operators."""
