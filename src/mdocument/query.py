"""Queries: the chainable :class:`QuerySet` that runs them.

Filters and sorts are compiled by :mod:`mdocument.filters`; this module runs them through the
class's repository: reading, counting, bulk updates and deletes (cascades included),
aggregation, projections, and offset and keyset pagination.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast, overload

from pydantic import BaseModel, ValidationError

from mdocument import binding
from mdocument.batching import find_ids
from mdocument.exceptions import InvalidPageToken, WrongValueType
from mdocument.expressions import Expression, SortKey
from mdocument.filters import (
    Pipeline,
    Query,
    SortSpec,
    compile_filter,
    compile_sort,
    stored_spec,
    with_tiebreak,
)
from mdocument.kinds import refuse_write
from mdocument.masking import mask_filter
from mdocument.pagination import (
    KeysetPage,
    Page,
    decode_token,
    encode_token,
    keyset_filter,
)
from mdocument.paths import PathSpec, path_of
from mdocument.plans import DeletePreview, preview_delete
from mdocument.projection import Projection, projection_of
from mdocument.soft import hidden, is_soft, shown
from mdocument.soft_deletes import soft_delete
from mdocument.updates import Update, compile_update

if TYPE_CHECKING:
    from typing_extensions import Self

    from mdocument.driver import Session
    from mdocument.model import DocumentBase as Document
    from mdocument.repository import Repository

__all__ = [
    "ModelT",
    "Pipeline",
    "Query",
    "QuerySet",
    "SortSpec",
    "compile_filter",
    "compile_sort",
]

T = TypeVar("T")

_STREAM_BATCH = 1000
"""Documents per batch when a query is iterated (``async for``)."""
D = TypeVar("D", bound="Document")
ModelT = TypeVar("ModelT", bound=BaseModel)


def _repository(document: type[Document]) -> Repository[Any]:
    repository: Repository[Any] = binding.repository_of(document)
    return repository


def _result_error(document: type[BaseModel], model: type[Any], exc: ValidationError) -> Exception:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return WrongValueType(
        f"{document.__name__}.aggregate: a result does not fit {model.__name__}: "
        f"{first['msg']} (at {where!r})",
        document=document,
        field=where or None,
        stored=True,
    )


# -- query sets -------------------------------------------------------------------------------


class QuerySet(Generic[T]):
    """A query on one document class, refined by chaining and run by awaiting a method.

    ``Doc.find(query)`` returns one; each refining method returns a new query set, so a base
    query can be reused::

        recent = Post.find(Post.views > 10).sort(desc(Post.created))
        page = await recent.skip(20).limit(10).to_list()
        async for post in recent: ...
        cards = await recent.project(PostCard).to_list()   # list[PostCard]
    """

    __slots__ = ("_document", "_filter", "_limit", "_projection", "_session", "_skip", "_sort")

    def __init__(
        self: QuerySet[D], document: type[D], query: Query = None, *, session: Session | None = None
    ) -> None:
        self._document: type[Document] = document
        self._filter = hidden(document, compile_filter(document.__mdocument_mapping__, query))
        self._sort: list[tuple[str, int]] | None = None
        self._skip = 0
        self._limit = 0
        self._session = session
        self._projection: Projection | None = None

    def _copy(self, **changes: Any) -> Self:
        clone = object.__new__(type(self))
        for name in QuerySet.__slots__:
            object.__setattr__(clone, name, changes.get(name, getattr(self, name)))
        return clone

    @property
    def filter(self) -> dict[str, Any]:
        """The compiled filter, as sent to MongoDB."""
        return self._filter

    # -- refining ---------------------------------------------------------------------------

    def with_deleted(self) -> Self:
        """Include soft-deleted documents (``Meta.soft_delete = True``; see Soft delete)."""
        return self._copy(_filter=shown(self._filter))

    def sort(self, *keys: str | tuple[str, int] | SortKey) -> Self:
        """Order by fields: ``sort(desc(Post.created), asc(Post.title))``, ``sort("-created")``."""
        compiled = compile_sort(self._document.__mdocument_mapping__, list(keys))
        return self._copy(_sort=[*(self._sort or []), *(compiled or [])])

    def skip(self, count: int) -> Self:
        """Skip the first ``count`` results."""
        if count < 0:
            raise ValueError(f"skip takes a count >= 0, not {count}")
        return self._copy(_skip=count)

    def limit(self, count: int) -> Self:
        """Return at most ``count`` results (0: no limit)."""
        if count < 0:
            raise ValueError(f"limit takes a count >= 0, not {count}")
        return self._copy(_limit=count)

    def project(self, model: type[ModelT]) -> QuerySet[ModelT]:
        """Load only the fields of ``model`` (a smaller pydantic model) and return instances of it.

        The model's fields are matched to the document's by name and checked now: an unknown
        field raises :class:`~mdocument.UnknownModelField`, a type that cannot hold the stored
        values raises :class:`~mdocument.WrongModelFieldType`.
        """
        projection = projection_of(self._document.__mdocument_mapping__, model)
        return cast("QuerySet[ModelT]", self._copy(_projection=projection))

    # -- reading ----------------------------------------------------------------------------

    def _loader(self) -> Callable[[dict[str, Any]], T]:
        if self._projection is not None:
            return self._projection.load
        return _repository(self._document).load

    def _cursor(self, **options: Any) -> Any:
        settings: dict[str, Any] = {
            "sort": self._sort,
            "skip": self._skip,
            "limit": self._limit,
            "projection": None if self._projection is None else self._projection.fields,
            "session": self._session,
            **options,
        }
        filter = settings.pop("filter", self._filter)
        repository = _repository(self._document)
        # Whole documents are read as the repository loads them; a projection, aware.
        source = repository.loads if self._projection is None else repository.collection
        return source.find(filter, **settings)

    async def to_list(self) -> list[T]:
        """All matching documents (or projected models)."""
        raws = await self._cursor().to_list(None)
        if self._projection is None:
            documents: list[T] = _repository(self._document).load_all(raws)
            return documents
        load = self._projection.load
        return [load(raw) for raw in raws]

    async def __aiter__(self) -> AsyncIterator[T]:
        """Stream the matching documents, a batch of them in memory at a time.

        Batches hold 1,000 documents: the server's own batches grow to 16 MiB, which the
        driver decodes whole, so memory would grow with the result.
        """
        load = self._loader()
        async for raw in self._cursor(batch_size=_STREAM_BATCH):
            yield load(raw)

    async def first(self) -> T | None:
        """The first matching document in the query's order, or ``None``."""
        found = await self.limit(1).to_list()
        return found[0] if found else None

    async def count(self) -> int:
        """How many documents match (skip and limit applied)."""
        options: dict[str, Any] = {}
        if self._skip:
            options["skip"] = self._skip
        if self._limit:
            options["limit"] = self._limit
        collection = _repository(self._document).collection
        return await collection.count_documents(self._filter, session=self._session, **options)

    async def exists(self) -> bool:
        """Whether at least one document matches."""
        collection = _repository(self._document).collection
        found = await collection.find_one(
            self._filter, projection={"_id": 1}, session=self._session
        )
        return found is not None

    async def distinct(self, field: object) -> list[Any]:
        """The distinct values of ``field`` (``Post.status``, or a dotted name) among matches.

        For a list field, the distinct elements. Values come back as the field's type.
        """
        spec = stored_spec(self._document.__mdocument_mapping__, field)
        collection = _repository(self._document).collection
        values = await collection.distinct(spec.stored, self._filter, session=self._session)
        return [None if value is None else spec.validate(value, item=True) for value in values]

    # -- bulk writes --------------------------------------------------------------------------

    def _whole(self, action: str) -> None:
        if self._skip or self._limit:
            raise ValueError(
                f"{self._document.__name__}.find(...).{action}() applies to every match: "
                "skip() and limit() cannot restrict it; remove them"
            )

    async def update(self, update: Update) -> int:
        """Apply an update to every matching document; the number of documents modified.

        Field names are translated to stored names and the values checked against the fields
        before anything is sent: ``await Post.find(...).update({"$inc": {"views": 1}})``.
        """
        self._whole("update")
        refuse_write(self._document, "find().update()")
        compiled = compile_update(self._document, update)
        if not compiled:
            return 0  # {"$set": {}}: nothing to change, nothing sent
        repository = _repository(self._document)
        return await repository.update_many(self._filter, compiled, self._session)

    @overload
    async def delete(self, *, dry_run: Literal[False] = False, hard: bool = False) -> int: ...

    @overload
    async def delete(self, *, dry_run: Literal[True], hard: bool = False) -> DeletePreview: ...

    async def delete(self, *, dry_run: bool = False, hard: bool = False) -> int | DeletePreview:
        """Delete every matching document (running its relations' cascades); the number deleted.

        With ``dry_run=True`` nothing is written: the result is a
        :class:`~mdocument.plans.DeletePreview` of what the delete would do. A class with
        ``Meta.soft_delete = True`` is soft-deleted, unless ``hard=True``.
        """
        self._whole("delete")
        refuse_write(self._document, "find().delete()")
        repository = _repository(self._document)
        if dry_run:
            ids = await find_ids(repository.collection, self._filter, self._session)
            return await preview_delete(repository.registry, self._document, ids, self._session)
        if not hard and is_soft(self._document):  # Meta.soft_delete: a soft delete
            return await soft_delete(repository, self._filter, self._session)
        return await repository.delete_many(self._filter, self._session)

    # -- aggregation ----------------------------------------------------------------------------

    @overload
    async def aggregate(self, pipeline: Pipeline, result: None = None) -> list[dict[str, Any]]: ...

    @overload
    async def aggregate(self, pipeline: Pipeline, result: type[ModelT]) -> list[ModelT]: ...

    async def aggregate(self, pipeline: Pipeline, result: type[BaseModel] | None = None) -> Any:
        """Run an aggregation pipeline on the matching documents.

        The query's filter, sort, skip and limit come first as stages. A ``$match`` stage may
        hold a field expression. With ``result``, each output document is validated into that
        model (the document class itself gives stored documents); otherwise dicts.
        """
        mapping = self._document.__mdocument_mapping__
        stages: list[Mapping[str, Any]] = []
        if self._filter:
            stages.append({"$match": self._filter})
        if self._sort:
            stages.append({"$sort": dict(self._sort)})
        if self._skip:
            stages.append({"$skip": self._skip})
        if self._limit:
            stages.append({"$limit": self._limit})
        for stage in pipeline:
            match = stage.get("$match")
            if isinstance(match, (Expression, bool)):
                stage = {**stage, "$match": compile_filter(mapping, match)}
            stages.append(stage)
        repository = _repository(self._document)
        raws = await repository.collection.aggregate(stages, self._session).to_list(None)
        if result is None:
            return raws
        if result is self._document:
            return [repository.load(raw) for raw in raws]
        try:
            return [result.model_validate(raw) for raw in raws]
        except ValidationError as exc:
            raise _result_error(self._document, result, exc) from None

    # -- pagination -----------------------------------------------------------------------------

    async def paginate(self, *, offset: int = 0, limit: int = 20) -> Page[T]:
        """The ``limit`` results after the first ``offset`` ones, with the total count.

        Results are ordered by the query's sort, then ``_id``, so pages never overlap, even
        where sort values repeat. A page past the last one is empty (its ``total`` is still
        the count). Without a session, the count and the page are read concurrently. Pass a
        query set without skip or limit of its own: ``offset`` and ``limit`` are the page's.
        """
        if offset < 0 or limit < 1:
            raise ValueError(f"paginate takes offset >= 0 and limit >= 1, not {offset} and {limit}")
        self._whole("paginate")
        window = self._copy(_sort=with_tiebreak(self._sort), _skip=offset, _limit=limit)
        collection = _repository(self._document).collection
        counting = collection.count_documents(self._filter, session=self._session)
        if self._session is None:
            items, total = await asyncio.gather(window.to_list(), counting)
        else:  # a session runs one operation at a time
            total = await counting
            items = await window.to_list()
        return Page(items=items, total=total, offset=offset, limit=limit)

    async def keyset(self, size: int = 20, after: str | None = None) -> KeysetPage[T]:
        """The ``size`` results after the position of token ``after`` (the first ones without).

        The order is the query's sort, then ``_id``. ``next_token`` of the page is the token of
        the following one, ``None`` on the last page. A token altered by a client, or made for
        another sort, raises :class:`~mdocument.InvalidPageToken`.
        """
        if size < 1:
            raise ValueError(f"keyset takes size >= 1, not {size}")
        self._whole("keyset")
        sort = with_tiebreak(self._sort)
        specs = [path_of(self._document, path) for path, _ in sort]
        for spec in specs:
            if spec.sensitive or spec.multi:
                reason = "is sensitive" if spec.sensitive else "holds a list"
                raise ValueError(
                    f"{spec.label} {reason}: keyset pages cannot be sorted by it (its values "
                    "go into the page token)"
                )
        repository = _repository(self._document)
        codec = repository.collection.codec_options
        filter = self._filter
        if after is not None:
            values = decode_token(after, sort, codec, self._document)
            position = keyset_filter(sort, self._token_values(specs, values))
            filter = {"$and": [filter, position]} if filter else position
        projection = None
        if self._projection is not None:
            projection = {**self._projection.fields, **{path: 1 for path, _ in sort}}
        raws = await self._cursor(
            filter=filter, sort=sort, skip=0, limit=size + 1, projection=projection
        ).to_list(None)
        more = len(raws) > size
        raws = raws[:size]
        load = self._loader()
        items = [load(raw) for raw in raws]  # first: loading attaches UTC to naive datetimes
        token = None
        if more:
            last = [_value_at(raws[-1], path) for path, _ in sort]
            token = encode_token(last, sort, codec)
        return KeysetPage(items=items, size=size, next_token=token)

    def _token_values(self, specs: list[PathSpec], values: list[Any]) -> list[Any]:
        try:
            return [
                None if v is None else spec.check(v) for spec, v in zip(specs, values, strict=True)
            ]
        except WrongValueType:
            raise InvalidPageToken(
                f"{self._document.__name__}: the page token holds values that do not fit the "
                "sort fields (it was altered)",
                document=self._document,
            ) from None

    def __repr__(self) -> str:
        shown = mask_filter(self._filter, self._document)
        model = "" if self._projection is None else f" -> {self._projection.model.__name__}"
        return f"<QuerySet {self._document.__name__} {shown!r}{model}>"


def _value_at(raw: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted stored path of a stored document (``None`` when missing)."""
    value: Any = raw
    for segment in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = cast("Mapping[str, Any]", value).get(segment)
    return value
