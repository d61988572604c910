"""Which registry a document class uses: chosen per context, remembered by each instance.

A :class:`~mdocument.Registry` (what :func:`mdocument.init` returns) is the unit of binding:
the documents it registered, on its database. Documents resolve the registry they use here:

1. inside ``with registry.use():`` that registry: the choice is a ``ContextVar``, so every
   asyncio task (every request of a web app) keeps its own;
2. an instance's ``save()``, ``reload()`` and ``delete()`` go to the registry the instance was
   loaded or created in; inside another registry's ``use()`` they raise
   :class:`CrossRegistryWrite` instead of writing into another tenant;
3. outside any ``use()``, the registry of the most recent ``init``, unless ``init`` was given
   ``strict=True``, after which a class-level call that chose no registry raises
   :class:`~mdocument.NotInitializedError`.

The services below the document layer (repositories, cascades, reference checks) see a
registry through :class:`Scope`, the part of it they need, so that none of them imports the
registry module.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mdocument.exceptions import DocumentException, NotInitializedError

if TYPE_CHECKING:
    from mdocument.driver import Session
    from mdocument.graph import Graph
    from mdocument.mapping import DocumentMapping
    from mdocument.model import DocumentBase
    from mdocument.store import Store, StoreCollection

__all__ = [
    "CrossRegistryWrite",
    "RepositoryView",
    "Scope",
    "active",
    "chosen",
    "make_default",
    "repository_of",
    "use",
]

T = TypeVar("T")


class CrossRegistryWrite(DocumentException):
    """An instance of one registry was written inside another registry's ``use()``.

    The instance was loaded or created in one database (one tenant); the code runs for another.
    Nothing was written: a cross-tenant write is never silent.
    """


class RepositoryView(Protocol):
    """What services use of another class's repository."""

    @property
    def collection(self) -> StoreCollection:
        """The class's collection."""
        ...

    @property
    def mapping(self) -> DocumentMapping:
        """The class's mapping."""
        ...

    def load(self, raw: dict[str, Any]) -> Any:
        """An instance from a stored document."""
        ...

    async def load_many(self, ids: Iterable[Any], session: Session | None) -> list[Any]:
        """The stored documents with these ids."""
        ...

    async def delete_many(self, filter: Mapping[str, Any], session: Session | None) -> int:
        """Delete matching documents, cascades included."""
        ...


class Scope(Protocol):
    """What the services need of a registry (:class:`mdocument.Registry` is one)."""

    @property
    def graph(self) -> Graph:
        """The relations between the registered documents."""
        ...

    @property
    def store(self) -> Store:
        """The registry's database, through the store."""
        ...

    @property
    def documents(self) -> tuple[type[DocumentBase], ...]:
        """The registered document classes."""
        ...

    @property
    def supports_transactions(self) -> bool:
        """Whether the server runs multi-document transactions."""
        ...

    @property
    def cascade_chunk(self) -> int:
        """Documents per transaction of a delete (a larger one runs as a chunked job)."""
        ...

    def repository(self, document: type[DocumentBase]) -> RepositoryView:
        """The repository of a registered class."""
        ...

    async def atomic(
        self, work: Callable[[Session | None], Awaitable[T]], session: Session | None
    ) -> T:
        """Run ``work`` in a transaction where the server has them."""
        ...

    async def pause(self, point: str, subject: Any) -> None:
        """The test-only pause hook."""
        ...

    def guarding(self, keys: Iterable[tuple[str, Any]]) -> AbstractAsyncContextManager[None]:
        """The per-parent queue, in this process, of writes that guard parents."""
        ...


_chosen: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "mdocument_registry", default=None
)
_default: Scope | None = None


def make_default(scope: Scope | None) -> None:
    """Make ``scope`` the registry used outside any ``use()`` (``None``: no default)."""
    global _default
    _default = scope


def chosen() -> Scope | None:
    """The registry chosen by ``use()`` in this context, if any."""
    return _chosen.get()


def active() -> Scope:
    """The registry documents use here: the one chosen by ``use()``, or the default."""
    scope = _chosen.get() or _default
    if scope is None:
        raise NotInitializedError(
            "no registry is active here: call `await mdocument.init(database, models=[...])` "
            "first, or choose one with `with registry.use():` (init ran with strict=True)"
        )
    return scope


class _Using(AbstractContextManager[None]):
    """The block of :func:`use`: a class, not a generator, for every write enters one."""

    __slots__ = ("_scope", "_token")

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def __enter__(self) -> None:
        self._token = _chosen.set(self._scope)

    def __exit__(self, *exc: object) -> None:
        _chosen.reset(self._token)


def use(scope: Scope) -> AbstractContextManager[None]:
    """Make ``scope`` the registry of the current context (task) inside the block."""
    return _Using(scope)


def repository_of(document: type[DocumentBase], scope: Scope | None = None) -> Any:
    """The repository of a document class in ``scope`` (default: the active registry)."""
    if scope is None:
        try:
            scope = active()
        except NotInitializedError as exc:
            raise NotInitializedError(
                f"{document.__name__} is not initialised: {exc}", document=document
            ) from None
    try:
        return scope.repository(document)
    except KeyError:
        mapping = getattr(document, "__mdocument_mapping__", None)
        reason = (
            "it is abstract (Meta.abstract = True) and has no collection"
            if mapping is None or mapping.abstract
            else f"the active registry ({scope!r}) does not register it: pass it to "
            "`await mdocument.init(database, models=[...])`"
        )
        raise NotInitializedError(
            f"{document.__name__} is not initialised: {reason}", document=document
        ) from None
