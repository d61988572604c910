"""The measuring side of a benchmark worker: contenders' interface, tasks and timing.

A worker process runs one contender through the tasks: for each task it binds the contender to
a fresh database, sets the data up (untimed), then runs warm-up and measured iterations. Each
iteration's "do task" phase is timed with ``time.process_time()`` (CPU time of this process,
every thread included: the client-side cost) and ``time.perf_counter()`` (wall time, which the
server's own speed dominates). Untimed phases (setup, "before task", verification) go through a
separate synchronous PyMongo client, the same for every contender.

This module runs in every contender's interpreter: standard library and PyMongo only.
"""

from __future__ import annotations

import abc
import asyncio
import cProfile
import gc
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import bson
from _data import ARRAY_ID_OFFSET, Data, ListOf, ObjectIdType, Shape, user_doc, with_unique_ids
from pymongo import MongoClient

# Collection of each kind of model, the same for every contender.
COLLECTIONS = {
    "small": "small",
    "small_fk": "small_fk",
    "target": "target",
    "large": "large",
    "nested": "nested",
    "user": "user",
}
# Indexes created (untimed, by the harness) for the tasks that filter on other fields than _id.
INDEXES = {
    "small_fk": ["fk"],
    "nested": ["embedded_str_doc_1.unique_id", "embedded_str_doc_array.unique_id"],
}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


# -- contenders ---------------------------------------------------------------------------------


class Contender(abc.ABC):
    """One way of talking to MongoDB: the raw driver, or an ODM.

    ``kind`` is one of the keys of :data:`COLLECTIONS`; documents come in as plain dicts
    (fresh ones, which the contender may keep or mutate) and objects come back in the
    contender's own form (a dict for the raw driver, a model instance for an ODM).
    """

    name: ClassVar[str]
    packages: ClassVar[tuple[str, ...]] = ("pymongo",)
    # Kinds whose indexes the contender creates itself (an ODM's relation index), not the harness.
    own_indexes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, shapes: dict[str, Shape]) -> None:
        self.shapes = shapes

    def versions(self) -> dict[str, str]:
        """The versions of the packages this contender runs on."""
        import platform

        return {"python": platform.python_version()} | {
            package: _version(package) for package in self.packages
        }

    @abc.abstractmethod
    async def open(self, uri: str) -> None:
        """Connect."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Disconnect."""

    @abc.abstractmethod
    async def bind(self, database: str, kinds: Iterable[str]) -> None:
        """Use the (new, empty) database ``database`` for the models of ``kinds``."""

    @abc.abstractmethod
    async def insert_many(self, kind: str, docs: list[dict[str, Any]]) -> None:
        """Build objects from ``docs`` and insert them in one batch."""

    @abc.abstractmethod
    async def create(self, kind: str, doc: dict[str, Any]) -> None:
        """Build one object from ``doc`` and insert it."""

    @abc.abstractmethod
    async def fetch_all(self, kind: str) -> list[Any]:
        """Every document of the collection, as objects."""

    @abc.abstractmethod
    async def get(self, kind: str, id: bson.ObjectId) -> Any:
        """The document with this ``_id`` as an object, or ``None``."""

    @abc.abstractmethod
    async def find_fk(self, fk: bson.ObjectId) -> Any:
        """The ``small_fk`` document whose ``fk`` is ``fk``."""

    @abc.abstractmethod
    async def find_nested(self, unique_id: int) -> Any:
        """The ``nested`` document whose ``embedded_str_doc_1.unique_id`` is ``unique_id``."""

    @abc.abstractmethod
    async def find_nested_array(self, unique_id: int) -> Any:
        """The ``nested`` document with an ``embedded_str_doc_array`` item of ``unique_id``."""

    @abc.abstractmethod
    async def set_field(self, kind: str, obj: Any, name: str, value: Any) -> None:
        """Set the top-level field ``name`` of a loaded object to ``value`` and store that."""

    async def set_field1(self, kind: str, obj: Any, value: str) -> None:
        """Set ``field1`` of a loaded object to ``value`` and store that change."""
        await self.set_field(kind, obj, "field1", value)

    @abc.abstractmethod
    async def set_nested_field1(self, obj: Any, value: str) -> None:
        """Set ``embedded_str_doc_1.field1`` of a loaded ``nested`` object and store it."""


