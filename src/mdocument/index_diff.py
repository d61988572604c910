"""Declared indexes against the ones a database holds: what is missing, extra or different.

:func:`diff_indexes` compares, for each registered document, the indexes :func:`mdocument.init`
would create (declared ones, one per unique field, one per reference or synced field) with the
collection's indexes, and lists reference fields that no index serves: a cascade, a ``RESTRICT``
check or a copy rewrite then scans the child collection. :func:`apply_indexes` brings the
collection in line: it creates what is missing, rebuilds what differs (MongoDB cannot change
an index's options in place) and, only when asked, drops what is not declared.

``init`` itself only ever creates indexes; nothing here runs unless called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from mdocument.driver import IndexModel, OperationFailure
from mdocument.exceptions import DocumentException
from mdocument.registry import index_models

if TYPE_CHECKING:
    from mdocument.graph import Edge
    from mdocument.model import DocumentBase as Document
    from mdocument.registry import Registry

__all__ = [
    "IndexChange",
    "IndexDiff",
    "IndexSpec",
    "UnindexedReference",
    "apply_indexes",
    "diff_indexes",
]

# Options that say nothing about what an index does (or that the server adds by itself).
_IGNORED_OPTIONS = frozenset({"key", "name", "v", "ns", "background"})
# Options whose absence means False.
_FLAGS = frozenset({"unique", "sparse", "hidden"})
_ID_INDEX = "_id_"
_NAMESPACE_NOT_FOUND = 26


def _number(value: Any) -> Any:
    # The server may give 1 back as 1.0: compare values, not their BSON number types.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        items = cast("Mapping[str, Any]", value).items()
        return {key: _number(item) for key, item in items}
    if isinstance(value, (list, tuple)):
        return [_number(item) for item in cast("Sequence[Any]", value)]
    return value


def _options(spec: Mapping[str, Any]) -> dict[str, Any]:
    options = {
        key: _number(value)
        for key, value in spec.items()
        if key not in _IGNORED_OPTIONS and not (key in _FLAGS and not value)
    }
    return {key: True if key in _FLAGS else value for key, value in options.items()}


@dataclass(frozen=True)
class IndexSpec:
    """One index: its name, its keys (stored paths and directions) and its options."""

    name: str
    keys: tuple[tuple[str, Any], ...]
    options: dict[str, Any] = field(default_factory=dict[str, Any])

    @classmethod
    def of_model(cls, model: IndexModel) -> IndexSpec:
        """The spec of a declared :class:`~pymongo.operations.IndexModel`."""
        document: Mapping[str, Any] = model.document
        keys = tuple((key, _number(value)) for key, value in document["key"].items())
        return cls(str(document["name"]), keys, _options(document))

    @classmethod
    def of_server(cls, name: str, info: Mapping[str, Any]) -> IndexSpec:
        """The spec of an index as ``index_information()`` describes it."""
        keys = tuple((key, _number(value)) for key, value in info["key"])
        return cls(name, keys, _options(info))

    def model(self) -> IndexModel:
        """An :class:`~pymongo.operations.IndexModel` creating this index."""
        return IndexModel(list(self.keys), name=self.name, **self.options)

    def __str__(self) -> str:
        keys = ", ".join(f"{key}: {direction}" for key, direction in self.keys)
        options = "".join(f", {key}={value!r}" for key, value in sorted(self.options.items()))
        return f"{self.name} {{{keys}}}{options}"


@dataclass(frozen=True)
class IndexChange:
    """A declared index whose options differ from the existing index on the same keys."""

    declared: IndexSpec
    existing: IndexSpec

    def __str__(self) -> str:
        return f"{self.existing} -> declared {self.declared}"


@dataclass(frozen=True)
class UnindexedReference:
    """A reference or synced field that no existing index starts with."""

    edge: Edge
    collection: str

    def __str__(self) -> str:
        parent = self.edge.parent.__name__
        return (
            f"{self.edge.label} ({self.collection}.{self.edge.id_path}) has no index: deleting "
            f"a {parent} or changing what its copies hold scans collection {self.collection!r}"
        )


@dataclass(frozen=True)
class IndexDiff:
    """The indexes of one document's collection against its declared ones."""

    document: type[Document]
    collection: str
    missing: tuple[IndexSpec, ...]
    """Declared but not on the server."""
    extra: tuple[IndexSpec, ...]
    """On the server but not declared (``_id_`` is never extra)."""
    differing: tuple[IndexChange, ...]
    """On the server with the declared keys (or name) but other options."""
    unindexed: tuple[UnindexedReference, ...]
    """Reference fields without an index, as the collection is now."""

    @property
    def clean(self) -> bool:
        """Whether the collection holds exactly the declared indexes."""
        return not (self.missing or self.extra or self.differing)

    def lines(self) -> list[str]:
        """One line per difference (``+`` missing, ``-`` extra, ``~`` differing)."""
        found = [f"+ {spec}" for spec in self.missing]
        found += [f"- {spec}" for spec in self.extra]
        found += [f"~ {change}" for change in self.differing]
        return found


