"""Where sensitive values are: in models, at paths, inside filters; and masking them there.

The primitives (the placeholder, revealing, the schema of a sensitive value) are in
:mod:`mdocument.masks`; this module walks models (nested models, lists, dicts, unions) to find
the sensitive values a path, a value or a filter holds, and masks exactly those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast, get_args

from pydantic import BaseModel

from mdocument.annotations import is_class
from mdocument.fields import field_spec
from mdocument.masks import (
    REVEAL,
    SENSITIVE_PLACEHOLDER,
    SensitiveJsonSchema,
    SensitiveOutputSchema,
    is_revealed,
    mask_mapping,
    mask_value,
    masked_repr_args,
    output_schema,
    reveal,
)
from mdocument.names import ARRAY_SEGMENT

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = [
    "REVEAL",
    "SENSITIVE_PLACEHOLDER",
    "hide_sensitive_schema",
    "holds_sensitive",
    "is_revealed",
    "mask_at",
    "mask_filter",
    "mask_mapping",
    "mask_value",
    "masked_repr_args",
    "output_schema",
    "reveal",
    "sensitive_path",
]

_LOGICAL = frozenset({"$and", "$or", "$nor"})
# Top-level operators that hold no value of any field.
_HARMLESS = frozenset({"$comment"})


def hide_sensitive_schema(fields: Mapping[str, FieldInfo], sensitive: Iterable[str]) -> bool:
    """Give the ``sensitive`` fields of a model the JSON Schema of a sensitive field.

    ``Field(sensitive=True)`` does part of this itself; a field made sensitive by its type
    (``Annotated[str, FieldSpec(sensitive=True)] = Field(default=...)``) still carries its
    default and examples, which pydantic writes outside the type's own schema. Every sensitive
    field gets :class:`SensitiveOutputSchema` (the response schema that ``"***"`` fits), and so
    do the sensitive fields of the pydantic models nested in these fields, which are rebuilt.
    Returns whether a field was changed: the model's schema must then be rebuilt.
    """
    changed = _hide(fields, sensitive)
    for nested in _nested_models(fields):
        own = nested.__pydantic_fields__
        if _hide(own, [name for name, info in own.items() if field_spec(info).sensitive]):
            nested.model_rebuild(force=True, raise_errors=False)
            changed = True
    return changed


def _hide(fields: Mapping[str, FieldInfo], sensitive: Iterable[str]) -> bool:
    changed = False
    for name in sensitive:
        info = fields.get(name)
        if info is None:
            continue
        if not isinstance(info.json_schema_extra, SensitiveJsonSchema):
            info.json_schema_extra = SensitiveJsonSchema(info.json_schema_extra)
            changed = True
        if not any(isinstance(item, SensitiveOutputSchema) for item in info.metadata):
            info.metadata.append(SensitiveOutputSchema())
            changed = True
    return changed


def _nested_models(fields: Mapping[str, FieldInfo]) -> list[type[BaseModel]]:
    """The pydantic models nested in ``fields``, at any depth (documents' own included)."""
    found: dict[type[BaseModel], None] = {}
    pending = [model for info in fields.values() for model in _models_in(info.annotation)]
    while pending:
        model = pending.pop()
        if model not in found:
            found[model] = None
            for info in model.__pydantic_fields__.values():
                pending.extend(_models_in(info.annotation))
    return list(found)


def holds_sensitive(model: type[BaseModel]) -> bool:
    """Whether a model has a sensitive field, itself or in the models nested in it."""
    return _holds_sensitive(model, frozenset())


def _holds_sensitive(model: type[BaseModel], seen: frozenset[type[BaseModel]]) -> bool:
    seen = seen | {model}
    for info in model.__pydantic_fields__.values():
        if field_spec(info).sensitive:
            return True
        for nested in _models_in(info.annotation):
            if nested not in seen and _holds_sensitive(nested, seen):
                return True
    return False


# The models a value may be an instance (or a stored form) of, at some position of a document.
_Models = tuple[type[BaseModel], ...]


def _models_in(annotation: Any) -> _Models:
    """The pydantic models a value of ``annotation`` may hold.

    At any depth of lists, dicts, unions and ``Annotated``; not inside the models themselves.
    """
    found: dict[type[BaseModel], None] = {}
    pending: list[Any] = [annotation]
    while pending:
        current = pending.pop()
        if is_class(current) and issubclass(current, BaseModel):
            found[current] = None
        else:
            pending.extend(get_args(current))
    return tuple(found)


def _step(models: _Models, segment: str) -> tuple[bool, _Models] | None:
    """Follow a field name (or stored name) from values of ``models``.

    Returns whether the field is sensitive in one of them and the models below it, or ``None``
    when none of them has such a field: the segment is then a dict key, or a union member's
    tag in a validation error's location (``"Card"``, ``"function-after[...]"``).
    """
    fields = [info for model in models if (info := _field_named(model, segment)) is not None]
    if not fields:
        return None
    if any(field_spec(info).sensitive for info in fields):
        return True, ()
    below = {nested: None for info in fields for nested in _models_in(info.annotation)}
    return False, tuple(below)


def _walk(model: type[BaseModel], path: str | Sequence[str | int]) -> tuple[bool, _Models]:
    """Whether ``path`` passes through a sensitive field of ``model``, else the models below.

    ``path`` is dotted, or a validation error's location; the models are those a value at the
    path may be (or hold).
    """
    models: _Models = (model,)
    segments = path.split(".") if isinstance(path, str) else path
    for position, segment in enumerate(segments):
        if isinstance(segment, int) or ARRAY_SEGMENT.match(segment):
            continue  # a list position: the same models
        step = _step(models, segment)
        if step is None:
            if position == 0:
                return False, ()  # not a field of the model: no value of it is there
            continue  # a dict key or a union tag: the same models, conservatively
        sensitive, models = step
        if sensitive:
            return True, ()
    return False, models


def sensitive_path(model: type[BaseModel], path: str) -> bool:
    """Whether a value at this dotted path of ``model`` may show a sensitive value.

    True when the path passes through a sensitive field (``"email"``, ``"card.number"``), or
    ends on a nested model that holds one (``"card"``: a whole card, number included; through
    lists, dicts and unions too). The path may use stored names (aliases, ``_id``) and list
    positions (``0``, ``$``, ``$[]``).
    """
    sensitive, models = _walk(model, path)
    return sensitive or any(holds_sensitive(nested) for nested in models)


def mask_at(model: type[BaseModel], path: str | Sequence[str | int], value: Any) -> Any:
    """A copy of ``value``, found at ``path`` of ``model``, with its sensitive values masked.

    ``path`` is a dotted path of field or stored names, or the ``loc`` of a pydantic
    validation error (list positions, dict keys and union tags included). The value is masked
    whole when the path passes through a sensitive field; otherwise only the sensitive values
    inside it are, at any depth of nested models, lists and dicts: ``{"number": "***",
    "holder": ["Ada"]}``. Models are shown as their stored form (a dict).
    """
    sensitive, models = _walk(model, path)
    return mask_value(value) if sensitive else _mask_inside(value, models)


def _mask_inside(value: Any, models: _Models) -> Any:
    """``value`` with the sensitive values of the ``models`` it may be (or hold) masked."""
    if not models:
        return value  # no model here: nothing below can be declared sensitive
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True, warnings=False)
    if isinstance(value, Mapping):
        shown: dict[Any, Any] = {}
        for key, item in cast("Mapping[Any, Any]", value).items():
            step = _step(models, key) if isinstance(key, str) else None
            if step is None:
                # Not a field: a dict of models keyed by anything, or an unknown key.
                shown[key] = _mask_inside(item, models)
            elif step[0]:
                shown[key] = mask_value(item)
            else:
                shown[key] = _mask_inside(item, step[1])
        return shown
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_mask_inside(item, models) for item in cast("Iterable[Any]", value)]
    return value


