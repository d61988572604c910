"""Migrations of stored documents: Python files run once each, in order, under a lock.

A migration is a file ``NNNN_name.py`` in a directory (``migrations/`` by default), where
``NNNN`` is its number (its order) and the file's stem its id. It defines::

    async def up(registry, session): ...      # required
    async def down(registry, session): ...    # optional: what `migrate down` runs

``registry`` is the :class:`~mdocument.registry.Registry` of the application's documents;
``session`` is the session of the migration's transaction, or ``None`` on a server without
transactions: pass it to every call (``Post.find(..., session=session)``,
:func:`rewrite`). A migration may also take ``registry`` alone.

:func:`migrate` runs the pending ones (``up``) or reverts the last applied ones (``down``):

- each runs in a transaction where the server has them (:meth:`Registry.atomic`), together with
  its record in :data:`MIGRATIONS_COLLECTION`: it is applied and recorded, or neither. Without
  transactions, :func:`rewrite` writes in batches, and a migration that fails half-way leaves
  the batches it wrote: write migrations that can run again (filter on what is left to do);
- applied migrations are recorded (id, checksum of the file, when, how long): running again
  changes nothing;
- a lock document (``_id`` :data:`LOCK_ID` in :data:`LOCK_COLLECTION`, inserted before running
  and deleted after) stops two processes that start together from running the same migration:
  the second waits for it, then finds nothing left to do. A lock left behind by a process that
  died is stale once its heartbeat is older than ``stale_after``; ``force_unlock=True`` (the
  command's ``--force-unlock``) takes it over;
- a failure raises :class:`MigrationFailed`: which migration, which document (with sensitive
  values masked), and what was applied.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import hashlib
import importlib.util
import inspect
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from mdocument.exceptions import DocumentException
from mdocument.masking import mask_filter

if TYPE_CHECKING:
    from types import ModuleType

    from mdocument.model import DocumentBase as Document
    from mdocument.driver import Session
    from mdocument.registry import Registry
    from mdocument.store import StoreCollection

__all__ = [
    "LOCK_COLLECTION",
    "LOCK_ID",
    "MIGRATIONS_COLLECTION",
    "Migration",
    "MigrationDocumentError",
    "MigrationError",
    "MigrationFailed",
    "MigrationLocked",
    "MigrationRun",
    "MigrationState",
    "load_migrations",
    "migrate",
    "migration_status",
    "rewrite",
]

MIGRATIONS_COLLECTION = "mdocument_migrations"
"""Where applied migrations are recorded, one document per migration (``_id``: its id)."""
LOCK_COLLECTION = "mdocument_migrations_lock"
"""Where the lock document lives while migrations run."""
LOCK_ID = "migrations"
"""The ``_id`` of the lock document: one runner at a time per database."""

Direction = Literal["up", "down"]
MigrationFunction = Callable[..., Awaitable[Any]]

_FILE_NAME = re.compile(r"^(?P<number>\d+)_(?P<name>[A-Za-z0-9_]+)\.py$")
_NAMESPACE_EXISTS = 48
_POLL_SECONDS = 0.2
_SHOWN_LIMIT = 200

# Documents written by rewrite() in the current migration: what a failure without a
# transaction leaves behind.
_written: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "mdocument_migration_written", default=None
)


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


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    id: str
    """The file's stem: ``0001_add_slug``."""
    number: int
    path: Path
    checksum: str
    """SHA-256 of the file: a changed file is shown by :func:`migration_status`."""
    up: MigrationFunction
    down: MigrationFunction | None
    description: str
    """The first line of the module's docstring."""


@dataclass(frozen=True)
class MigrationState:
    """A migration as :func:`migration_status` sees it."""

    id: str
    applied: bool
    applied_at: datetime.datetime | None
    file: bool
    """Whether its file is there (an applied migration may have lost it)."""
    changed: bool
    """Applied from a file whose content has changed since."""
    description: str = ""


@dataclass
class MigrationRun:
    """What :func:`migrate` did."""

    direction: Direction
    done: list[str] = field(default_factory=list[str])
    """Ids applied (``up``) or reverted (``down``), in order."""
    planned: list[str] = field(default_factory=list[str])
    """Ids this run had to apply or revert (with ``dry_run``: nothing more was done)."""
    dry_run: bool = False
    waited: float = 0.0
    """Seconds spent waiting for another runner's lock."""


# -- files ------------------------------------------------------------------------------------


