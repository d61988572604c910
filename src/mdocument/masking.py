"""Masking of sensitive values in JSON output, JSON Schema and reprs.

A sensitive field keeps its real value in Python and in the database. It is masked wherever a
value leaves the program as text: JSON serialization (``model_dump(mode="json")``,
``model_dump_json()``, FastAPI responses), ``repr``/``str``, and the messages of mdocument's errors.
``None`` is never masked, so a client can tell "unset" from "set".

Revealing is explicit and local to one call::

    doc.model_dump(mode="json", context={"reveal": True})
    reveal(doc)                       # the same, as a helper
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SerializationInfo, SerializerFunctionWrapHandler

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = ["REVEAL", "SENSITIVE_PLACEHOLDER", "mask_value", "reveal"]

SENSITIVE_PLACEHOLDER = "***"
"""What a sensitive value is replaced with."""

REVEAL: dict[str, Any] = {"reveal": True}
"""Serialization context that shows sensitive values: ``model_dump(mode="json", context=REVEAL)``"""

JsonSchemaExtra = dict[str, Any] | Callable[[dict[str, Any]], None]


def is_revealed(context: Any) -> bool:
    """Whether a serialization context asks for sensitive values."""
    return isinstance(context, dict) and bool(context.get("reveal"))


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


def sensitive_json_schema(extra: JsonSchemaExtra | None) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` for a sensitive field: write-only, no example or default shown."""

    def apply(schema: dict[str, Any]) -> None:
        if isinstance(extra, dict):
            schema.update(extra)
        elif extra is not None:
            extra(schema)
        schema["writeOnly"] = True
        for key in ("examples", "example", "default"):
            schema.pop(key, None)

    return apply


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
    """The JSON-mode dump of ``model`` with sensitive values shown: for this one call only."""
    context = {**(dump_kwargs.pop("context", None) or {}), **REVEAL}
    return model.model_dump(mode="json", context=context, **dump_kwargs)
