"""Delete previews: what a delete and its cascades would do, read without writing anything.

:func:`preview_delete` builds the same plan a delete runs (:func:`mdocument.cascade.plan_delete`),
with ``RESTRICT`` edges recorded instead of raised, then counts what each of its writes would
touch. Counts follow the order the writes run in: a document an earlier write of the plan
deletes is not counted again by a later one, so the counts are the ones the delete itself
reports (as long as nothing else writes in between). It also reads the child collections'
indexes and reports the edges whose cascade would scan a collection.

Every command it sends is a read: ``find``, ``aggregate`` (``count_documents``) and
``listIndexes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mdocument.cascade import plan_delete
from mdocument.fields import OnDelete

if TYPE_CHECKING:
    from mdocument.binding import Scope as Registry
    from mdocument.cascade import DeletePlan
    from mdocument.driver import Session
    from mdocument.graph import Edge
    from mdocument.model import DocumentBase as Document

__all__ = ["DeletePreview", "IndexUse", "Operation", "PlannedStep", "Restriction", "preview_delete"]

Operation = Literal["delete", "set_null", "pull"]
"""What a step does to the documents it matches."""

_SAMPLE = 5


@dataclass(frozen=True)
class PlannedStep:
    """One write of the delete, per edge and level (level 0: the deleted documents)."""

    level: int
    operation: Operation
    collection: str
    edge: str | None
    """The edge whose rule the step applies (``Post.author_id``); ``None`` at level 0."""
    count: int
    """How many documents the write would delete or change."""

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON-ready data."""
        return {
            "level": self.level,
            "operation": self.operation,
            "collection": self.collection,
            "edge": self.edge,
            "count": self.count,
        }


@dataclass(frozen=True)
class Restriction:
    """A ``RESTRICT`` edge whose children refuse the delete; the real delete raises."""

    edge: str
    collection: str
    """The blocking children's collection."""
    count: int
    sample: list[Any]
    """Up to five ids of blocking children."""

    def to_dict(self) -> dict[str, Any]:
        """The restriction as JSON-ready data (ids as strings)."""
        return {
            "edge": self.edge,
            "collection": self.collection,
            "count": self.count,
            "sample": [str(item) for item in self.sample],
        }


@dataclass(frozen=True)
class IndexUse:
    """The index a cascade's reads and writes rely on: the edge's id path in the child."""

    edge: str
    collection: str
    path: str
    index: str | None
    """The name of an index whose first key is ``path``; ``None`` when there is none."""

    @property
    def missing(self) -> bool:
        """Whether no index serves the edge (its cascade scans the collection)."""
        return self.index is None

    def to_dict(self) -> dict[str, Any]:
        """The index use as JSON-ready data."""
        return {
            "edge": self.edge,
            "collection": self.collection,
            "path": self.path,
            "index": self.index,
            "missing": self.missing,
        }


