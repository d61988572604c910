"""Masking of sensitive values in JSON output, JSON Schema, reprs and error messages.

A sensitive field keeps its real value in Python and in the database. It is masked wherever a
value leaves the program as text: JSON serialization (``model_dump(mode="json")``,
``model_dump_json()``, FastAPI responses, exports), ``repr``/``str`` (and so log records), and the
messages of mdocument's errors. ``None`` is never masked, so a client can tell "unset" from "set".

Revealing is explicit and local to one call::

    doc.model_dump(mode="json", context={"reveal": True})
    doc.model_dump_json(context=REVEAL)
    reveal(doc)                       # the same as the first line, as a helper

In JSON Schema (and so in OpenAPI) a sensitive field is ``writeOnly`` and shows no example and no
default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, SerializationInfo, SerializerFunctionWrapHandler

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = [
    "REVEAL",
    "SENSITIVE_PLACEHOLDER",
    "hide_sensitive_schema",
    "holds_sensitive",
    "is_revealed",
    "mask_filter",
    "mask_value",
    "reveal",
    "sensitive_path",
]

SENSITIVE_PLACEHOLDER = "***"
"""What a sensitive value is replaced with."""

REVEAL: dict[str, Any] = {"reveal": True}
"""Serialization context that shows sensitive values: ``model_dump(mode="json", context=REVEAL)``"""

JsonSchemaExtra = dict[str, Any] | Callable[[dict[str, Any]], None]

# Filter operators whose operand is a list of filters on the same document.
_LOGICAL = frozenset({"$and", "$or", "$nor"})
# Top-level operators that hold no value of any field.
_HARMLESS = frozenset({"$comment"})
# Path segments that address list elements rather than fields.
_ARRAY_SEGMENT = re.compile(r"^(\d+|\$|\$\[\]|\$\[[A-Za-z][A-Za-z0-9]*\])$")


def is_revealed(context: Any) -> bool:
    """Whether a serialization context asks for sensitive values."""
    return isinstance(context, Mapping) and bool(cast("Mapping[str, Any]", context).get("reveal"))


def mask_value(value: Any) -> Any:
    """The placeholder for a sensitive value; ``None`` stays ``None``."""
    return None if value is None else SENSITIVE_PLACEHOLDER


def mask_serializer(
    value: Any, handler: SerializerFunctionWrapHandler, info: SerializationInfo
) -> Any:
    """Wrap serializer of a sensitive field (JSON mode only; Python mode is the storage form)."""
    if value is None or is_revealed(info.context):
        return handler(value)
    return SENSITIVE_PLACEHOLDER


class SensitiveJsonSchema:
    """The ``json_schema_extra`` of a sensitive field: write-only, no example or default shown.

    A class rather than a closure so that :func:`hide_sensitive_schema` can tell a field that
    has it already. The field's own ``json_schema_extra`` (``extra``) is applied first.
    """

    __slots__ = ("extra",)

    def __init__(self, extra: JsonSchemaExtra | None) -> None:
        self.extra = extra

    def __call__(self, schema: dict[str, Any]) -> None:
        extra = self.extra
        if callable(extra):
            extra(schema)
        elif extra is not None:
            schema.update(extra)
        schema["writeOnly"] = True
        for key in ("examples", "example", "default"):
            schema.pop(key, None)

    def __repr__(self) -> str:
        return f"SensitiveJsonSchema({self.extra!r})"


def sensitive_json_schema(extra: JsonSchemaExtra | None) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` for a sensitive field, wrapping the field's own ``extra``."""
    return extra if isinstance(extra, SensitiveJsonSchema) else SensitiveJsonSchema(extra)


def hide_sensitive_schema(fields: Mapping[str, FieldInfo], sensitive: Iterable[str]) -> bool:
    """Give the ``sensitive`` fields of a model the JSON Schema of a sensitive field.

    ``Field(sensitive=True)`` does this itself; a field made sensitive by its type
    (``Annotated[str, FieldSpec(sensitive=True)] = Field(default=...)``) still carries its
    default and examples, which pydantic writes outside the type's own schema. Returns whether a
    field was changed: the model's schema must then be rebuilt.
    """
    changed = False
    for name in sensitive:
        info = fields.get(name)
        if info is not None and not isinstance(info.json_schema_extra, SensitiveJsonSchema):
            info.json_schema_extra = SensitiveJsonSchema(info.json_schema_extra)
            changed = True
    return changed


