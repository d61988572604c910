"""Masking primitives: the placeholder, revealing, a sensitive value's schema and serializer.

A sensitive field keeps its real value in Python and in the database. It is masked wherever a
value leaves the program as text: JSON serialization (``model_dump(mode="json")``,
``model_dump_json()``, FastAPI responses, exports), ``repr``/``str`` (and so log records), and the
messages of mdocument's errors. ``None`` is never masked, so a client can tell "unset" from "set".

Revealing is explicit and local to one call::

    doc.model_dump(mode="json", context={"reveal": True})
    doc.model_dump_json(context=REVEAL)
    reveal(doc)                       # the same as the first line, as a helper

In JSON Schema (and so in OpenAPI) a sensitive field is ``writeOnly`` and shows no example and no
default; its serialization (response) schema has none of the input's value constraints
(``pattern``, ``format``, lengths, ``enum``), which ``"***"`` would not satisfy.

This module knows nothing of fields or documents; :mod:`mdocument.masking` finds the sensitive
values inside models, paths and filters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, SerializationInfo, SerializerFunctionWrapHandler

if TYPE_CHECKING:
    from pydantic import GetJsonSchemaHandler
    from pydantic.fields import FieldInfo
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

__all__ = [
    "REVEAL",
    "SENSITIVE_PLACEHOLDER",
    "SensitiveJsonSchema",
    "SensitiveOutputSchema",
    "is_revealed",
    "mask_mapping",
    "mask_serializer",
    "mask_value",
    "masked_repr_args",
    "output_schema",
    "reveal",
    "sensitive_json_schema",
]

SENSITIVE_PLACEHOLDER = "***"
"""What a sensitive value is replaced with."""

REVEAL: dict[str, Any] = {"reveal": True}
"""Serialization context that shows sensitive values: ``model_dump(mode="json", context=REVEAL)``"""

JsonSchemaExtra = dict[str, Any] | Callable[[dict[str, Any]], None]

# Filter operators whose operand is a list of filters on the same document.


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
        """Remove what a sensitive value must not show from ``schema``."""
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


# JSON Schema keywords of a value that the placeholder may not satisfy.
_VALUE_CONSTRAINTS = ("pattern", "format", "minLength", "maxLength", "enum", "const")
_ALTERNATIVES = ("anyOf", "oneOf")


def output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a sensitive value as it is serialized: the placeholder fits it.

    A sensitive field serializes as ``"***"`` (or ``None``), so its response schema keeps the
    field's type but none of the value constraints of its input (``pattern``, ``format``,
    ``minLength``, ``maxLength``, ``enum``, ``const``); a field of another type (or a ``$ref``)
    also admits a string.
    """
    loose = _without_constraints(schema)
    if _admits_string(loose):
        return loose
    extra: dict[str, Any] = {
        key: loose.pop(key) for key in ("title", "description", "writeOnly") if key in loose
    }
    return {"anyOf": [loose, {"type": "string"}], **extra}


def _without_constraints(schema: dict[str, Any]) -> dict[str, Any]:
    loose = {key: value for key, value in schema.items() if key not in _VALUE_CONSTRAINTS}
    for key in _ALTERNATIVES:
        options: Any = loose.get(key)
        if isinstance(options, list):
            loose[key] = [
                _without_constraints(cast("dict[str, Any]", option))
                if isinstance(option, dict)
                else option
                for option in cast("list[Any]", options)
            ]
    return loose


def _admits_string(schema: dict[str, Any]) -> bool:
    kind: Any = schema.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        return True
    if (
        "type" not in schema
        and "$ref" not in schema
        and not any(k in schema for k in _ALTERNATIVES)
    ):
        return True  # no type: anything goes
    return any(
        isinstance(option, dict) and _admits_string(cast("dict[str, Any]", option))
        for key in _ALTERNATIVES
        for option in cast("list[Any]", schema.get(key) or [])
    )


class SensitiveOutputSchema:
    """A field annotation: the serialization-mode JSON Schema of a sensitive field.

    Kept in the field's ``metadata`` (pydantic calls its hook with the schema mode): the
    validation schema keeps the input's constraints, the serialization schema (a FastAPI
    response) is :func:`output_schema`, which ``"***"`` fits.
    """

    __slots__ = ()

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if handler.mode == "serialization":
            return output_schema(json_schema)
        return json_schema

    def __repr__(self) -> str:
        return "SensitiveOutputSchema()"


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


def reveal(model: BaseModel, **dump_kwargs: Any) -> dict[str, Any]:
    """The JSON-mode dump of ``model`` with sensitive values shown: for this one call only.

    Args:
        model: a document or any pydantic model holding documents.
        **dump_kwargs: other arguments of ``model_dump`` (``include``, ``by_alias``, a
            ``context`` to merge with the reveal flag...).
    """
    context: dict[str, Any] = {**(dump_kwargs.pop("context", None) or {}), **REVEAL}
    return model.model_dump(mode="json", context=context, **dump_kwargs)
