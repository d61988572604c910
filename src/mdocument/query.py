"""Queries: compiling filters to stored names and the chainable :class:`QuerySet`.

A filter is a dict in MongoDB syntax whose keys are field names (``"id"``, ``"address.city"``);
they are translated to stored names (``"_id"``, aliases) and checked, so a misspelled field raises
:class:`~mdocument.UnknownModelField` instead of silently matching nothing. Values are encoded the
way documents encode them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mdocument.codec import encode_value

if TYPE_CHECKING:
    from typing_extensions import Self

    from mdocument.document import Document
    from mdocument.driver import Session
    from mdocument.mapping import DocumentMapping

__all__ = ["Query", "QuerySet", "SortSpec", "compile_filter", "compile_sort"]

D = TypeVar("D", bound="Document")

Query = Mapping[str, Any] | None
"""A filter: a dict in MongoDB syntax naming the document's fields, or ``None`` for all."""

SortSpec = str | tuple[str, int] | Sequence[str | tuple[str, int]] | None
"""``"name"``, ``"-created"`` (descending), ``("name", 1)`` or a sequence of those."""

# Operators whose operand is a list of filters on the same document.
_LOGICAL = frozenset({"$and", "$or", "$nor"})


def compile_filter(mapping: DocumentMapping, query: Query) -> dict[str, Any]:
    """The filter to send to MongoDB: stored names, encoded values, unknown fields refused."""
    if query is None:
        return {}
    if not isinstance(query, Mapping):
        raise TypeError(
            f"a {mapping.document.__name__} query is a dict in MongoDB syntax, "
            f"not {type(query).__name__}"
        )
    return _compile_mapping(mapping, query)


def _compile_mapping(mapping: DocumentMapping, query: Mapping[str, Any]) -> dict[str, Any]:
    compiled: dict[str, Any] = {}
    for key, value in query.items():
        if key in _LOGICAL:
            compiled[key] = [_compile_mapping(mapping, part) for part in value]
        elif key.startswith("$"):
            compiled[key] = value  # $expr, $text, $comment ...: left to the server
        else:
            compiled[mapping.stored_path(key)] = encode_value(value)
    return compiled


def compile_sort(mapping: DocumentMapping, sort: SortSpec) -> list[tuple[str, int]] | None:
    """A sort specification as the driver takes it, with stored names."""
    if sort is None:
        return None
    keys: Sequence[str | tuple[str, int]]
    keys = [sort] if isinstance(sort, (str, tuple)) else sort
    compiled: list[tuple[str, int]] = []
    for key in keys:
        if isinstance(key, str):
            name, direction = (key[1:], -1) if key.startswith("-") else (key, 1)
        else:
            name, direction = key
        compiled.append((mapping.stored_path(name), direction))
    return compiled


class QuerySet(Generic[D]):
    """A query on one document class, refined by chaining and run by awaiting a method.

    ``Doc.find(query)`` returns one; each refining method returns a new query set, so a base
    query can be reused::

        recent = Post.find({"views": {"$gt": 10}}).sort("-created")
        page = await recent.skip(20).limit(10).to_list()
        async for post in recent: ...
    """

    __slots__ = ("_document", "_filter", "_limit", "_session", "_skip", "_sort")

    def __init__(
        self, document: type[D], query: Query = None, *, session: Session | None = None
    ) -> None:
        self._document = document
        self._filter = compile_filter(document.__mdocument_mapping__, query)
        self._sort: list[tuple[str, int]] | None = None
        self._skip = 0
        self._limit = 0
        self._session = session

    def _copy(self, **changes: Any) -> Self:
        clone = object.__new__(type(self))
        for name in QuerySet.__slots__:
            object.__setattr__(clone, name, changes.get(name, getattr(self, name)))
        return clone

    @property
    def filter(self) -> dict[str, Any]:
        """The compiled filter, as sent to MongoDB."""
        return self._filter

    def sort(self, *keys: str | tuple[str, int]) -> Self:
        """Order by fields: ``sort("-created", "title")`` or ``sort(("views", -1))``."""
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

    def _cursor(self, batch_size: int = 0) -> Any:
        return self._document._repository().collection.find(
            self._filter,
            sort=self._sort,
            skip=self._skip,
            limit=self._limit,
            batch_size=batch_size,
            session=self._session,
        )

    async def to_list(self) -> list[D]:
        """All matching documents."""
        repository = self._document._repository()
        raws = await self._cursor().to_list(None)
        return [repository.load(raw) for raw in raws]

    async def __aiter__(self) -> AsyncIterator[D]:
        """Stream the matching documents, a batch of them in memory at a time."""
        repository = self._document._repository()
        async for raw in self._cursor():
            yield repository.load(raw)

    async def first(self) -> D | None:
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
        collection = self._document._repository().collection
        return await collection.count_documents(self._filter, session=self._session, **options)

    async def exists(self) -> bool:
        """Whether at least one document matches."""
        collection = self._document._repository().collection
        found = await collection.find_one(
            self._filter, projection={"_id": 1}, session=self._session
        )
        return found is not None

    def __repr__(self) -> str:
        return f"<QuerySet {self._document.__name__} {self._filter!r}>"
