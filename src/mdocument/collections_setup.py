"""What :func:`mdocument.init` creates besides indexes: views and time-series collections.

- A view (``Meta.view_on``, ``Meta.pipeline``, see :mod:`mdocument.kinds`) is created with the
  ``create`` command; its ``$match`` stages may hold field expressions or field names of the
  source class, compiled as in ``QuerySet.aggregate``. When the view exists with the same
  definition it is left alone; with another one it is changed (``collMod``). A view has no
  indexes and takes no part in the relation graph: a relation to or from a view is refused.
- A time-series collection (``Meta.timeseries``) is created with its options when it does not
  exist; an existing collection is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mdocument.exceptions import DocumentException
from mdocument.filters import compile_filter

if TYPE_CHECKING:
    from mdocument.binding import Scope
    from mdocument.kinds import View
    from mdocument.model import DocumentBase

__all__ = ["check_views", "create_collections", "view_pipeline"]


def view_pipeline(view: View) -> list[dict[str, Any]]:
    """The view's stages as sent: ``$match`` filters compiled against the source class."""
    mapping = view.source.__mdocument_mapping__
    stages: list[dict[str, Any]] = []
    for stage in view.pipeline:
        match = stage.get("$match")
        if match is not None and len(stage) == 1:
            stages.append({"$match": compile_filter(mapping, match)})
        else:
            stages.append(dict(stage))
    return stages


def check_views(scope: Scope) -> None:
    """Refuse relations to or from a view: it can be neither a parent nor a child."""
    for document in scope.documents:
        if document.__mdocument_mapping__.view is None:
            continue
        edges = (*scope.graph.outgoing(document), *scope.graph.incoming(document))
        if edges:
            raise DocumentException(
                f"{document.__name__} is a view (Meta.view_on): it cannot take part in a "
                f"relation ({edges[0]}); refer to its source document instead",
                document=document,
            )


async def _existing(scope: Scope, names: list[str]) -> dict[str, dict[str, Any]]:
    reply = await scope.store.command({"listCollections": 1, "filter": {"name": {"$in": names}}})
    batch: list[dict[str, Any]] = reply.get("cursor", {}).get("firstBatch", [])
    return {info["name"]: info for info in batch}


async def _create_view(
    scope: Scope, document: type[DocumentBase], view: View, info: Mapping[str, Any] | None
) -> None:
    name = document.__mdocument_mapping__.collection
    source = view.source.__mdocument_mapping__.collection
    pipeline = view_pipeline(view)
    if info is None:
        await scope.store.command({"create": name, "viewOn": source, "pipeline": pipeline})
        return
    options: Mapping[str, Any] = info.get("options", {})
    if info.get("type") != "view":
        raise DocumentException(
            f"{document.__name__} is a view, but collection {name!r} exists and is not one: "
            "drop it or give the view another Meta.collection",
            document=document,
        )
    if _same(options, source, pipeline):
        return
    await scope.store.command({"collMod": name, "viewOn": source, "pipeline": pipeline})
    changed = (await _existing(scope, [name])).get(name, {})
    if not _same(changed.get("options", {}), source, pipeline):
        # A server that accepts collMod on a view but keeps the old definition (the embedded
        # test server does): a view holds no data, so it is dropped and created again.
        await scope.store.command({"drop": name})
        await scope.store.command({"create": name, "viewOn": source, "pipeline": pipeline})


def _same(options: Mapping[str, Any], source: str, pipeline: list[dict[str, Any]]) -> bool:
    return options.get("viewOn") == source and list(options.get("pipeline", [])) == pipeline


async def create_collections(scope: Scope) -> None:
    """Create the views and the time-series collections of the registered classes."""
    wanted = [
        document
        for document in scope.documents
        if document.__mdocument_mapping__.view or document.__mdocument_mapping__.timeseries
    ]
    if not wanted:
        return
    existing = await _existing(
        scope, [document.__mdocument_mapping__.collection for document in wanted]
    )
    for document in wanted:
        mapping = document.__mdocument_mapping__
        info = existing.get(mapping.collection)
        if mapping.view is not None:
            await _create_view(scope, document, mapping.view, info)
        elif mapping.timeseries is not None and info is None:
            command: dict[str, Any] = {
                "create": mapping.collection,
                "timeseries": mapping.timeseries.options(),
            }
            if mapping.timeseries.expire_after_seconds is not None:
                command["expireAfterSeconds"] = mapping.timeseries.expire_after_seconds
            await scope.store.command(command)
