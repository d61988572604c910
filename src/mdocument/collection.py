"""Typed collections: the 2020 client layer's operations, on one document class.

``mdocument.collection(User)`` gives a :class:`Collection` of ``User``: ``find``, ``find_one``,
``insert_one``, ``insert_many``, ``update_one``, ``update_many``, ``delete_one``,
``delete_many`` and ``count``, named as in the 2020 ``mdocument.client`` and PyMongo, returning
documents. It holds no state but the class: each call resolves the repository of the registry
active at that moment (see :mod:`mdocument.binding`) and delegates to the document's own
methods and its :class:`~mdocument.QuerySet`, so validation, reference checks, synced copies,
cascades, hooks and masking all apply as they do there.

A query is a field expression, a dict in MongoDB syntax naming the fields, or ``None`` (all
documents); anything else raises :class:`~mdocument.WrongQueryType` before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mdocument.document import Document
from mdocument.query import Query, QuerySet, SortSpec

if TYPE_CHECKING:
    from mdocument.driver import Session
    from mdocument.updates import Update

__all__ = ["Collection", "collection"]

D = TypeVar("D", bound=Document)


class Collection(Generic[D]):
    """The documents of one class, with the operations of a (typed) MongoDB collection.

    ::

        users = mdocument.collection(User)
        adults = await users.find(User.age >= 18, sort="name")      # list[User]
        await users.update_many(User.age < 0, {"$set": {"age": 0}})
        await users.delete_one({"name": "Ada"})                      # runs the cascades
    """

    __slots__ = ("document",)

    def __init__(self, document: type[D]) -> None:
        given: Any = document
        if not (isinstance(given, type) and issubclass(given, Document)):
            raise TypeError(f"a collection holds a Document subclass, not {document!r}")
        self.document: type[D] = document

    def query(self, query: Query = None, *, session: Session | None = None) -> QuerySet[D]:
        """A :class:`~mdocument.QuerySet` of the matching documents, to refine and stream."""
        return self.document.find(query, session=session)

    # -- reading ------------------------------------------------------------------------------

    async def find(
        self,
        query: Query = None,
        *,
        sort: SortSpec = None,
        skip: int = 0,
        limit: int = 0,
        session: Session | None = None,
    ) -> list[D]:
        """The documents matching ``query``, sorted, after ``skip`` of them, at most ``limit``."""
        return await self.document.many(query, sort=sort, skip=skip, limit=limit, session=session)

    async def find_one(self, query: Query = None, *, session: Session | None = None) -> D | None:
        """The first document matching ``query``, or ``None``."""
        return await self.document.one(query, required=False, session=session)

    async def count(self, query: Query = None, *, session: Session | None = None) -> int:
        """How many documents match ``query``."""
        return await self.document.count(query, session=session)

    # -- writing ------------------------------------------------------------------------------

    async def insert_one(self, document: D, *, session: Session | None = None) -> D:
        """Insert a new document (validated, its references checked); returns it."""
        inserted = await self.insert_many([document], session=session)
        return inserted[0]

    async def insert_many(
        self, documents: Iterable[D], *, session: Session | None = None
    ) -> list[D]:
        """Insert new documents: all of them or none (see ``Document.insert_many``)."""
        return await self.document.insert_many(documents, session=session)

    async def update_one(
        self, query: Query, update: Update, *, session: Session | None = None
    ) -> int:
        """Apply ``update`` to the first document matching ``query``; 1 if it was modified.

        The first match's id is read first, then the update is sent through the bulk update
        path (values checked against the fields, references checked, copies of the document
        held elsewhere rewritten) with a filter of that id and ``query``. The result counts
        *modified* documents, as ``update_many`` does: 0 when nothing matches, when the update
        changes nothing, or when the document stopped matching in between.
        """
        found = await self.query(query, session=session).first()
        if found is None:
            return 0
        by_id: dict[str, Any] = {"id": found.id}
        target: dict[str, Any] = by_id if query is None else {"$and": [query, by_id]}
        return await self.update_many(target, update, session=session)

    async def update_many(
        self, query: Query, update: Update, *, session: Session | None = None
    ) -> int:
        """Apply ``update`` to every document matching ``query``; the number modified."""
        return await self.query(query, session=session).update(update)

    async def delete_one(self, query: Query, *, session: Session | None = None) -> bool:
        """Delete the first document matching ``query`` with its relations' on-delete rules.

        Runs ``doc.delete()`` (hooks and cascades included); ``False`` when nothing matched.
        """
        found = await self.find_one(query, session=session)
        if found is None:
            return False
        try:
            await found.delete(session=session)
        except self.document.NotFoundError:
            return False  # deleted by someone else in between
        return True

    async def delete_many(self, query: Query, *, session: Session | None = None) -> int:
        """Delete every document matching ``query``, cascades included; the number deleted."""
        return await self.query(query, session=session).delete()

    def __repr__(self) -> str:
        return f"<Collection {self.document.__name__}>"


def collection(document: type[D]) -> Collection[D]:
    """The typed collection of a document class: ``mdocument.collection(User).find(...)``."""
    return Collection(document)
