"""Change streams: ``async with User.watch(query) as changes`` yields typed :class:`Change` events.

Each event is an insert, update, replace or delete of one document of the class. Inserts and
replaces carry the whole document, decoded into the class (as ``find`` would load it); updates
carry it too with ``full_document=True`` (read after the update, ``updateLookup``). Updates also
give what changed, ``updated`` (stored paths and stored values) and ``removed`` (paths); in reprs
and JSON output the sensitive values among them are masked, like a document's own.

The filter is compiled like a query's (field expressions or a dict of field names), then applied
to the events: a path ``p`` is matched on ``fullDocument.p``, the id on ``documentKey._id``. So a
filter on fields matches only events that carry the document: inserts, replaces and updates with
``full_document=True``; a delete carries only the id, and only a filter on the id matches it.
``operations`` keeps only some kinds of events (a ``$match`` on ``operationType``).

Every event has a :attr:`Change.resume_token`: pass the last one handled as ``resume_after`` to
continue after a restart with the next event. A stream ends when the collection is dropped or
renamed.
"""

from __future__ import annotations

import decimal
from collections.abc import AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast

import bson
from pydantic import BaseModel, ConfigDict, FieldSerializationInfo, PrivateAttr, field_serializer

from mdocument.exceptions import DocumentException
from mdocument.filters import compile_filter
from mdocument.masking import is_revealed, mask_at
from mdocument.model import DocumentBase
from mdocument.types import ObjectId

if TYPE_CHECKING:
    from mdocument.binding import RepositoryView
    from mdocument.filters import Query
    from mdocument.store import StoreChangeStream

__all__ = ["OPERATIONS", "Change", "ChangeStream", "Operation", "watch_pipeline"]

D = TypeVar("D", bound=DocumentBase)

Operation = Literal["insert", "update", "replace", "delete"]
OPERATIONS: tuple[Operation, ...] = ("insert", "update", "replace", "delete")
"""The kinds of events a change stream of documents yields."""

_LOGICAL = frozenset({"$and", "$or", "$nor"})
# Events after which the stream has nothing more to say (the collection is gone).
_ENDINGS = frozenset({"invalidate", "drop", "rename", "dropDatabase"})


class Change(BaseModel, Generic[D]):
    """One change of one document, from :meth:`Document.watch <mdocument.Document.watch>`."""

    model_config = ConfigDict(frozen=True)

    operation: Operation
    """``insert``, ``update``, ``replace`` or ``delete``."""
    document_id: ObjectId
    """The id of the document that changed."""
    document: D | None = None
    """The document, decoded: on inserts, replaces, and updates with ``full_document=True``."""
    updated: dict[str, Any] = {}
    """On updates: the stored paths set, with their stored values (sensitive ones masked in
    reprs and JSON output)."""
    removed: list[str] = []
    """On updates: the stored paths unset."""
    resume_token: dict[str, Any]
    """Pass it as ``watch(resume_after=...)`` to continue with the event after this one."""

    _model: type[DocumentBase] | None = PrivateAttr(default=None)

    def with_model(self, model: type[DocumentBase]) -> Change[D]:
        """Mask the updated values as paths of ``model`` (set by the stream); returns ``self``."""
        self._model = model
        return self

    def _masked_updated(self) -> dict[str, Any]:
        model = self._model
        if model is None:
            return dict(self.updated)
        return {path: mask_at(model, path, value) for path, value in self.updated.items()}

    @field_serializer("updated")
    def _serialize_updated(
        self, updated: dict[str, Any], info: FieldSerializationInfo
    ) -> dict[str, Any]:
        if info.mode != "json":
            return updated  # the Python form is the stored form, as for documents
        shown = updated if is_revealed(info.context) else self._masked_updated()
        return cast("dict[str, Any]", _json_safe(shown))

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, self._masked_updated() if name == "updated" else value


