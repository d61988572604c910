"""The implementation of the ``mdocument`` command line, on click and rich (the ``cli`` extra).

Imported by :mod:`mdocument.cli` only when both are installed; see there for the exit codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import difflib
import importlib
import os
import re
import sys
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn, cast

import click
from bson import json_util
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mdocument.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    redact,
)
from mdocument.document import Document
from mdocument.driver import (
    ConfigurationError,
    ConnectionFailure,
    InvalidURI,
    OperationFailure,
    PyMongoError,
    connect,
)
from mdocument.exceptions import DocumentException, RelationNotSet, UnknownModelField
from mdocument.export import FORMATS, ExportFormat, export, format_of
from mdocument.query import compile_filter
from mdocument.registry import init

__all__ = ["CommandError", "ServerUnreachable", "UsageProblem", "cli", "main", "redact"]

_EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0    done\n"
    "  1    the export failed while running (server error, bad stored document, output)\n"
    "  2    usage: bad option, --uri or --query, unknown document or field,\n"
    "       a database or collection that does not exist\n"
    "  3    the server could not be reached within --timeout seconds\n"
    "  130  interrupted"
)

# Server error codes that mean "the query is malformed": BadValue, FailedToParse, TypeMismatch.
_BAD_QUERY_CODES = frozenset({2, 9, 14})
_AUTHENTICATION_FAILED = 18
_URI_SCHEMES = ("mongodb://", "mongodb+srv://")
_CONFIGURED_TIMEOUTS = re.compile(r"\s*\(configured timeouts:[^)]*\)")


class CommandError(click.ClickException):
    """A one-line error (``Error: ...`` on standard error); exits with :data:`EXIT_FAILED`."""

    exit_code = EXIT_FAILED


class UsageProblem(CommandError):
    """The command line is wrong; exits with :data:`EXIT_USAGE`."""

    exit_code = EXIT_USAGE


class ServerUnreachable(CommandError):
    """The server did not answer in time; exits with :data:`EXIT_UNREACHABLE`."""

    exit_code = EXIT_UNREACHABLE


# -- helpers ----------------------------------------------------------------------------------


def load_document(target: str) -> type[Document]:
    """The document class named ``MODULE:Document`` (the module is imported from the cwd)."""
    module_name, _, name = target.partition(":")
    if not module_name or not name:
        raise UsageProblem(
            f"name the document as MODULE:Document, for example myapp.models:User, not {target!r}"
        )
    # As `python -m` does: the project a command is run from can be imported.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise UsageProblem(
                f"no module named {missing!r} (run the command from your project's directory, "
                "or add it to PYTHONPATH)"
            ) from None
        raise UsageProblem(f"importing {module_name!r} failed: {exc}") from None
    except Exception as exc:
        raise UsageProblem(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    found: Any = module
    for part in name.split("."):
        found = getattr(found, part, None)
    if not (isinstance(found, type) and issubclass(found, Document)):
        documents = sorted(
            key
            for key, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, Document) and value is not Document
        )
        close = difflib.get_close_matches(name, documents, n=1)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else f" (documents there: {', '.join(documents) or 'none'})"
        )
        what = "is not a Document class" if found is not None else "not found"
        raise UsageProblem(f"{target}: {what}{hint}")
    if found is Document or found.__mdocument_mapping__.abstract:
        raise UsageProblem(f"{target} is abstract (Meta.abstract = True): it has no collection")
    return found


def parse_query(text: str | None) -> dict[str, Any] | None:
    """A ``--query``: a JSON object, MongoDB Extended JSON allowed (``{"$oid": ...}``)."""
    if text is None or not text.strip():
        return None
    try:
        # {"$date": ...} is a UTC instant: decoded aware, as the driver reads stored dates.
        query: Any = json_util.loads(text, json_options=_EXTENDED_JSON)
    except (ValueError, TypeError) as exc:
        raise UsageProblem(f"--query is not valid JSON: {exc}") from None
    if not isinstance(query, dict):
        raise UsageProblem(
            f'--query is a JSON object such as \'{{"name": "Ada"}}\', '
            f"not {type(query).__name__} {text.strip()[:40]!r}"
        )
    return cast("dict[str, Any]", query)


def parse_fields(text: str | None) -> list[str] | None:
    """``--fields name,email,address.city`` as a list (``None`` when not given)."""
    if text is None:
        return None
    fields = [field.strip() for field in text.split(",") if field.strip()]
    if not fields:
        raise UsageProblem("--fields names at least one field")
    return fields


def _all_documents() -> list[type[Document]]:
    found: list[type[Document]] = []
    pending = list(Document.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if cls not in found and not cls.__mdocument_mapping__.abstract:
            found.append(cls)
    return found


async def _register(database: Any, document: type[Document]) -> None:
    """Bind ``document`` to ``database`` without creating indexes.

    A document whose relations point to others needs them registered too: then every loaded
    document class is, one per collection, ``document`` first.
    """
    try:
        await init(database, models=[document], create_indexes=False)
        return
    except RelationNotSet:
        pass
    models = [document]
    collections = {document.__mdocument_mapping__.collection}
    for other in _all_documents():
        collection = other.__mdocument_mapping__.collection
        if collection not in collections:
            collections.add(collection)
            models.append(other)
    await init(database, models=models, create_indexes=False)


@contextlib.contextmanager
def _progress(
    console: Console, label: str, total: int | None
) -> Generator[Callable[[int], None], None, None]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda count: progress.update(task, completed=count)


def _unreachable(exc: PyMongoError, uri: str, timeout: float) -> CommandError:
    reason = str(exc).split(", Timeout:", 1)[0]
    reason = _CONFIGURED_TIMEOUTS.sub("", reason).strip()
    return ServerUnreachable(
        f"cannot reach the server at {redact(uri, uri)} within {timeout:g}s: {redact(reason, uri)}"
    )


_UNAUTHORIZED = 13
_EXTENDED_JSON = json_util.JSONOptions(tz_aware=True, tzinfo=datetime.timezone.utc)


async def _check_exists(client: Any, database: Any, document: type[Document]) -> None:
    """Refuse a database or collection that is not on the server (a misspelled ``--db``).

    Exporting one would write nothing and succeed, which a script cannot tell from an empty
    collection. A user allowed to read the database but not to list them all is checked on
    the collection only.
    """
    collection = document.__mdocument_mapping__.collection
    name: str = database.name
    try:
        databases: list[str] = await client.list_database_names()
    except OperationFailure as exc:
        if exc.code != _UNAUTHORIZED:
            raise
    else:
        if name not in databases:
            close = difflib.get_close_matches(name, databases, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageProblem(f"no database {name!r} on the server{hint}")
    try:
        collections: list[str] = await database.list_collection_names()
    except OperationFailure as exc:
        if exc.code != _UNAUTHORIZED:
            raise
        return
    if collection not in collections:
        close = difflib.get_close_matches(collection, collections, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageProblem(
            f"no collection {collection!r} (of {document.__name__}) in database {name!r}{hint}"
        )


# -- the export -------------------------------------------------------------------------------


async def _export(
    *,
    document: type[Document],
    uri: str,
    db_name: str | None,
    query: dict[str, Any] | None,
    fmt: ExportFormat,
    out: Path | None,
    fields: list[str] | None,
    reveal: bool,
    timeout: float,
    batch_size: int,
    console: Console | None,
) -> int:
    try:
        client = connect(
            uri,
            serverSelectionTimeoutMS=int(timeout * 1000),
            connectTimeoutMS=int(timeout * 1000),
            appname="mdocument-export",
        )
    except (InvalidURI, ConfigurationError, ValueError, TypeError) as exc:
        message = f"bad --uri {redact(uri, uri)!r}: {redact(str(exc), uri)}"
        raise UsageProblem(message) from None
    try:
        try:
            database = client[db_name] if db_name else client.get_default_database()
        except (ConfigurationError, InvalidURI, ValueError) as exc:
            raise UsageProblem(
                f"no database: pass --db NAME or put it in the URI (mongodb://host/NAME): {exc}"
                if db_name is None
                else f"bad --db {db_name!r}: {exc}"
            ) from None
        await _check_exists(client, database, document)
        await _register(database, document)
        target: Path | IO[bytes] = sys.stdout.buffer if out is None else out
        options: dict[str, Any] = {
            "out": target,
            "fmt": fmt,
            "reveal": reveal,
            "fields": fields,
            "batch_size": batch_size,
        }
        if console is None:
            return await export(document, query, **options)
        total = await document.count(query)
        with _progress(console, f"{document.__name__} → {out or 'stdout'}", total) as update:
            return await export(document, query, progress=update, **options)
    except OperationFailure as exc:
        message = redact(str((exc.details or {}).get("errmsg") or exc), uri)
        if exc.code == _AUTHENTICATION_FAILED:
            raise UsageProblem(f"the server refused the credentials: {message}") from None
        if exc.code in _BAD_QUERY_CODES:
            raise UsageProblem(f"the server refused --query: {message}") from None
        raise CommandError(f"the server refused the export: {message}") from None
    except ConnectionFailure as exc:
        raise _unreachable(exc, uri, timeout) from None
    finally:
        await client.close()


# -- commands ---------------------------------------------------------------------------------


def _group() -> None:
    """mdocument: tools for the documents of a mdocument application."""


# Built without decorator syntax so that its type is declared: mdocument.cli (which imports
# this module, and is imported by it) and the modules adding commands see a click.Group.
cli: click.Group = click.group(context_settings={"help_option_names": ["-h", "--help"]})(
    click.version_option(package_name="mdocument", prog_name="mdocument")(_group)
)


@cli.command("export", epilog=_EXIT_CODES_HELP)
@click.argument("target", metavar="MODULE:DOCUMENT")
@click.option(
    "--uri",
    envvar="MONGODB_URI",
    required=True,
    help="Server connection string (default: $MONGODB_URI).",
)
@click.option("--db", "db_name", help="Database name (default: the one in the URI).")
@click.option(
    "--query",
    "-q",
    "query_text",
    metavar="JSON",
    help='Filter on the document\'s fields, e.g. \'{"karma": {"$gt": 10}}\'; Extended JSON '
    'such as {"$oid": "..."} is understood.',
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format (default: from the --out suffix, else jsonl).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    help="Output file, replaced once the export is complete (default or -: standard output).",
)
@click.option("--fields", metavar="A,B.C", help="Fields to write, in this order.")
@click.option("--reveal", is_flag=True, help="Write sensitive values for real, not as ***.")
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
@click.option("--quiet", is_flag=True, help="No progress bar or summary, even on a terminal.")
def export_command(
    target: str,
    uri: str,
    db_name: str | None,
    query_text: str | None,
    fmt: ExportFormat | None,
    out: Path | None,
    fields: str | None,
    reveal: bool,
    timeout: float,
    batch_size: int,
    quiet: bool,
) -> None:
    """Export the documents of MODULE:DOCUMENT (e.g. myapp.models:User).

    Sensitive values are written as *** unless --reveal is given. A progress bar is shown on
    a terminal.
    """
    if not uri.startswith(_URI_SCHEMES):
        raise UsageProblem(
            f"bad --uri {redact(uri, uri)!r}: a MongoDB URI starts with mongodb:// or "
            "mongodb+srv://"
        )
    document = load_document(target)
    query = parse_query(query_text)
    selected = parse_fields(fields)
    try:
        compile_filter(document.__mdocument_mapping__, query)  # before connecting to anything
    except UnknownModelField as exc:
        raise UsageProblem(f"--query: {exc}") from None
    if out == Path("-"):
        out = None
    if out is not None and not out.parent.is_dir():
        raise UsageProblem(f"--out: no directory {str(out.parent)!r}")
    chosen: ExportFormat = fmt or (format_of(out) if out is not None else "jsonl")
    console = Console(stderr=True)
    # On a terminal only, and not over the documents themselves when they go to the terminal.
    interactive = console.is_terminal and not quiet
    show_progress = interactive and (out is not None or not sys.stdout.isatty())
    if reveal and interactive:
        console.print("--reveal: sensitive values are written in clear", style="yellow")
    try:
        count = asyncio.run(
            _export(
                document=document,
                uri=uri,
                db_name=db_name,
                query=query,
                fmt=chosen,
                out=out,
                fields=selected,
                reveal=reveal,
                timeout=timeout,
                batch_size=batch_size,
                console=console if show_progress else None,
            )
        )
    except UnknownModelField as exc:
        raise UsageProblem(str(exc)) from None
    except DocumentException as exc:
        raise CommandError(str(exc)) from None
    except BrokenPipeError:
        # The reader of standard output went away (`| head`): stop, silently.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise CommandError("standard output was closed") from None
    except OSError as exc:
        where = f" {str(out)!r}" if out is not None else ""
        raise CommandError(f"cannot write{where}: {exc.strerror or exc}") from None
    if interactive:
        noun = "document" if count == 1 else "documents"
        summary = f"exported {count:,} {document.__name__} {noun} to {out or 'stdout'}"
        console.print(summary, highlight=False, markup=False)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point of the ``mdocument`` console script."""
    try:
        result = cli.main(args=argv, prog_name="mdocument", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(result if isinstance(result, int) else EXIT_OK)
