"""Export documents to JSON Lines, JSON or CSV, streaming, with sensitive values masked.

:func:`export` reads documents with the driver's cursor, a batch at a time, and writes each one
as soon as it is read, so memory stays flat however many documents match. Each document is
written as its JSON form (``model_dump(mode="json")``): ``ObjectId`` as its hex string, datetimes
in ISO 8601 with their timezone, and sensitive values as ``"***"`` unless ``reveal=True``::

    count = await export(User, {"active": True}, fmt="csv", out="users.csv")

The ``mdocument export`` command line (:mod:`mdocument.cli`) is a thin layer over it.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import inspect
import io
import json
import math
import os
import secrets
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast, get_args

from pydantic_core import PydanticSerializationError

from mdocument import binding
from mdocument.exceptions import FieldIsNotJsonEncodable, UnknownModelField
from mdocument.masking import REVEAL
from mdocument.query import Query, SortSpec, compile_filter, compile_sort

if TYPE_CHECKING:
    from mdocument.document import Document
    from mdocument.mapping import DocumentMapping

__all__ = ["FORMATS", "ExportFormat", "Output", "export", "format_of"]

ExportFormat = Literal["jsonl", "json", "csv"]
"""``jsonl``: one JSON object a line; ``json``: one JSON array; ``csv``: a header and a row each."""

FORMATS: tuple[str, ...] = get_args(ExportFormat)

Output = str | os.PathLike[str] | IO[str] | IO[bytes]
"""Where an export goes: a path (written atomically) or an open text or binary stream."""

_SUFFIXES: dict[str, ExportFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
}
_PROGRESS_EVERY = 256
_CELL_SEPARATORS = (",", ":")


def format_of(path: str | os.PathLike[str], default: ExportFormat = "jsonl") -> ExportFormat:
    """The format a file name asks for (``.jsonl``/``.ndjson``, ``.json``, ``.csv``)."""
    return _SUFFIXES.get(Path(path).suffix.lower(), default)


async def export(
    document: type[Document],
    query: Query = None,
    *,
    out: Output,
    fmt: ExportFormat = "jsonl",
    reveal: bool = False,
    fields: Sequence[str] | None = None,
    sort: SortSpec = None,
    batch_size: int = 1000,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Write the documents matching ``query`` to ``out``; the number written.

    Documents are streamed from the server ``batch_size`` at a time and written one by one:
    nothing holds all of them. Every document is validated into its class on the way (a stored
    document that does not match raises :class:`~mdocument.WrongValueType` or
    :class:`~mdocument.RequiredFieldMissing`, naming its id) and written in its JSON form.

    - ``jsonl``: one compact JSON object a line.
    - ``json``: one JSON array, one document a line.
    - ``csv``: a header row, then one row a document. ``None`` is an empty cell, booleans are
      ``true``/``false``, and nested values (models, lists, dicts) are a cell of compact JSON.

    Args:
        document: the document class (registered with :func:`mdocument.init`).
        query: a filter naming the document's fields, as for ``Doc.find``; ``None`` for all.
        out: a path, written to a temporary file renamed into place once the export is complete
            (a failed export leaves no partial file), or an open text or binary stream, written
            and flushed but left open.
        fmt: ``"jsonl"`` (default), ``"json"`` or ``"csv"``.
        reveal: write sensitive values for real instead of ``"***"``; a file written from a
            path is then created readable by its owner only (mode ``0600``).
        fields: the fields to write, in this order; dotted paths (``"address.city"``) reach into
            nested values and become keys (or CSV columns) of that name. Default: every field,
            computed fields included.
        sort: an order, as for ``Doc.many(sort=...)``; default: the server's natural order.
        batch_size: how many documents each round trip to the server fetches.
        progress: called with the running count every few hundred documents and at the end.

    Raises:
        UnknownModelField: a name in ``query``, ``fields`` or ``sort`` is not a field.
        FieldIsNotJsonEncodable: a stored value has no JSON form (names the document and field).
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt is one of {', '.join(map(repr, FORMATS))}, not {fmt!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size is at least 1, not {batch_size}")
    repository = binding.repository_of(document)
    mapping = repository.mapping
    filter = compile_filter(mapping, query)
    order = compile_sort(mapping, sort)
    columns = _columns(mapping, fields)
    selected = None if fields is None else columns
    context = REVEAL if reveal else None

    # Nothing is read before the output is opened: a failure to reach the server or a bad
    # stored document then removes the partial file.
    cursor: Any = repository.collection.find(filter, sort=order, batch_size=batch_size)
    count = 0
    try:
        with _open(out, private=reveal) as stream:
            writer = _WRITERS[fmt](stream, columns)
            async for raw in cursor:
                writer.write(_row(repository.load(raw), context, selected))
                count += 1
                if progress is not None and count % _PROGRESS_EVERY == 0:
                    progress(count)
            writer.close()
    finally:
        closed = cursor.close()
        if inspect.isawaitable(closed):  # a coroutine on both drivers' async cursors
            await closed
    if progress is not None:
        progress(count)
    return count


# -- documents to rows ------------------------------------------------------------------------


def _columns(mapping: DocumentMapping, fields: Sequence[str] | None) -> list[str]:
    model = mapping.document
    computed = list(model.__pydantic_computed_fields__)
    if fields is None:
        return [*mapping.fields, *computed]
    if isinstance(fields, str):
        raise TypeError(f"fields= takes a list of field names, not the string {fields!r}")
    if not fields:
        raise ValueError("fields= names at least one field (None: every field)")
    known = [*mapping.fields, *computed]
    for path in fields:
        first = path.split(".", 1)[0]
        if first not in known:
            close = difflib.get_close_matches(first, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (fields: {', '.join(known)})"
            raise UnknownModelField(
                f"{model.__name__} has no field {first!r} to export{hint}",
                document=model,
                field=path,
            )
        if first not in computed:
            mapping.stored_path(path)  # checks the nested names
    return list(fields)


def _row(document: Document, context: Any, columns: Sequence[str] | None) -> dict[str, Any]:
    try:
        data = document.model_dump(mode="json", context=context)
    except (PydanticSerializationError, ValueError) as exc:
        raise _not_encodable(document, context, exc) from None
    if not columns:
        return data
    return {path: _pick(data, path) for path in columns}


def _pick(data: Any, path: str) -> Any:
    value: Any = data
    for segment in path.split("."):
        if isinstance(value, dict):
            value = cast("dict[str, Any]", value).get(segment)
        elif isinstance(value, list) and segment.isdigit():
            items: list[Any] = cast(Any, value)
            value = items[int(segment)] if int(segment) < len(items) else None
        else:
            return None
    return value


def _not_encodable(document: Document, context: Any, exc: Exception) -> FieldIsNotJsonEncodable:
    cls = type(document)
    mapping = cls.__mdocument_mapping__
    for name in [*mapping.fields, *cls.__pydantic_computed_fields__]:
        if _encodable(document, context, name):
            continue
        # Pydantic's text may quote the value: not for a sensitive field.
        detail = "" if name in mapping.sensitive else f": {exc}"
        return FieldIsNotJsonEncodable(
            f"{cls.__name__} {document.id}: field {name!r} holds a value that cannot be "
            f"written as JSON{detail}",
            document=cls,
            field=name,
        )
    return FieldIsNotJsonEncodable(
        f"{cls.__name__} {document.id} cannot be written as JSON: {exc}", document=cls
    )


def _encodable(document: Document, context: Any, name: str) -> bool:
    try:
        document.model_dump(mode="json", context=context, include={name})
    except (PydanticSerializationError, ValueError):
        return False
    return True


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None``, as ``model_dump_json`` writes them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in cast("dict[str, Any]", value).items()}
    if isinstance(value, list):
        items: list[Any] = cast(Any, value)
        return [_finite(item) for item in items]
    return value


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=_CELL_SEPARATORS, allow_nan=False)
    except ValueError:  # NaN or infinity: JSON has no such numbers
        return json.dumps(
            _finite(value), ensure_ascii=False, separators=_CELL_SEPARATORS, allow_nan=False
        )


# -- writers ----------------------------------------------------------------------------------


class _JsonLinesWriter:
    def __init__(self, stream: IO[str], columns: Sequence[str]) -> None:
        self.stream = stream

    def write(self, row: dict[str, Any]) -> None:
        self.stream.write(_json(row) + "\n")

    def close(self) -> None:
        pass


class _JsonArrayWriter:
    def __init__(self, stream: IO[str], columns: Sequence[str]) -> None:
        self.stream = stream
        self.separator = "[\n"

    def write(self, row: dict[str, Any]) -> None:
        self.stream.write(self.separator + _json(row))
        self.separator = ",\n"

    def close(self) -> None:
        self.stream.write("[]\n" if self.separator == "[\n" else "\n]\n")


class _CsvWriter:
    def __init__(self, stream: IO[str], columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(self.columns)

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow([_cell(row.get(column)) for column in self.columns])

    def close(self) -> None:
        pass


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return _json(value)


_WRITERS: dict[str, type[_JsonLinesWriter | _JsonArrayWriter | _CsvWriter]] = {
    "jsonl": _JsonLinesWriter,
    "json": _JsonArrayWriter,
    "csv": _CsvWriter,
}


# -- output -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _open(out: Output, *, private: bool = False) -> Generator[IO[str], None, None]:
    if isinstance(out, (str, os.PathLike)):
        with _atomic_file(Path(out), private=private) as stream:
            yield stream
        return
    if isinstance(out, (io.RawIOBase, io.BufferedIOBase)) or "b" in getattr(out, "mode", ""):
        binary: Any = out
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="", write_through=True)
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # the caller's stream stays open
        return
    text_stream = cast("IO[str]", out)
    yield text_stream
    text_stream.flush()


@contextlib.contextmanager
def _atomic_file(path: Path, *, private: bool = False) -> Generator[IO[str], None, None]:
    """A new file next to ``path``, renamed to it on success and removed on failure.

    ``private`` (sensitive values in clear): readable and writable by its owner only, from the
    moment it exists; a chmod after creation would leave a window where others can open it.
    """
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    # 0o666 leaves the usual permissions to the umask, as open() would; the umask can only
    # remove permissions, so 0o600 stays owner-only.
    mode = 0o600 if private else 0o666
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