@dataclass(frozen=True)
class DeletePreview:
    """What a delete would do, step by step, without having done any of it.

    ``refused`` lists the ``RESTRICT`` edges that would make the delete raise
    ``DeleteRestricted`` (empty when the delete is allowed); ``steps`` are its writes by level,
    ``indexes`` the indexes its edges rely on.
    """

    steps: list[PlannedStep]
    refused: list[Restriction] = field(default_factory=lambda: [])
    indexes: list[IndexUse] = field(default_factory=lambda: [])

    @property
    def total(self) -> int:
        """How many documents the delete would delete or change, over every step."""
        return sum(step.count for step in self.steps)

    @property
    def allowed(self) -> bool:
        """Whether the delete would run (no ``RESTRICT`` edge refuses it)."""
        return not self.refused

    @property
    def deletes(self) -> dict[str, int]:
        """Collection → number of documents deleted, the deleted documents' own included."""
        return self._by_collection("delete")

    @property
    def updates(self) -> dict[str, int]:
        """Collection → number of changes (``set_null`` and ``pull``) to its documents."""
        return self._by_collection("set_null", "pull")

    @property
    def missing_indexes(self) -> list[IndexUse]:
        """The edges no index serves."""
        return [use for use in self.indexes if use.missing]

    def _by_collection(self, *operations: Operation) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in self.steps:
            if step.operation in operations and step.count:
                counts[step.collection] = counts.get(step.collection, 0) + step.count
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The preview as JSON-ready data."""
        return {
            "allowed": self.allowed,
            "total": self.total,
            "steps": [step.to_dict() for step in self.steps],
            "refused": [restriction.to_dict() for restriction in self.refused],
            "indexes": [use.to_dict() for use in self.indexes],
        }

    def __str__(self) -> str:
        rows = [("level", "operation", "collection", "edge", "count")]
        rows += [
            (str(s.level), s.operation, s.collection, s.edge or "-", str(s.count))
            for s in self.steps
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(5)]
        lines = [
            "  ".join(
                cell.rjust(w) if i == 4 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        lines.append(f"total: {self.total}")
        for restriction in self.refused:
            shown = ", ".join(str(item) for item in restriction.sample)
            lines.append(
                f"REFUSED by {restriction.edge} (RESTRICT): "
                f"{restriction.count} in {restriction.collection}: {shown}"
            )
        lines.extend(
            f"missing index: {use.collection}.{use.path} (for {use.edge})"
            for use in self.missing_indexes
        )
        return "\n".join(lines)


def _operation(update: dict[str, Any] | None) -> Operation:
    if update is None:
        return "delete"
    return "set_null" if "$set" in update else "pull"


async def _steps(plan: DeletePlan, session: Session | None) -> list[PlannedStep]:
    """Count each write in execution order, leaving out what the plan deleted before it."""
    counts: dict[int, int] = {}
    deleted_before: dict[str, list[dict[str, Any]]] = {}
    for write in plan.writes:
        earlier = deleted_before.setdefault(write.collection.name, [])
        filter = {"$and": [write.filter, {"$nor": list(earlier)}]} if earlier else write.filter
        counts[id(write)] = await write.collection.count_documents(filter, session=session)
        if write.update is None:
            earlier.append(write.filter)
    merged: dict[tuple[int, Operation, str, str | None], int] = {}
    for level, planned in enumerate(plan.levels):
        for write in [*planned.deletes, *planned.updates]:
            label = write.edge.label if write.edge is not None else None
            key = (level, _operation(write.update), write.collection.name, label)
            merged[key] = merged.get(key, 0) + counts[id(write)]
    return [
        PlannedStep(level, operation, collection, label, count)
        for (level, operation, collection, label), count in merged.items()
    ]


async def _indexes(registry: Registry, plan: DeletePlan) -> list[IndexUse]:
    """The id path index of every edge the plan followed, found or not."""
    edges: dict[str, Edge] = {}
    for document, ids in plan.deleting.items():
        if ids:
            for edge in registry.graph.incoming(document):
                if edge.on_delete is not OnDelete.NOTHING:
                    edges.setdefault(edge.label, edge)
    information: dict[str, dict[str, Any]] = {}
    uses: list[IndexUse] = []
    for label, edge in edges.items():
        collection = registry.repository(edge.child).collection
        if collection.name not in information:
            information[collection.name] = await collection.index_information()
        serving = [
            name
            for name, index in information[collection.name].items()
            if index["key"] and index["key"][0][0] == edge.id_path
        ]
        uses.append(IndexUse(label, collection.name, edge.id_path, min(serving, default=None)))
    return uses


async def preview_delete(
    registry: Registry,
    document_class: type[Document],
    ids: Sequence[Any],
    session: Session | None,
) -> DeletePreview:
    """What deleting the ``document_class`` documents with ``ids`` would do; writes nothing."""
    plan = await plan_delete(registry, {document_class: list(ids)}, session, refuse=False)
    refused = [
        Restriction(
            refusal.edge.label,
            registry.repository(refusal.edge.child).collection.name,
            refusal.count,
            refusal.sample[:_SAMPLE],
        )
        for refusal in plan.refusals
    ]
    return DeletePreview(await _steps(plan, session), refused, await _indexes(registry, plan))