def masked_repr_args(
    model: BaseModel, sensitive: frozenset[str]
) -> Iterable[tuple[str | None, Any]]:
    """``__repr_args__`` of a model whose ``sensitive`` fields show as the placeholder."""
    fields: dict[str, FieldInfo] = type(model).__pydantic_fields__
    values = model.__dict__
    for name, info in fields.items():
        if name in sensitive:
            yield name, mask_value(values.get(name))
        elif info.repr and name in values:
            yield name, values[name]


def mask_mapping(data: dict[str, Any], sensitive: Iterable[str]) -> dict[str, Any]:
    """A copy of ``data`` with the values of the ``sensitive`` keys masked."""
    keys = set(sensitive)
    return {key: mask_value(value) if key in keys else value for key, value in data.items()}


def holds_sensitive(model: type[BaseModel]) -> bool:
    """Whether a model has a sensitive field, itself or in the models nested in it."""
    return _holds_sensitive(model, frozenset())


def _holds_sensitive(model: type[BaseModel], seen: frozenset[type[BaseModel]]) -> bool:
    from mdocument.annotations import model_type
    from mdocument.fields import field_spec

    seen = seen | {model}
    for info in model.__pydantic_fields__.values():
        if field_spec(info).sensitive:
            return True
        nested = model_type(info.annotation)
        if nested is not None and nested not in seen and _holds_sensitive(nested, seen):
            return True
    return False


def sensitive_path(model: type[BaseModel], path: str) -> bool:
    """Whether a value at this dotted path of ``model`` may show a sensitive value.

    True when the path passes through a sensitive field (``"email"``, ``"card.number"``), or
    ends on a nested model that holds one (``"card"``: a whole card, number included). The
    path may use stored names (aliases, ``_id``) and list positions (``0``, ``$``, ``$[]``).
    """
    from mdocument.annotations import model_type
    from mdocument.fields import field_spec

    current: type[BaseModel] | None = model
    for segment in path.split("."):
        if current is None:
            return False  # below a dict or a value that is not a model
        if _ARRAY_SEGMENT.match(segment):
            continue
        info = _field_named(current, segment)
        if info is None:
            return False
        if field_spec(info).sensitive:
            return True
        current = model_type(info.annotation)
    return current is not None and holds_sensitive(current)


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


def mask_filter(query: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A copy of a compiled filter on ``model`` that is safe to show in a message.

    The value of every path that may show a sensitive value (see :func:`sensitive_path`) is
    masked, inside ``$and``, ``$or`` and ``$nor`` too. Other top-level operators (``$expr``,
    ``$where``, ``$text``...) may compare any field with anything: their operand is masked
    whole when the model holds a sensitive field.
    """
    shown: dict[str, Any] = {}
    for key, value in query.items():
        if key in _LOGICAL and isinstance(value, (list, tuple)):
            parts: Sequence[Any] = cast("Sequence[Any]", value)
            shown[key] = [
                mask_filter(cast("Mapping[str, Any]", part), model)
                if isinstance(part, Mapping)
                else part
                for part in parts
            ]
        elif key.startswith("$"):
            hidden = key not in _HARMLESS and holds_sensitive(model)
            shown[key] = SENSITIVE_PLACEHOLDER if hidden else value
        else:
            shown[key] = mask_value(value) if sensitive_path(model, key) else value
    return shown


def reveal(model: BaseModel, **dump_kwargs: Any) -> dict[str, Any]:
    """The JSON-mode dump of ``model`` with sensitive values shown: for this one call only.

    Args:
        model: a document or any pydantic model holding documents.
        **dump_kwargs: other arguments of ``model_dump`` (``include``, ``by_alias``, a
            ``context`` to merge with the reveal flag...).
    """
    context: dict[str, Any] = {**(dump_kwargs.pop("context", None) or {}), **REVEAL}
    return model.model_dump(mode="json", context=context, **dump_kwargs)
