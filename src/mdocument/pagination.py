"""Pagination: offset/limit pages with a total count, and keyset (cursor) pages with a token.

Both are methods of :class:`~mdocument.QuerySet`, and both pages are pydantic models that
FastAPI takes as response models::

    page = await Post.find(Post.views > 10).sort(desc(Post.created)).paginate(offset=40, limit=20)
    page.items, page.total, page.offset, page.limit

    first = await Post.find().sort(desc(Post.created)).keyset(size=20)
    second = await Post.find().sort(desc(Post.created)).keyset(size=20, after=first.next_token)

Keyset pages stay fast and stable while documents are inserted: each page starts after the sort
values of the previous page's last document (its ``_id`` breaks ties), which an index serves
directly, where an offset makes the server skip every document before it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import bson
import bson.errors
from bson.codec_options import CodecOptions
from pydantic import BaseModel, Field

from mdocument.exceptions import InvalidPageToken
from mdocument.paths import literal

__all__ = [
    "KeysetPage",
    "Page",
    "decode_token",
    "encode_token",
    "keyset_filter",
]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One offset/limit page of results, with the total count (a FastAPI response model)."""

    items: list[T] = Field(description="The results of this page.")
    total: int = Field(description="How many results match, over all pages.")
    offset: int = Field(description="How many matching results come before this page.")
    limit: int = Field(description="The largest number of results a page holds.")


class KeysetPage(BaseModel, Generic[T]):
    """One keyset page: the results and the token of the next page (a FastAPI response model)."""

    items: list[T] = Field(description="The results of this page.")
    size: int = Field(description="The largest number of results a page holds.")
    next_token: str | None = Field(
        description="Pass it as `after` for the next page; null on the last page."
    )


def _fingerprint(sort: Sequence[tuple[str, int]]) -> bytes:
    # Binds a token to the sort it was made for: a token of another sort would skip results.
    return hashlib.blake2b(repr(list(sort)).encode(), digest_size=8).digest()


def encode_token(
    values: Sequence[Any], sort: Sequence[tuple[str, int]], codec: CodecOptions[Any]
) -> str:
    """The opaque token of a position: the sort values (``_id`` last) of the last result."""
    data = bson.encode({"k": _fingerprint(sort), "v": list(values)}, codec_options=codec)
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_token(
    token: str, sort: Sequence[tuple[str, int]], codec: CodecOptions[Any], document: type[Any]
) -> list[Any]:
    """The sort values of a token made by :func:`encode_token` for the same sort.

    Raises :class:`InvalidPageToken` for anything else.
    """
    values: Any = None
    try:
        data = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode("ascii"))
        decoded: Mapping[str, Any] = bson.BSON(data).decode(codec_options=codec)
        values = decoded["v"]
        valid = decoded["k"] == _fingerprint(sort) and len(values) == len(sort)
    except (ValueError, TypeError, KeyError, bson.errors.BSONError):
        valid = False
    if not valid:
        raise InvalidPageToken(
            f"{document.__name__}: the page token is not valid for this query (it was altered "
            "or truncated, or it belongs to a query with another sort)",
            document=document,
        )
    return list(cast("list[Any]", values))


def _after(path: str, direction: int, value: Any) -> dict[str, Any] | None:
    """The filter of the values that sort strictly after ``value`` (``None`` if none does).

    ``null`` (or missing) sorts before every value ascending and after every value descending,
    and ``$gt``/``$lt`` never match it, so it needs its own branches.
    """
    if direction == 1:
        return {path: {"$ne": None}} if value is None else {path: {"$gt": value}}
    if value is None:
        return None
    return {"$or": [{path: {"$lt": value}}, {path: None}]}


def keyset_filter(sort: Sequence[tuple[str, int]], values: Sequence[Any]) -> dict[str, Any]:
    """The filter of the results after a position, for a sort that ends with a unique key.

    For keys ``a, b, _id``: ``a`` after, or ``a`` equal and ``b`` after, or both equal and
    ``_id`` after.
    """
    branches: list[dict[str, Any]] = []
    equal: dict[str, Any] = {}
    for (path, direction), value in zip(sort, values, strict=True):
        after = _after(path, direction, value)
        if after is not None:
            branches.append({**equal, **after})
        equal[path] = literal(value)
    if not branches:
        return {"$nor": [{}]}
    return branches[0] if len(branches) == 1 else {"$or": branches}
