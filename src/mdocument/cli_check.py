"""``mdocument check MODULE --uri URI --db NAME [--fix] [--json]``: :func:`mdocument.check`.

Registers every document class of MODULE (without creating indexes: a check writes nothing
unless ``--fix`` is given), checks references, synced copies, the journal and unique values,
and prints the report: a table, or with ``--json`` :meth:`Report.to_dict
<mdocument.check.Report.to_dict>` as JSON. Sensitive values never appear in it. A progress bar
is shown on standard error when standard output is a terminal.

Exit codes, for scripts:

====  =======================================================================================
0     consistent: nothing found, or everything found was fixed (``--fix``)
1     the check failed while running: an error of the server, a document it could not load
2     usage: a bad option or ``--uri``, a module that cannot be imported or holds no documents,
      a database that does not exist or holds none of the module's collections (a typo)
3     the server could not be reached within ``--timeout`` seconds: worth retrying later
4     inconsistencies remain: found without ``--fix``, or not fixable (``RESTRICT``
      references to missing documents, duplicated unique values)
130   interrupted (Ctrl-C)
====  =======================================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import importlib
import json
import os
import sys
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from mdocument._cli import CommandError, ServerUnreachable, UsageProblem
from mdocument.check import Report, check
from mdocument.cli_common import redact
from mdocument.document import Document
from mdocument.driver import (
    ConfigurationError,
    ConnectionFailure,
    InvalidURI,
    OperationFailure,
    PyMongoError,
    connect,
)
from mdocument.exceptions import DocumentException, RelationNotSet
from mdocument.registry import init

if TYPE_CHECKING:
    from mdocument.registry import Registry

__all__ = ["EXIT_INCONSISTENT", "check_command", "load_models", "register"]

EXIT_INCONSISTENT = 4
"""``mdocument check``: inconsistencies remain (found without ``--fix``, or not fixable)."""

_EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0    consistent (nothing found, or everything found fixed with --fix)\n"
    "  1    the check failed while running (server error)\n"
    "  2    usage: bad option or --uri, a module without documents, an unknown --db\n"
    "  3    the server could not be reached within --timeout seconds\n"
    "  4    inconsistencies remain (without --fix, or not fixable)\n"
    "  130  interrupted"
)
_URI_SCHEMES = ("mongodb://", "mongodb+srv://")
_AUTHENTICATION_FAILED = 18
_UNAUTHORIZED = 13


def _usage(message: str) -> click.ClickException:
    return UsageProblem(message)


def load_models(module_name: str) -> list[type[Document]]:
    """The non-abstract document classes a module defines or imports, in its order."""
    if not module_name or ":" in module_name:
        raise _usage(f"name a module, for example myapp.models, not {module_name!r}")
    # As `python -m` does: the project a command is run from can be imported.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise _usage(
                f"no module named {missing!r} (run the command from your project's directory, "
                "or add it to PYTHONPATH)"
            ) from None
        raise _usage(f"importing {module_name!r} failed: {exc}") from None
    except Exception as exc:
        raise _usage(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    models: list[type[Document]] = []
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Document)
            and value is not Document
            and not value.__mdocument_mapping__.abstract
            and value not in models
        ):
            models.append(value)
    if not models:
        raise _usage(f"{module_name} holds no document classes")
    return models


def _loaded_documents() -> list[type[Document]]:
    found: list[type[Document]] = []
    pending = list(Document.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if cls not in found and not cls.__mdocument_mapping__.abstract:
            found.append(cls)
    return found


async def _register(database: Any, models: list[type[Document]]) -> Registry:
    """Register the module's documents, without creating indexes (that would be a write).

    Documents whose relations point to classes defined elsewhere need those too: then every
    loaded document class joins, one per collection, the module's first.
    """
    try:
        return await init(database, models=models, create_indexes=False)
    except RelationNotSet:
        pass
    collections = {model.__mdocument_mapping__.collection for model in models}
    everything = list(models)
    for other in _loaded_documents():
        collection = other.__mdocument_mapping__.collection
        if collection not in collections:
            collections.add(collection)
            everything.append(other)
    return await init(database, models=everything, create_indexes=False)


async def _check_exists(client: Any, database: Any, models: list[type[Document]]) -> None:
    """Refuse a database that is not on the server, or holds none of the module's collections.

    Checking a misspelled ``--db`` would find nothing and succeed, which a script cannot tell
    from consistent data. A user who may not list databases or collections is not refused.
    """
    try:
        databases: list[str] = await client.list_database_names()
        name = str(database.name)
        if name not in databases:
            close = difflib.get_close_matches(name, databases, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageProblem(f"no database {name!r} on the server{hint}")
        collections = set(await database.list_collection_names())
    except OperationFailure as exc:
        if exc.code != _UNAUTHORIZED:
            raise
        return
    wanted = {model.__mdocument_mapping__.collection for model in models}
    if not wanted & collections:
        raise UsageProblem(
            f"database {database.name!r} holds none of the collections of the module's "
            f"documents ({', '.join(sorted(wanted))})"
        )


@contextlib.contextmanager
def _progress(console: Console) -> Generator[Callable[[str, int], None], None, None]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} documents"),
        TimeElapsedColumn(),
    )
    # Transient: the bar makes way for the report once the check is done.
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def update(step: str, count: int) -> None:
            if step not in tasks:  # the total is unknown: counting would be a second scan
                tasks[step] = progress.add_task(step, total=None)
            progress.update(tasks[step], completed=count)

        yield update


async def _run(
    *,
    models: list[type[Document]],
    uri: str,
    db_name: str | None,
    fix: bool,
    timeout: float,
    batch_size: int,
    console: Console | None,
) -> Report:

    try:
        client = connect(
            uri,
            serverSelectionTimeoutMS=int(timeout * 1000),
            connectTimeoutMS=int(timeout * 1000),
            appname="mdocument-check",
        )
    except (InvalidURI, ConfigurationError, ValueError, TypeError) as exc:
        raise UsageProblem(f"bad --uri {redact(uri, uri)!r}: {redact(str(exc), uri)}") from None
    try:
        try:
            database = client[db_name] if db_name else client.get_default_database()
        except (ConfigurationError, InvalidURI, ValueError) as exc:
            raise UsageProblem(
                f"no database: pass --db NAME or put it in the URI (mongodb://host/NAME): {exc}"
                if db_name is None
                else f"bad --db {db_name!r}: {exc}"
            ) from None
        await _check_exists(client, database, models)
        registry = await _register(database, models)
        if console is None:
            return await check(fix=fix, registry=registry, batch_size=batch_size)
        with _progress(console) as update:
            return await check(fix=fix, registry=registry, progress=update, batch_size=batch_size)
    except OperationFailure as exc:
        message = redact(str((exc.details or {}).get("errmsg") or exc), uri)
        if exc.code == _AUTHENTICATION_FAILED:
            raise UsageProblem(f"the server refused the credentials: {message}") from None
        raise CommandError(f"the server refused the check: {message}") from None
    except ConnectionFailure as exc:
        raise ServerUnreachable(_unreachable(exc, uri, timeout)) from None
    finally:
        await client.close()


def _unreachable(exc: PyMongoError, uri: str, timeout: float) -> str:

    # The driver's message lists every server's state and the timeouts: the first part says it.
    reason = str(exc).split(", Timeout:", 1)[0].split(" (configured timeouts:", 1)[0].strip()
    return (
        f"cannot reach the server at {redact(uri, uri)} within {timeout:g}s: {redact(reason, uri)}"
    )


@click.command("check", epilog=_EXIT_CODES_HELP)
@click.argument("module", metavar="MODULE")
@click.option(
    "--uri",
    envvar="MONGODB_URI",
    required=True,
    help="Server connection string (default: $MONGODB_URI).",
)
@click.option("--db", "db_name", help="Database name (default: the one in the URI).")
@click.option(
    "--fix",
    is_flag=True,
    help="Repair what can be: each relation's on-delete rule for references to missing "
    "documents, stale copies rewritten, unfinished journal entries completed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the server.",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=1000, show_default=True, hidden=True
)
@click.option("--quiet", is_flag=True, help="No progress bar, even on a terminal.")
@click.pass_context
def check_command(
    ctx: click.Context,
    module: str,
    uri: str,
    db_name: str | None,
    fix: bool,
    as_json: bool,
    timeout: float,
    batch_size: int,
    quiet: bool,
) -> None:
    """Check the documents of MODULE (e.g. myapp.models) for inconsistencies.

    References to missing documents, synced copies that differ from their source, unfinished
    journal entries, and duplicated unique values without a unique index. With --fix, repairs
    what the declared rules say how to repair. Sensitive values are never printed.
    """
    if not uri.startswith(_URI_SCHEMES):
        raise UsageProblem(
            f"bad --uri {redact(uri, uri)!r}: a MongoDB URI starts with mongodb:// or "
            "mongodb+srv://"
        )
    models = load_models(module)
    console = Console(stderr=True)
    show_progress = console.is_terminal and sys.stdout.isatty() and not quiet
    try:
        report = asyncio.run(
            _run(
                models=models,
                uri=uri,
                db_name=db_name,
                fix=fix,
                timeout=timeout,
                batch_size=batch_size,
                console=console if show_progress else None,
            )
        )
    except DocumentException as exc:
        raise CommandError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(str(report))
    ctx.exit(0 if report.ok else EXIT_INCONSISTENT)


def register(group: click.Group) -> None:
    """Add ``check`` to the ``mdocument`` command group."""
    group.add_command(check_command)
