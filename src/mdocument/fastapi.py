"""FastAPI helpers (``pip install "mdocument[fastapi]"``): the boilerplate every app repeats.

Documents are pydantic models, so an endpoint returns them directly (``response_model=User``):
sensitive fields come out as ``"***"`` and are ``writeOnly`` in the OpenAPI schema. Pages are
:class:`mdocument.Page` (offset/limit with the total) and :class:`mdocument.KeysetPage`, both
response models. What this module adds::

    from fastapi import FastAPI
    from mdocument import Page
    from mdocument.fastapi import add_exception_handlers, get_or_404, lifespan

    app = FastAPI(lifespan=lifespan([User, Post], uri="mongodb://localhost", db="app"))
    add_exception_handlers(app)      # DuplicateError -> 409, NotFoundError -> 404, ...

    @app.get("/users/{user_id}", response_model=User)
    async def read_user(user_id: str) -> User:
        return await get_or_404(User, user_id)   # 422 for a malformed id, 404 if absent

    @app.get("/users", response_model=Page[User])
    async def list_users(offset: int = 0, limit: int = 20) -> Page[User]:
        return await User.find().sort("name").paginate(offset=offset, limit=limit)
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar, cast

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from mdocument.driver import connect

from mdocument.exceptions import (
    DeleteRestricted,
    DocumentDoesntExist,
    DuplicateError,
    InvalidPageToken,
    NotFoundError,
    UnknownModelField,
    WrongValueType,
)
from mdocument.fields import field_spec
from mdocument.masking import masked_repr_args
from mdocument.registry import init

if TYPE_CHECKING:
    from mdocument.document import Document
    from mdocument.driver import Session

__all__ = [
    "Input",
    "Patch",
    "add_exception_handlers",
    "get_or_404",
    "input_model",
    "lifespan",
    "patch_model",
    "public_errors",
    "server_owned",
]

D = TypeVar("D", bound="Document")

logger = logging.getLogger("mdocument.fastapi")

# Starlette renamed its constant for 422 (UNPROCESSABLE_ENTITY, then _CONTENT): the number stays.
_UNPROCESSABLE = 422
# Error context values that are safe to send back: the constraint, never the input.
_SAFE_CONTEXT = (str, int, float, bool, type(None))


async def get_or_404(document: type[D], id: Any, *, session: Session | None = None) -> D:
    """The document with this id; HTTP 422 for a malformed id, 404 when there is none.

    Args:
        document: the document class.
        id: an ``ObjectId`` or its hex string (a path parameter as it comes).
        session: a driver session, as for ``Doc.get``.
    """
    try:
        found = await document.get(id, session=session)
    except WrongValueType as error:
        if error.field != "id":
            raise
        raise HTTPException(_UNPROCESSABLE, detail=str(error)) from None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{document.__name__} {id} not found")
    return found


def public_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors as a client may see them: no ``input``, which may be a secret.

    Each error keeps its ``type``, ``loc`` and ``msg``, and the constraint values of its
    ``ctx`` (``min_length``, ``pattern``...).
    """
    public: list[dict[str, Any]] = []
    for error in errors:
        item: dict[str, Any] = {
            "type": error.get("type"),
            "loc": list(error.get("loc", ())),
            "msg": error.get("msg"),
        }
        context: Any = error.get("ctx")
        if isinstance(context, Mapping):
            items = cast("Mapping[str, Any]", context).items()
            safe = {
                key: value
                for key, value in items
                if key != "error" and isinstance(value, _SAFE_CONTEXT)
            }
            if safe:
                item["ctx"] = safe
        public.append(item)
    return public


async def _duplicate(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DuplicateError)
    # The message and fields name the unique fields; a sensitive value shows as ***.
    return JSONResponse(
        {"detail": str(exc), "fields": list(exc.fields)}, status_code=status.HTTP_409_CONFLICT
    )


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)


async def _restricted(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)


async def _missing_reference(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=_UNPROCESSABLE)


async def _bad_page_token(request: Request, exc: Exception) -> JSONResponse:
    # The message names the document and what is wrong, never the token (a client's cursor).
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_400_BAD_REQUEST)


