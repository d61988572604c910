"""``mdocument graph|indexes|validators|migrate``: the schema of a database, in line with the code.

- ``graph MODULE [--format mermaid|dot|text]``: the relation graph (no server needed).
- ``indexes MODULE --uri URI --db NAME [--apply [--drop-extra]]``: declared against existing
  indexes (:mod:`mdocument.index_diff`), and reference fields without an index.
- ``validators MODULE --uri URI --db NAME [--apply] [--level ...] [--action ...]``: the
  ``$jsonSchema`` validators generated from the classes (:mod:`mdocument.validators`).
- ``migrate MODULE [status|up|down] --uri URI --db NAME [--dir migrations] [--dry-run]``: the
  migrations of a directory (:mod:`mdocument.cli_migrate`, :mod:`mdocument.migrations`).

MODULE is imported from the current directory (``myapp.models``); every document class it
defines or imports is registered, without creating indexes. Nothing is written unless
``--apply`` is given (``indexes``, ``validators``) or ``migrate up|down`` runs.

Exit codes, for scripts:

====  =======================================================================================
0     done: in line with the classes, applied, or migrated
1     failed while running: an error of the server, a migration that raised
2     usage: a bad option or ``--uri``, a module that cannot be imported or holds no
      documents, a database that does not exist (``indexes``/``validators`` without
      ``--apply``), a migrations directory or file that cannot be loaded
3     the server could not be reached within ``--timeout`` seconds: worth retrying later
4     not in line, nothing changed: indexes or validators differ (without ``--apply``), a
      reference field has no index, migrations are pending (``migrate status``)
5     ``migrate``: another process holds the migrations lock (or left a stale one: see
      ``--force-unlock``)
130   interrupted (Ctrl-C)
====  =======================================================================================
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click
from bson import json_util

from mdocument._cli import CommandError, ServerUnreachable, UsageProblem
from mdocument.cli_check import load_models
from mdocument.document import Document
from mdocument.driver import (
    ConfigurationError,
    ConnectionFailure,
    InvalidURI,
    OperationFailure,
    connect,
)
from mdocument.exceptions import DocumentException, RelationNotSet
from mdocument.graph import Graph
from mdocument.index_diff import apply_indexes, diff_indexes
from mdocument.migration_lock import MigrationLocked
from mdocument.registry import init
from mdocument.validators import ACTIONS, LEVELS, apply_validators, validator_changes

if TYPE_CHECKING:
    from mdocument.graph import Edge
    from mdocument.registry import Registry

__all__ = [
    "DB_OPTION",
    "EXIT_CODES_HELP",
    "EXIT_DRIFT",
    "EXIT_LOCKED",
    "TIMEOUT_OPTION",
    "URI_OPTION",
    "FailedError",
    "LockedError",
    "UnreachableError",
    "UsageError",
    "check_uri",
    "connected",
    "graph_command",
    "indexes_command",
    "mask_uri",
    "register",
    "render_graph",
    "run_command",
    "validators_command",
]

T = TypeVar("T")

EXIT_DRIFT = 4
"""The database is not in line with the classes and nothing was changed (the same code as
``mdocument check``'s "inconsistencies remain")."""
EXIT_LOCKED = 5
"""``migrate``: another process holds the migrations lock."""

EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0    done: in line, applied, or migrated\n"
    "  1    failed while running (server error, a migration raised)\n"
    "  2    usage: bad option or --uri, a module without documents, an unknown --db,\n"
    "       a migrations directory or file that cannot be loaded\n"
    "  3    the server could not be reached within --timeout seconds\n"
    "  4    not in line and nothing changed (differences without --apply, an unindexed\n"
    "       reference, pending migrations for `migrate status`)\n"
    "  5    migrate: the migrations lock is held by another process\n"
    "  130  interrupted"
)
_URI_SCHEMES = ("mongodb://", "mongodb+srv://")
_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*):(?P<password>[^@/?#]*)@")
_AUTHENTICATION_FAILED = 18


def mask_uri(uri: str) -> str:
    """``uri`` with its password masked: ``mongodb://user:***@host/``."""
    return _PASSWORD.sub(lambda match: f"{match['head']}:***@", uri, count=1)


def _scrub(text: str, uri: str) -> str:
    # A driver's message may quote the URI or its credentials: the password never shows.
    text = text.replace(uri, mask_uri(uri))
    match = _PASSWORD.match(uri)
    if match and match["password"]:
        text = text.replace(match["password"], "***")
    return text


# The command line's errors, shared with `export` and `check` (same exit codes, same reasons).
UsageError = UsageProblem
FailedError = CommandError
UnreachableError = ServerUnreachable


class LockedError(click.ClickException):
    """``migrate``: the migrations lock is held; exits with :data:`EXIT_LOCKED`."""

    exit_code = EXIT_LOCKED


def _with_related(models: list[type[Document]]) -> list[type[Document]]:
    """``models`` and, one per collection, every other loaded document class.

    For modules whose relations point to classes defined elsewhere.
    """
    collections = {model.__mdocument_mapping__.collection for model in models}
    everything, pending = list(models), list(Document.__subclasses__())
    while pending:
        other = pending.pop(0)
        pending.extend(other.__subclasses__())
        collection = other.__mdocument_mapping__.collection
        if not other.__mdocument_mapping__.abstract and collection not in collections:
            collections.add(collection)
            everything.append(other)
    return everything


async def _register(database: Any, models: list[type[Document]]) -> Registry:
    # Without creating indexes: these commands write only when asked to.
    try:
        return await init(database, models=models, create_indexes=False)
    except RelationNotSet:
        return await init(database, models=_with_related(models), create_indexes=False)


def check_uri(uri: str) -> None:
    """Refuse (:class:`UsageError`) a ``--uri`` that is no MongoDB URI, password masked."""
    if not uri.startswith(_URI_SCHEMES):
        raise UsageError(
            f"bad --uri {mask_uri(uri)!r}: a MongoDB URI starts with mongodb:// or mongodb+srv://"
        )


async def connected(
    *,
    uri: str,
    db_name: str | None,
    timeout: float,
    models: list[type[Document]],
    must_exist: bool,
    work: Callable[[Registry], Awaitable[T]],
) -> T:
    """Run ``work`` on a registry of ``models`` on the server, mapping errors to exit codes."""
    usage, failed, unreachable = UsageError, FailedError, UnreachableError
    try:
        client = connect(
            uri,
            serverSelectionTimeoutMS=int(timeout * 1000),
            connectTimeoutMS=int(timeout * 1000),
            appname="mdocument-schema",
        )
    except (InvalidURI, ConfigurationError, ValueError, TypeError) as exc:
        raise usage(f"bad --uri {mask_uri(uri)!r}: {_scrub(str(exc), uri)}") from None
    try:
        try:
            database = client[db_name] if db_name else client.get_default_database()
        except (ConfigurationError, InvalidURI, ValueError) as exc:
            raise usage(
                "no database: pass --db NAME or put it in the URI (mongodb://host/NAME)"
                if db_name is None
                else f"bad --db {db_name!r}: {exc}"
            ) from None
        registry = await _register(database, models)
        if must_exist:
            try:
                names = await registry.store.database_names()
            except OperationFailure:
                names = None  # not allowed to list them: not refused for it
            if names is not None and database.name not in names:
                raise usage(f"no database {database.name!r} on the server")
        return await work(registry)
    except OperationFailure as exc:
        message = _scrub(str((exc.details or {}).get("errmsg") or exc), uri)
        if exc.code == _AUTHENTICATION_FAILED:
            raise usage(f"the server refused the credentials: {message}") from None
        raise failed(f"the server refused: {message}") from None
    except ConnectionFailure as exc:
        reason = str(exc).split(", Timeout:", 1)[0].split(" (configured timeouts:", 1)[0]
        raise unreachable(
            f"cannot reach the server at {mask_uri(uri)} within {timeout:g}s: "
            f"{_scrub(reason.strip(), uri)}"
        ) from None
    finally:
        await client.close()


def run_command(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; mdocument's errors become one-line errors and exit codes."""
    try:
        return asyncio.run(coroutine)
    except MigrationLocked as exc:
        raise LockedError(str(exc)) from None
    except DocumentException as exc:
        raise FailedError(str(exc)) from None


URI_OPTION = click.option(
    "--uri", envvar="MONGODB_URI", required=True, help="Server connection string ($MONGODB_URI)."
)
DB_OPTION = click.option("--db", "db_name", help="Database name (default: the one in the URI).")
TIMEOUT_OPTION = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the server.",
)


# -- graph --------------------------------------------------------------------------------------


def _edge_label(edge: Edge) -> str:
    copy = " (copy)" if edge.card is not None else ""
    return f"{edge.field.name}{copy}: {edge.kind.value}, on delete {edge.on_delete.value}"


def render_graph(graph: Graph, fmt: str) -> str:
    """The relation graph as ``mermaid``, ``dot`` (Graphviz) or ``text``."""
    if fmt == "mermaid":
        return graph.to_mermaid()
    if fmt == "dot":
        lines = ["digraph mdocument {", "    rankdir=LR;"]
        lines.extend(f'    "{node.__name__}";' for node in graph.nodes)
        lines.extend(
            f'    "{edge.child.__name__}" -> "{edge.parent.__name__}" '
            f'[label="{_edge_label(edge)}"];'
            for edge in graph.edges
        )
        lines.append("}")
        return "\n".join(lines)
    lines = list[str]()
    for node in graph.nodes:
        lines.append(f"{node.__name__} ({node.__mdocument_mapping__.collection})")
        outgoing = graph.outgoing(node)
        lines.extend(f"  {_edge_label(edge)} -> {edge.parent.__name__}" for edge in outgoing)
        if not outgoing:
            lines.append("  (refers to nothing)")
    return "\n".join(lines)


def _graph_of(models: list[type[Document]]) -> Graph:
    for model in models:
        if not model.__pydantic_complete__:
            model.model_rebuild()
    try:
        return Graph(models)
    except RelationNotSet:
        return Graph(_with_related(models))


@click.command(
    "graph",
    epilog="\b\nExample:\n  mdocument graph myapp.models --format dot | dot -Tsvg > graph.svg\n\n"
    + EXIT_CODES_HELP,
)
@click.argument("module")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "text"]),
    default="mermaid",
    show_default=True,
    help="Mermaid flowchart, Graphviz dot, or plain text.",
)
def graph_command(module: str, fmt: str) -> None:
    """Print the relation graph of MODULE's documents.

    Each reference or synced field, with its kind and on-delete rule. Needs no server.
    """
    models = load_models(module)
    try:
        graph = _graph_of(models)
    except DocumentException as exc:
        raise FailedError(str(exc)) from None
    click.echo(render_graph(graph, fmt))