def build_models(
    shapes: dict[str, Shape],
    *,
    document_base: type,
    embedded_base: type,
    object_id: Any,
    namespace: Callable[[str], dict[str, Any]],
    module: str,
) -> dict[str, type]:
    """Model classes for ``shapes`` (kind → shape), all built the same way for every ODM.

    ``namespace(kind)`` gives the class attributes of a root model (its collection setting);
    embedded shapes become subclasses of ``embedded_base``, shared by name.
    """
    embedded: dict[str, type] = {}

    def annotation(value: Any) -> Any:
        if value is ObjectIdType:
            return object_id
        if isinstance(value, Shape):
            return model(value, embedded_base, {})
        if isinstance(value, ListOf):
            return list[model(value.item, embedded_base, {})]  # type: ignore[misc]
        return value

    def model(shape: Shape, base: type, extra: dict[str, Any]) -> type:
        if base is embedded_base and shape.name in embedded:
            return embedded[shape.name]
        annotations = {name: annotation(value) for name, value in shape.fields.items()}
        namespace = {"__module__": module, "__qualname__": shape.name, **extra}
        built = type(shape.name, (base,), {"__annotations__": annotations, **namespace})
        if base is embedded_base:
            embedded[shape.name] = built
        return built

    return {
        kind: model(shape, document_base, namespace(kind))
        for kind, shape in shapes.items()
        if kind != "target"
    }


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Config:
    """Counts and options of a run (the orchestrator passes them as JSON)."""

    tasks: list[str]
    ops: int = 150
    bulk: int = 1000
    large_ops: int = 8
    user_ops: int = 500
    user_bulk: int = 5000
    iterations: int = 3
    warmup: int = 1
    data_dir: str | None = None
    db_prefix: str = "bench"


def config_from(args: Any, tasks: list[str], **options: Any) -> Config:
    """The Config of a command line's parsed ``args`` (``crud.py``'s and ``paired.py``'s)."""
    counts = ("ops", "bulk", "large_ops", "user_ops", "user_bulk", "iterations", "warmup")
    return Config(
        tasks=tasks,
        **{name: getattr(args, name) for name in counts},
        data_dir=args.data_dir,
        **options,
    )


@dataclass
class TaskResult:
    """The measurements of one task for one contender."""

    task: str
    contender: str
    ops: int
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class VerificationError(AssertionError):
    """A contender did not do what the task asked (the run is then worthless)."""


def update_value(iteration: int) -> str:
    """The 13-character value that iteration ``iteration`` of an update task writes."""
    return f"updated{iteration:06d}"


