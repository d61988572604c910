"""Request bodies for documents: create bodies without server-owned fields, partial PATCH bodies.

``Input[User]`` and ``Patch[User]`` are pydantic models generated once per document class (see
:func:`mdocument.fastapi.input_model`). Re-exported by :mod:`mdocument.fastapi`, where they are
documented with the rest of the FastAPI helpers.
"""

from __future__ import annotations

import difflib
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar, cast

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from mdocument.exceptions import UnknownModelField
from mdocument.fields import field_spec
from mdocument.masking import masked_repr_args

if TYPE_CHECKING:
    from mdocument.document import Document
    from mdocument.driver import Session

__all__ = ["Input", "Patch", "input_model", "patch_model", "server_owned"]

D = TypeVar("D", bound="Document")

# -- request bodies ---------------------------------------------------------------------------


def server_owned(document: type[Document]) -> frozenset[str]:
    """The fields of ``document`` that a request body may not set.

    ``id``, and the fields named in ``Meta.server_owned`` of the document or its bases
    (a password hash, a creation date, a copy built from a reference)::

        class User(Document):
            ...
            class Meta:
                server_owned = ("password_hash", "joined")
    """
    names = {"id"}
    for cls in document.__mro__:
        meta: Any = cls.__dict__.get("Meta")
        declared: Any = getattr(meta, "server_owned", None) or ()
        names.update([declared] if isinstance(declared, str) else declared)
    fields = document.__pydantic_fields__
    unknown = sorted(name for name in names if name not in fields)
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(fields), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownModelField(
            f"{document.__name__}.Meta.server_owned: {unknown[0]!r} is not a field{hint}",
            document=document,
            field=unknown[0],
        )
    return frozenset(names)


class _Body(BaseModel):
    """What the generated request bodies share: unknown fields are refused, inputs never shown."""

    model_config = ConfigDict(
        extra="forbid",  # a misspelled or server-owned field is a 422, not silently dropped
        hide_input_in_errors=True,  # a validation error never prints a password
        validate_by_name=True,
        validate_by_alias=True,
    )

    __mdocument_document__: ClassVar[type[Document]]

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        sensitive = frozenset(
            name
            for name, info in type(self).__pydantic_fields__.items()
            if field_spec(info).sensitive
        )
        return masked_repr_args(self, sensitive)

    def _document_fields(self, names: Iterable[str]) -> dict[str, Any]:
        # Only the document's own fields: a body may add fields of its own (a password).
        own = self.__mdocument_document__.__pydantic_fields__
        return {name: getattr(self, name) for name in names if name in own}


class Input(_Body, Generic[D]):
    """The body of a request that creates a ``D``: its fields, without the server-owned ones.

    ``Input[User]`` is a pydantic model generated from ``User`` (once, then cached) with the
    fields a client may send: every field but ``id`` and ``Meta.server_owned``
    (:func:`server_owned`), with their types, constraints and defaults. Unknown fields, and so
    ``id``, are a 422. Sensitive fields are accepted (and ``writeOnly`` in OpenAPI)::

        @app.post("/users", response_model=User, status_code=201)
        async def create_user(data: Input[User]) -> User:
            return await data.create()

    Subclass it to accept more than the document's fields, and pass the server-owned values::

        class UserCreate(Input[User]):
            password: str = Field(sensitive=True, min_length=8)

        await data.create(password_hash=hash_password(data.password))
    """

    def values(self) -> dict[str, Any]:
        """The document's fields as validated (defaults included), by field name."""
        return self._document_fields(type(self).__pydantic_fields__)

    def document(self, **values: Any) -> D:
        """A new ``D`` from this body, plus ``values`` (server-owned fields), not yet saved.

        The document's own validators run here: a value they refuse is a
        ``RequestValidationError`` (a 422 without the input, see :func:`add_exception_handlers`).
        """
        try:
            return cast("D", self.__mdocument_document__(**{**self.values(), **values}))
        except ValidationError as error:
            raise _request_error(error) from None

    async def create(self, *, session: Session | None = None, **values: Any) -> D:
        """Insert a new ``D`` made from this body plus ``values``, as ``D.create`` does."""
        document: Any = self.document(**values)
        await document.save(session=session)
        return cast("D", document)

    if TYPE_CHECKING:
        # The generated fields are not known to type checkers: read them as Any.
        def __getattr__(self, name: str) -> Any: ...

    else:

        def __class_getitem__(cls, document):
            if isinstance(document, type) and issubclass(document, BaseModel):
                return input_model(document)
            return super().__class_getitem__(document)  # a type variable: Input[D]


