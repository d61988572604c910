"""The store: every call mdocument makes to a database passes here, and only here.

Services (repositories, cascades, reference checks, queries, loading, export, the integrity
check) never touch a driver object: they hold a :class:`Store` for their database and
:class:`StoreCollection` objects, whose methods mirror the driver's collection methods they use.
That gives one place for what every call needs:

- **tracing**: :attr:`Store.tracers` are called with each operation before it is sent (the
  operation's name and the collection), and :func:`in_store` tells a command listener whether
  the command it sees was sent from inside the store (the test that keeps this layer whole);
- **transactions**: :meth:`Store.transaction` runs work in a transaction, retried on transient
  errors for a bounded time (PyMongo's own retries last 120 s);
- **driver differences** (PyMongo's async API or Motor), through :mod:`mdocument.driver`.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    MutableMapping,
    Sequence,
)
from typing import Any, TypeVar

from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import BulkWriteError, PyMongoError
from pymongo.results import (
    BulkWriteResult,
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    UpdateResult,
)

from mdocument.codec import codec_options
from mdocument.driver import Collection, Database, Driver, Session
from mdocument.exceptions import TransactionConflict

__all__ = [
    "Store",
    "StoreChangeStream",
    "StoreCollection",
    "StoreCursor",
    "Tracer",
    "in_store",
    "retries",
]

T = TypeVar("T")

Tracer = Callable[[str, str], None]
"""Called with an operation's name (``find``, ``update_many``...) and its collection's name."""

_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("mdocument_store", default=False)


class _Traced:
    """The block of one store operation: a class, not a generator (it runs on every call)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _inside.set(True)

    def __exit__(self, *exc: object) -> None:
        _inside.reset(self._token)


_WRITE_CONFLICT = 112
_BACKOFF_INITIAL = 0.005
_BACKOFF_MAX = 0.5

retries: int = 0
"""Transaction attempts retried since the process started (read by tests and benchmarks)."""


def in_store() -> bool:
    """Whether the current task is inside a store call (for command listeners in tests)."""
    return _inside.get()


class Store:
    """The database of one registry, and every call made to it."""

    def __init__(self, database: Database, driver: Driver) -> None:
        self._database = database
        self.driver = driver
        self.tracers: list[Tracer] = []
        """Hooks called before each operation is sent (see :data:`Tracer`)."""

    @property
    def name(self) -> str:
        """The database's name."""
        return self._database.name

    @property
    def codec_options(self) -> CodecOptions[Any]:
        """The database's codec options (mdocument derives its collections' from them)."""
        return self._database.codec_options

    def traced(self, operation: str, collection: str = "") -> _Traced:
        """Mark the driver calls made inside as the store's, after telling the tracers."""
        for tracer in self.tracers:
            tracer(operation, collection)
        return _Traced()

    def collection(
        self, name: str, *, decimals: bool = False, aware: bool = True
    ) -> StoreCollection:
        """A collection with mdocument's codec options.

        ``decimals``: decode decimal128; ``aware=False``: datetimes decoded naive (see
        :mod:`mdocument.utc`).
        """
        options = codec_options(self._database.codec_options, decimals=decimals, aware=aware)
        return StoreCollection(self, self._database.get_collection(name, codec_options=options))

    def plain_collection(self, name: str) -> StoreCollection:
        """A collection with the database's own codec options (the journal, exports)."""
        return StoreCollection(self, self._database.get_collection(name))

    async def command(self, command: str | MutableMapping[str, Any]) -> dict[str, Any]:
        """Run a database command."""
        with self.traced("command"):
            result: dict[str, Any] = await self._database.command(command)
            return result

    async def collection_names(self) -> list[str]:
        """The names of the database's collections."""
        with self.traced("list_collection_names"):
            names: list[str] = await self._database.list_collection_names()
            return names

    async def database_names(self) -> list[str]:
        """The names of the databases on the server."""
        with self.traced("list_database_names"):
            names: list[str] = await self._database.client.list_database_names()
            return names

    async def start_session(self) -> Session:
        """A new session on the database's client."""
        with self.traced("start_session"):
            return await self.driver.start_session(self._database)

    async def transaction(
        self, session: Session, work: Callable[[Session], Awaitable[T]], *, deadline: float
    ) -> T:
        """Run ``work`` in a transaction on ``session``, retried for at most ``deadline`` seconds.

        The whole transaction is retried on ``TransientTransactionError`` (a write conflict with
        a concurrent transaction, an election), the commit alone on
        ``UnknownTransactionCommitResult``, with jittered exponential backoff. When the deadline
        passes, :class:`~mdocument.TransactionConflict` is raised and nothing was written.
        """
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            with self.traced("start_transaction"):
                await self.driver.start_transaction(session)
            try:
                result = await work(session)
            except BaseException as exc:
                if session.in_transaction:
                    with self.traced("abort_transaction"):
                        await session.abort_transaction()
                if not _transient(exc):
                    raise
                await _backoff(exc, started, deadline, attempt)
                continue
            if not session.in_transaction:  # the work ended the transaction itself
                return result
            if await self._commit(session, started, deadline, attempt):
                return result

    async def _commit(
        self, session: Session, started: float, deadline: float, attempt: int
    ) -> bool:
        """Commit; ``False`` when the whole transaction must run again."""
        while True:
            try:
                with self.traced("commit_transaction"):
                    await session.commit_transaction()
                return True
            except PyMongoError as exc:  # noqa: PERF203 - a retry loop by design
                if exc.has_error_label("UnknownTransactionCommitResult"):
                    await _backoff(exc, started, deadline, attempt)
                    continue  # the commit is idempotent: ask again
                if not exc.has_error_label("TransientTransactionError"):
                    raise
                await _backoff(exc, started, deadline, attempt)
                return False

    def __repr__(self) -> str:
        return f"<Store {self.name!r}>"


