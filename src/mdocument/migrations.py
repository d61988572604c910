"""Migrations of stored documents: Python files run once each, in order, under a lock.

A migration is a file ``NNNN_name.py`` (``NNNN`` its order, the stem its id) defining
``async def up(registry, session)`` and optionally ``down``. :func:`migrate` runs the pending
ones, each in a transaction where the server has them together with its record in
:data:`MIGRATIONS_COLLECTION`, under the lock of :mod:`mdocument.migration_lock`; without
transactions :func:`rewrite` writes in batches. A failure raises :class:`MigrationFailed`: which
migration, which document (sensitive values masked), and what was applied. The format and the
guarantees are described in docs/operations.md.
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import importlib.util
import inspect
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from mdocument.driver import (
    BulkWriteError,
    OperationFailure,
    PyMongoError,
    UpdateOne,
)
from mdocument.exceptions import DocumentException
from mdocument.migration_lock import (
    LOCK_COLLECTION,
    LOCK_ID,
    MigrationDocumentError,
    MigrationError,
    MigrationFailed,
    MigrationLock,
    MigrationLocked,
    document_error,
    now,
)

if TYPE_CHECKING:
    from types import ModuleType

    from mdocument.driver import Session
    from mdocument.model import DocumentBase as Document
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

Direction = Literal["up", "down"]
MigrationFunction = Callable[..., Awaitable[Any]]

_FILE_NAME = re.compile(r"^(?P<number>\d+)_(?P<name>[A-Za-z0-9_]+)\.py$")
_NAMESPACE_EXISTS = 48

# Documents written by rewrite() in the current migration: what a failure without a
# transaction leaves behind.
_written: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "mdocument_migration_written", default=None
)


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
                "applied_at": now(),
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
    lock = MigrationLock(registry)
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

    ``target`` is a registered class or a collection name; ``change`` gets a stored document
    (a dict) and returns an update (``{"$set": ...}``) or ``None``. Documents are read in
    ``_id`` order and written ``batch_size`` at a time (one ``bulk_write``), in the
    migration's transaction when ``session`` is in one. Returns the documents updated; a
    failure raises :class:`MigrationDocumentError` naming the document, values masked.
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
            reason = str(errors[0].get("errmsg", exc)) if errors else str(exc)
            raise document_error(
                model, collection.name, raw, "the server refused update", update, reason
            ) from None
        except PyMongoError as exc:
            problem = f"writing the batch of {len(batch)} documents from it failed"
            raise document_error(
                model, collection.name, batch[0][0], problem, None, type(exc).__name__
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
            reason = f"{type(exc).__name__}: {exc}"
            raise document_error(
                model, collection.name, raw, "the migration's change failed", None, reason
            ) from None
        if update:
            batch.append((raw, update))
        if len(batch) >= batch_size:
            await flush()
    await flush()
    return count
