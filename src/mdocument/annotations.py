"""Reading field annotations: optional or not, single value or list, and the type inside."""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["Shape", "model_type", "shape_of", "strip_annotated"]

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


def model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a value of this annotation holds (through lists and optionals)."""
    item = shape_of(annotation).item
    if isinstance(item, type) and issubclass(item, BaseModel):
        return item
    return None
