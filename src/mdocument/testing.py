"""pytest plugin: a fresh database on a real server for every test.

Registered through the ``pytest11`` entry point, so installing mdocument with its ``test`` extra is
enough. The server is ``$MONGODB_URI`` when set (a real ``mongod``, a replica set, Atlas), else an
embedded SecantusDB server started once per test session in a separate process on a free loopback
port, and stopped at the end.

Fixtures:

- ``mongodb_uri``: the server's URI (session-scoped).
- ``mongodb_standalone_uri``: a server without transactions: ``$MONGODB_STANDALONE_URI``, else an
  embedded server in ``--standalone`` mode, started on first use.
- ``commands``: a :class:`CommandRecorder` that sees every command the test's clients send.
- ``mongodb_database`` / ``motor_database``: a fresh database on a PyMongo async / Motor client,
  dropped after the test.
- ``database``: the test runs twice, once on each driver.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from pymongo import AsyncMongoClient, monitoring

__all__ = ["CommandRecorder", "new_database_name"]


class CommandRecorder(monitoring.CommandListener):
    """Records the commands a client sends (through the driver's command monitoring)."""

    IGNORED = frozenset(
        {
            "hello",
            "isMaster",
            "ismaster",
            "ping",
            "endSessions",
            "buildInfo",
            "saslStart",
            "saslContinue",
            "killCursors",
        }
    )

    def __init__(self) -> None:
        self.events: list[monitoring.CommandStartedEvent] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Called by the driver for each command."""
        if event.command_name not in self.IGNORED:
            self.events.append(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Called by the driver for each command that succeeded."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Called by the driver for each command that failed."""

    def clear(self) -> None:
        """Forget the commands recorded so far."""
        self.events.clear()

    @property
    def names(self) -> list[str]:
        """The names of the recorded commands, in order (``insert``, ``update``, ``find``...)."""
        return [event.command_name for event in self.events]

    def of(self, *names: str) -> list[dict[str, Any]]:
        """The recorded command documents with one of these names."""
        return [dict(event.command) for event in self.events if event.command_name in names]

    @property
    def count(self) -> int:
        """How many commands (round trips) were recorded."""
        return len(self.events)


class FailPoint:
    """Make the server fail chosen commands (``configureFailPoint`` ``failCommand``).

    Needs a server started with test commands (the embedded test servers are, ``mongod`` needs
    ``--setParameter enableTestCommands=1``)::

        async with FailPoint(client, ["delete", "update"], skip=2):
            ...  # the third delete or update fails with code 2 (BadValue)
    """

    def __init__(
        self,
        client: Any,
        commands: list[str],
        *,
        skip: int = 0,
        times: int = 1,
        code: int = 2,
    ) -> None:
        self.client = client
        self.mode: dict[str, int] = {"skip": skip, "times": times}
        self.data = {"failCommands": commands, "errorCode": code}

    async def _configure(self, mode: Any) -> None:
        command: dict[str, Any] = {"configureFailPoint": "failCommand", "mode": mode}
        if mode != "off":
            command["data"] = self.data
        await self.client.admin.command(command)

    async def __aenter__(self) -> FailPoint:
        await self._configure(self.mode)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._configure("off")

    @staticmethod
    async def available(client: Any) -> bool:
        """Whether the server accepts ``configureFailPoint``."""
        from pymongo.errors import OperationFailure

        try:
            await client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
        except OperationFailure:
            return False
        return True


def new_database_name() -> str:
    """A database name no other test uses."""
    return f"mdocument_test_{uuid.uuid4().hex[:16]}"


def _server_uri(variable: str, *, standalone: bool) -> Iterator[str]:
    uri = os.environ.get(variable)
    if uri:
        yield uri
        return
    from mdocument.embedded import EmbeddedServer

    with EmbeddedServer(standalone=standalone, test_commands=True) as server:
        yield server.uri


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    """The test server: ``$MONGODB_URI``, or an embedded server for the whole session."""
    yield from _server_uri("MONGODB_URI", standalone=False)


@pytest.fixture(scope="session")
def mongodb_standalone_uri() -> Iterator[str]:
    """A server without transactions: ``$MONGODB_STANDALONE_URI``, or an embedded one."""
    yield from _server_uri("MONGODB_STANDALONE_URI", standalone=True)


@pytest.fixture
def commands() -> CommandRecorder:
    """The commands sent by the clients of this test's database fixtures."""
    return CommandRecorder()


# The plugin loads wherever mdocument is installed; its async fixtures need pytest-asyncio
# (in the "test" extra), and without it the plugin only offers the synchronous ones.
_HAS_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None
if TYPE_CHECKING or _HAS_PYTEST_ASYNCIO:
    import pytest_asyncio

if _HAS_PYTEST_ASYNCIO:

    async def _pymongo_database(uri: str, recorder: CommandRecorder) -> AsyncIterator[Any]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri, event_listeners=[recorder], serverSelectionTimeoutMS=10_000
        )
        name = new_database_name()
        try:
            yield client[name]
        finally:
            await client.drop_database(name)
            await client.close()

    async def _motor_database(uri: str, recorder: CommandRecorder) -> AsyncIterator[Any]:
        motor_asyncio = pytest.importorskip(
            "motor.motor_asyncio", reason='Motor is an optional extra: "mdocument[motor]"'
        )
        client = motor_asyncio.AsyncIOMotorClient(
            uri, event_listeners=[recorder], serverSelectionTimeoutMS=10_000
        )
        name = new_database_name()
        try:
            yield client[name]
        finally:
            await client.drop_database(name)
            client.close()

    @pytest_asyncio.fixture
    async def mongodb_database(mongodb_uri: str, commands: CommandRecorder) -> AsyncIterator[Any]:
        """A fresh database on a ``pymongo.AsyncMongoClient``, dropped after the test."""
        async for database in _pymongo_database(mongodb_uri, commands):
            yield database

    @pytest_asyncio.fixture
    async def motor_database(mongodb_uri: str, commands: CommandRecorder) -> AsyncIterator[Any]:
        """A fresh database on a Motor client, dropped after the test."""
        async for database in _motor_database(mongodb_uri, commands):
            yield database

    @pytest_asyncio.fixture(params=["pymongo", "motor"])
    async def database(
        request: pytest.FixtureRequest, mongodb_uri: str, commands: CommandRecorder
    ) -> AsyncIterator[Any]:
        """A fresh database; the test runs once with each driver."""
        make = _pymongo_database if request.param == "pymongo" else _motor_database
        async for database in make(mongodb_uri, commands):
            yield database

    @pytest_asyncio.fixture
    async def standalone_database(
        mongodb_standalone_uri: str, commands: CommandRecorder
    ) -> AsyncIterator[Any]:
        """A fresh database on a server without transactions (PyMongo async client)."""
        async for database in _pymongo_database(mongodb_standalone_uri, commands):
            yield database