def _same_index(declared: IndexSpec, existing: Sequence[IndexSpec]) -> IndexSpec | None:
    # The keys identify an index (MongoDB refuses two with the same keys and other options);
    # a declared name matched second catches an index whose keys were changed by hand.
    for spec in existing:
        if spec.keys == declared.keys:
            return spec
    for spec in existing:
        if spec.name == declared.name:
            return spec
    return None


def _unindexed(
    registry: Registry, document: type[Document], existing: Sequence[IndexSpec]
) -> list[UnindexedReference]:
    collection = document.__mdocument_mapping__.collection
    return [
        UnindexedReference(edge, collection)
        for edge in registry.graph.outgoing(document)
        # An index serves a lookup on its first key (a compound index's prefix too).
        if not any(spec.keys and spec.keys[0][0] == edge.id_path for spec in existing)
    ]


async def _existing(registry: Registry, document: type[Document]) -> list[IndexSpec]:
    try:
        information = await registry.repository(document).collection.index_information()
    except OperationFailure as exc:
        if exc.code != _NAMESPACE_NOT_FOUND:
            raise
        return []  # no collection yet: no index
    return [IndexSpec.of_server(name, info) for name, info in information.items()]


async def diff_indexes(
    registry: Registry, documents: Sequence[type[Document]] | None = None
) -> list[IndexDiff]:
    """Compare every registered document's declared indexes with its collection's.

    One ``listIndexes`` per collection; nothing is written. A collection that does not exist
    has every declared index missing.
    """
    diffs: list[IndexDiff] = []
    for document in documents or registry.documents:
        mapping = document.__mdocument_mapping__
        declared = [
            IndexSpec.of_model(model)
            for model in index_models(mapping, registry.graph.outgoing(document))
        ]
        existing = await _existing(registry, document)
        matched: list[IndexSpec] = []
        missing: list[IndexSpec] = []
        differing: list[IndexChange] = []
        for spec in declared:
            found = _same_index(spec, [other for other in existing if other not in matched])
            if found is None:
                missing.append(spec)
                continue
            matched.append(found)
            if found.keys != spec.keys or found.options != spec.options:
                differing.append(IndexChange(spec, found))
        extra = [spec for spec in existing if spec not in matched and spec.name != _ID_INDEX]
        diffs.append(
            IndexDiff(
                document=document,
                collection=mapping.collection,
                missing=tuple(missing),
                extra=tuple(extra),
                differing=tuple(differing),
                unindexed=tuple(_unindexed(registry, document, existing)),
            )
        )
    return diffs


async def apply_indexes(
    registry: Registry, diffs: Sequence[IndexDiff], *, drop_extra: bool = False
) -> list[str]:
    """Bring each collection's indexes in line with ``diffs``; returns what was done.

    Missing indexes are created; differing ones are dropped and created with the declared
    options (if creating fails, for instance a new unique index over duplicated values, the
    old index is restored and :class:`~mdocument.DocumentException` names it); extra ones are
    dropped only with ``drop_extra``. Each action is one line of the result
    (``created post.author_id_1``).
    """
    done: list[str] = []
    for diff in diffs:
        collection = registry.repository(diff.document).collection
        where = diff.collection
        if drop_extra:
            for spec in diff.extra:
                await registry.store.command({"dropIndexes": where, "index": spec.name})
                done.append(f"dropped {where}.{spec.name}")
        for change in diff.differing:
            await registry.store.command({"dropIndexes": where, "index": change.existing.name})
            try:
                await collection.create_indexes([change.declared.model()])
            except OperationFailure as exc:
                await collection.create_indexes([change.existing.model()])
                message = (exc.details or {}).get("errmsg") or str(exc)
                raise DocumentException(
                    f"{diff.document.__name__}: rebuilding index {change.existing.name!r} of "
                    f"collection {where!r} as {change.declared} failed ({message}); the old "
                    "index was restored",
                    document=diff.document,
                ) from exc
            done.append(f"rebuilt {where}.{change.declared.name}")
        if diff.missing:
            try:
                await collection.create_indexes([spec.model() for spec in diff.missing])
            except OperationFailure as exc:
                message = (exc.details or {}).get("errmsg") or str(exc)
                raise DocumentException(
                    f"{diff.document.__name__}: creating indexes "
                    f"{', '.join(spec.name for spec in diff.missing)} on collection {where!r} "
                    f"failed: {message}",
                    document=diff.document,
                ) from exc
            done.extend(f"created {where}.{spec.name}" for spec in diff.missing)
    return done
