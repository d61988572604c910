"""Queries: compiling filters and sorts, and the chainable :class:`QuerySet`.

A query is a field expression (``Post.views > 10``, see :mod:`mdocument.expressions`) or a dict
in MongoDB syntax whose keys are field names (``"id"``, ``"address.city"``). Dict keys are
translated to stored names (``"_id"``, aliases) and checked, so a misspelled field raises
:class:`~mdocument.UnknownModelField` instead of silently matching nothing; values are encoded
the way documents encode them. ``raw({...})`` sends a filter as written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeGuard, TypeVar, cast, overload

from pydantic import BaseModel, ValidationError

from mdocument import binding
from mdocument.annotations import naive_datetime_at
from mdocument.codec import encode_value
from mdocument.exceptions import InvalidPageToken, WrongValueType
from mdocument.expressions import Expression, FieldPath, SortKey, spec_of
from mdocument.masking import mask_filter
from mdocument.pagination import (
    KeysetPage,
    Page,
    decode_token,
    encode_token,
    keyset_filter,
)
from mdocument.paths import PathSpec, is_operator_document, naive_error, path_of
from mdocument.projection import Projection, projection_of
from mdocument.updates import Update, compile_update

if TYPE_CHECKING:
    from typing_extensions import Self

    from mdocument.driver import Session
    from mdocument.mapping import DocumentMapping
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
D = TypeVar("D", bound="Document")
ModelT = TypeVar("ModelT", bound=BaseModel)

Query = Mapping[str, Any] | Expression | bool | None
"""A filter: a field expression, a dict in MongoDB syntax naming the document's fields, or
``None`` for all. ``bool`` is there for type checkers, which see ``Post.views > 3`` as one."""

SortSpec = str | tuple[str, int] | SortKey | Sequence[str | tuple[str, int] | SortKey] | None
"""``asc(Post.title)``, ``desc(Post.created)``, ``"name"``, ``"-created"`` (descending),
``("name", 1)``, or a sequence of those."""

Pipeline = Sequence[Mapping[str, Any]]
"""An aggregation pipeline; a ``$match`` stage may hold a field expression."""


# Operators whose operand is a list of filters on the same document.
_LOGICAL = frozenset({"$and", "$or", "$nor"})


def _repository(document: type[Document]) -> Repository[Any]:
    repository: Repository[Any] = binding.repository_of(document)
    return repository


def _check_document(mapping: DocumentMapping, document: type[BaseModel] | None) -> None:
    if document is not None and not issubclass(mapping.document, document):
        raise TypeError(
            f"a condition on {document.__name__} cannot query {mapping.document.__name__}"
        )


def _stored_spec(mapping: DocumentMapping, field: object) -> PathSpec:
    """The path a field argument names: a field expression, or a dotted name."""
    spec = path_of(mapping.document, field) if isinstance(field, str) else spec_of(field)
    _check_document(mapping, spec.document)
    return spec


# -- filters ----------------------------------------------------------------------------------


def compile_filter(mapping: DocumentMapping, query: Query) -> dict[str, Any]:
    """The filter to send to MongoDB: stored names, encoded values, unknown fields refused."""
    if query is None:
        return {}
    if isinstance(query, Expression):
        _check_document(mapping, query.document)
        return query.to_filter()
    if isinstance(query, bool):
        raise TypeError(
            f"a {mapping.document.__name__} query got a bool ({query}): conditions are built "
            f"from the class ({mapping.document.__name__}.field > 3), not from an instance"
        )
    if isinstance(query, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
        return _compile_mapping(mapping, query)
    raise TypeError(
        f"a {mapping.document.__name__} query is a condition (Doc.field == value) or a dict "
        f"in MongoDB syntax, not {type(query).__name__}"
    )


def _compile_mapping(mapping: DocumentMapping, query: Mapping[str, Any]) -> dict[str, Any]:
    compiled: dict[str, Any] = {}
    for key, value in query.items():
        if key in _LOGICAL:
            compiled[key] = [compile_filter(mapping, part) for part in value]
        elif key.startswith("$"):
            compiled[key] = value  # $expr, $text, $comment ...: left to the server
        else:
            spec = path_of(mapping.document, key).readable()
            encoded = encode_value(value)
            _check_operand(spec, value, encoded)
            compiled[spec.stored] = encoded
    return compiled


# Operators whose operand is a list of values, where a dict with $ keys is not allowed.
_VALUE_LISTS = frozenset({"$in", "$nin", "$all"})
# Operators whose operand holds more operators on the same field.
_NESTED = frozenset({"$not", "$elemMatch"})


def _check_operand(spec: PathSpec, value: Any, encoded: Any) -> None:
    """Refuse what the server would refuse (or misread) in a dict query's value for ``spec``.

    A naive datetime anywhere (it would be taken as UTC), and a dict with ``$`` keys in a list
    of values (``{"$in": [{"$ne": None}]}``), which the server fails on.
    """
    where = naive_datetime_at(encoded)
    if where is not None:
        raise naive_error(spec, value, where)
    if not isinstance(encoded, dict):
        return
    for operator, operand in cast("dict[str, Any]", encoded).items():
        if operator in _VALUE_LISTS and isinstance(operand, list):
            if any(is_operator_document(item) for item in cast("list[Any]", operand)):
                raise spec.wrong_value(
                    value,
                    f"{operator} takes values, and a dict whose keys start with $ would be read "
                    "as operators",
                )
        elif operator in _NESTED:
            _check_operand(spec, value, operand)


# -- sorts ------------------------------------------------------------------------------------


def compile_sort(mapping: DocumentMapping, sort: SortSpec) -> list[tuple[str, int]] | None:
    """A sort specification as the driver takes it, with stored names."""
    if sort is None:
        return None
    if isinstance(sort, (str, tuple, SortKey, FieldPath)):
        return [_sort_key(mapping, sort)]
    return [_sort_key(mapping, key) for key in sort]


def _sort_key(mapping: DocumentMapping, key: object) -> tuple[str, int]:
    if isinstance(key, SortKey):
        _check_document(mapping, key.field.document)
        return key.field.stored, key.direction
    if isinstance(key, FieldPath):  # Post.title at runtime: ascending
        return _stored_spec(mapping, key).readable().stored, 1
    if isinstance(key, str):
        name, direction = (key[1:], -1) if key.startswith("-") else (key, 1)
        return path_of(mapping.document, name).readable().stored, direction
    if _is_pair(key):
        field, order = key
        if isinstance(field, str):
            if isinstance(order, bool) or order not in (1, -1):
                raise ValueError(f"sort by {field!r}: a direction is 1 or -1, not {order!r}")
            return path_of(mapping.document, field).readable().stored, order
    raise TypeError(
        f"a sort key is asc(field), desc(field), 'name', '-name' or (name, 1 | -1), not {key!r}"
    )


def _is_pair(value: object) -> TypeGuard[tuple[object, int]]:
    return isinstance(value, tuple) and len(cast("tuple[object, ...]", value)) == 2


def _with_tiebreak(sort: list[tuple[str, int]] | None) -> list[tuple[str, int]]:
    """The sort with each key once and ``_id`` last, so that the order is total."""
    keys: dict[str, int] = {}
    for path, direction in sort or ():
        keys.setdefault(path, direction)
    keys.setdefault("_id", 1)
    return list(keys.items())


# -- aggregation ------------------------------------------------------------------------------


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
        self._filter = compile_filter(document.__mdocument_mapping__, query)
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
        return _repository(self._document).collection.find(filter, **settings)

    async def to_list(self) -> list[T]:
        """All matching documents (or projected models)."""
        load = self._loader()
        raws = await self._cursor().to_list(None)
        return [load(raw) for raw in raws]

    async def __aiter__(self) -> AsyncIterator[T]:
        """Stream the matching documents, a batch of them in memory at a time."""
        load = self._loader()
        async for raw in self._cursor():
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
        spec = _stored_spec(self._document.__mdocument_mapping__, field)
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
        compiled = compile_update(self._document, update)
        if not compiled:
            return 0  # {"$set": {}}: nothing to change, nothing sent
        repository = _repository(self._document)
        return await repository.update_many(self._filter, compiled, self._session)

    async def delete(self) -> int:
        """Delete every matching document (running its relations' cascades); the number deleted."""
        self._whole("delete")
        return await _repository(self._document).delete_many(self._filter, self._session)

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
        window = self._copy(_sort=_with_tiebreak(self._sort), _skip=offset, _limit=limit)
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
        sort = _with_tiebreak(self._sort)
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
        token = None
        if len(raws) > size:
            raws = raws[:size]
            last = [_value_at(raws[-1], path) for path, _ in sort]
            token = encode_token(last, sort, codec)
        load = self._loader()
        return KeysetPage(items=[load(raw) for raw in raws], size=size, next_token=token)

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
