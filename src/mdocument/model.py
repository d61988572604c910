"""The document base: a pydantic model that knows its storage, without doing any I/O.

:class:`DocumentBase` holds what a document class is, and what every layer may rely on: its
:class:`~mdocument.mapping.DocumentMapping` (built once, when the class is created), class-level
field access for typed queries (``Post.title == "x"``), masking in reprs, the checks made when a
class is declared, and the lifecycle hooks. The I/O methods users call (``save``, ``find``...)
are :class:`mdocument.Document`'s, one layer up, where the services they delegate to live.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import bson
import pydantic
from pydantic import AliasChoices, BaseModel, ConfigDict, GetCoreSchemaHandler, PrivateAttr
from pydantic_core import CoreSchema
from typing_extensions import Self, dataclass_transform

from mdocument.annotations import refuse_naive_datetimes
from mdocument.changes import STORED, mark_unvalidated
from mdocument.exact import assignable
from mdocument.exceptions import (
    DuplicateError,
    NotFoundError,
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
from mdocument.types import ObjectId, bare_object_id, mentions_bare_object_id

if TYPE_CHECKING:
    from pydantic._internal._model_construction import ModelMetaclass as _PydanticMeta

else:
    _PydanticMeta = type(BaseModel)

__all__ = [
    "CLASS_METHODS",
    "DocumentBase",
    "DocumentMeta",
    "HiddenClassMethod",
    "is_document_base",
    "overridden_hooks",
]


# A field named like a class method (`count`) is fine: instances read the field, the class
# keeps the method. One named like an instance method would hide it: `doc.save()` must stay
# callable, and such fields are refused with a clear error when the class is defined.
CLASS_METHODS = frozenset(
    {"create", "get", "one", "many", "find", "count", "insert_many", "prefetch", "aggregate",
     "watch"}
)  # fmt: skip
_INSTANCE_METHODS = frozenset(
    {"save", "delete", "reload", "fetch", "children", "is_stored", "before_save", "after_save",
     "before_delete", "after_delete"}
)  # fmt: skip


def is_document_base(cls: type) -> bool:
    """Whether ``cls`` is one of mdocument's own base classes (no stored document)."""
    return bool(cls.__dict__.get("__mdocument_base__"))


@functools.cache
def _field_expression() -> Callable[[type[Any], str], Any]:
    """``expressions.field_expression``, imported on first use (that layer imports this one).

    Imported once: an import statement in ``__getattr__`` itself cost about 2 µs on every
    ``Doc.field`` of every query, more than the rest of building the condition.
    """
    from mdocument.expressions import field_expression

    return field_expression


def _asked_by_pydantic() -> bool:
    """Whether the class attribute being looked up is looked up by pydantic's own code.

    While it builds a model class, pydantic probes attributes of the class and its bases by
    field name (``hasattr(base, name)``, ``getattr(cls, name, default)``) to find defaults and
    shadowed attributes. It must find neither a field's query expression nor one of
    Document's class methods there: the method would become the field's default, or a warning
    that a field "shadows an attribute in parent". Looking at the caller's module needs no
    flag set around the class construction (so no metaclass ``__new__``, whose extra frame
    would make pydantic resolve annotations in the wrong namespace), and it cannot be left
    set by a class definition that failed.
    """
    # Frame 0 is this function, 1 the hook (__getattr__ or __get__), 2 the code doing the
    # lookup: hasattr() and getattr() are C functions and have no frame of their own.
    module: str = sys._getframe(2).f_globals.get("__name__", "")  # pyright: ignore[reportPrivateUsage]
    return module.startswith("pydantic.")


class HiddenClassMethod(classmethod):  # type: ignore[type-arg]
    """A class method of Document that pydantic's attribute probing does not see."""

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if _asked_by_pydantic():
            raise AttributeError(self.__func__.__name__)  # pyright: ignore[reportUnknownMemberType]
        return super().__get__(instance, owner)  # pyright: ignore[reportUnknownMemberType]


def _own_annotations(cls: type) -> dict[str, Any]:
    """The annotations written in the class body, unevaluated (strings when postponed)."""
    if sys.version_info >= (3, 14):  # evaluated lazily (PEP 649): forward references stay
        import annotationlib

        return dict(annotationlib.get_annotations(cls, format=annotationlib.Format.FORWARDREF))
    return dict(inspect.get_annotations(cls))


def _declaring_namespace(cls: type) -> dict[str, Any]:
    """The names visible where ``cls`` is declared: its module's, and a function's locals."""
    namespace = dict(vars(sys.modules[cls.__module__])) if cls.__module__ in sys.modules else {}
    frame = sys._getframe(1)  # pyright: ignore[reportPrivateUsage]
    # The first frame outside the class machinery (this module, pydantic) is the class statement.
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        ("pydantic.", __name__)
    ):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is not None and frame.f_globals.get("__name__") == cls.__module__:
        namespace.update(frame.f_locals)
    return namespace


def _refuse_method_names(cls: type, names: Iterable[str]) -> None:
    hidden = _INSTANCE_METHODS.intersection(names)
    if hidden:
        name = sorted(hidden)[0]
        raise WrongModelFieldType(
            f"{cls.__name__}.{name}: a field cannot be named like the method "
            f"Document.{name}(); rename it (alias={name!r} keeps the stored name)",
            document=cls,
            field=name,
        )