class StoreCursor:
    """The results of a ``find`` or an aggregation, fetched inside the store."""

    def __init__(self, store: Store, collection: str, start: Callable[[], Any]) -> None:
        self._store = store
        self._collection = collection
        self._start = start
        self._cursor: Any = None

    async def _open(self) -> Any:
        if self._cursor is None:
            with self._store.traced("find", self._collection):
                cursor = self._start()
                if asyncio.iscoroutine(cursor):  # PyMongo's aggregate is a coroutine
                    cursor = await cursor
                self._cursor = cursor
        return self._cursor

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        """Every remaining result (or at most ``length``)."""
        cursor = await self._open()
        with self._store.traced("fetch", self._collection):
            found: list[dict[str, Any]] = await cursor.to_list(length)
            return found

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        cursor = await self._open()
        with self._store.traced("fetch", self._collection):
            result: dict[str, Any] = await cursor.__anext__()
            return result

    async def close(self) -> None:
        """Release the server's cursor early."""
        if self._cursor is not None:
            with self._store.traced("close", self._collection):
                closing = self._cursor.close()
                if asyncio.iscoroutine(closing):
                    await closing


class StoreChangeStream:
    """A change stream of one collection, opened and read inside the store."""

    def __init__(self, store: Store, collection: str, start: Callable[[], Awaitable[Any]]) -> None:
        self._store = store
        self._collection = collection
        self._start = start
        self._stream: Any = None

    async def open(self) -> None:
        """Open the stream on the server (events after this point are delivered)."""
        if self._stream is None:
            with self._store.traced("watch", self._collection):
                self._stream = await self._start()

    @property
    def resume_token(self) -> Any:
        """The token of the last event read (or of the stream's start), for ``resume_after``."""
        return None if self._stream is None else self._stream.resume_token

    async def next(self) -> dict[str, Any]:
        """The next event, waiting for it."""
        await self.open()
        with self._store.traced("fetch", self._collection):
            event: dict[str, Any] = await self._stream.next()
            return event

    async def close(self) -> None:
        """Close the stream on the server."""
        if self._stream is not None:
            with self._store.traced("close", self._collection):
                closing = self._stream.close()
                if asyncio.iscoroutine(closing):
                    await closing


