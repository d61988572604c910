"""``Document``: a pydantic model stored in a MongoDB collection.

A document class is plain data plus a handful of class and instance methods that delegate to the
:class:`~mdocument.repository.Repository` that :func:`mdocument.init` bound it to. Everything a
document knows about its storage comes from its :class:`~mdocument.mapping.DocumentMapping`,
built once when the class is created.
"""

from __future__ import annotations

import contextvars
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, overload

import bson
import pydantic
from pydantic import AliasChoices, BaseModel, ConfigDict, PrivateAttr
from typing_extensions import Self, dataclass_transform

from mdocument.changes import STORED, mark_unvalidated
from mdocument.exceptions import (
    DuplicateError,
    NotFoundError,
    NotInitializedError,
    WrongModelFieldType,
)
from mdocument.fields import Field
from mdocument.mapping import DocumentMapping
from mdocument.masking import (
    SENSITIVE_PLACEHOLDER,
    hide_sensitive_schema,
    holds_sensitive,
    masked_repr_args,
)
from mdocument.query import (
    ModelT,
    Pipeline,
    Query,
    QuerySet,
    SortSpec,
    compile_filter,
    compile_sort,
)
from mdocument.types import ObjectId

if TYPE_CHECKING:
    from pydantic._internal._model_construction import ModelMetaclass as _PydanticMeta

    from mdocument.driver import Session
    from mdocument.references import RefField, RefListField
    from mdocument.repository import Repository
    from mdocument.synced import Synced
else:
    _PydanticMeta = type(BaseModel)

__all__ = ["Document", "DocumentMeta"]

R = TypeVar("R")
RD = TypeVar("RD", bound="Document")
C = TypeVar("C", bound="Document")

# Set while any document class is being built: pydantic then probes class attributes to find
# field defaults, and must not be handed field expressions.
_building: contextvars.ContextVar[bool] = contextvars.ContextVar("_building", default=False)

# A field named like a class method (`count`) is fine: instances read the field, the class
# keeps the method. One named like an instance method would hide it: `doc.save()` must stay
# callable, and __pydantic_init_subclass__ refuses those with a clear error.
_CLASS_METHODS = frozenset(
    {"create", "get", "one", "many", "find", "count", "insert_many", "prefetch", "aggregate"}
)
_INSTANCE_METHODS = frozenset(
    {"save", "delete", "reload", "fetch", "children", "is_stored", "before_save", "after_save",
     "before_delete", "after_delete"}
)  # fmt: skip
_SHADOWING = (
    rf'Field name "({"|".join(sorted(_CLASS_METHODS | _INSTANCE_METHODS))})" in ".*" '
    r"shadows an attribute in parent"
)


class DocumentMeta(_PydanticMeta):
    """Pydantic's model metaclass, plus class-level field access for queries.

    ``Post.title`` (a field name looked up on the class, where pydantic keeps no attribute) gives
    the field's query expression, so that ``Post.title == "x"`` builds a filter. Type checkers see
    the field's declared type, so they still catch comparisons with values of another type.
    """

    if not TYPE_CHECKING:  # a runtime __getattr__ would make every class attribute Any to mypy

        def __new__(mcs, *args, **kwargs):  # noqa: D102
            token = _building.set(True)
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=_SHADOWING)
                    return super().__new__(mcs, *args, **kwargs)
            finally:
                _building.reset(token)

        def __getattr__(cls, name):
            if not _building.get():
                fields = cls.__dict__.get("__pydantic_fields__")
                if fields is not None and name in fields:
                    from mdocument.expressions import field_expression

                    return field_expression(cls, name)
            return super().__getattr__(name)