# -- indexes ------------------------------------------------------------------------------------


@click.command(
    "indexes",
    epilog='\b\nExample:\n  mdocument indexes myapp.models --uri "$MONGODB_URI" --db app\n'
    '  mdocument indexes myapp.models --uri "$MONGODB_URI" --db app --apply --drop-extra\n\n'
    + EXIT_CODES_HELP,
)
@click.argument("module")
@URI_OPTION
@DB_OPTION
@click.option(
    "--apply",
    is_flag=True,
    help="Create missing indexes and rebuild differing ones (drop, then create).",
)
@click.option("--drop-extra", is_flag=True, help="With --apply: drop indexes not declared.")
@TIMEOUT_OPTION
@click.pass_context
def indexes_command(
    ctx: click.Context,
    module: str,
    uri: str,
    db_name: str | None,
    apply: bool,
    drop_extra: bool,
    timeout: float,
) -> None:
    """Compare MODULE's declared indexes with the database's.

    Shows missing (+), extra (-) and differing (~) indexes, and warns about reference fields
    that no index serves. Changes nothing unless --apply is given; `init` itself never drops
    an index.
    """
    check_uri(uri)
    if drop_extra and not apply:
        raise UsageError("--drop-extra drops indexes: it needs --apply")
    models = load_models(module)

    async def work(registry: Registry) -> int:
        diffs = await diff_indexes(registry)
        drift = False
        for diff in diffs:
            title = f"{diff.collection} ({diff.document.__name__})"
            if diff.clean:
                click.echo(f"{title}: in line")
                continue
            drift = True
            click.echo(f"{title}:")
            for line in diff.lines():
                click.echo(f"  {line}")
        if apply:
            for action in await apply_indexes(registry, diffs, drop_extra=drop_extra):
                click.echo(action)
            diffs = await diff_indexes(registry)
        unindexed = [reference for diff in diffs for reference in diff.unindexed]
        for reference in unindexed:
            click.echo(f"warning: {reference}", err=True)
        return 0 if apply and not unindexed else EXIT_DRIFT if drift or unindexed else 0

    code = run_command(
        connected(
            uri=uri,
            db_name=db_name,
            timeout=timeout,
            models=models,
            must_exist=not apply,
            work=work,
        )
    )
    ctx.exit(code)


