"""``init`` and the :class:`Registry` it returns: which documents live in which database.

``await init(database, models=[...])`` validates the documents' metadata, creates their indexes,
and binds each class to a repository on ``database``. Calling it again (with another database,
as a test suite does for every test) builds a new registry and rebinds the classes to it; there
is no global state to reset by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import decimal
import enum
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import bson
from pydantic import BaseModel

from mdocument import binding
from mdocument.annotations import is_class
from mdocument.cascade import sync_copies
from mdocument.collections_setup import check_views, create_collections
from mdocument.deletes import CHUNK
from mdocument.driver import Database, Driver, IndexModel, OperationFailure, Session, driver_of
from mdocument.exceptions import DocumentException, WrongModelFieldType
from mdocument.filters import compile_filter
from mdocument.graph import Edge, Graph
from mdocument.hierarchy import check_shared_indexes, same_hierarchy, with_hierarchies
from mdocument.mapping import DocumentMapping
from mdocument.model import DocumentBase as Document
from mdocument.model import is_document_base
from mdocument.repository import Repository
from mdocument.soft import LIVE_FIELD, is_soft
from mdocument.store import Store
from mdocument.validators import apply_validators

if TYPE_CHECKING:
    from mdocument.mapping import FieldMapping

__all__ = ["Registry", "active_registry", "init"]

T = TypeVar("T")

# Beyond this many parents, a write does not queue on their locks (see Registry.guarding).
_MAX_LOCKED_PARENTS = 64

# Index errors that mean "an index with this name or these keys exists with other options".
_INDEX_CONFLICTS = {85, 86}


def _bson_type(item: Any) -> str | None:
    """The ``$type`` alias of the values of a Python type, for partial index filters."""
    if not is_class(item):
        return None
    if issubclass(item, enum.Enum):
        values: set[type[Any]] = {type(member.value) for member in item}
        return _bson_type(values.pop()) if len(values) == 1 else None
    for python_type, alias in (
        (bool, "bool"),
        (str, "string"),
        (int, "number"),
        (float, "number"),
        (decimal.Decimal, "decimal"),
        (datetime.date, "date"),
        (bson.ObjectId, "objectId"),
        (bytes, "binData"),
        (uuid.UUID, "binData"),
        (BaseModel, "object"),
        (dict, "object"),
    ):
        if issubclass(item, python_type):
            return alias
    return None


def unique_index(mapping: DocumentMapping, field: FieldMapping) -> IndexModel:
    """The unique index of a ``unique=True`` field.

    An optional field leaves ``None`` out of the index and a list field leaves empty lists out
    (MongoDB would otherwise count two of them as duplicates), through a partial filter on the
    type of the values.
    """
    shape = field.shape
    options: dict[str, Any] = {"unique": True}
    if shape.optional or shape.many:
        bson_type = _bson_type(shape.item)
        if bson_type is None:
            raise WrongModelFieldType(
                f"{mapping.document.__name__}.{field.name}: a unique field that may be empty "
                f"(None or []) needs values of one simple type, not {shape.item!r}",
                document=mapping.document,
                field=field.name,
            )
        options["partialFilterExpression"] = {field.stored: {"$type": bson_type}}
    if is_soft(mapping.document):  # soft-deleted documents hold no unique value
        partial = options.setdefault("partialFilterExpression", {})
        partial[LIVE_FIELD] = True
    return IndexModel([(field.stored, 1)], **options)


def reference_index(edge: Edge) -> IndexModel:
    """The index of a reference or synced field, on the referred ids (``author.id`` for a copy).

    A cascade then never scans the child collection. One-to-one and many-to-one indexes are
    unique; empty values are left out of those.
    """
    options: dict[str, Any] = {}
    if edge.unique:
        options["unique"] = True
        if edge.optional or edge.many:
            options["partialFilterExpression"] = {edge.id_path: {"$type": "objectId"}}
    return IndexModel([(edge.id_path, 1)], **options)


def index_models(mapping: DocumentMapping, edges: Sequence[Edge] = ()) -> list[IndexModel]:
    """Every index a document needs: declared ones, one per unique field, one per relation."""
    models = [
        IndexModel(
            [(mapping.stored_path(key), direction) for key, direction in index.keys],
            **index.options,
        )
        for index in mapping.indexes
    ]
    related = {edge.field.name for edge in edges}
    models.extend(
        unique_index(mapping, field) for field in mapping.unique_fields if field.name not in related
    )
    models.extend(reference_index(edge) for edge in edges)
    return models


class Registry:
    """The documents registered on one database by one :func:`init` call."""

    def __init__(
        self, database: Database, documents: Sequence[type[Document]], driver: Driver
    ) -> None:
        self.database = database
        self.driver = driver
        self.store = Store(database, driver)
        """Every call to the database passes through the store (tracing, transactions)."""
        self.documents: tuple[type[Document], ...] = tuple(documents)
        self.graph = Graph(self.documents)
        """The relations between the registered documents."""
        self.supports_transactions = False
        self.transaction_deadline: float = 10.0
        """Seconds a transaction is retried for on write conflicts before it gives up."""
        self.cascade_chunk: int = CHUNK
        """Documents per transaction of a delete: a larger cascade runs as a chunked job
        (see :mod:`mdocument.deletes`). ``init(..., cascade_chunk=...)`` sets it."""
        self._parent_locks: dict[tuple[str, Any], tuple[asyncio.Lock, int]] = {}
        self.pause_hook: Callable[[str, Any], Awaitable[None]] | None = None
        """Test-only: awaited at named points of a write, so that a test can interleave two
        writers deterministically (``"checked"``: a child's references were checked and
        guarded, before its write; ``"written"``: a parent was written, before its copies are
        rewritten or its cascade runs; ``"planned"``: a delete's cascade was planned, before
        its first write; ``"chunk"``: a chunk of a chunked delete committed)."""
        self.repositories: dict[type[Document], Repository[Any]] = {
            document: self._repository_of(document) for document in self.documents
        }

    def _repository_of(self, document: type[Document]) -> Repository[Any]:
        mapping = document.__mdocument_mapping__
        collection = self.store.collection(mapping.collection, decimals=mapping.decimals)
        # Whole documents of a class that places its own datetimes are read with naive ones,
        # which loading makes aware (mdocument.utc): much cheaper than the driver's way.
        loads = None
        if mapping.utc_attacher is not None:
            loads = self.store.collection(
                mapping.collection, decimals=mapping.decimals, aware=False
            )
        return Repository(self, document, collection, loads)

    def repository(self, document: type[Document]) -> Repository[Any]:
        """The repository of a registered document class."""
        return self.repositories[document]

    async def _detect_transactions(self) -> None:
        hello = await self.store.command("hello")
        replicated = "setName" in hello or hello.get("msg") == "isdbgrid"
        self.supports_transactions = replicated and "logicalSessionTimeoutMinutes" in hello

    async def _create_indexes(self, repository: Repository[Any], models: list[IndexModel]) -> None:
        if not models:
            return
        try:
            await repository.collection.create_indexes(models)
        except OperationFailure as exc:
            if exc.code not in _INDEX_CONFLICTS:
                raise
            raise DocumentException(
                f"{repository.document.__name__}: an index on collection "
                f"{repository.mapping.collection!r} exists with other options than declared "
                f"({exc.details.get('errmsg') if exc.details else exc}); drop it or rename "
                "the declared one",
                document=repository.document,
            ) from exc

    async def prepare(self, *, create_indexes: bool) -> None:
        """Ask the server what it supports and create the indexes of every document.

        Views and time-series collections are created first (see
        :mod:`mdocument.collections_setup`); views get no indexes.
        """
        check_views(self)
        await self._detect_transactions()
        await create_collections(self)
        indexes = {
            repository: index_models(repository.mapping, self.graph.outgoing(document))
            for document, repository in self.repositories.items()
            if repository.mapping.view is None
        }
        check_shared_indexes({r.document: [m.document for m in ms] for r, ms in indexes.items()})
        for repository, models in indexes.items():
            repository.index_keys = {
                model.document["name"]: tuple(model.document["key"]) for model in models
            }
        if create_indexes:
            await asyncio.gather(*(self._create_indexes(*item) for item in indexes.items()))

    def use(self) -> contextlib.AbstractContextManager[None]:
        """Make this registry the one documents use in the current context (asyncio task).

        ``with tenant.use(): await User.find().to_list()`` reads the tenant's database. Each
        task keeps its own choice, so concurrent requests for different tenants never mix.
        """
        return binding.use(self)

    def bind(self, *, strict: bool = False) -> None:
        """Make this registry the default outside any ``use()`` (``strict``: no default)."""
        binding.make_default(None if strict else self)

    @contextlib.asynccontextmanager
    async def guarding(self, keys: Iterable[tuple[str, Any]]) -> AsyncGenerator[None]:
        """Hold this process's lock of each parent a write guards, until its transaction ends.

        Writes under one parent conflict on its guard (see
        :data:`mdocument.integrity.GUARD_FIELD`), and each conflict costs a retry with backoff.
        Within one process they queue here instead, so retries are left for writers in other
        processes. Locks are taken in sorted order (no deadlock), and not at all for writes
        that rely on many parents (a large ``insert_many``), where queueing would cost more.
        """
        wanted = sorted(set(keys), key=repr)
        if not wanted or len(wanted) > _MAX_LOCKED_PARENTS or not self.supports_transactions:
            yield
            return
        registered: list[tuple[str, Any]] = []
        acquired: list[asyncio.Lock] = []
        try:
            for key in wanted:
                lock, users = self._parent_locks.get(key) or (asyncio.Lock(), 0)
                self._parent_locks[key] = (lock, users + 1)
                registered.append(key)
                await lock.acquire()
                acquired.append(lock)
            yield
        finally:
            for lock in acquired:
                lock.release()
            for key in registered:
                lock, users = self._parent_locks[key]
                if users == 1:
                    del self._parent_locks[key]
                else:
                    self._parent_locks[key] = (lock, users - 1)

    async def pause(self, point: str, subject: Any) -> None:
        """Await the test-only :attr:`pause_hook` at ``point`` of a write, if one is set."""
        if self.pause_hook is not None:
            await self.pause_hook(point, subject)

    def atomic_available(self, session: Session | None) -> bool:
        """Whether a write with this session runs all-or-nothing (in a transaction)."""
        return self.supports_transactions or bool(session and session.in_transaction)

    async def atomic(
        self, work: Callable[[Session | None], Awaitable[T]], session: Session | None
    ) -> T:
        """Run ``work`` in a transaction where the server has them, else as it is.

        The caller's session is used when given (joining its transaction if one is open).
        """
        if session is not None and session.in_transaction:
            return await work(session)
        if not self.supports_transactions:
            return await work(session)
        if session is not None:
            return await self.store.transaction(session, work, deadline=self.transaction_deadline)
        own = await self.store.start_session()
        try:
            return await self.store.transaction(own, work, deadline=self.transaction_deadline)
        finally:
            await own.end_session()

    async def resync(
        self,
        document: type[Document],
        query: Mapping[str, Any] | None = None,
        *,
        session: Session | None = None,
    ) -> int:
        """Rewrite every synced copy of the ``document`` instances matching ``query``.

        ``save()`` keeps copies in step by itself; this is for the rare case where it could
        not: a server without transactions where a save was interrupted between the document
        and its copies, or data written by another program. One write per edge per thousand
        documents. Returns the number of copies that changed.
        """
        repository = self.repository(document)
        copied = {stored for edge in self.graph.synced(document) for stored in edge.copied}
        if not copied:
            return 0
        cursor = repository.collection.find(
            compile_filter(repository.mapping, query), batch_size=1000, session=session
        )
        rewritten, batch = 0, list[Document]()
        async for raw in cursor:
            batch.append(repository.load(raw))
            if len(batch) == 1000:
                rewritten += await sync_copies(self, batch, copied, session)
                batch = []
        return rewritten + await sync_copies(self, batch, copied, session)

    def __repr__(self) -> str:
        names = ", ".join(document.__name__ for document in self.documents)
        return f"<Registry {self.database.name!r}: {names}>"


def active_registry() -> Registry:
    """The registry documents use here: chosen by ``use()``, else the most recent ``init``."""
    scope = binding.active()
    assert isinstance(scope, Registry)
    return scope


def _check_documents(models: Iterable[Any]) -> list[type[Document]]:
    documents: list[type[Document]] = []
    collections: dict[str, type[Document]] = {}
    for model in with_hierarchies(models):
        if not (isinstance(model, type) and issubclass(model, Document)) or is_document_base(model):
            raise TypeError(f"init(models=...) takes Document subclasses, not {model!r}")
        mapping = model.__mdocument_mapping__
        if mapping.abstract:
            raise DocumentException(
                f"{model.__name__} is abstract (Meta.abstract = True): it has no collection",
                document=model,
            )
        if not model.__pydantic_complete__:
            model.model_rebuild()
        if any(
            field.info is not model.__pydantic_fields__.get(name)
            for name, field in mapping.fields.items()
        ):  # a rebuild replaced the field infos the mapping was built from
            mapping = model.__mdocument_mapping__ = DocumentMapping(model)
            if "__mdocument_paths__" in model.__dict__:  # paths built from the old annotations
                type.__delattr__(model, "__mdocument_paths__")
        other = collections.setdefault(mapping.collection, model)
        if other is not model and not same_hierarchy(other, model):
            raise DocumentException(
                f"{other.__name__} and {model.__name__} are both stored in collection "
                f"{mapping.collection!r}; give one of them Meta.collection",
                document=model,
            )
        if model not in documents:
            documents.append(model)
    return documents


async def init(
    database: Any,
    models: Iterable[type[Document]],
    *,
    create_indexes: bool = True,
    validators: bool = False,
    strict: bool = False,
    cascade_chunk: int = CHUNK,
) -> Registry:
    """Register documents on a database: validate them, create their indexes, bind them.

    Args:
        database: a ``pymongo.AsyncMongoClient(...)[name]`` database, or a Motor database.
        models: the document classes to register.
        create_indexes: create the declared and unique indexes (``False`` when a migration
            tool owns them).
        validators: install a ``$jsonSchema`` validator on each collection, generated from
            its class (strict, error; see :mod:`mdocument.validators`).
        strict: do not make this registry the default: outside ``with registry.use():``
            documents then have no registry and raise ``NotInitializedError`` instead of
            writing into the most recent one (for one database per tenant).
        cascade_chunk: documents per transaction of a delete; a cascade that deletes more
            runs as a chunked, resumable job (see "Large cascades" in the operations guide).

    Returns:
        The :class:`Registry`. Outside any ``use()``, documents use the registry of the most
        recent ``init`` (unless it was strict); instances keep the registry they were loaded
        from or created in.
    """
    driver = driver_of(database)
    registry = Registry(database, _check_documents(models), driver)
    if cascade_chunk < 1:
        raise ValueError(f"cascade_chunk is at least 1, not {cascade_chunk}")
    registry.cascade_chunk = cascade_chunk
    await registry.prepare(create_indexes=create_indexes)
    if validators:
        await apply_validators(registry)
    registry.bind(strict=strict)
    return registry