async def _unknown_field(request: Request, exc: Exception) -> JSONResponse:
    # At request time, a name that is not a field comes from a dict query, a sort or an update
    # built from request input (?sort=$where). Names written in the code fail in its tests.
    return JSONResponse({"detail": str(exc)}, status_code=_UNPROCESSABLE)


async def _wrong_value(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WrongValueType)
    if exc.stored:
        # A stored document (or a result) that does not fit its class is the server's fault,
        # not the client's: handled as if there were no handler, as a 500, logged.
        raise exc
    # A value given to a query, an update or an id (sensitive values show as ***).
    return JSONResponse({"detail": str(exc)}, status_code=_UNPROCESSABLE)


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": public_errors(exc.errors())},
        status_code=_UNPROCESSABLE,
    )


async def _response_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ResponseValidationError)
    # FastAPI's own text of this error prints the response's values, sensitive ones included.
    errors = public_errors(exc.errors())
    shown = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    logger.error(
        "%s %s: the response does not match its response model: %s",
        request.method,
        request.url.path,
        shown,
    )
    return JSONResponse(
        {"detail": "Internal Server Error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
    )


def add_exception_handlers(app: FastAPI) -> None:
    """Turn mdocument's errors into HTTP responses, and keep inputs out of validation errors.

    ========================================  ======  ============================================
    error                                     status  body
    ========================================  ======  ============================================
    ``DuplicateError``                        409     ``detail`` (value masked if sensitive),
                                                      ``fields``
    ``NotFoundError``                         404     ``detail``
    ``DeleteRestricted``                      409     ``detail``
    ``DocumentDoesntExist``                   422     ``detail`` (a reference to nothing)
    ``InvalidPageToken``                      400     ``detail``, without the token
    ``UnknownModelField``                     422     ``detail``: a name from the request
                                                      (a sort key, a dict query key) that is
                                                      not a field
    ``WrongValueType``                        422     ``detail``: a value from the request that
                                                      does not fit its field (masked if
                                                      sensitive); 500 when ``stored`` (a stored
                                                      document that does not fit its class)
    ``RequestValidationError``                422     ``detail``: :func:`public_errors`, so no
                                                      input (a password...) is echoed back
    ``ResponseValidationError``               500     logged without the response's values
    ========================================  ======  ============================================
    """
    app.add_exception_handler(DuplicateError, _duplicate)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(DeleteRestricted, _restricted)
    app.add_exception_handler(DocumentDoesntExist, _missing_reference)
    app.add_exception_handler(InvalidPageToken, _bad_page_token)
    app.add_exception_handler(UnknownModelField, _unknown_field)
    app.add_exception_handler(WrongValueType, _wrong_value)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(ResponseValidationError, _response_invalid)


def lifespan(
    models: Sequence[type[Document]],
    database: Any = None,
    *,
    uri: str | None = None,
    db: str | None = None,
    create_indexes: bool = True,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """A FastAPI ``lifespan`` that runs :func:`mdocument.init` at startup.

    Give either a ``database`` (a PyMongo async or Motor database that the caller owns), or a
    ``uri`` (and ``db``, else the URI's database): the client is then created at startup, in the
    server's event loop, and closed at shutdown. The registry is kept in
    ``app.state.mdocument``. To run more at startup, enter it from your own lifespan::

        @contextlib.asynccontextmanager
        async def app_lifespan(app):
            async with lifespan([User], uri=URI)(app):
                yield
    """
    if (database is None) == (uri is None):
        raise TypeError("lifespan() takes a database or a uri=, and not both")
    documents = list(models)

    @contextlib.asynccontextmanager
    async def run(app: FastAPI) -> AsyncGenerator[None, None]:
        if uri is None:
            app.state.mdocument = await init(
                database, models=documents, create_indexes=create_indexes
            )
            yield
            return
        client = connect(uri)
        try:
            target = client[db] if db else client.get_default_database()
            app.state.mdocument = await init(
                target, models=documents, create_indexes=create_indexes
            )
            yield
        finally:
            await client.close()

    return run


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
