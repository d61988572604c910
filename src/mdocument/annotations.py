"""Reading field annotations: optional or not, single value or list, and the type inside."""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    TypeGuard,
    Union,
    cast,
    get_args,
    get_origin,
)

import bson
from pydantic import BaseModel
from pydantic_core import PydanticCustomError, core_schema

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler

__all__ = [
    "NAIVE_DATETIME",
    "Shape",
    "immutable",
    "mentions",
    "model_type",
    "naive_datetime_at",
    "refuse_naive_datetimes",
    "shape_of",
    "strip_annotated",
]

_LIST_ORIGINS = (list, tuple, set, frozenset, Sequence)
_UNION_ORIGINS: tuple[Any, ...] = (Union, types.UnionType)


@dataclass(frozen=True)
class Shape:
    """What a field's annotation says about its values."""

    item: Any
    """The type of one value (the element type for a list)."""
    many: bool
    """Whether the field holds a list (or tuple or set) of values."""
    optional: bool
    """Whether ``None`` is allowed."""


def is_class(annotation: Any) -> TypeGuard[type[Any]]:
    """Whether an annotation is a plain class (``list[int]`` is not: it is one on Python 3.10)."""
    return isinstance(annotation, type) and get_origin(annotation) is None


def strip_annotated(annotation: Any) -> Any:
    """The type inside ``Annotated[...]`` layers."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _without_none(annotation: Any) -> tuple[Any, bool]:
    annotation = strip_annotated(annotation)
    if get_origin(annotation) in _UNION_ORIGINS:
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        optional = len(args) < len(get_args(annotation))
        if len(args) == 1:
            return strip_annotated(args[0]), optional
        return Union[tuple(args)], optional  # noqa: UP007 - built from a runtime tuple
    return annotation, False


def shape_of(annotation: Any) -> Shape:
    """The :class:`Shape` of an annotation: ``list[ObjectId] | None`` is a list, optional."""
    inner, optional = _without_none(annotation)
    origin = get_origin(inner)
    if inner in _LIST_ORIGINS or origin in _LIST_ORIGINS:
        args = [arg for arg in get_args(inner) if arg is not Ellipsis]
        item = _without_none(args[0])[0] if args else Any
        return Shape(item=item, many=True, optional=optional)
    return Shape(item=inner, many=False, optional=optional)


def mentions(annotation: Any, wanted: type[Any], seen: set[type[BaseModel]] | None = None) -> bool:
    """Whether a value of ``annotation`` may hold a ``wanted``.

    Looks through containers, unions and nested models.
    """
    annotation = strip_annotated(annotation)
    if is_class(annotation):
        if issubclass(annotation, wanted):
            return True
        if issubclass(annotation, BaseModel):
            seen = set() if seen is None else seen
            if annotation in seen:
                return False
            seen.add(annotation)
            return any(
                mentions(info.annotation, wanted, seen)
                for info in annotation.__pydantic_fields__.values()
            )
        return False
    return any(mentions(arg, wanted, seen) for arg in get_args(annotation))


_NATIVE = (str, int, float, bool, bytes, bson.ObjectId, datetime.datetime, type(None))


_IMMUTABLE = (
    *_NATIVE,
    decimal.Decimal,
    uuid.UUID,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    enum.Enum,
)


def immutable(annotation: Any) -> bool:
    """Whether values of ``annotation`` cannot change in place (no list, dict, set or model).

    Such a field changes only by assignment, which ``validate_assignment`` validates.
    """
    annotation = strip_annotated(annotation)
    if is_class(annotation):
        return issubclass(annotation, _IMMUTABLE)
    if get_origin(annotation) in _UNION_ORIGINS:
        return all(immutable(arg) for arg in get_args(annotation))
    return get_origin(annotation) is Literal


def model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a value of this annotation holds (through lists and optionals)."""
    item = shape_of(annotation).item
    if is_class(item) and issubclass(item, BaseModel):
        return item
    return None


# -- naive datetimes ------------------------------------------------------------------------------

NAIVE_DATETIME = (
    "a naive datetime (no tzinfo) would be stored as if it were UTC; use an aware datetime, "
    "e.g. datetime.now(timezone.utc) or value.replace(tzinfo=...)"
)
"""Why a naive ``datetime`` is refused, and the fix: the text of every such error."""

# Marks the schemas built here, so that a schema walked twice is not wrapped twice.
_MARK = "mdocument_aware"


