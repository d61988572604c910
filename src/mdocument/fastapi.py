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
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse

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
from mdocument.inputs import Input, Patch, input_model, patch_model, server_owned
from mdocument.registry import Registry, init
from mdocument.tenants import Tenants

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
    "tenant_dependency",
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


def tenant_dependency(
    tenants: Tenants, tenant: Callable[[Request], str]
) -> Callable[[Request], AsyncGenerator[Registry, None]]:
    """A dependency that runs each request inside its tenant's registry.

    ``tenant`` reads the tenant from the request (a header, a path parameter, the user's
    token) and must refuse unknown tenants itself::

        tenants = Tenants(client, models=[User, Post], database=lambda t: f"shop_{t}")

        def tenant_of(request: Request) -> str:
            name = request.headers.get("X-Tenant", "")
            if name not in KNOWN_TENANTS:
                raise HTTPException(404, "unknown tenant")
            return name

        app = FastAPI(dependencies=[Depends(tenant_dependency(tenants, tenant_of))])

    Documents used by the endpoint (and by its other dependencies) then read and write that
    tenant's database; instances loaded there are written back there.
    """

    async def dependency(request: Request) -> AsyncGenerator[Registry, None]:
        async with tenants.use(tenant(request)) as registry:
            yield registry

    return dependency
