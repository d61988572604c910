"""The drivers: the only module that imports PyMongo or Motor (with :mod:`mdocument.store`).

The few calls where PyMongo's async API and Motor differ are behind one small adapter,
:class:`Driver`. The driver's types, errors, write operations and monitoring classes that the
rest of mdocument names are re-exported from here, so that no other module imports a driver:
every call to a database goes through :mod:`mdocument.store`, the one place for tracing and
transactions (a test reads the imports to keep it so).
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, IndexModel, InsertOne, UpdateMany, UpdateOne, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    InvalidURI,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

__all__ = [
    "AsyncMongoClient",
    "BulkWriteError",
    "Collection",
    "ConfigurationError",
    "ConnectionFailure",
    "Database",
    "Driver",
    "DuplicateKeyError",
    "IndexModel",
    "InsertOne",
    "InvalidURI",
    "OperationFailure",
    "PyMongoError",
    "ServerSelectionTimeoutError",
    "Session",
    "UpdateMany",
    "UpdateOne",
    "connect",
    "driver_of",
    "monitoring",
    "motor_client",
]

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

    async def start_transaction(self, session: Session) -> None:
        """Start a transaction on ``session``."""
        await session.start_transaction()

    async def open_change_stream(
        self, collection: Collection, pipeline: Any, **options: Any
    ) -> Any:
        """A change stream on ``collection``, open on the server (its events start now)."""
        return await collection.watch(pipeline, **options)


class MotorDriver(Driver):
    """Motor (``motor.motor_asyncio.AsyncIOMotorClient``), still accepted for existing apps."""

    name = "motor"

    async def start_transaction(self, session: Session) -> None:
        """Start a transaction on ``session`` (a plain call in Motor)."""
        motor_session: Any = session
        motor_session.start_transaction()

    async def open_change_stream(
        self, collection: Collection, pipeline: Any, **options: Any
    ) -> Any:
        """Motor's ``watch`` opens its stream at the first read: it is opened here instead."""
        motor_collection: Any = collection
        stream: Any = motor_collection.watch(pipeline, **options)
        await asyncio.to_thread(stream._lazy_init)  # what Motor runs on its executor
        return stream

    async def start_session(self, database: Database) -> Session:
        """A new session on the database's client (a coroutine in Motor)."""
        client: Any = database.client  # a MotorClient, typed here as PyMongo's
        session: Session = await client.start_session()
        return session


def connect(uri: str, **options: Any) -> AsyncMongoClient[dict[str, Any]]:
    """A PyMongo async client (the command line, the FastAPI lifespan, the test fixtures)."""
    return AsyncMongoClient(uri, **options)


def motor_client(uri: str, **options: Any) -> Any:
    """A Motor client (the test fixtures' second driver); Motor must be installed."""
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(uri, **options)


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
