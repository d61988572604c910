"""The migrations lock, the errors migrations raise and their masked messages.

See :mod:`mdocument.migrations`.

The lock is one document, ``_id`` :data:`LOCK_ID` in :data:`LOCK_COLLECTION`: inserting it
takes the lock (the unique ``_id`` lets one runner in), deleting it releases it. Its
``heartbeat`` is refreshed between migrations; a lock whose heartbeat is older than
``stale_after`` was left by a runner that died, and is taken over only when asked
(``force_unlock``), never a live one.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from mdocument.driver import DuplicateKeyError
from mdocument.exceptions import DocumentException
from mdocument.masking import mask_filter

if TYPE_CHECKING:
    from mdocument.model import DocumentBase as Document
    from mdocument.registry import Registry

__all__ = [
    "LOCK_COLLECTION",
    "LOCK_ID",
    "MigrationDocumentError",
    "MigrationError",
    "MigrationFailed",
    "MigrationLock",
    "MigrationLocked",
    "document_error",
    "masked_text",
    "now",
    "scrub",
]

LOCK_COLLECTION = "mdocument_migrations_lock"
"""Where the lock document lives while migrations run."""
LOCK_ID = "migrations"
"""The ``_id`` of the lock document: one runner at a time per database."""
_POLL_SECONDS = 0.2
_SHOWN_LIMIT = 200


class MigrationError(DocumentException):
    """A migration could not be loaded or run (bad file, missing ``down``...)."""


class MigrationLocked(MigrationError):
    """Another runner holds the migrations lock (or left a stale one behind)."""


class MigrationDocumentError(MigrationError):
    """One document could not be migrated by :func:`rewrite`.

    Attributes:
        collection: the collection of the document.
        document_id: its ``_id``.
    """

    def __init__(
        self,
        message: str,
        *,
        collection: str,
        document_id: Any,
        document: type[Any] | None = None,
    ) -> None:
        super().__init__(message, document=document)
        self.collection = collection
        self.document_id = document_id


class MigrationFailed(MigrationError):
    """A migration raised: nothing of it is recorded.

    Attributes:
        migration: the id of the migration that failed.
        applied: the ids applied (or reverted) by this run before it, recorded.
        rolled_back: whether its own writes were rolled back (it ran in a transaction).
        written: documents :func:`rewrite` wrote before the failure, when not rolled back.
    """

    def __init__(
        self,
        message: str,
        *,
        migration: str,
        applied: Sequence[str],
        rolled_back: bool,
        written: int,
    ) -> None:
        super().__init__(message)
        self.migration = migration
        self.applied = tuple(applied)
        self.rolled_back = rolled_back
        self.written = written


def now() -> datetime.datetime:
    """The current time, aware, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class MigrationLock:
    """The lock document: inserted (unique ``_id``) to take it, deleted to release it."""

    def __init__(self, registry: Registry, owner: str | None = None) -> None:
        self.collection = registry.store.plain_collection(LOCK_COLLECTION)
        self.owner = owner or _owner()
        """Who holds it: host, process id and a random suffix (two runners in one process)."""

    async def acquire(
        self, *, wait: float, stale_after: datetime.timedelta, force_unlock: bool
    ) -> float:
        """Take the lock; returns the seconds waited. Raises :class:`MigrationLocked`."""
        started = time.monotonic()
        while True:
            moment = now()
            try:
                await self.collection.insert_one(
                    {"_id": LOCK_ID, "owner": self.owner, "since": moment, "heartbeat": moment}
                )
                return time.monotonic() - started
            except DuplicateKeyError:
                pass
            held = await self.collection.find_one({"_id": LOCK_ID})
            if held is None:
                continue  # released in between: try again at once
            heartbeat: datetime.datetime = held["heartbeat"]
            if heartbeat.tzinfo is None:
                heartbeat = heartbeat.replace(tzinfo=datetime.timezone.utc)
            age = moment - heartbeat
            who = f"{held.get('owner')} since {held.get('since')}"
            if age > stale_after:
                if not force_unlock:
                    raise MigrationLocked(
                        f"the migrations lock is held by {who} and has been silent for "
                        f"{age.total_seconds() / 60:.0f} minutes: if that process is gone, run "
                        "again with --force-unlock (force_unlock=True)"
                    )
                # Only the lock seen here: a runner that took it over meanwhile keeps it.
                await self.collection.delete_one(
                    {"_id": LOCK_ID, "owner": held.get("owner"), "heartbeat": held["heartbeat"]}
                )
                continue
            waited = time.monotonic() - started
            if waited >= wait:
                raise MigrationLocked(
                    f"the migrations lock is held by {who}; gave up after waiting {waited:.0f}s"
                )
            await asyncio.sleep(_POLL_SECONDS)

    async def refresh(self) -> None:
        """Tell other runners this one is alive (between migrations)."""
        await self.collection.update_one(
            {"_id": LOCK_ID, "owner": self.owner}, {"$set": {"heartbeat": now()}}
        )

    async def release(self) -> None:
        """Delete the lock, if it is still this runner's."""
        await self.collection.delete_one({"_id": LOCK_ID, "owner": self.owner})


