"""The few calls where PyMongo's async API and Motor differ, behind one small adapter.

Everything else (``find``, ``insert_one``, ``update_many``, ``bulk_write`` ...) is the same on
both drivers' collections and is called directly by the repository.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["Collection", "Database", "Driver", "Session", "driver_of"]

T = TypeVar("T")

Collection = AsyncCollection[dict[str, Any]]
"""A collection of either driver, typed as PyMongo's (Motor's is duck-typed alike)."""
Database = AsyncDatabase[Any]
"""A database of either driver, typed as PyMongo's."""
Session = AsyncClientSession
"""A session of either driver, typed as PyMongo's."""


class Driver:
    """PyMongo's async API (``pymongo.AsyncMongoClient``)."""

    name = "pymongo"

    async def start_session(self, database: Database) -> Session:
        """A new session on the database's client."""
        return database.client.start_session()

    async def aggregate(
        self,
        collection: Collection,
        pipeline: Sequence[Mapping[str, Any]],
        session: Session | None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """An async iterator over the results of an aggregation."""
        cursor = await collection.aggregate(list(pipeline), session=session, **kwargs)
        return aiter(cursor)

    async def with_transaction(
        self, session: Session, work: Callable[[Session], Awaitable[T]]
    ) -> T:
        """Run ``work`` in a transaction on ``session``, retried on transient errors."""
        return await session.with_transaction(work)


class MotorDriver(Driver):
    """Motor (``motor.motor_asyncio.AsyncIOMotorClient``), still accepted for existing apps."""

    name = "motor"

    async def start_session(self, database: Database) -> Session:
        """A new session on the database's client (a coroutine in Motor)."""
        client: Any = database.client  # a MotorClient, typed here as PyMongo's
        session: Session = await client.start_session()
        return session

    async def aggregate(
        self,
        collection: Collection,
        pipeline: Sequence[Mapping[str, Any]],
        session: Session | None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """An async iterator over the results (Motor returns the cursor without awaiting)."""
        cursor: Any = collection.aggregate(list(pipeline), session=session, **kwargs)
        return aiter(cursor)


_PYMONGO = Driver()
_MOTOR = MotorDriver()


def driver_of(database: Any) -> Driver:
    """The adapter for a database object of either driver; a clear error for anything else."""
    module = type(database).__module__
    if module.startswith("motor"):
        return _MOTOR
    if isinstance(database, AsyncDatabase):
        return _PYMONGO
    raise TypeError(
        f"mdocument needs an async database (pymongo.AsyncMongoClient(...)[name] or a Motor "
        f"database), not {type(database).__module__}.{type(database).__qualname__}"
    )