class Turns:
    """Contenders of one process taking turns, one timed iteration each (``paired.py``).

    Each contender's task runs as a task of one event loop, and only the holder of the turn
    runs at all: while one is timed, the others wait, so no CPU time of theirs is counted in its
    sample. After each iteration the holder passes the turn on; the samples of a pair are then
    taken a fraction of a second apart, under the same load of the machine.
    """

    def __init__(self, order: list[str]) -> None:
        self.active = list(order)
        self.holder = order[0]
        self.changed = asyncio.Condition()

    async def start(self, name: str) -> None:
        """Wait for ``name``'s first turn."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.holder == name)

    async def pass_on(self, name: str) -> None:
        """Give the turn to the next contender, and wait until it comes back."""
        async with self.changed:
            self.holder = self.active[(self.active.index(name) + 1) % len(self.active)]
            self.changed.notify_all()
            await self.changed.wait_for(lambda: self.holder == name)

    async def finish(self, name: str) -> None:
        """``name`` is done: the turn goes on without it."""
        async with self.changed:
            position = self.active.index(name)
            self.active.remove(name)
            if self.active:
                self.holder = self.active[position % len(self.active)]
            self.changed.notify_all()


class Bench:
    """Runs the tasks for one contender."""

    def __init__(
        self,
        contender: Contender,
        uri: str,
        data: Data,
        config: Config,
        profile_dir: str | None = None,
    ) -> None:
        self.contender = contender
        self.admin: MongoClient[dict[str, Any]] = MongoClient(uri)
        self.data = data
        self.config = config
        self.profile_dir = Path(profile_dir) if profile_dir else None
        self.database = ""
        self.turns: Turns | None = None  # set by paired.py: contenders alternate iterations

    def close(self) -> None:
        if self.database:
            self.admin.drop_database(self.database)
        self.admin.close()

    # -- untimed helpers, through the admin client --------------------------------------------

    async def fresh(self, task: str, *kinds: str) -> None:
        """Bind the contender to a new database for ``task``."""
        if self.database:
            self.admin.drop_database(self.database)
        self.database = f"{self.config.db_prefix}_{self.contender.name}_{task}"
        self.admin.drop_database(self.database)
        for kind in kinds:
            self.reset(kind)
        await self.contender.bind(self.database, [kind for kind in kinds if kind != "target"])

    def collection(self, kind: str) -> Any:
        return self.admin[self.database][COLLECTIONS[kind]]

    def reset(self, kind: str) -> None:
        """Drop the collection of ``kind`` and create its indexes again."""
        collection = self.collection(kind)
        collection.drop()
        self.admin[self.database].create_collection(COLLECTIONS[kind])
        if kind in self.contender.own_indexes:
            return
        for key in INDEXES.get(kind, ()):
            collection.create_index(key)

    def ids(self, kind: str) -> list[bson.ObjectId]:
        return [doc["_id"] for doc in self.collection(kind).find({}, {"_id": 1}).sort("_id", 1)]

    def expect(self, condition: bool, what: str) -> None:
        if not condition:
            raise VerificationError(f"{self.contender.name}: {what}")

    def expect_count(self, kind: str, count: int, query: dict[str, Any] | None = None) -> None:
        found = self.collection(kind).count_documents(query or {})
        self.expect(found == count, f"{count} {kind} documents matching {query} expected, {found}")

    # -- documents ----------------------------------------------------------------------------

    def small(self) -> dict[str, Any]:
        return dict(self.data.small)

    def large(self) -> dict[str, Any]:
        return dict(self.data.large)  # the 2.4 MB image is shared, never copied

    def nested(self, number: int) -> dict[str, Any]:
        return with_unique_ids(self.data.nested, number)

    def user(self, number: int) -> dict[str, Any]:
        return user_doc(number)

    # -- timing -------------------------------------------------------------------------------

    async def measure(
        self,
        task: str,
        ops: int,
        run: Callable[[int, Any], Awaitable[None]],
        before: Callable[[int], Awaitable[Any]] | None = None,
    ) -> TaskResult:
        """Warm-up and measured iterations of ``run`` (``before`` prepares each, untimed)."""
        result = TaskResult(task, self.contender.name, ops)
        # CPU time, like the measurements: time spent waiting for the server is not a cost here.
        profiler = cProfile.Profile(time.process_time) if self.profile_dir else None
        for iteration in range(self.config.warmup + self.config.iterations):
            measured = iteration >= self.config.warmup
            state = await before(iteration) if before is not None else None
            gc.collect()
            if profiler is not None and measured:
                profiler.enable()
            wall = time.perf_counter()
            cpu = time.process_time()
            await run(iteration, state)
            cpu = time.process_time() - cpu
            wall = time.perf_counter() - wall
            if profiler is not None:
                profiler.disable()
            if measured:
                result.cpu.append(cpu)
                result.wall.append(wall)
            if self.turns is not None:
                await self.turns.pass_on(self.contender.name)
        if profiler is not None and self.profile_dir is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(self.profile_dir / f"{self.contender.name}-{task}.prof")
        return result


# -- tasks --------------------------------------------------------------------------------------

Task = Callable[[Bench], Awaitable[TaskResult]]


async def insert_many(b: Bench) -> TaskResult:
    """Build ``bulk`` small objects and insert them in one call."""
    c, n = b.contender, b.config.bulk
    await b.fresh("insert_many", "small")

    async def before(_: int) -> list[dict[str, Any]]:
        b.reset("small")
        return [b.small() for _ in range(n)]

    async def run(_: int, docs: list[dict[str, Any]]) -> None:
        await c.insert_many("small", docs)

    result = await b.measure("insert_many", n, run, before)
    b.expect_count("small", n)
    return result


async def _create(b: Bench, task: str, kind: str, n: int) -> TaskResult:
    c = b.contender
    await b.fresh(task, kind)

    async def before(iteration: int) -> list[dict[str, Any]]:
        b.reset(kind)
        if kind == "nested":
            return [b.nested(iteration * n + i) for i in range(n)]
        return [b.small() if kind == "small" else b.large() for _ in range(n)]

    async def run(_: int, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            await c.create(kind, doc)

    result = await b.measure(task, n, run, before)
    b.expect_count(kind, n)
    return result


async def insert_one(b: Bench) -> TaskResult:
    """Build and insert ``ops`` small objects one by one (spec: small model creation)."""
    return await _create(b, "insert_one", "small", b.config.ops)


async def large_create(b: Bench) -> TaskResult:
    """Build and insert ``large_ops`` large objects one by one (spec: large model creation)."""
    return await _create(b, "large_create", "large", b.config.large_ops)


async def nested_create(b: Bench) -> TaskResult:
    """Build and insert ``ops`` nested objects one by one (spec: large nested model creation)."""
    return await _create(b, "nested_create", "nested", b.config.ops)


async def fetch_all(b: Bench) -> TaskResult:
    """Load every document of a collection of ``bulk`` small documents into objects."""
    c, n = b.contender, b.config.bulk
    await b.fresh("fetch_all", "small")
    await c.insert_many("small", [b.small() for _ in range(n)])

    async def run(_: int, __: None) -> None:
        found = await c.fetch_all("small")
        b.expect(len(found) == n, f"fetch_all gave {len(found)} documents of {n}")

    return await b.measure("fetch_all", n, run)


async def _find_each(
    b: Bench, task: str, keys: list[Any], find: Callable[[Any], Awaitable[Any]]
) -> TaskResult:
    async def run(_: int, __: None) -> None:
        hits = 0
        for key in keys:
            if await find(key) is not None:
                hits += 1
        b.expect(hits == len(keys), f"{task} found {hits} of {len(keys)}")

    return await b.measure(task, len(keys), run)


async def get_by_id(b: Bench) -> TaskResult:
    """Get each of ``ops`` small documents by its id (spec: small model find by filter)."""
    c = b.contender
    await b.fresh("get_by_id", "small")
    await c.insert_many("small", [b.small() for _ in range(b.config.ops)])
    return await _find_each(b, "get_by_id", b.ids("small"), lambda id: c.get("small", id))


async def find_fk(b: Bench) -> TaskResult:
    """Filter the small model by a foreign key, for each of ``ops`` keys (spec task)."""
    c, n = b.contender, b.config.ops
    await b.fresh("find_fk", "target", "small_fk")
    b.collection("target").insert_many([{"name": f"target {i}"} for i in range(n)])
    targets = b.ids("target")
    await c.insert_many("small_fk", [{**b.small(), "fk": fk} for fk in targets])
    indexes = [dict(index["key"]) for index in b.collection("small_fk").list_indexes()]
    b.expect(any(next(iter(key)) == "fk" for key in indexes), f"no index on fk: {indexes}")
    return await _find_each(b, "find_fk", targets, c.find_fk)


async def _nested_setup(b: Bench, task: str) -> None:
    await b.fresh(task, "nested")
    await b.contender.insert_many("nested", [b.nested(i) for i in range(b.config.ops)])


async def nested_find(b: Bench) -> TaskResult:
    """Find each of ``ops`` nested documents by ``embedded_str_doc_1.unique_id`` (spec task)."""
    await _nested_setup(b, "nested_find")
    keys = list(range(b.config.ops))
    return await _find_each(b, "nested_find", keys, b.contender.find_nested)


async def nested_find_array(b: Bench) -> TaskResult:
    """Find each nested document by the unique_id of its first array item (spec task)."""
    await _nested_setup(b, "nested_find_array")
    keys = [ARRAY_ID_OFFSET + i for i in range(b.config.ops)]
    return await _find_each(b, "nested_find_array", keys, b.contender.find_nested_array)


async def _update(
    b: Bench,
    task: str,
    kind: str,
    n: int,
    update: Callable[[Any, str], Awaitable[None]],
    path: str,
) -> TaskResult:
    c = b.contender

    async def before(_: int) -> list[Any]:
        loaded = await c.fetch_all(kind)  # fresh instances, as loaded from the database
        b.expect(len(loaded) == n, f"{task} loaded {len(loaded)} of {n}")
        return loaded

    async def run(iteration: int, loaded: list[Any]) -> None:
        value = update_value(iteration)
        for obj in loaded:
            await update(obj, value)

    result = await b.measure(task, n, run, before)
    last = update_value(b.config.warmup + b.config.iterations - 1)
    b.expect_count(kind, n, {path: last})
    return result


async def update_field(b: Bench) -> TaskResult:
    """Set ``field1`` on each of ``ops`` loaded small objects and save (spec: small update)."""
    c, n = b.contender, b.config.ops
    await b.fresh("update_field", "small")
    await c.insert_many("small", [b.small() for _ in range(n)])
    return await _update(
        b, "update_field", "small", n, lambda obj, v: c.set_field1("small", obj, v), "field1"
    )


async def large_update(b: Bench) -> TaskResult:
    """Set ``field1`` on each of ``large_ops`` loaded large objects (spec: large update)."""
    c, n = b.contender, b.config.large_ops
    await b.fresh("large_update", "large")
    for _ in range(n):  # one by one: a batch of large documents can exceed 48 MB
        await c.create("large", b.large())
    return await _update(
        b, "large_update", "large", n, lambda obj, v: c.set_field1("large", obj, v), "field1"
    )


async def nested_update(b: Bench) -> TaskResult:
    """Set ``embedded_str_doc_1.field1`` on each of ``ops`` loaded nested objects (spec)."""
    await _nested_setup(b, "nested_update")
    return await _update(
        b,
        "nested_update",
        "nested",
        b.config.ops,
        b.contender.set_nested_field1,
        "embedded_str_doc_1.field1",
    )


TASKS: dict[str, Task] = {
    "insert_many": insert_many,
    "insert_one": insert_one,
    "fetch_all": fetch_all,
    "get_by_id": get_by_id,
    "update_field": update_field,
    "find_fk": find_fk,
    "large_create": large_create,
    "large_update": large_update,
    "nested_create": nested_create,
    "nested_update": nested_update,
    "nested_find": nested_find,
    "nested_find_array": nested_find_array,
}


# -- the mixed document -------------------------------------------------------------------------
# A ``User`` of ten fields of mixed kinds (str, int, float, datetime, bool, list, nested model,
# optional str, dict): the core CRUD tasks again, on a document closer to real ones.


async def user_insert_many(b: Bench) -> TaskResult:
    """Build ``user_bulk`` mixed objects and insert them in one call."""
    c, n = b.contender, b.config.user_bulk
    await b.fresh("user_insert_many", "user")

    async def before(iteration: int) -> list[dict[str, Any]]:
        b.reset("user")
        return [b.user(iteration * n + i) for i in range(n)]

    async def run(_: int, docs: list[dict[str, Any]]) -> None:
        await c.insert_many("user", docs)

    result = await b.measure("user_insert_many", n, run, before)
    b.expect_count("user", n)
    return result


async def user_insert_one(b: Bench) -> TaskResult:
    """Build and insert ``user_ops`` mixed objects one by one."""
    c, n = b.contender, b.config.user_ops
    await b.fresh("user_insert_one", "user")

    async def before(iteration: int) -> list[dict[str, Any]]:
        b.reset("user")
        return [b.user(iteration * n + i) for i in range(n)]

    async def run(_: int, docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            await c.create("user", doc)

    result = await b.measure("user_insert_one", n, run, before)
    b.expect_count("user", n)
    return result


async def _user_setup(b: Bench, task: str, n: int) -> None:
    await b.fresh(task, "user")
    b.collection("user").insert_many([b.user(i) for i in range(n)])  # the same for everyone


async def user_fetch_all(b: Bench) -> TaskResult:
    """Load every document of a collection of ``user_bulk`` mixed documents into objects."""
    c, n = b.contender, b.config.user_bulk
    await _user_setup(b, "user_fetch_all", n)

    async def run(_: int, __: None) -> None:
        found = await c.fetch_all("user")
        b.expect(len(found) == n, f"user_fetch_all gave {len(found)} documents of {n}")

    return await b.measure("user_fetch_all", n, run)


async def user_get_by_id(b: Bench) -> TaskResult:
    """Get each of ``user_ops`` mixed documents by its id."""
    c = b.contender
    await _user_setup(b, "user_get_by_id", b.config.user_ops)
    return await _find_each(b, "user_get_by_id", b.ids("user"), lambda id: c.get("user", id))


async def user_update(b: Bench) -> TaskResult:
    """Set ``name`` on each of ``user_ops`` loaded mixed objects and save (load-modify-save)."""
    c, n = b.contender, b.config.user_ops
    await _user_setup(b, "user_update", n)
    return await _update(
        b, "user_update", "user", n, lambda obj, v: c.set_field("user", obj, "name", v), "name"
    )


TASKS.update(
    {
        "user_insert_many": user_insert_many,
        "user_insert_one": user_insert_one,
        "user_fetch_all": user_fetch_all,
        "user_get_by_id": user_get_by_id,
        "user_update": user_update,
    }
)