@dataclass_transform(kw_only_default=True, field_specifiers=(Field, pydantic.Field, PrivateAttr))
class Document(BaseModel, metaclass=DocumentMeta):
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

    model_config = ConfigDict(
        validate_assignment=True,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
    )

    SENSITIVE_PLACEHOLDER: ClassVar[str] = SENSITIVE_PLACEHOLDER
    """What a sensitive value shows as in JSON output, reprs and error messages."""

    DuplicateError: ClassVar[type[DuplicateError]] = DuplicateError
    """Raised when a write of this class conflicts with a unique index."""
    NotFoundError: ClassVar[type[NotFoundError]] = NotFoundError
    """Raised when a query of this class that must find a document finds none."""

    __mdocument_mapping__: ClassVar[DocumentMapping]
    __mdocument_repository__: ClassVar[Repository[Any] | None] = None

    id: ObjectId = Field(
        default_factory=bson.ObjectId,
        validation_alias=AliasChoices("id", "_id"),
        frozen=True,
        description="The document's id, stored as _id.",
    )

    # The repository keeps each instance's change-tracking state in `__pydantic_private__` by
    # hand: declared private attributes would make pydantic initialise them in Python for every
    # instance, doubling the cost of loading a document.

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        hidden = _INSTANCE_METHODS.intersection(cls.__pydantic_fields__)
        if hidden:
            name = sorted(hidden)[0]
            raise WrongModelFieldType(
                f"{cls.__name__}.{name}: a field cannot be named like the method "
                f"Document.{name}(); rename it (alias={name!r} keeps the stored name)",
                document=cls,
                field=name,
            )
        cls.__mdocument_mapping__ = DocumentMapping(cls)
        # Per-class errors: `except User.DuplicateError` catches User's (and subclasses') only.
        for error in ("DuplicateError", "NotFoundError"):
            base: type[Exception] = getattr(cls, error)
            subclass = type(
                error,
                (base,),
                {"__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.{error}"},
            )
            setattr(cls, error, subclass)
        # A field made sensitive by its type keeps its default and examples in JSON Schema.
        sensitive = cls.__mdocument_mapping__.sensitive
        rebuild = hide_sensitive_schema(cls.__pydantic_fields__, sensitive)
        if holds_sensitive(cls) and "hide_input_in_errors" not in cls.model_config:
            # Validation errors print their input; with a sensitive field anywhere they must not.
            cls.model_config["hide_input_in_errors"] = True
            rebuild = True
        if rebuild:
            cls.model_rebuild(force=True, raise_errors=False)

    @classmethod
    def _repository(cls) -> Repository[Self]:
        repository = cls.__dict__.get("__mdocument_repository__")
        if repository is None:
            mapping = cls.__mdocument_mapping__ if cls is not Document else None
            reason = (
                "it is abstract (Meta.abstract = True) and has no collection"
                if mapping is None or mapping.abstract
                else "pass it to `await mdocument.init(database, models=[...])` first"
            )
            raise NotInitializedError(f"{cls.__name__} is not initialised: {reason}", document=cls)
        return repository  # type: ignore[no-any-return]

    # -- representation -------------------------------------------------------------------------

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:
        """Pydantic's ``model_construct``: no validation now, so ``save()`` validates it all."""
        document = super().model_construct(_fields_set, **values)
        mark_unvalidated(document)
        return document

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Pydantic's ``model_copy``: ``update`` values are not validated, ``save()`` will."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            mark_unvalidated(copy)
        return copy

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        return masked_repr_args(self, self.__mdocument_mapping__.sensitive)

    def __eq__(self, other: object) -> bool:
        # Field values only: pydantic would also compare the private change-tracking state.
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    @property
    def is_stored(self) -> bool:
        """Whether the document was loaded from or saved to the database (and not deleted)."""
        private = self.__pydantic_private__
        return private is not None and private.get(STORED) is not None

    # -- class-level I/O ------------------------------------------------------------------------

    @classmethod
    async def create(cls, *, session: Session | None = None, **fields: Any) -> Self:
        """Build a document from ``fields``, validate it and insert it."""
        document = cls(**fields)
        await cls._repository().save(document, session, validated=True)
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
        return await cls._repository().insert_many(documents, session)

    # -- instance-level I/O -----------------------------------------------------------------------

    async def save(self, *, session: Session | None = None) -> Self:
        """Insert the document if it is new; otherwise send only what changed.

        The whole document is validated first (nested values included), so invalid data never
        reaches the server. Nothing is sent when nothing changed.
        """
        await self._repository().save(self, session)
        return self

    async def delete(self, *, session: Session | None = None) -> None:
        """Delete the document; raises ``Doc.NotFoundError`` if it is not stored."""
        await self._repository().delete(self, session)

    async def reload(self, *, session: Session | None = None) -> Self:
        """Replace the values of this instance with the stored ones."""
        await self._repository().reload(self, session)
        return self

    # -- lifecycle hooks (override them; the defaults do nothing and are never awaited) ---------

    async def before_save(self) -> None:
        """Called before the document is validated and written by ``save``/``create``."""

    async def after_save(self) -> None:
        """Called after the document was written."""

    async def before_delete(self) -> None:
        """Called before the document is deleted."""

    async def after_delete(self) -> None:
        """Called after the document was deleted."""

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
        from mdocument.loading import fetch

        repository = self._repository()
        return await fetch(repository.registry, self, field, session)

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
        from mdocument.loading import prefetch

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
        from mdocument.loading import children

        repository = self._repository()
        return await children(repository.registry, self, document, field, session)