class StoreCollection:
    """One collection: the driver's collection methods mdocument uses, traced."""

    def __init__(self, store: Store, raw: Collection) -> None:
        self.store = store
        self._raw = raw
        self.name: str = raw.name

    @property
    def codec_options(self) -> CodecOptions[Any]:
        """The collection's codec options."""
        return self._raw.codec_options

    def find(self, *args: Any, **kwargs: Any) -> StoreCursor:
        """``find``, as the driver takes it; nothing is sent until the results are read."""
        return StoreCursor(self.store, self.name, lambda: self._raw.find(*args, **kwargs))

    def aggregate(
        self, pipeline: Sequence[Mapping[str, Any]], session: Session | None = None, **kwargs: Any
    ) -> StoreCursor:
        """An aggregation's results; nothing is sent until they are read."""
        return StoreCursor(
            self.store,
            self.name,
            lambda: self._raw.aggregate(list(pipeline), session=session, **kwargs),
        )

    def watch(self, pipeline: Sequence[Mapping[str, Any]], **kwargs: Any) -> StoreChangeStream:
        """A change stream (``watch``, as the driver takes it); opened by its first read."""
        return StoreChangeStream(
            self.store,
            self.name,
            lambda: self.store.driver.open_change_stream(self._raw, list(pipeline), **kwargs),
        )

    async def find_one(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """``find_one``, as the driver takes it."""
        with self.store.traced("find_one", self.name):
            return await self._raw.find_one(*args, **kwargs)

    async def insert_one(self, document: dict[str, Any], **kwargs: Any) -> InsertOneResult:
        """``insert_one``, as the driver takes it."""
        with self.store.traced("insert_one", self.name):
            return await self._raw.insert_one(document, **kwargs)

    async def insert_many(
        self, documents: Sequence[dict[str, Any] | RawBSONDocument], **kwargs: Any
    ) -> InsertManyResult:
        """``insert_many``, as the driver takes it."""
        with self.store.traced("insert_many", self.name):
            return await self._raw.insert_many(documents, **kwargs)

    async def update_one(
        self, filter: Mapping[str, Any], update: Any, **kwargs: Any
    ) -> UpdateResult:
        """``update_one``, as the driver takes it."""
        with self.store.traced("update_one", self.name):
            return await self._raw.update_one(filter, update, **kwargs)

    async def update_many(
        self, filter: Mapping[str, Any], update: Any, **kwargs: Any
    ) -> UpdateResult:
        """``update_many``, as the driver takes it."""
        with self.store.traced("update_many", self.name):
            return await self._raw.update_many(filter, update, **kwargs)

    async def delete_one(self, filter: Mapping[str, Any], **kwargs: Any) -> DeleteResult:
        """``delete_one``, as the driver takes it."""
        with self.store.traced("delete_one", self.name):
            return await self._raw.delete_one(filter, **kwargs)

    async def delete_many(self, filter: Mapping[str, Any], **kwargs: Any) -> DeleteResult:
        """``delete_many``, as the driver takes it."""
        with self.store.traced("delete_many", self.name):
            return await self._raw.delete_many(filter, **kwargs)

    async def bulk_write(self, requests: Sequence[Any], **kwargs: Any) -> BulkWriteResult:
        """``bulk_write``, as the driver takes it."""
        with self.store.traced("bulk_write", self.name):
            return await self._raw.bulk_write(list(requests), **kwargs)

    async def count_documents(self, filter: Mapping[str, Any], **kwargs: Any) -> int:
        """``count_documents``, as the driver takes it."""
        with self.store.traced("count_documents", self.name):
            return await self._raw.count_documents(filter, **kwargs)

    async def estimated_document_count(self) -> int:
        """The collection's size from its metadata (no scan)."""
        with self.store.traced("estimated_document_count", self.name):
            return await self._raw.estimated_document_count()

    async def distinct(self, key: str, filter: Mapping[str, Any], **kwargs: Any) -> list[Any]:
        """``distinct``, as the driver takes it."""
        with self.store.traced("distinct", self.name):
            return await self._raw.distinct(key, filter, **kwargs)

    async def create_indexes(self, indexes: Sequence[Any], **kwargs: Any) -> list[str]:
        """``create_indexes``, as the driver takes it."""
        with self.store.traced("create_indexes", self.name):
            return await self._raw.create_indexes(list(indexes), **kwargs)

    async def index_information(self) -> dict[str, Any]:
        """The collection's indexes, by name."""
        with self.store.traced("index_information", self.name):
            return dict(await self._raw.index_information())

    def __repr__(self) -> str:
        return f"<StoreCollection {self.store.name}.{self.name}>"


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError"):
        return True
    # A write conflict reported per write inside a bulk write carries no label of its own.
    if isinstance(exc, BulkWriteError):
        errors: list[dict[str, Any]] = exc.details.get("writeErrors") or []
        return any(error.get("code") == _WRITE_CONFLICT for error in errors)
    return False


async def _backoff(exc: BaseException, started: float, deadline: float, attempt: int) -> None:
    global retries
    delay = random.random() * min(_BACKOFF_INITIAL * 1.5**attempt, _BACKOFF_MAX)
    if time.monotonic() + delay - started > deadline:
        raise TransactionConflict(
            f"a transaction kept conflicting with concurrent writes for {deadline:g} s "
            f"({attempt} attempts); nothing of it was written ({type(exc).__name__})"
        ) from exc
    retries += 1
    await asyncio.sleep(delay)