# -- validators -----------------------------------------------------------------------------------


@click.command(
    "validators",
    epilog="\b\nExample:\n"
    '  mdocument validators myapp.models --uri "$MONGODB_URI" --db app --show\n'
    '  mdocument validators myapp.models --uri "$MONGODB_URI" --db app --apply '
    "--level moderate --action warn\n\n" + EXIT_CODES_HELP,
)
@click.argument("module")
@URI_OPTION
@DB_OPTION
@click.option("--apply", is_flag=True, help="Install the validators (collMod, or create).")
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="strict",
    show_default=True,
    help="moderate: updates of documents that already break the schema are let through.",
)
@click.option(
    "--action",
    type=click.Choice(ACTIONS),
    default="error",
    show_default=True,
    help="warn: writes that break the schema are only logged by the server.",
)
@click.option("--show", is_flag=True, help="Print each generated validator (Extended JSON).")
@TIMEOUT_OPTION
@click.pass_context
def validators_command(
    ctx: click.Context,
    module: str,
    uri: str,
    db_name: str | None,
    apply: bool,
    level: str,
    action: str,
    show: bool,
    timeout: float,
) -> None:
    """Generate a $jsonSchema validator for each collection of MODULE's documents.

    Types, required fields, nested models, lists, enums and references, compared with the
    server's validators. Installs them only with --apply; the server then refuses writes that
    break them (code 121).
    """
    check_uri(uri)
    models = load_models(module)

    async def work(registry: Registry) -> int:
        changes = await validator_changes(registry)
        drift = False
        for change in changes:
            title = f"{change.collection} ({change.document.__name__})"
            if show:
                click.echo(f"{title}:\n{json_util.dumps(change.wanted, indent=2)}")
            if not change.differs(level, action):
                click.echo(f"{title}: in line ({level}, {action})")
                continue
            drift = True
            if not change.exists:
                state = "no collection yet"
            elif change.current is None:
                state = "no validator"
            elif change.current != change.wanted:
                state = "another validator"
            else:
                state = f"validator in line, but {change.level}, {change.action}"
            click.echo(f"{title}: differs ({state})")
        if apply:
            for change in await apply_validators(
                registry,
                level="moderate" if level == "moderate" else "strict",
                action="warn" if action == "warn" else "error",
            ):
                click.echo(f"applied {change.collection} ({level}, {action})")
            return 0
        return EXIT_DRIFT if drift else 0

    code = run_command(
        connected(
            uri=uri,
            db_name=db_name,
            timeout=timeout,
            models=models,
            must_exist=not apply,
            work=work,
        )
    )
    ctx.exit(code)


def register(group: click.Group) -> None:
    """Add ``graph``, ``indexes`` and ``validators`` to the ``mdocument`` group."""
    for command in (graph_command, indexes_command, validators_command):
        group.add_command(command)
