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

Page tokens are encrypted and signed with the application's keys (:func:`configure_page_tokens`
or the ``MDOCUMENT_PAGE_TOKEN_KEYS`` environment variable): a client can neither read the
values in a token (a sensitive one included) nor edit them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import bson
import bson.errors
from bson.codec_options import CodecOptions
from pydantic import BaseModel, Field

from mdocument.exceptions import DocumentException, InvalidPageToken
from mdocument.paths import literal

__all__ = [
    "PAGE_TOKEN_KEYS_VARIABLE",
    "KeysetPage",
    "Page",
    "PageTokenKeys",
    "PageTokensNotConfigured",
    "configure_page_tokens",
    "decode_token",
    "encode_token",
    "keyset_filter",
    "page_token_keys",
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


# -- page tokens --------------------------------------------------------------------------------

PAGE_TOKEN_KEYS_VARIABLE = "MDOCUMENT_PAGE_TOKEN_KEYS"
"""The environment variable read when :func:`configure_page_tokens` was not called: the keys,
separated by commas, the signing one first."""

_MIN_KEY_BYTES = 16
_VERSION = b"\x01"
_NONCE_BYTES = 16
_TAG_BYTES = hashlib.sha256().digest_size
_HOW_TO_CONFIGURE = (
    "call mdocument.configure_page_tokens(keys=[...]) at startup, or set the "
    f"{PAGE_TOKEN_KEYS_VARIABLE} environment variable (comma-separated keys, the signing one "
    "first); every process of the application needs the same keys"
)


class PageTokensNotConfigured(DocumentException, RuntimeError):
    """Keyset page tokens were made or read, but no key to seal them is configured.

    A fault of the application's configuration (a 500 in a web app), never of the client.
    """


def _derive(key: bytes, purpose: bytes) -> bytes:
    # One secret, two independent keys: encrypting and signing never share a key.
    return hmac.new(key, b"mdocument page token: " + purpose, hashlib.sha256).digest()


class PageTokenKeys:
    """The keys that seal keyset page tokens: the first one seals, every one opens.

    A token is encrypted, so it shows no value of the documents (a sort by a model holding a
    sensitive field puts that value in it), and signed, so a client cannot edit it:
    ``base64url(version | nonce | ciphertext | HMAC-SHA256 tag)``. The ciphertext is the BSON
    position XORed with an HMAC-SHA256 keystream (counter mode on a random nonce); the tag
    covers the version, the nonce and the ciphertext, and is checked in constant time before
    anything is decrypted. Encryption and signature keys are derived from each configured key.

    To rotate a key, list the new one first and keep the old one until the tokens it sealed
    have expired from clients: ``PageTokenKeys([new, old])``.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        """Check and derive the keys.

        Args:
            keys: secrets of at least 16 bytes (a ``str`` is UTF-8 encoded), the sealing one
                first. The same keys must be given to every process of the application.
        """
        if isinstance(keys, (str, bytes)) or not keys:
            raise ValueError(f"page tokens take a non-empty list of keys; {_HOW_TO_CONFIGURE}")
        secrets: list[tuple[bytes, bytes]] = []
        for position, key in enumerate(keys):
            raw = key.encode() if isinstance(key, str) else key
            if not isinstance(raw, bytes) or len(raw) < _MIN_KEY_BYTES:  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ValueError(
                    f"page token key #{position + 1} is not a str or bytes of at least "
                    f"{_MIN_KEY_BYTES} bytes (use a random secret, e.g. secrets.token_urlsafe())"
                )
            secrets.append((_derive(raw, b"encryption"), _derive(raw, b"signature")))
        self._keys = tuple(secrets)

    def seal(self, payload: bytes) -> str:
        """The token of ``payload``: encrypted and signed with the first key."""
        encryption, signature = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        body = _VERSION + nonce + _xor(payload, _keystream(encryption, nonce, len(payload)))
        tag = hmac.new(signature, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode("ascii")

    def open(self, token: str) -> bytes | None:
        """The payload of a token sealed with one of the keys; ``None`` for anything else."""
        try:
            data = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode("ascii"))
        except ValueError:  # binascii.Error and non-ASCII text are ValueErrors
            return None
        if len(data) < 1 + _NONCE_BYTES + _TAG_BYTES or data[:1] != _VERSION:
            return None
        body, tag = data[:-_TAG_BYTES], data[-_TAG_BYTES:]
        for encryption, signature in self._keys:
            if hmac.compare_digest(hmac.new(signature, body, hashlib.sha256).digest(), tag):
                nonce, ciphertext = body[1 : 1 + _NONCE_BYTES], body[1 + _NONCE_BYTES :]
                return _xor(ciphertext, _keystream(encryption, nonce, len(ciphertext)))
        return None

    def __repr__(self) -> str:
        return f"<PageTokenKeys: {len(self._keys)} key(s)>"  # never the keys


def _keystream(key: bytes, nonce: bytes, size: int) -> bytes:
    blocks = (size + _TAG_BYTES - 1) // _TAG_BYTES
    return b"".join(
        hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        for counter in range(blocks)
    )[:size]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


# The keys given to configure_page_tokens(); None: read the environment variable.
_configured: PageTokenKeys | None = None
# The environment variable's value and its keys, parsed once per value.
_from_environment: tuple[str, PageTokenKeys] | None = None


def configure_page_tokens(keys: Sequence[str | bytes] | None) -> None:
    """Set the keys of keyset page tokens, for the whole process; call it at startup.

    Every process of an application must get the same keys, so that a token made by one is
    accepted by the others (they come from the application's configuration: never generate
    one per process). The first key seals new tokens, all of them open tokens: to rotate, put
    the new key first and remove the old one once its tokens are no longer in use.
    ``None`` returns to the :data:`PAGE_TOKEN_KEYS_VARIABLE` environment variable
    (``MDOCUMENT_PAGE_TOKEN_KEYS``, comma-separated, read when a token is made or read).

    Without keys, making or reading a token raises :class:`PageTokensNotConfigured`.

    Args:
        keys: secrets of at least 16 bytes each (``str`` or ``bytes``), the sealing one first.
    """
    global _configured
    _configured = None if keys is None else PageTokenKeys(keys)


def page_token_keys() -> PageTokenKeys:
    """The configured keys (see :func:`configure_page_tokens`).

    Raises :class:`PageTokensNotConfigured` when there are none.
    """
    global _from_environment
    if _configured is not None:
        return _configured
    value = os.environ.get(PAGE_TOKEN_KEYS_VARIABLE, "")
    if _from_environment is not None and _from_environment[0] == value:
        return _from_environment[1]
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise PageTokensNotConfigured(
            f"keyset page tokens need a key and none is configured: {_HOW_TO_CONFIGURE}"
        )
    try:
        parsed = PageTokenKeys(keys)
    except ValueError as error:
        raise PageTokensNotConfigured(f"{PAGE_TOKEN_KEYS_VARIABLE}: {error}") from None
    _from_environment = (value, parsed)
    return parsed


def _fingerprint(sort: Sequence[tuple[str, int]]) -> bytes:
    # Binds a token to the sort it was made for: a token of another sort would skip results.
    return hashlib.blake2b(repr(list(sort)).encode(), digest_size=8).digest()


def encode_token(
    values: Sequence[Any], sort: Sequence[tuple[str, int]], codec: CodecOptions[Any]
) -> str:
    """The opaque token of a position: the sort values (``_id`` last) of the last result.

    Sealed with :func:`page_token_keys` (encrypted and signed); raises
    :class:`PageTokensNotConfigured` when no key is configured.
    """
    keys = page_token_keys()
    data = bson.encode({"k": _fingerprint(sort), "v": list(values)}, codec_options=codec)
    return keys.seal(data)


def decode_token(
    token: str, sort: Sequence[tuple[str, int]], codec: CodecOptions[Any], document: type[Any]
) -> list[Any]:
    """The sort values of a token made by :func:`encode_token` for the same sort.

    Raises :class:`InvalidPageToken` for anything else: a token altered (any byte), truncated,
    sealed with a key that is no longer configured, or made for another sort.
    """
    data = page_token_keys().open(token)
    values: Any = None
    valid = False
    if data is not None:  # signed with a configured key: the BSON is the one encoded
        try:
            decoded: Mapping[str, Any] = bson.BSON(data).decode(codec_options=codec)
            values = decoded["v"]
            valid = decoded["k"] == _fingerprint(sort) and len(values) == len(sort)
        except (ValueError, TypeError, KeyError, bson.errors.BSONError):
            valid = False
    if not valid:
        raise InvalidPageToken(
            f"{document.__name__}: the page token is not valid for this query (it was altered "
            "or truncated, sealed with a key that is no longer configured, or it belongs to a "
            "query with another sort)",
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
