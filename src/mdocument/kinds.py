"""Collections that are not plain: views (``Meta.view_on``) and time series (``Meta.timeseries``).

Read from a class's ``Meta`` when the class is declared, with no I/O::

    class Reading(Document):
        at: datetime
        sensor: str
        value: float

        class Meta:
            timeseries = {"time_field": "at", "meta_field": "sensor", "granularity": "seconds"}

    class ActiveUser(Document):
        name: str

        class Meta:
            view_on = User
            pipeline = [{"$match": {"active": True}}, {"$project": {"name": 1}}]

:func:`mdocument.init` creates them (see :mod:`mdocument.collections_setup`). A view is read
only: its class refuses every write with :class:`~mdocument.ReadOnlyDocument`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from mdocument.exceptions import DocumentException, ReadOnlyDocument

__all__ = ["TimeSeries", "View", "refuse_write", "time_series_of", "view_of"]

_GRANULARITIES = ("seconds", "minutes", "hours")
_TIMESERIES_KEYS = frozenset({"time_field", "meta_field", "granularity", "expire_after_seconds"})


@dataclass(frozen=True)
class View:
    """``Meta.view_on`` and ``Meta.pipeline``: the source class and the stages, as declared."""

    source: type[Any]
    pipeline: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class TimeSeries:
    """``Meta.timeseries``, with stored names."""

    time_field: str
    meta_field: str | None = None
    granularity: str | None = None
    expire_after_seconds: int | None = None

    def options(self) -> dict[str, Any]:
        """The ``timeseries`` option of the ``create`` command."""
        options: dict[str, Any] = {"timeField": self.time_field}
        if self.meta_field is not None:
            options["metaField"] = self.meta_field
        if self.granularity is not None:
            options["granularity"] = self.granularity
        return options


def view_of(document: type[Any], meta: Any) -> View | None:
    """The view a class declares in its ``Meta``, if any."""
    source = getattr(meta, "view_on", None)
    if source is None:
        if getattr(meta, "pipeline", None) is not None:
            raise DocumentException(
                f"{document.__name__}.Meta.pipeline needs Meta.view_on (the source document)",
                document=document,
            )
        return None
    if not (isinstance(source, type) and hasattr(source, "__mdocument_mapping__")):
        raise DocumentException(
            f"{document.__name__}.Meta.view_on is {source!r}, not a Document class",
            document=document,
        )
    stages: object = getattr(meta, "pipeline", None) or []
    if not isinstance(stages, (list, tuple)) or not all(
        isinstance(stage, Mapping) for stage in cast("Sequence[object]", stages)
    ):
        raise DocumentException(
            f"{document.__name__}.Meta.pipeline is a list of stages (dicts), not {stages!r}",
            document=document,
        )
    return View(source, tuple(cast("Sequence[Mapping[str, Any]]", stages)))


def time_series_of(
    document: type[Any], meta: Any, stored_path: Callable[[str], str]
) -> TimeSeries | None:
    """The time-series options a class declares in its ``Meta``, if any.

    Field names are checked (``stored_path`` raises :class:`~mdocument.UnknownModelField`) and
    translated into stored names.
    """
    declared: object = getattr(meta, "timeseries", None)
    if declared is None:
        return None
    if not isinstance(declared, Mapping):
        raise DocumentException(
            f"{document.__name__}.Meta.timeseries is a dict, not {declared!r}", document=document
        )
    options = cast("Mapping[str, Any]", declared)
    unknown = sorted(set(options) - _TIMESERIES_KEYS)
    if unknown or "time_field" not in options:
        raise DocumentException(
            f"{document.__name__}.Meta.timeseries takes time_field (required), meta_field, "
            f"granularity and expire_after_seconds; got {sorted(options)}",
            document=document,
        )
    granularity = options.get("granularity")
    if granularity is not None and granularity not in _GRANULARITIES:
        raise DocumentException(
            f"{document.__name__}.Meta.timeseries granularity is one of "
            f"{', '.join(_GRANULARITIES)}, not {granularity!r}",
            document=document,
        )
    meta_field = options.get("meta_field")
    return TimeSeries(
        time_field=stored_path(str(options["time_field"])),
        meta_field=None if meta_field is None else stored_path(str(meta_field)),
        granularity=granularity,
        expire_after_seconds=options.get("expire_after_seconds"),
    )


def refuse_write(document: type[Any], action: str) -> None:
    """Raise :class:`~mdocument.ReadOnlyDocument` when ``document`` is a view."""
    view: View | None = getattr(getattr(document, "__mdocument_mapping__", None), "view", None)
    if view is not None:
        raise ReadOnlyDocument(
            f"{document.__name__} is a view on {view.source.__name__} (Meta.view_on): it is "
            f"read only, {action} was refused and nothing was sent",
            document=document,
        )