def _json_safe(value: Any) -> Any:
    """Stored values as JSON can show them (ids and decimals as strings)."""
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in cast("Mapping[str, Any]", value).items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in cast("Iterable[Any]", value)]
    if isinstance(value, (bson.ObjectId, bson.Decimal128, decimal.Decimal)):
        return str(value)
    return value


def _on_events(filter: Mapping[str, Any]) -> dict[str, Any]:
    """A compiled filter on documents, as a filter on change events."""
    translated: dict[str, Any] = {}
    for key, value in filter.items():
        if key in _LOGICAL:
            translated[key] = [_on_events(part) for part in value]
        elif key.startswith("$"):
            raise DocumentException(
                f"a change stream filter matches fields and ids; {key} is not supported there"
            )
        elif key == "_id":
            translated["documentKey._id"] = value
        else:
            translated[f"fullDocument.{key}"] = value
    return translated


def watch_pipeline(
    document: type[DocumentBase], query: Query, operations: Iterable[str] | None
) -> list[dict[str, Any]]:
    """The ``$match`` stage of a change stream on ``document`` (see the module's rule)."""
    kinds = list(OPERATIONS if operations is None else operations)
    unknown = [kind for kind in kinds if kind not in OPERATIONS]
    if unknown:
        raise DocumentException(
            f"watch(operations=...) takes {', '.join(OPERATIONS)}, not {unknown}",
            document=document,
        )
    match: dict[str, Any] = {"operationType": {"$in": kinds}}
    match.update(_on_events(compile_filter(document.__mdocument_mapping__, query)))
    return [{"$match": match}]


class ChangeStream(AsyncIterator[Change[D]], Generic[D]):
    """The changes of a document class, as :class:`Change` events.

    Open it with ``async with`` before the writes it must see (``async for`` alone opens it at
    its first read); :attr:`resume_token` is the point reached so far.
    """

    def __init__(
        self,
        repository: RepositoryView,
        query: Query = None,
        *,
        resume_after: Mapping[str, Any] | None = None,
        full_document: bool = False,
        operations: Iterable[str] | None = None,
    ) -> None:
        document: type[D] = repository.mapping.document  # type: ignore[assignment]
        view = repository.mapping.view
        if view is not None:
            raise DocumentException(
                f"{document.__name__} is a view: watch its source, "
                f"{view.source.__name__}, instead (the server has no change streams on views)",
                document=document,
            )
        self._document = document
        self._load = repository.load
        options: dict[str, Any] = {}
        if resume_after is not None:
            options["resume_after"] = dict(resume_after)
        if full_document:
            options["full_document"] = "updateLookup"
        self._stream: StoreChangeStream = repository.collection.watch(
            watch_pipeline(document, query, operations), **options
        )
        self._ended = False

    @property
    def resume_token(self) -> dict[str, Any] | None:
        """The token of the last event read (``None`` before the stream is opened)."""
        token: dict[str, Any] | None = self._stream.resume_token
        return token

    async def open(self) -> None:
        """Start watching on the server: writes from now on are delivered."""
        await self._stream.open()

    async def close(self) -> None:
        """Stop watching."""
        self._ended = True
        await self._stream.close()

    async def __aenter__(self) -> ChangeStream[D]:
        await self.open()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __aiter__(self) -> ChangeStream[D]:
        return self

    async def __anext__(self) -> Change[D]:
        while not self._ended:
            event = await self._stream.next()
            kind = event.get("operationType")
            if kind in _ENDINGS:
                await self.close()
                break
            if kind in OPERATIONS:
                return self._change(event)
        raise StopAsyncIteration

    def _change(self, event: dict[str, Any]) -> Change[D]:
        full = event.get("fullDocument")
        description: dict[str, Any] = event.get("updateDescription") or {}
        change: Change[D] = Change(
            operation=event["operationType"],
            document_id=event["documentKey"]["_id"],
            document=None if full is None else self._load(full),
            updated=description.get("updatedFields") or {},
            removed=description.get("removedFields") or [],
            resume_token=event["_id"],
        )
        return change.with_model(self._document)