class Patch(_Body, Generic[D]):
    """The body of a partial update (PATCH) of a ``D``: every field optional.

    ``Patch[User]`` has the fields of ``Input[User]``, each with a default of ``None`` that is
    never applied: only the fields the client sent are (:meth:`changes`). Sending ``null`` to a
    field that does not take ``None`` is a 422, as is an unknown field::

        @app.patch("/users/{user_id}", response_model=User)
        async def update_user(user_id: ObjectId, data: Patch[User]) -> User:
            user = await get_or_404(User, user_id)
            return await data.apply(user).save()    # sends the changed fields only
    """

    def changes(self) -> dict[str, Any]:
        """The document's fields the client sent, as validated, by field name."""
        return self._document_fields(self.model_fields_set)

    def apply(self, document: D) -> D:
        """Set the fields sent on ``document`` (validated again there); returns it.

        A value the document refuses (a validator of the document that compares fields) is
        a 422 through :func:`add_exception_handlers`, naming the field, without the input.
        """
        changes = self.changes()
        # Validated on a copy first: a refused value leaves the loaded document as it was.
        try:
            document.model_validate({**document.model_dump(), **changes})
            for name, value in changes.items():
                setattr(document, name, value)
        except ValidationError as error:
            raise _request_error(error) from None
        return document

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...

    else:

        def __class_getitem__(cls, document):
            if isinstance(document, type) and issubclass(document, BaseModel):
                return patch_model(document)
            return super().__class_getitem__(document)


def _request_error(error: ValidationError) -> RequestValidationError:
    """A document's refusal of a body's values, as FastAPI's own error for a bad body."""
    errors = error.errors(include_input=False, include_url=False)
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


_INPUTS: weakref.WeakKeyDictionary[type[Any], type[Any]] = weakref.WeakKeyDictionary()
_PATCHES: weakref.WeakKeyDictionary[type[Any], type[Any]] = weakref.WeakKeyDictionary()


def input_model(document: type[D]) -> type[Input[D]]:
    """``Input[document]``: the generated create body of ``document`` (cached per class)."""
    model = _INPUTS.get(document)
    if model is None:
        model = _INPUTS[document] = _generate(document, Input, "Input", optional=False)
    return model


def patch_model(document: type[D]) -> type[Patch[D]]:
    """``Patch[document]``: the generated partial-update body of ``document`` (cached)."""
    model = _PATCHES.get(document)
    if model is None:
        model = _PATCHES[document] = _generate(document, Patch, "Patch", optional=True)
    return model


# The FieldInfo attributes a body field keeps from the document's field (defaults aside).
_KEPT = (
    "alias",
    "validation_alias",
    "serialization_alias",
    "title",
    "description",
    "examples",
    "json_schema_extra",
    "discriminator",
    "deprecated",
)


def _field_copy(info: FieldInfo, *, optional: bool) -> tuple[Any, Any]:
    """The document field ``info`` for a body: type, constraints, aliases, mdocument's metadata.

    A patch field defaults to None, which is never applied (only the fields sent are), and so
    needs no ``| None`` that would let a client send ``null``.
    """
    annotated: Any = Annotated  # subscripted with a tuple built at run time
    annotation: Any = info.annotation
    if info.metadata:
        annotation = annotated[tuple([annotation, *info.metadata])]
    kept: dict[str, Any] = {key: getattr(info, key) for key in _KEPT}
    attributes = {key: value for key, value in kept.items() if value is not None}
    if optional:
        return annotation, Field(None, **attributes)
    if info.default_factory is not None:
        return annotation, Field(default_factory=info.default_factory, **attributes)
    return annotation, Field(info.default, **attributes)


def _generate(document: type[D], base: type[Any], suffix: str, *, optional: bool) -> Any:
    from mdocument.document import Document

    given: Any = document
    if not (isinstance(given, type) and issubclass(given, Document)):
        raise TypeError(f"{base.__name__}[...] takes a Document subclass, not {given!r}")
    owned = server_owned(document)
    fields: dict[str, Any] = {}
    for name, info in document.__pydantic_fields__.items():
        if name in owned:
            continue
        fields[name] = _field_copy(info, optional=optional)
    model: Any = create_model(
        f"{document.__name__}{suffix}",
        __base__=base,
        __module__=document.__module__,
        __doc__=f"The {'partial update' if optional else 'create'} body of a {document.__name__}.",
        **fields,
    )
    model.__mdocument_document__ = document
    return model