def _field_named(model: type[BaseModel], name: str) -> FieldInfo | None:
    fields = model.__pydantic_fields__
    if name in fields:
        return fields[name]
    for info in fields.values():
        if name in (info.serialization_alias, info.alias):
            return info
    if name == "_id":
        return fields.get("id")
    return None


# Operators whose operand is a filter on the elements of a list (of models).
_ELEMENT_FILTERS = frozenset({"$elemMatch"})
# Operators whose operand is a condition on the same value.
_SAME_VALUE = frozenset({"$not"})


def mask_filter(query: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A copy of a compiled filter on ``model`` that is safe to show in a message.

    The value of every path through a sensitive field is masked (``{"email": "***"}``), and so
    are the sensitive values nested in the values of other paths: a whole card compared, a
    ``$in`` list of cards, an ``$elemMatch`` on a list of cards. This holds inside ``$and``,
    ``$or`` and ``$nor`` too. Other top-level operators (``$expr``, ``$where``, ``$text``...)
    may compare any field with anything: their operand is masked whole when the model holds a
    sensitive field.
    """
    return _mask_filter(query, (model,), holds_sensitive(model))


def _mask_filter(query: Mapping[str, Any], models: _Models, secret: bool) -> dict[str, Any]:
    """:func:`mask_filter` on values of ``models``.

    ``secret``: whether they hold a sensitive field (operators that may read any field are
    then masked whole).
    """
    shown: dict[str, Any] = {}
    for key, value in query.items():
        if key in _LOGICAL and isinstance(value, (list, tuple)):
            parts: Sequence[Any] = cast("Sequence[Any]", value)
            shown[key] = [
                _mask_filter(cast("Mapping[str, Any]", part), models, secret)
                if isinstance(part, Mapping)
                else part
                for part in parts
            ]
        elif key.startswith("$"):
            hidden = key not in _HARMLESS and secret
            shown[key] = SENSITIVE_PLACEHOLDER if hidden else value
        else:
            sensitive, below = _walk_all(models, key)
            shown[key] = mask_value(value) if sensitive else _mask_operand(value, below)
    return shown


def _walk_all(models: _Models, path: str) -> tuple[bool, _Models]:
    """:func:`_walk` from values that may be any of ``models``."""
    results = [_walk(model, path) for model in models]
    if any(sensitive for sensitive, _ in results):
        return True, ()
    return False, tuple({nested: None for _, below in results for nested in below})


def _mask_operand(value: Any, models: _Models) -> Any:
    """The operand of a path in a filter, with the sensitive values of ``models`` masked."""
    if not models:
        return value
    if (
        isinstance(value, Mapping)
        and value
        and all(
            isinstance(key, str) and key.startswith("$") for key in cast("Mapping[Any, Any]", value)
        )
    ):
        operators = cast("Mapping[str, Any]", value)
        shown: dict[str, Any] = {}
        for operator, operand in operators.items():
            if operator in _ELEMENT_FILTERS and isinstance(operand, Mapping):
                secret = any(holds_sensitive(model) for model in models)
                element = cast("Mapping[str, Any]", operand)
                if all(key.startswith("$") for key in element):
                    shown[operator] = _mask_operand(element, models)  # {"$gt": ...} on elements
                else:
                    shown[operator] = _mask_filter(element, models, secret)
            elif operator in _SAME_VALUE:
                shown[operator] = _mask_operand(operand, models)
            else:
                shown[operator] = _mask_inside(operand, models)
        return shown
    return _mask_inside(value, models)
