"""``Document``: a pydantic model stored in a MongoDB collection.

A document class is plain data plus a handful of class and instance methods that delegate to the
:class:`~mdocument.repository.Repository` that :func:`mdocument.init` bound it to. Everything a
document knows about its storage comes from its :class:`~mdocument.mapping.DocumentMapping`,
built once when the class is created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, overload

import bson
from typing_extensions import Self

from mdocument import binding
from mdocument.changes import registry_of
from mdocument.kinds import refuse_write
from mdocument.loading import children, fetch, prefetch
from mdocument.model import CLASS_METHODS, DocumentBase, DocumentMeta, HiddenClassMethod
from mdocument.plans import DeletePreview, preview_delete
from mdocument.query import (
    ModelT,
    Pipeline,
    Query,
    QuerySet,
    SortSpec,
    compile_filter,
    compile_sort,
)
from mdocument.soft_deletes import restore
from mdocument.watch import ChangeStream, Operation

if TYPE_CHECKING:
    from mdocument.driver import Session
    from mdocument.references import RefField, RefListField
    from mdocument.repository import Repository
    from mdocument.synced import Synced

__all__ = ["Document", "DocumentMeta"]

R = TypeVar("R")
RD = TypeVar("RD", bound="Document")
C = TypeVar("C", bound="Document")


class Document(DocumentBase):
    """Base class of the documents stored by mdocument.

    Declare fields as on any pydantic model, with :func:`mdocument.Field` for mdocument's
    metadata, and options in an inner ``Meta`` class::

        class User(Document):
            name: str = Field(unique=True)
            password_hash: str = Field(sensitive=True)

            class Meta:
                collection = "users"              # default: the class name in snake case
                indexes = [Index("name")]
                abstract = False                  # True: a base class with no collection

    Every document has ``id``, an ``ObjectId`` generated when the instance is built and stored
    as ``_id``. I/O methods need the class registered with :func:`mdocument.init` first.
    """

    __mdocument_base__: ClassVar[bool] = True

    @classmethod
    def _repository(cls) -> Repository[Self]:
        """The class's repository in the active registry (see :mod:`mdocument.binding`)."""
        repository: Repository[Self] = binding.repository_of(cls)
        return repository

    def _own_repository(self) -> Repository[Self]:
        """The repository of the registry this instance belongs to.

        An instance loaded from or created in one registry is written there; inside another
        registry's ``use()`` that would be a write into another tenant: refused.
        """
        own = registry_of(self)
        if own is None:
            return self._repository()
        chosen = binding.chosen()
        if chosen is not None and chosen is not own:
            raise binding.CrossRegistryWrite(
                f"{type(self).__name__} {self.id} belongs to {own!r}, but {chosen!r} is in "
                "use here; nothing was written (write it inside its own registry's use())",
                document=type(self),
            )
        repository: Repository[Self] = binding.repository_of(type(self), own)
        return repository

    # -- class-level I/O ------------------------------------------------------------------------

    @classmethod
    async def create(cls, *, session: Session | None = None, **fields: Any) -> Self:
        """Build a document from ``fields``, validate it and insert it."""
        refuse_write(cls, "create()")
        document = cls(**fields)
        repository = cls._repository()
        with binding.use(repository.registry):  # hooks see the registry of the write
            await repository.save(document, session, validated=True)
        return document

    @classmethod
    async def get(cls, id: Any, *, session: Session | None = None) -> Self | None:
        """The document with this id (an ``ObjectId`` or its hex string), or ``None``."""
        repository = cls._repository()
        return await repository.find_one({"_id": repository.parse_id(id)}, session)

    @overload
    @classmethod
    async def one(
        cls,
        query: Query = None,
        required: Literal[True] = True,
        *,
        session: Session | None = None,
    ) -> Self: ...

    @overload
    @classmethod
    async def one(
        cls, query: Query = None, required: bool = ..., *, session: Session | None = None
    ) -> Self | None: ...

    @classmethod
    async def one(
        cls, query: Query = None, required: bool = True, *, session: Session | None = None
    ) -> Self | None:
        """The first document matching ``query``.

        Raises ``Doc.NotFoundError`` when none matches and ``required`` is true (the default);
        returns ``None`` instead when ``required=False``.
        """
        repository = cls._repository()
        filter = compile_filter(cls.__mdocument_mapping__, query)
        found = await repository.find_one(filter, session)
        if found is None and required:
            raise repository.not_found(filter)
        return found

    @classmethod
    async def many(
        cls,
        query: Query = None,
        *,
        sort: SortSpec = None,
        skip: int = 0,
        limit: int = 0,
        session: Session | None = None,
    ) -> list[Self]:
        """The documents matching ``query``, sorted, after ``skip`` of them, at most ``limit``."""
        found = cls.find(query, session=session).skip(skip).limit(limit)
        keys = compile_sort(cls.__mdocument_mapping__, sort)
        if keys:
            found = found.sort(*keys)
        return await found.to_list()

    @classmethod
    def find(cls, query: Query = None, *, session: Session | None = None) -> QuerySet[Self]:
        """A :class:`~mdocument.QuerySet` of the documents matching ``query``.

        Chain ``sort``, ``skip``, ``limit``, then ``async for`` over it or await ``to_list()``,
        ``count()``, ``first()``...
        """
        return QuerySet(cls, query, session=session)

    @classmethod
    async def count(cls, query: Query = None, *, session: Session | None = None) -> int:
        """How many documents match ``query``."""
        return await cls.find(query, session=session).count()

    @overload
    @classmethod
    async def aggregate(
        cls, pipeline: Pipeline, result: None = None, *, session: Session | None = None
    ) -> list[dict[str, Any]]: ...

    @overload
    @classmethod
    async def aggregate(
        cls, pipeline: Pipeline, result: type[ModelT], *, session: Session | None = None
    ) -> list[ModelT]: ...

    @classmethod
    async def aggregate(
        cls,
        pipeline: Pipeline,
        result: type[ModelT] | None = None,
        *,
        session: Session | None = None,
    ) -> list[ModelT] | list[dict[str, Any]]:
        """Run an aggregation pipeline on the collection.

        With ``result``, each output document is validated into that pydantic model (the
        document class itself gives stored documents); otherwise the results are dicts. A
        ``$match`` stage may hold a field expression. ``Doc.find(query).aggregate(...)`` starts
        from the documents matching a query.
        """
        return await cls.find(session=session).aggregate(pipeline, result)

    @classmethod
    async def insert_many(
        cls, documents: Iterable[Self], *, session: Session | None = None
    ) -> list[Self]:
        """Insert new documents in one batch; all are written or none is.

        Runs in a transaction where the server supports them. Without transactions, the ones
        written before a failure are deleted again before the error is raised.
        """
        refuse_write(cls, "insert_many()")
        repository = cls._repository()
        with binding.use(repository.registry):
            return await repository.insert_many(documents, session)

    @classmethod
    def watch(
        cls,
        query: Query = None,
        *,
        resume_after: Mapping[str, Any] | None = None,
        full_document: bool = False,
        operations: Iterable[Operation] | None = None,
    ) -> ChangeStream[Self]:
        """The changes of the documents matching ``query``, as typed events (a change stream).

        ``async with User.watch() as changes: async for change in changes: ...``: each
        :class:`~mdocument.Change` is an insert, update, replace or delete, with the document
        decoded (updates too with ``full_document=True``). Pass a change's ``resume_token`` as
        ``resume_after`` to continue after it. See :mod:`mdocument.watch` for how ``query``
        applies to events. Needs a replica set (or a sharded cluster).
        """
        return ChangeStream(
            cls._repository(),
            query,
            resume_after=resume_after,
            full_document=full_document,
            operations=operations,
        )

    # -- instance-level I/O -----------------------------------------------------------------------

    async def save(self, *, session: Session | None = None) -> Self:
        """Insert the document if it is new; otherwise send only what changed.

        The whole document is validated first (nested values included), so invalid data never
        reaches the server. Nothing is sent when nothing changed.
        """
        refuse_write(type(self), "save()")
        repository = self._own_repository()
        with binding.use(repository.registry):  # hooks see the registry of the write
            await repository.save(self, session)
        return self

    @overload
    async def delete(
        self, *, session: Session | None = None, dry_run: Literal[False] = False, hard: bool = False
    ) -> None: ...

    @overload
    async def delete(
        self, *, session: Session | None = None, dry_run: Literal[True], hard: bool = False
    ) -> DeletePreview: ...

    async def delete(
        self, *, session: Session | None = None, dry_run: bool = False, hard: bool = False
    ) -> DeletePreview | None:
        """Delete the document; raises ``Doc.NotFoundError`` if it is not stored.

        With ``dry_run=True`` nothing is written: the result is a
        :class:`~mdocument.plans.DeletePreview` of what the delete and its cascades would do
        (a ``RESTRICT`` that would refuse it is reported there, not raised). A class with
        ``Meta.soft_delete = True`` is soft-deleted, unless ``hard=True`` (see Soft delete).
        """
        refuse_write(type(self), "delete()")
        repository = self._own_repository()
        with binding.use(repository.registry):
            if dry_run:
                return await preview_delete(
                    repository.registry, repository.document, [self.id], session
                )
            await repository.delete(self, session, soft=not hard)
        return None

    async def restore(self, *, session: Session | None = None) -> Self:
        """Restore this soft-deleted document and everything its deletion soft-deleted.

        Documents soft-deleted by other deletions stay deleted. The instance is reloaded.
        """
        repository = self._own_repository()
        with binding.use(repository.registry):
            await restore(repository, self.id, session)
            await repository.reload(self, session)
        return self

    async def reload(self, *, session: Session | None = None) -> Self:
        """Replace the values of this instance with the stored ones."""
        await self._own_repository().reload(self, session)
        return self

    # -- relations ------------------------------------------------------------------------------

    @overload
    async def fetch(self, field: RefField[R], *, session: Session | None = None) -> R: ...

    @overload
    async def fetch(self, field: RefListField[R], *, session: Session | None = None) -> list[R]: ...

    @overload
    async def fetch(self, field: Synced[RD], *, session: Session | None = None) -> RD: ...

    @overload
    async def fetch(
        self, field: Synced[RD] | None, *, session: Session | None = None
    ) -> RD | None: ...

    @overload
    async def fetch(
        self, field: Sequence[Synced[RD]], *, session: Session | None = None
    ) -> list[RD]: ...

    @overload
    async def fetch(self, field: Any, *, session: Session | None = None) -> Any: ...

    async def fetch(self, field: Any, *, session: Session | None = None) -> Any:
        """The document(s) a reference or synced field refers to, in one query.

        ``field`` is the field on the class (``await post.fetch(Post.author_id)``) or its
        name. A single reference gives the document (``None`` when the field is ``None``), a
        list gives the documents in list order. A reference to a missing document raises
        :class:`~mdocument.DocumentDoesntExist`.
        """
        return await fetch(self._own_repository().registry, self, field, session)

    @classmethod
    async def prefetch(
        cls,
        documents: Iterable[Document],
        *fields: Any,
        session: Session | None = None,
    ) -> dict[bson.ObjectId, Self]:
        """The documents of this class that ``documents`` refer to, by id, in one query.

        ``fields`` name the reference fields to follow (``Post.author_id`` or its name); by
        default the one field of the documents' class that refers to this class::

            authors = await User.prefetch(posts)
            for post in posts:
                print(post.title, authors[post.author_id].name)
        """
        repository = cls._repository()
        return await prefetch(repository.registry, cls, documents, fields, session)

    async def children(
        self, document: type[C], field: Any = None, *, session: Session | None = None
    ) -> list[C]:
        """The documents of class ``document`` that refer to this one.

        ``field`` names the reference when ``document`` has several to this class::

            posts = await ada.children(Post)
            reviewed = await ada.children(Post, Post.reviewer_id)
        """
        repository = self._own_repository()
        return await children(repository.registry, self, document, field, session)


def _hide_class_methods_from_pydantic() -> None:
    # Document's class methods are hidden from pydantic's attribute probing (see
    # _asked_by_pydantic): a field named `count` is a plain required field, without warnings.
    for name in CLASS_METHODS:
        method: Any = Document.__dict__[name]
        type.__setattr__(Document, name, HiddenClassMethod(method.__func__))


_hide_class_methods_from_pydantic()
