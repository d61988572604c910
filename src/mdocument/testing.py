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

A round-trip budget: ``with max_commands(3): ...`` (or ``async with``) fails with
:class:`CommandBudgetExceeded` when the code inside sends more than three commands, listing
them with sensitive values masked; ``@pytest.mark.max_commands(3)`` does the same for a whole
test's body (not its fixtures).

The database fixtures are async: they need pytest-asyncio (in the ``test`` extra). An
``async def`` test that takes one of them runs on pytest-asyncio even in its default "strict"
mode, without a marker; other async tests and async fixtures of your own need
``asyncio_mode = "auto"`` in the pytest configuration (or pytest-asyncio's markers).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest

from mdocument import binding
from mdocument.driver import AsyncMongoClient, monitoring, motor_client

__all__ = [
    "ASYNC_FIXTURES",
    "CommandBudget",
    "CommandBudgetExceeded",
    "CommandRecorder",
    "FailPoint",
    "max_commands",
    "new_database_name",
]

ASYNC_FIXTURES = frozenset(
    {"database", "mongodb_database", "motor_database", "standalone_database"}
)
"""The plugin's async fixtures: a test that takes one runs on pytest-asyncio by itself."""


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
        from mdocument.driver import OperationFailure

        try:
            await client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
        except OperationFailure:
            return False
        return True


class CommandBudgetExceeded(AssertionError):
    """More commands were sent inside :func:`max_commands` than it allows (a test failure).

    Attributes:
        limit: the budget.
        commands: the commands sent, as ``(name, masked command document)`` pairs.
    """

    def __init__(self, limit: int, commands: list[tuple[str, dict[str, Any]]]) -> None:
        self.limit = limit
        self.commands = commands
        lines = [
            f"{len(commands)} commands (round trips) were sent, over the budget of {limit}:",
            *(
                f"  {number}. {name} {_cut(repr(command))}"
                for number, (name, command) in enumerate(commands, 1)
            ),
        ]
        super().__init__("\n".join(lines))


# What a command document carries for the driver, not for the reader of a failure.
_DRIVER_FIELDS = frozenset(
    {"lsid", "$clusterTime", "txnNumber", "$readPreference", "signature", "$db", "autocommit"}
)


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _sensitive_names() -> frozenset[str]:
    """Stored names of the sensitive fields of every loaded document class and nested model."""
    from pydantic import BaseModel

    from mdocument.annotations import model_type
    from mdocument.document import Document
    from mdocument.fields import field_spec

    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = list(Document.__subclasses__())
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        pending.extend(model.__subclasses__())
        for name, info in model.__pydantic_fields__.items():
            if field_spec(info).sensitive:
                names.update({name, info.serialization_alias or info.alias or name})
            nested = model_type(info.annotation)
            if nested is not None:
                pending.append(nested)
    return frozenset(names)


def _masked(value: Any, sensitive: frozenset[str]) -> Any:
    """``value`` with the value of every key naming a sensitive field masked.

    ``a.b.email`` counts as ``email``. A field of the same name in another class is masked as
    well, which errs on the safe side.
    """
    from mdocument.masking import SENSITIVE_PLACEHOLDER

    if isinstance(value, dict):
        items = cast("dict[Any, Any]", value).items()
        return {
            key: SENSITIVE_PLACEHOLDER
            if isinstance(key, str) and key.rsplit(".", 1)[-1] in sensitive and item is not None
            else _masked(item, sensitive)
            for key, item in items
        }
    if isinstance(value, (list, tuple)):
        return [_masked(item, sensitive) for item in cast("list[Any]", value)]
    return value


class _BudgetListener(monitoring.CommandListener):
    """Registered for every client: hands each command to the budgets open at the time."""

    def __init__(self) -> None:
        self.budgets: list[CommandBudget] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in CommandRecorder.IGNORED:
            return  # handshakes and heartbeats: not the code's round trips
        for budget in self.budgets:
            budget.events.append(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to do: a command counts when it is sent."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to do: a command counts when it is sent."""


_BUDGETS = _BudgetListener()
# Global listeners apply to clients created after registration: the plugin is loaded before
# any test, so every client a test (or the application it tests) creates is counted.
monitoring.register(_BUDGETS)


class CommandBudget:
    """A limit on the commands sent while it is open: see :func:`max_commands`."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"max_commands takes a number of commands >= 0, not {limit!r}")
        self.limit = limit
        self.events: list[monitoring.CommandStartedEvent] = []
        """The commands sent so far, as the driver's events."""

    @property
    def count(self) -> int:
        """How many commands were sent inside."""
        return len(self.events)

    def commands(self) -> list[tuple[str, dict[str, Any]]]:
        """The commands sent, ``(name, document)``, with sensitive values masked."""
        sensitive = _sensitive_names()
        shown: list[tuple[str, dict[str, Any]]] = []
        for event in self.events:
            document = {
                key: value for key, value in event.command.items() if key not in _DRIVER_FIELDS
            }
            shown.append((event.command_name, cast("dict[str, Any]", _masked(document, sensitive))))
        return shown

    def __enter__(self) -> CommandBudget:
        self.events.clear()
        _BUDGETS.budgets.append(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        _BUDGETS.budgets.remove(self)
        # An error inside says more than the count: it is left to propagate.
        if kind is None and self.count > self.limit:
            raise CommandBudgetExceeded(self.limit, self.commands())

    async def __aenter__(self) -> CommandBudget:
        return self.__enter__()

    async def __aexit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.__exit__(kind)


def max_commands(limit: int) -> CommandBudget:
    """Fail when the code inside sends more than ``limit`` commands (round trips) to MongoDB.

    Usable with ``with`` and ``async with``::

        async with max_commands(3):
            await client.get("/posts")    # an endpoint that must not slide into N+1 queries

    Every client created after the plugin loaded is counted (through the driver's command
    monitoring; handshakes, heartbeats and ``endSessions`` are not). Exceeding it raises
    :class:`CommandBudgetExceeded`, an ``AssertionError`` listing the commands sent with
    sensitive values masked. ``@pytest.mark.max_commands(3)`` applies it to a test's body.
    """
    return CommandBudget(limit)


def _forget_registries() -> None:
    # The test's registries end with its database: a later test that forgets its own init gets
    # NotInitializedError, never a write into a dropped database of an earlier test.
    binding.make_default(None)


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
            _forget_registries()
            await client.drop_database(name)
            await client.close()

    async def _motor_database(uri: str, recorder: CommandRecorder) -> AsyncIterator[Any]:
        if importlib.util.find_spec("motor") is None:
            pytest.skip('Motor is an optional extra: "mdocument[motor]"')
        client = motor_client(uri, event_listeners=[recorder], serverSelectionTimeoutMS=10_000)
        name = new_database_name()
        try:
            yield client[name]
        finally:
            _forget_registries()
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


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Mark an ``async def`` test that takes one of the database fixtures with ``asyncio``.

    pytest-asyncio's default ("strict") mode runs only the async tests it is told about, and
    pytest fails the others ("async def functions are not natively supported"). A test of this
    plugin's database fixtures is always meant for it, so such a test needs no marker and no
    configuration. Runs before pytest makes the test item, which pytest-asyncio then sees marked.
    """
    if not (_HAS_PYTEST_ASYNCIO and inspect.iscoroutinefunction(obj)):
        return
    if not (
        isinstance(collector, (pytest.Module, pytest.Class)) and collector.istestfunction(obj, name)
    ):
        return
    marks = [getattr(mark, "name", None) for mark in getattr(obj, "pytestmark", [])]
    marks += [mark.name for mark in collector.iter_markers()]
    if any(mark in ("asyncio", "anyio", "trio") for mark in marks):
        return  # the test already says what runs it
    try:
        parameters = inspect.signature(obj).parameters  # pyright: ignore[reportArgumentType]
    except (TypeError, ValueError):
        return
    if ASYNC_FIXTURES.intersection(parameters):
        pytest.mark.asyncio(obj)


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's marker."""
    config.addinivalue_line(
        "markers",
        "max_commands(limit): fail the test when its body sends more than limit commands "
        "(round trips) to MongoDB, listing them (sensitive values masked)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Run a test marked ``max_commands(limit)`` inside :func:`max_commands` (body only)."""
    marker = item.get_closest_marker("max_commands")
    if marker is None:
        return (yield)
    with max_commands(*marker.args, **marker.kwargs):
        return (yield)
