"""Field types as queries see them: constraints left out, list items, mapping values, names.

Query values are validated against a field's type but not its constraints (see
:func:`without_constraints`); writes against both. :mod:`mdocument.paths` builds on these.
"""

from __future__ import annotations

import datetime
import types
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

import annotated_types
import bson
from pydantic import StringConstraints
from pydantic.fields import FieldInfo

from mdocument.annotations import is_class
from mdocument.fields import FieldSpec
from mdocument.masks import SENSITIVE_PLACEHOLDER
from mdocument.types import ObjectId

__all__ = [
    "ANY_TYPES",
    "NO_TYPE",
    "SCALARS",
    "UNION_ORIGINS",
    "declared_type",
    "exact_type",
    "is_operator_document",
    "item_of",
    "mapping_values",
    "shown",
    "type_name",
    "without_constraints",
]

_LIST_ORIGINS: tuple[Any, ...] = (list, tuple, set, frozenset, Collection, Iterable)
UNION_ORIGINS: tuple[Any, ...] = (Union, types.UnionType)
ANY_TYPES: tuple[Any, ...] = (Any, object)
_MAPPING_ORIGINS: tuple[Any, ...] = (dict, Mapping)
NO_TYPE = object()
""""no such type", where None would be ambiguous."""


def declared_type(info: FieldInfo) -> Any:
    """The annotation of a field with all its metadata: what written values must satisfy."""
    if not info.metadata:
        return info.annotation
    annotated: Any = Annotated
    return annotated[tuple([info.annotation, *info.metadata])]


def _loose_metadata(item: Any) -> list[Any]:
    """The metadata of an ``Annotated`` that query values keep (constraints left out)."""
    if isinstance(item, FieldInfo):  # Annotated[str, Field(max_length=3)] inside a type
        return [kept for inner in item.metadata for kept in _loose_metadata(inner)]
    if isinstance(item, StringConstraints):
        if not (item.strip_whitespace or item.to_upper or item.to_lower):
            return []
        transforms = StringConstraints(
            strip_whitespace=item.strip_whitespace,
            to_upper=item.to_upper,
            to_lower=item.to_lower,
        )
        return [transforms]
    if isinstance(item, (annotated_types.BaseMetadata, annotated_types.GroupedMetadata, FieldSpec)):
        return []
    return [item]


def without_constraints(annotation: Any) -> Any:
    """``annotation`` with its constraints removed, at any depth; itself when it has none.

    What query values are validated against: the field's type, not its constraints (``gt=0``,
    ``max_length=3``, ``strict=True``, ``pattern=``...), however they are declared
    (``Field(max_length=3)``, ``Annotated[str, StringConstraints(...)]``, ``conint(gt=0)``, in
    a list or an optional). A query may compare a field with any value of its type (``views >
    -1``; ``name == "too long"`` matches nothing), and values from query strings arrive as
    text. Type-defining metadata (``ObjectId``'s validator, custom validators) and string
    transformations (``to_lower=True``: the stored values were transformed) are kept.
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        kept = [loose for item in metadata for loose in _loose_metadata(item)]
        bare = without_constraints(inner)
        if (
            bare is inner
            and len(kept) == len(metadata)
            and all(a is b for a, b in zip(kept, metadata, strict=True))
        ):
            return annotation
        if not kept:
            return bare
        annotated: Any = Annotated
        return annotated[tuple([bare, *kept])]
    args = get_args(annotation)
    if origin is None or origin is Literal or not args:
        return annotation
    loose = tuple(arg if arg is Ellipsis else without_constraints(arg) for arg in args)
    if all(a is b for a, b in zip(loose, args, strict=True)):
        return annotation
    if origin in UNION_ORIGINS:
        return Union[loose]  # noqa: UP007 - built from a runtime tuple
    try:
        return origin[loose]
    except TypeError:  # a generic that cannot be rebuilt from its origin: keep it whole
        return annotation


def is_operator_document(value: Any) -> bool:
    """Whether a value is a dict with a key starting with ``$``.

    MongoDB reads such a dict as operators wherever ``$eq`` does not wrap it (in ``$in``...).
    """
    return isinstance(value, Mapping) and any(
        isinstance(key, str) and key.startswith("$") for key in cast("Mapping[Any, Any]", value)
    )


def item_of(annotation: Any) -> Any:
    """The element annotation of a list annotation, metadata kept; ``NO_TYPE`` if not a list."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return item_of(get_args(annotation)[0])
    if origin in UNION_ORIGINS:
        for arg in get_args(annotation):
            item = NO_TYPE if arg is type(None) else item_of(arg)
            if item is not NO_TYPE:
                return item
        return NO_TYPE
    if annotation in _LIST_ORIGINS:
        return Any
    if origin in _LIST_ORIGINS:
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return args[0] if args else Any
    return NO_TYPE


# Types whose values pydantic validates into themselves, and the driver encodes as they are.
SCALARS: frozenset[Any] = frozenset(
    {str, int, float, bool, bytes, bson.ObjectId, datetime.datetime, uuid.UUID, type(None)}
)


def exact_type(annotation: Any) -> Any:
    """The class whose instances need no validation for this annotation, or ``None``."""
    if annotation in SCALARS:
        return annotation
    if annotation == ObjectId:  # the validator only converts strings
        return bson.ObjectId
    return None


def mapping_values(annotation: Any) -> Any:
    """The value annotation of a ``dict`` (or ``Any``) annotation; ``NO_TYPE`` otherwise."""
    if annotation in ANY_TYPES or annotation in _MAPPING_ORIGINS:
        return Any
    if get_origin(annotation) in _MAPPING_ORIGINS:
        args = get_args(annotation)
        return args[1] if len(args) == 2 else Any
    return NO_TYPE


def type_name(annotation: Any) -> str:
    """A short readable name of an annotation, for messages."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if is_class(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "").replace("bson.objectid.", "")


def shown(value: Any, sensitive: bool) -> str:
    """A value as a message may show it: masked when sensitive, cut when long."""
    if sensitive:
        return SENSITIVE_PLACEHOLDER
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