# -- masked messages ----------------------------------------------------------------------------


def _sensitive_values(raw: Any, masked: Any, found: list[str]) -> None:
    """The texts of the values :func:`mask_filter` hid (to scrub them from messages)."""
    if isinstance(raw, Mapping) and isinstance(masked, Mapping):
        raw_items = cast("Mapping[str, Any]", raw)
        masked_items = cast("Mapping[str, Any]", masked)
        for key, value in raw_items.items():
            _sensitive_values(value, masked_items.get(key), found)
    elif isinstance(raw, list) and isinstance(masked, list):
        raw_list, masked_list = cast("list[Any]", raw), cast("list[Any]", masked)
        for value, hidden in zip(raw_list, masked_list, strict=False):
            _sensitive_values(value, hidden, found)
    elif masked != raw and raw is not None:
        found.append(str(cast("object", raw)))


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with each of ``secrets`` (values seen masked) replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:  # shorter texts would mask unrelated characters
            text = text.replace(secret, "***")
    return text


def masked_text(value: Mapping[str, Any], model: type[Document] | None) -> tuple[str, list[str]]:
    """``value`` (a stored document or an update) with sensitive values masked, cut short.

    Returns the text, and the texts of the values it masked (to :func:`scrub` them from other
    messages: a sensitive value copied into another field, a server's or a function's message).
    """
    if model is None:
        shown: Any = {key: "..." for key in value}  # an unknown collection: keys only
        secrets = [str(item) for item in value.values()]
    else:
        shown = {
            key: mask_filter(cast("Mapping[str, Any]", item), model)
            if key.startswith("$") and isinstance(item, Mapping)
            else mask_filter({key: item}, model)[key]
            for key, item in value.items()
        }
        secrets = list[str]()
        _sensitive_values(dict(value), shown, secrets)
    text = repr(shown)
    return (text if len(text) <= _SHOWN_LIMIT else f"{text[: _SHOWN_LIMIT - 3]}..."), secrets


def document_error(
    model: type[Document] | None,
    collection: str,
    raw: Mapping[str, Any],
    problem: str,
    update: Mapping[str, Any] | None,
    reason: str,
) -> MigrationDocumentError:
    """The error for one stored document a migration could not migrate, values masked.

    Names the class, the ``_id`` and the collection, then ``problem``, the ``update`` tried
    (if any) and ``reason``. A sensitive stored value may have been copied into another field
    or quoted by ``reason``: each is scrubbed wherever it shows.
    """
    secrets = masked_text(raw, model)[1]
    tried = ""
    if update is not None:
        text, more = masked_text(update, model)
        secrets += more
        tried = f" {scrub(text, secrets)}"
    what = f"{model.__name__} " if model is not None else ""
    return MigrationDocumentError(
        f"{what}{raw['_id']!r} in collection {collection!r}: {problem}{tried}: "
        f"{scrub(reason, secrets)}",
        collection=collection,
        document_id=raw["_id"],
        document=model,
    )