def _import(path: Path, number: int) -> ModuleType:
    # A module name of its own per file and run: two directories with the same file names, or
    # a file edited between two runs in one process, never share a cached module.
    name = f"mdocument_migration_{number}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise MigrationError(f"cannot load migration {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise MigrationError(
            f"importing migration {path.name} failed: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        sys.modules.pop(name, None)
    return module


def _function(module: ModuleType, path: Path, name: str) -> MigrationFunction | None:
    found = getattr(module, name, None)
    if found is None:
        return None
    if not inspect.iscoroutinefunction(found):
        raise MigrationError(
            f"migration {path.name}: {name} must be `async def {name}(registry, session)`"
        )
    parameters = len(inspect.signature(found).parameters)
    if parameters not in (1, 2):
        raise MigrationError(
            f"migration {path.name}: {name} takes (registry, session) or (registry), not "
            f"{parameters} parameters"
        )
    return cast("MigrationFunction", found)


def load_migrations(directory: str | os.PathLike[str]) -> list[Migration]:
    """The migrations of a directory, in order of their numbers.

    Files named ``NNNN_name.py`` are migrations; other files (``__init__.py``, helpers) are
    ignored. Two files with the same number, or a migration without ``async def up``, raise
    :class:`MigrationError`.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise MigrationError(f"no migrations directory {str(folder)!r}")
    migrations: list[Migration] = []
    numbers: dict[int, str] = {}
    for path in sorted(folder.iterdir()):
        match = _FILE_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        number = int(match["number"])
        if number in numbers:
            raise MigrationError(
                f"migrations {numbers[number]} and {path.stem} have the same number {number}"
            )
        numbers[number] = path.stem
        module = _import(path, number)
        up = _function(module, path, "up")
        if up is None:
            raise MigrationError(f"migration {path.name} defines no `async def up(...)`")
        doc = (module.__doc__ or "").strip().splitlines()
        migrations.append(
            Migration(
                id=path.stem,
                number=number,
                path=path,
                checksum=hashlib.sha256(path.read_bytes()).hexdigest(),
                up=up,
                down=_function(module, path, "down"),
                description=doc[0] if doc else "",
            )
        )
    return sorted(migrations, key=lambda migration: migration.number)


# -- records and status -------------------------------------------------------------------------


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


async def _records(registry: Registry) -> dict[str, dict[str, Any]]:
    records = registry.store.plain_collection(MIGRATIONS_COLLECTION)
    rows = await records.find({}).to_list(None)
    return {str(row["_id"]): row for row in rows}


async def migration_status(
    registry: Registry, migrations: Sequence[Migration]
) -> list[MigrationState]:
    """Each migration, applied or pending, and applied records whose file is gone."""
    records = await _records(registry)
    states: list[MigrationState] = []
    for migration in migrations:
        record = records.pop(migration.id, None)
        states.append(
            MigrationState(
                id=migration.id,
                applied=record is not None,
                applied_at=record.get("applied_at") if record else None,
                file=True,
                changed=record is not None and record.get("checksum") != migration.checksum,
                description=migration.description,
            )
        )
    for missing, record in sorted(records.items()):
        states.append(
            MigrationState(
                id=missing,
                applied=True,
                applied_at=record.get("applied_at"),
                file=False,
                changed=False,
            )
        )
    return states


# -- the lock -------------------------------------------------------------------------------------


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Lock:
    """The lock document: inserted (unique ``_id``) to take it, deleted to release it."""

    def __init__(self, registry: Registry, owner: str) -> None:
        self.collection = registry.store.plain_collection(LOCK_COLLECTION)
        self.owner = owner

    async def acquire(
        self, *, wait: float, stale_after: datetime.timedelta, force_unlock: bool
    ) -> float:
        """Take the lock; returns the seconds waited. Raises :class:`MigrationLocked`."""
        started = time.monotonic()
        while True:
            now = _now()
            try:
                await self.collection.insert_one(
                    {"_id": LOCK_ID, "owner": self.owner, "since": now, "heartbeat": now}
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
            age = now - heartbeat
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
            {"_id": LOCK_ID, "owner": self.owner}, {"$set": {"heartbeat": _now()}}
        )

    async def release(self) -> None:
        """Delete the lock, if it is still this runner's."""
        await self.collection.delete_one({"_id": LOCK_ID, "owner": self.owner})


# -- running ------------------------------------------------------------------------------------


async def _call(function: MigrationFunction, registry: Registry, session: Session | None) -> None:
    if len(inspect.signature(function).parameters) == 1:
        await function(registry)
    else:
        await function(registry, session)


async def _ensure_collection(registry: Registry, name: str) -> None:
    # A transaction may not create a collection on every server: the records' exists first.
    if name in await registry.store.collection_names():
        return
    try:
        await registry.store.command({"create": name})
    except OperationFailure as exc:
        if exc.code != _NAMESPACE_EXISTS:
            raise


def _failure(
    migration: Migration,
    direction: Direction,
    exc: BaseException,
    done: Sequence[str],
    *,
    rolled_back: bool,
    written: int,
) -> MigrationFailed:
    verb = "applied" if direction == "up" else "reverted"
    before = f"{verb} before it in this run: {', '.join(done)}" if done else f"nothing {verb}"
    if rolled_back:
        left = "its writes were rolled back (it ran in a transaction)"
    elif written:
        left = (
            f"no transactions on this server: the {written} documents it wrote before failing "
            "stay written; fix it so that it can run again over them, and rerun"
        )
    else:
        left = "no transactions on this server: whatever it wrote before failing stays"
    reason = exc.message if isinstance(exc, DocumentException) else f"{type(exc).__name__}: {exc}"
    return MigrationFailed(
        f"migration {migration.id} ({direction}) failed: {reason}. It is not recorded; "
        f"{left}. {before[0].upper()}{before[1:]}.",
        migration=migration.id,
        applied=done,
        rolled_back=rolled_back,
        written=written,
    )


async def _run_one(
    registry: Registry, migration: Migration, direction: Direction, run: MigrationRun
) -> None:
    records = registry.store.plain_collection(MIGRATIONS_COLLECTION)
    function = migration.up if direction == "up" else migration.down
    if function is None:
        raise MigrationError(
            f"migration {migration.id} has no `async def down(...)`: it cannot be reverted"
        )
    started = time.monotonic()

    async def work(session: Session | None) -> None:
        written.clear()  # a retried transaction starts again from nothing
        await _call(function, registry, session)
        if direction == "down":
            await records.delete_one({"_id": migration.id}, session=session)
            return
        await records.insert_one(
            {
                "_id": migration.id,
                "checksum": migration.checksum,
                "applied_at": _now(),
                "seconds": round(time.monotonic() - started, 3),
                "description": migration.description,
            },
            session=session,
        )

    written: list[int] = []
    token = _written.set(written)
    try:
        await registry.atomic(work, None)
    except Exception as exc:
        raise _failure(
            migration,
            direction,
            exc,
            run.done,
            rolled_back=registry.supports_transactions,
            written=sum(written),
        ) from exc
    finally:
        _written.reset(token)
    run.done.append(migration.id)


async def migrate(
    registry: Registry,
    migrations: Sequence[Migration],
    *,
    direction: Direction = "up",
    steps: int | None = None,
    dry_run: bool = False,
    wait: float = 60.0,
    stale_after: datetime.timedelta = datetime.timedelta(minutes=30),
    force_unlock: bool = False,
) -> MigrationRun:
    """Apply the pending migrations (``up``) or revert the last applied ones (``down``).

    Args:
        registry: the registry of the application's documents (:func:`mdocument.init`).
        migrations: from :func:`load_migrations`.
        direction: ``"up"`` or ``"down"``.
        steps: at most this many migrations (default: every pending one up, one down).
        dry_run: only say what would run (:attr:`MigrationRun.planned`); no lock, no write.
        wait: seconds to wait for another runner's lock before :class:`MigrationLocked`.
        stale_after: a lock whose heartbeat is older is stale (its runner died).
        force_unlock: take over a stale lock (never a live one).

    Raises:
        MigrationFailed: a migration raised; the ones before it stay applied and recorded.
        MigrationLocked: the lock could not be had.
        MigrationError: a migration cannot be reverted, or an applied one has no file.
    """
    run = MigrationRun(direction=direction, dry_run=dry_run)
    if dry_run:
        run.planned = [
            migration.id
            for migration in _plan(migrations, await _records(registry), direction, steps)
        ]
        return run
    await _ensure_collection(registry, MIGRATIONS_COLLECTION)
    lock = _Lock(registry, _owner())
    run.waited = await lock.acquire(wait=wait, stale_after=stale_after, force_unlock=force_unlock)
    try:
        # Read once the lock is held: a runner that held it before has recorded its work.
        plan = _plan(migrations, await _records(registry), direction, steps)
        run.planned = [migration.id for migration in plan]
        for migration in plan:
            await lock.refresh()
            await _run_one(registry, migration, direction, run)
    finally:
        await lock.release()
    return run


def _plan(
    migrations: Sequence[Migration],
    records: Mapping[str, Any],
    direction: Direction,
    steps: int | None,
) -> list[Migration]:
    if direction == "up":
        pending = [migration for migration in migrations if migration.id not in records]
        return pending if steps is None else pending[:steps]
    by_id = {migration.id: migration for migration in migrations}
    applied = sorted(records, key=lambda key: (int(key.split("_", 1)[0]), key), reverse=True)
    chosen = applied[: 1 if steps is None else steps]
    missing = [key for key in chosen if key not in by_id]
    if missing:
        raise MigrationError(
            f"cannot revert {', '.join(missing)}: applied, but no such file in the migrations "
            "directory"
        )
    return [by_id[key] for key in chosen]


# -- the helper for migrations --------------------------------------------------------------------


def _sensitive_values(raw: Any, masked: Any, found: list[str]) -> None:
    """The texts of the values :func:`mask_filter` hid (to scrub them from messages)."""
    if isinstance(raw, Mapping) and isinstance(masked, Mapping):
        raw_items = cast("Mapping[str, Any]", raw)
        masked_items = cast("Mapping[str, Any]", masked)
        for key, value in raw_items.items():
            _sensitive_values(value, masked_items.get(key), found)
    elif isinstance(raw, list) and isinstance(masked, list):
        for value, hidden in zip(cast("list[Any]", raw), cast("list[Any]", masked), strict=False):
            _sensitive_values(value, hidden, found)
    elif masked != raw and raw is not None:
        found.append(str(raw))


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:  # shorter texts would mask unrelated characters
            text = text.replace(secret, "***")
    return text


def _shown(value: Mapping[str, Any], model: type[Document] | None) -> tuple[str, list[str]]:
    """``value`` (a stored document or an update) with sensitive values masked, cut short."""
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
        secrets = []
        _sensitive_values(dict(value), shown, secrets)
    text = repr(shown)
    return (text if len(text) <= _SHOWN_LIMIT else f"{text[: _SHOWN_LIMIT - 3]}..."), secrets


async def rewrite(
    registry: Registry,
    target: type[Document] | str,
    change: Callable[[dict[str, Any]], Mapping[str, Any] | None],
    *,
    session: Session | None,
    query: Mapping[str, Any] | None = None,
    batch_size: int = 500,
) -> int:
    """Update each stored document matching ``query`` with the update ``change`` returns.

    For migrations: ``change`` gets the stored document (a dict, stored names) and returns an
    update (``{"$set": {...}}``), or ``None`` to leave it. Documents are read in ``_id`` order
    and written ``batch_size`` at a time (one ``bulk_write`` each), in the migration's
    transaction when ``session`` is in one. Returns the number of documents updated.

    A failure raises :class:`MigrationDocumentError` naming the collection, the document's
    ``_id`` and the update (sensitive values masked, as in every message here).

    Args:
        registry: the migration's registry.
        target: a registered document class, or a collection name.
        change: stored document -> update, or ``None``.
        session: the migration's session (``None`` without transactions).
        query: a filter in stored names (default: every document).
        batch_size: documents per write.
    """
    model: type[Document] | None = None
    collection: StoreCollection
    if isinstance(target, str):
        collection = registry.store.plain_collection(target)
        model = next(
            (doc for doc in registry.documents if doc.__mdocument_mapping__.collection == target),
            None,
        )
    else:
        model = target
        collection = registry.repository(target).collection
    what = f"{model.__name__} " if model is not None else ""
    written = _written.get()
    count = 0
    batch: list[tuple[dict[str, Any], Mapping[str, Any]]] = []

    async def flush() -> None:
        nonlocal count
        if not batch:
            return
        requests = [UpdateOne({"_id": raw["_id"]}, update) for raw, update in batch]
        try:
            result = await collection.bulk_write(requests, ordered=True, session=session)
        except BulkWriteError as exc:
            errors: list[dict[str, Any]] = exc.details.get("writeErrors") or []
            index = int(errors[0].get("index", 0)) if errors else 0
            raw, update = batch[index]
            if written is not None:
                written.append(index)  # ordered: the ones before it were written
            shown, secrets = _shown(update, model)
            # A sensitive stored value may be written to another field: scrub those too.
            secrets += _shown(raw, model)[1]
            reason = str(errors[0].get("errmsg", exc)) if errors else str(exc)
            raise MigrationDocumentError(
                f"{what}{raw['_id']!r} in collection {collection.name!r}: the server refused "
                f"update {_scrub(shown, secrets)}: {_scrub(reason, secrets)}",
                collection=collection.name,
                document_id=raw["_id"],
                document=model,
            ) from None
        except PyMongoError as exc:
            raise MigrationDocumentError(
                f"writing {len(batch)} documents of collection {collection.name!r} from "
                f"{what}{batch[0][0]['_id']!r} on failed: {type(exc).__name__}",
                collection=collection.name,
                document_id=batch[0][0]["_id"],
                document=model,
            ) from exc
        count += int(result.modified_count)
        if written is not None:
            written.append(len(batch))
        batch.clear()

    cursor = collection.find(
        dict(query or {}), sort=[("_id", 1)], batch_size=batch_size, session=session
    )
    async for raw in cursor:
        try:
            update = change(raw)
        except Exception as exc:
            _, secrets = _shown(raw, model)
            reason = _scrub(f"{type(exc).__name__}: {exc}", secrets)
            raise MigrationDocumentError(
                f"{what}{raw['_id']!r} in collection {collection.name!r}: the migration's "
                f"change failed: {reason}",
                collection=collection.name,
                document_id=raw["_id"],
                document=model,
            ) from None
        if update:
            batch.append((raw, update))
        if len(batch) >= batch_size:
            await flush()
    await flush()
    return count
