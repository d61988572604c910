"""Reading field annotations: optional or not, single value or list, and the type inside."""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import bson
from pydantic import BaseModel

__all__ = [
    "Shape",
    "bson_native",
    "immutable",
    "mentions",
    "model_type",
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
    if isinstance(annotation, type):
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


def bson_native(annotation: Any) -> bool:
    """Whether values of ``annotation`` are stored by BSON as they are and read back equal.

    Strings, numbers, booleans, bytes, ObjectIds, datetimes and ``None``, and lists and
    ``dict[str, ...]`` of them. Enums, nested models, ``Decimal``, sets and dates are not.
    """
    annotation = strip_annotated(annotation)
    if annotation in _NATIVE:
        return True
    origin = get_origin(annotation)
    if origin in _UNION_ORIGINS or origin in (list, dict):
        args = get_args(annotation)
        if origin is dict and (not args or args[0] is not str):
            return False
        return bool(args) and all(bson_native(arg) for arg in args[1 if origin is dict else 0 :])
    return False


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
    if isinstance(annotation, type):
        return issubclass(annotation, _IMMUTABLE)
    if get_origin(annotation) in _UNION_ORIGINS:
        return all(immutable(arg) for arg in get_args(annotation))
    return get_origin(annotation) is Literal


def model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a value of this annotation holds (through lists and optionals)."""
    item = shape_of(annotation).item
    if isinstance(item, type) and issubclass(item, BaseModel):
        return item
    return None