@cache
def _datetime_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model that may hold a ``datetime`` (in a list, a nested model...)."""
    return tuple(
        name
        for name, info in model.__pydantic_fields__.items()
        if mentions(info.annotation, datetime.datetime)
    )


def naive_datetime_at(value: Any) -> str | None:
    """Where ``value`` holds a naive ``datetime``: ``""`` (itself), ``"moved"``, ``"0.at"``...

    ``None`` when it holds none. Looks into lists, dicts and the datetime fields of models.
    """
    if isinstance(value, datetime.datetime):
        return "" if value.utcoffset() is None else None
    items: Any
    if isinstance(value, BaseModel):
        items = ((name, getattr(value, name, None)) for name in _datetime_fields(type(value)))
    elif isinstance(value, dict):
        items = cast("dict[Any, Any]", value).items()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = enumerate(cast("list[Any]", value))
    else:
        return None
    for key, item in items:
        where = naive_datetime_at(item)
        if where is not None:
            return f"{key}.{where}" if where else str(key)
    return None


def _refuse_naive_model(value: Any) -> Any:
    where = naive_datetime_at(value)
    if where is not None:
        raise PydanticCustomError(
            "naive_datetime", "at {where}: " + NAIVE_DATETIME, {"where": where}
        )
    return value


def refuse_naive_datetimes(
    schema: core_schema.CoreSchema, handler: GetCoreSchemaHandler
) -> core_schema.CoreSchema:
    """A model's core schema that refuses naive datetimes, with :data:`NAIVE_DATETIME`.

    Datetime fields (in lists, unions, dicts) are checked by pydantic-core itself: a second,
    timezone-aware step whose only possible error is the missing timezone. Nested models keep
    their own validators (pydantic-core reuses them, and a model instance is not validated
    again): they get a check of their datetime fields after validation, only when they have
    such fields. The document's JSON Schema is unchanged.
    """
    if schema.get("type") != "model":
        walked: core_schema.CoreSchema = _walk(schema, handler, frozenset())
        return walked
    model = cast("core_schema.ModelSchema", schema)
    return cast(
        "core_schema.CoreSchema", {**model, "schema": _walk(model["schema"], handler, frozenset())}
    )


def _marked(schema: dict[str, Any]) -> bool:
    metadata = schema.get("metadata")
    return isinstance(metadata, dict) and _MARK in metadata


def _walk(schema: Any, handler: GetCoreSchemaHandler, refs: frozenset[str]) -> Any:
    """``schema`` with naive datetimes refused; the same object when nothing changes."""
    if isinstance(schema, list):
        items = cast("list[Any]", schema)
        walked = [_walk(item, handler, refs) for item in items]
        return items if all(a is b for a, b in zip(walked, items, strict=True)) else walked
    if not isinstance(schema, dict):
        return schema
    node = cast("dict[str, Any]", schema)
    kind = node.get("type")
    if _marked(node):
        return node
    if kind == "datetime":
        if "tz_constraint" in node or "ref" in node:
            return node  # already constrained, or shared by reference
        aware = core_schema.custom_error_schema(
            core_schema.datetime_schema(tz_constraint="aware"),
            custom_error_type="naive_datetime",
            custom_error_message=NAIVE_DATETIME,
        )
        chain: dict[str, Any] = {
            "type": "chain",
            "steps": [node, aware],
            "metadata": {_MARK: True},
        }
        if "serialization" in node:
            chain["serialization"] = node["serialization"]
        return chain
    if kind in ("model", "definition-ref"):
        target = node
        if kind == "definition-ref":
            reference = node["schema_ref"]
            if reference in refs:
                return node
            refs = refs | {reference}
            target = cast("dict[str, Any]", handler.resolve_ref_schema(cast("Any", node)))
        model = target.get("cls")
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return _walk_keys(node, handler, refs) if kind == "model" else node
        if not _datetime_fields(model):
            return node
        wrapped = core_schema.no_info_after_validator_function(
            _refuse_naive_model, cast("Any", node), metadata={_MARK: True}
        )
        return wrapped
    return _walk_keys(node, handler, refs)


def _walk_keys(
    node: dict[str, Any], handler: GetCoreSchemaHandler, refs: frozenset[str]
) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("serialization", "metadata"):
            continue  # serializers and JSON Schema data: nothing validated there
        walked = _walk(value, handler, refs)
        if walked is not value:
            changed[key] = walked
    return {**node, **changed} if changed else node