def _bare_object_id_error(cls: type, name: str, inside: str) -> WrongModelFieldType:
    where = f"{cls.__name__}.{name}" + (f" (at {inside})" if inside else "")
    return WrongModelFieldType(
        f"{where}: bson.ObjectId has no pydantic validation or JSON form "
        "(arbitrary_types_allowed would only move the failure to JSON output); annotate it "
        "with mdocument.ObjectId, the same class with both: `from mdocument import ObjectId`",
        document=cls,
        field=name,
    )


def _assignable(cls: type[BaseModel]) -> Mapping[str, frozenset[type[Any]]]:
    """The class's fields an exact value is set to as it is (:func:`mdocument.exact.assignable`).

    Kept in the class's own ``__dict__`` (a subclass has its own), once pydantic has completed
    the class: before that its fields may not be known yet.
    """
    if not cls.__pydantic_complete__:
        return {}
    table = assignable(cls)
    type.__setattr__(cls, "__mdocument_assignable__", table)
    return table


class DocumentMeta(_PydanticMeta):
    """Pydantic's model metaclass, plus class-level field access for queries.

    ``Post.title`` (a field name looked up on the class, where pydantic keeps no attribute) gives
    the field's query expression, so that ``Post.title == "x"`` builds a filter. Type checkers see
    the field's declared type, so they still catch comparisons with values of another type.

    It overrides no ``__new__``: pydantic reads the namespace of the function a class is
    declared in from the frame that calls its metaclass, which must be the class statement.
    """

    if not TYPE_CHECKING:  # a runtime __getattr__ would make every class attribute Any to mypy

        def __getattr__(cls, name):
            fields = cls.__dict__.get("__pydantic_fields__")
            if fields is not None and name in fields and not _asked_by_pydantic():
                return _field_expression()(cls, name)
            return super().__getattr__(name)


@dataclass_transform(kw_only_default=True, field_specifiers=(Field, pydantic.Field, PrivateAttr))
class DocumentBase(BaseModel, metaclass=DocumentMeta):
    """What every document is, without I/O: subclass :class:`mdocument.Document`, not this.

    It holds the ``id`` field, the model configuration, the checks made when a class is
    declared, class-level field access for typed queries, masking in reprs, and the lifecycle
    hooks. Services below the document layer know documents by this class.
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
    __mdocument_base__: ClassVar[bool] = True
    """Set in the body of a base class (this one, ``Document``): it is no stored document."""

    id: ObjectId = Field(
        default_factory=bson.ObjectId,
        validation_alias=AliasChoices("id", "_id"),
        frozen=True,
        description="The document's id, stored as _id.",
    )

    # The repository keeps each instance's change-tracking state in `__pydantic_private__` by
    # hand: declared private attributes would make pydantic initialise them in Python for every
    # instance, doubling the cost of loading a document.

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Runs when the class object exists but before pydantic reads its annotations: what
        # pydantic would report as a warning or with misleading advice is refused here first.
        super().__init_subclass__(**kwargs)
        annotations = _own_annotations(cls)
        _refuse_method_names(cls, annotations)
        namespace = _declaring_namespace(cls)
        for name, annotation in annotations.items():
            if mentions_bare_object_id(annotation, namespace):
                raise _bare_object_id_error(cls, name, "")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        # Naive datetimes are refused rather than stored as if they were UTC; pydantic-core does
        # the checking, and every (re)build of the schema goes through here.
        return refuse_naive_datetimes(handler(source), handler)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__dict__.get("__mdocument_base__"):
            return  # mdocument.Document itself: a base, with no collection
        _refuse_method_names(cls, cls.__pydantic_fields__)  # fields from non-Document bases
        for name, info in cls.__pydantic_fields__.items():
            # Reached with arbitrary_types_allowed, on the document or on a nested model.
            if info.annotation is bson.ObjectId:  # its Annotated metadata is in info.metadata
                if not info.metadata:
                    raise _bare_object_id_error(cls, name, "")
                continue
            inside = bare_object_id(info.annotation)
            if inside is not None:
                raise _bare_object_id_error(cls, name, inside)
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

    if not TYPE_CHECKING:  # pydantic's signature is the one type checkers see

        def __setattr__(self, name: str, value: Any) -> None:
            # A value of exactly a plain field's type is what validating it would return: set
            # as it is, without the copy of the whole __dict__ that pydantic-core makes to
            # validate one assignment (mdocument.exact.assignable). Anything else: pydantic.
            table = type(self).__dict__.get("__mdocument_assignable__")
            types = (_assignable(type(self)) if table is None else table).get(name)
            kind = type(value)
            if (
                types is not None
                and kind in types
                and (kind is not datetime or value.utcoffset() is not None)
            ):
                self.__dict__[name] = value
                self.__pydantic_fields_set__.add(name)
            else:
                super().__setattr__(name, value)

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

    # -- lifecycle hooks (override them; the defaults do nothing and are never awaited) ---------

    async def before_save(self) -> None:
        """Called before the document is validated and written by ``save``/``create``."""

    async def after_save(self) -> None:
        """Called after the document was written."""

    async def before_delete(self) -> None:
        """Called before the document is deleted."""

    async def after_delete(self) -> None:
        """Called after the document was deleted."""


_HOOKS = ("before_save", "after_save", "before_delete", "after_delete")


def overridden_hooks(document: type[DocumentBase]) -> frozenset[str]:
    """The lifecycle hooks a document class overrides (the others need not be awaited)."""
    return frozenset(
        name for name in _HOOKS if getattr(document, name) is not getattr(DocumentBase, name)
    )
