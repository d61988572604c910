"""Field metadata: :func:`Field`, the relation kinds and the on-delete rules.

``Field`` is a drop-in for :func:`pydantic.Field`: it accepts every pydantic argument and records
mdocument's own metadata (a :class:`FieldSpec`) in the field's ``metadata`` list, where pydantic
keeps it untouched. Nothing here does I/O; :func:`mdocument.init` reads the specs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

import pydantic
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticUndefined, core_schema

from mdocument.exceptions import RelationNotSet
from mdocument.masks import mask_serializer, sensitive_json_schema

__all__ = ["Field", "FieldSpec", "OnDelete", "Relation", "field_spec"]


class Relation(str, Enum):
    """The kind of a relation, seen from the child (the document holding the field)."""

    ONE_TO_ONE = "one_to_one"
    """A single id, unique: one parent has at most one such child."""
    ONE_TO_MANY = "one_to_many"
    """A single id: one parent has many children."""
    MANY_TO_ONE = "many_to_one"
    """A list of ids, unique: a parent sits in the list of at most one child."""
    MANY_TO_MANY = "many_to_many"
    """A list of ids: parents and children on both sides are many."""


class OnDelete(str, Enum):
    """What happens to a child when the parent it refers to is deleted."""

    CASCADE = "cascade"
    """Delete the child (for a list: pull the id, and delete the child once its list is empty)."""
    SET_NULL = "set_null"
    """Set the reference to ``None`` (optional single references only)."""
    PULL = "pull"
    """Pull the id from the list and keep the child, even with an empty list (lists only)."""
    RESTRICT = "restrict"
    """Refuse to delete a parent that still has children."""
    NOTHING = "nothing"
    """Leave the child alone (its reference then dangles)."""


@dataclass(frozen=True)
class FieldSpec:
    """mdocument's metadata of one field, kept in pydantic's ``FieldInfo.metadata``.

    It is also a pydantic annotation: ``Annotated[str, FieldSpec(sensitive=True)]`` masks the
    value in JSON output like ``Field(sensitive=True)`` does.
    """

    unique: bool = False
    sensitive: bool = False
    related: type[Any] | str | None = None
    synced: type[Any] | str | None = None
    relation: Relation | None = None
    on_delete: OnDelete | None = None

    def __post_init__(self) -> None:
        if self.related is not None and self.synced is not None:
            raise RelationNotSet("a field is either related= or synced=, not both")
        # Checked at run time too: a plain string passed as relation= would otherwise be
        # accepted here and misread at init.
        _expect("relation", self.relation, (Relation,), "a mdocument.Relation")
        _expect("on_delete", self.on_delete, (OnDelete,), "a mdocument.OnDelete")
        _expect("related", self.related, (str, type), "a document class or its name")
        _expect("synced", self.synced, (str, type), "a document class or its name")

    @property
    def target(self) -> type[Any] | str | None:
        """The document this field refers to or copies, if any."""
        return self.related if self.related is not None else self.synced

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        schema = handler(source)
        if not self.sensitive:
            return schema
        # The mask wraps the type's own serializer, which still runs when a caller reveals.
        serializer = core_schema.wrap_serializer_function_ser_schema(
            mask_serializer, info_arg=True, schema=schema, when_used="json"
        )
        return cast("core_schema.CoreSchema", {**schema, "serialization": serializer})

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if self.sensitive:
            json_schema = {**json_schema, "writeOnly": True}
            json_schema.pop("examples", None)
        return json_schema


def _expect(name: str, value: object, types: tuple[type[Any], ...], what: str) -> None:
    if value is not None and not isinstance(value, types):
        raise TypeError(f"{name}= takes {what}, not {value!r}")


_EMPTY_SPEC = FieldSpec()


def Field(
    default: Any = PydanticUndefined,
    *,
    unique: bool = False,
    sensitive: bool = False,
    related: type[Any] | str | None = None,
    synced: type[Any] | str | None = None,
    relation: Relation | None = None,
    on_delete: OnDelete | None = None,
    **pydantic_kwargs: Any,
) -> Any:
    """Declare a field: pydantic's ``Field`` plus mdocument's metadata.

    Args:
        default: the default value, as in pydantic (``default_factory=`` works too).
        unique: enforce uniqueness with a unique index created by :func:`mdocument.init`.
        sensitive: mask the value (``"***"``) in JSON output, ``repr`` and error messages, and
            mark it ``writeOnly`` in JSON Schema. The stored value is the real one.
        related: the document (class or class name) whose id this field holds, or ids for a list.
        synced: the document this field holds a denormalized copy of (a ``Synced`` model).
        relation: the relation kind, when it should not follow from the field's shape.
        on_delete: what to do with this document when the referred document is deleted.
        **pydantic_kwargs: any argument of :func:`pydantic.Field`.
    """
    spec = FieldSpec(
        unique=unique,
        sensitive=sensitive,
        related=related,
        synced=synced,
        relation=relation,
        on_delete=on_delete,
    )
    if sensitive:
        # Examples and defaults are written into JSON Schema at the field level, outside the
        # spec's own schema hook: the field's json_schema_extra removes them.
        pydantic_kwargs["json_schema_extra"] = sensitive_json_schema(
            pydantic_kwargs.get("json_schema_extra")
        )
        pydantic_kwargs.setdefault("repr", False)
    info: FieldInfo = pydantic.Field(default, **pydantic_kwargs)
    info.metadata.append(spec)
    return info


def _merge(specs: list[FieldSpec]) -> FieldSpec:
    # Ref[User] = Field(unique=True) gives two specs: one from the type, one from Field().
    merged: dict[str, Any] = {}
    for spec in specs:
        for name in ("unique", "sensitive", "related", "synced", "relation", "on_delete"):
            value = getattr(spec, name)
            if value in (None, False):
                continue
            if merged.get(name, value) != value:
                raise RelationNotSet(
                    f"a field declares {name}={merged[name]!r} and {name}={value!r}; keep one"
                )
            merged[name] = value
    return FieldSpec(**merged)


def field_spec(info: FieldInfo) -> FieldSpec:
    """The mdocument metadata of a pydantic field (an empty spec when it has none)."""
    specs = [item for item in info.metadata if isinstance(item, FieldSpec)]
    if not specs:
        return _EMPTY_SPEC
    return specs[0] if len(specs) == 1 else _merge(specs)
