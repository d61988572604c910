"""Server-side validation: a MongoDB ``$jsonSchema`` validator for each document class.

:func:`json_schema` reads a document class's fields (no I/O) and describes what mdocument stores
for them: BSON types, required fields, nested models, lists, enums, literals and the reference
fields' ``objectId`` values. :func:`apply_validators` installs the validators on the collections
of a registry (``collMod``, or ``create`` for a collection that does not exist yet), with the
``validationLevel`` and ``validationAction`` chosen; :func:`validator_changes` compares them
with what the server holds, without writing. ``init(..., validators=True)`` and
``mdocument validators --apply`` call :func:`apply_validators`.

Once a validator is installed, a write that breaks it, from any program, is refused by the
server (``DocumentValidationFailure``, code 121). On a database already holding documents that
do not conform, start with ``level="moderate"`` (existing non-conforming documents may still be
updated) or ``action="warn"`` (the server only logs), then tighten.

The schema never forbids properties it does not list: mdocument stores hidden fields
(:data:`mdocument.integrity.GUARD_FIELD` in parents, :data:`mdocument.changes.REVISION_FIELD`
with ``Meta.revision = True``), and documents written by an older version of a class may hold
fields it no longer declares. The hidden fields are listed, as integers.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import ipaddress
import pathlib
import types
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union, cast, get_args, get_origin

import bson
from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import Url

from mdocument.annotations import strip_annotated
from mdocument.driver import OperationFailure

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from mdocument.binding import Scope as Registry
    from mdocument.model import DocumentBase as Document

__all__ = [
    "ACTIONS",
    "HIDDEN_FIELDS",
    "LEVELS",
    "ValidationAction",
    "ValidationLevel",
    "ValidatorChange",
    "apply_validators",
    "json_schema",
    "validator",
    "validator_changes",
]

ValidationLevel = Literal["strict", "moderate"]
"""``strict``: every insert and update is validated. ``moderate``: updates of documents that
already do not conform are let through (for a database that held data before the validator)."""
ValidationAction = Literal["error", "warn"]
"""``error``: a non-conforming write is refused (code 121). ``warn``: it is written and logged."""
LEVELS: tuple[ValidationLevel, ...] = ("strict", "moderate")
ACTIONS: tuple[ValidationAction, ...] = ("error", "warn")

_INTEGERS = ["int", "long"]
# pydantic's float fields accept ints and keep them as ints when they are given as such (a value
# `1` may be stored as the BSON int 1): a float field must accept both.
_NUMBERS = ["double", "int", "long"]

HIDDEN_FIELDS: dict[str, dict[str, Any]] = {
    "_mdocument_guard": {"bsonType": _INTEGERS},  # integrity.GUARD_FIELD: a counter in parents
    "_revision": {"bsonType": _INTEGERS},  # changes.REVISION_FIELD: Meta.revision = True
    "_mdocument_deleting": {"bsonType": "objectId"},  # integrity.DELETING_FIELD: chunked deletes
    "_live": {"bsonType": "bool"},  # soft.LIVE_FIELD: Meta.soft_delete = True
    "_deleted_at": {"bsonType": "date"},  # soft.DELETED_AT_FIELD
    "_deletion": {"bsonType": "objectId"},  # soft.DELETION_FIELD
}
"""Fields mdocument writes into stored documents besides the declared ones, and their types."""

_NAMESPACE_NOT_FOUND = 26
_UNION_ORIGINS: tuple[Any, ...] = (Union, types.UnionType)
_LIST_ORIGINS: tuple[Any, ...] = (list, tuple, set, frozenset, Sequence)
# Values the codec stores as strings (see mdocument.codec.fallback_encoder).
_STRINGIFIED: tuple[type[Any], ...] = (
    str,
    SecretStr,
    pathlib.PurePath,
    Url,
    datetime.time,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)
# Checked in this order: bool before int (bool is an int), datetime before date.
_SIMPLE: tuple[tuple[type[Any], str | list[str]], ...] = (
    (bool, "bool"),
    (int, _INTEGERS),
    (float, _NUMBERS),
    (decimal.Decimal, "decimal"),
    (bson.ObjectId, "objectId"),
    (datetime.datetime, "date"),
    (datetime.date, "date"),  # the codec stores a date as midnight UTC
    (datetime.timedelta, _NUMBERS),  # stored as total seconds
    (bytes, "binData"),
    (SecretBytes, "binData"),
    (uuid.UUID, "binData"),
    (bson.Decimal128, "decimal"),
    (bson.Regex, "regex"),
    (bson.Int64, "long"),
)


def _stored_name(name: str, info: FieldInfo) -> str:
    # As the codec dumps documents: by serialization alias, else alias.
    return info.serialization_alias or info.alias or name


def _type_names(schema: Mapping[str, Any]) -> list[str]:
    value: str | list[str] = schema["bsonType"]
    return list(value) if isinstance(value, list) else [value]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` also admitting ``null`` (an ``Optional`` field, stored as ``None``)."""
    if not schema:
        return schema  # anything goes already
    if {"bsonType": "null"} in schema.get("anyOf", []):
        return schema
    if set(schema) == {"bsonType"}:
        names = _type_names(schema)
        return {"bsonType": [*names, "null"] if "null" not in names else names}
    if set(schema) == {"enum"}:
        values = cast("list[Any]", schema["enum"])
        return {"enum": [*values, None] if None not in values else values}
    return {"anyOf": [schema, {"bsonType": "null"}]}


def _union(options: list[dict[str, Any]]) -> dict[str, Any]:
    if any(not option for option in options):
        return {}  # one of them admits anything
    if all(set(option) == {"bsonType"} for option in options):
        names: list[str] = []
        for option in options:
            names.extend(name for name in _type_names(option) if name not in names)
        return {"bsonType": names[0] if len(names) == 1 else names}
    if all(set(option) == {"enum"} for option in options):
        return {"enum": [value for option in options for value in option["enum"]]}
    return {"anyOf": options}


def _enum_values(values: Sequence[Any]) -> dict[str, Any]:
    # Stored as their values (mdocument.codec); a str-mixin enum's value is its str.
    return {"enum": [value.value if isinstance(value, enum.Enum) else value for value in values]}


def _annotation_schema(annotation: Any, seen: frozenset[type[BaseModel]]) -> dict[str, Any]:
    """The ``$jsonSchema`` of the stored values of ``annotation`` (``{}``: anything)."""
    annotation = strip_annotated(annotation)
    if annotation is None or annotation is type(None):
        return {"bsonType": "null"}
    origin = get_origin(annotation)
    if origin is Literal:
        return _enum_values(get_args(annotation))
    if origin in _UNION_ORIGINS:
        args = get_args(annotation)
        options = [_annotation_schema(arg, seen) for arg in args if arg is not type(None)]
        schema = options[0] if len(options) == 1 else _union(options)
        return _nullable(schema) if type(None) in args else schema
    if annotation in _LIST_ORIGINS or origin in _LIST_ORIGINS or annotation is dict:
        return _container_schema(annotation, origin, seen)
    if origin in (dict, Mapping):
        return _container_schema(annotation, origin, seen)
    if not isinstance(annotation, type):
        return {}  # Any, a TypeVar, a NewType...: nothing to say
    return _class_schema(annotation, seen)


def _container_schema(
    annotation: Any, origin: Any, seen: frozenset[type[BaseModel]]
) -> dict[str, Any]:
    """A list, tuple, set (BSON arrays) or dict (a BSON object with free keys)."""
    args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
    if annotation is dict or origin in (dict, Mapping):
        values = _annotation_schema(args[1], seen) if len(args) == 2 else {}
        schema: dict[str, Any] = {"bsonType": "object"}
        if values:
            schema["additionalProperties"] = values
        return schema
    # tuple[int, str] holds one type per position: its items are left unchecked.
    if origin is tuple and len(args) > 1:
        return {"bsonType": "array"}
    items = _annotation_schema(args[0], seen) if args else {}
    return {"bsonType": "array", "items": items} if items else {"bsonType": "array"}


def _class_schema(annotation: type[Any], seen: frozenset[type[BaseModel]]) -> dict[str, Any]:
    """An enum, a nested model, or a simple type."""
    if issubclass(annotation, enum.Enum):
        return _enum_values(list(annotation))
    if issubclass(annotation, BaseModel):
        if annotation in seen:  # a recursive model: its own schema already says it
            return {"bsonType": "object"}
        return _model_schema(annotation, seen | {annotation})
    for python_type, bson_type in _SIMPLE:
        if issubclass(annotation, python_type):
            return {"bsonType": bson_type}
    if issubclass(annotation, _STRINGIFIED):
        return {"bsonType": "string"}
    return {}  # a type the codec hands to the driver as it is: not constrained here


def _model_schema(model: type[BaseModel], seen: frozenset[type[BaseModel]]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, info in model.__pydantic_fields__.items():
        stored = _stored_name(name, info)
        schema = _annotation_schema(info.annotation, seen)
        if info.is_required():
            required.append(stored)
        elif info.default is None:
            schema = _nullable(schema)  # `x: str = None`: pydantic stores the default unchecked
        properties[stored] = schema
    result: dict[str, Any] = {"bsonType": "object", "properties": properties}
    if required:
        result["required"] = required
    return result


def json_schema(document: type[Document]) -> dict[str, Any]:
    """The ``$jsonSchema`` of a document class's stored documents (no I/O).

    Every declared field is described by its stored name; fields without a default are
    required (``_id`` always). Nested models, lists, dicts, optionals (``null`` allowed),
    enums and literals are followed. Types: ``str`` (sensitive or not) ``string``, ``int``
    ``int``/``long``, ``float`` ``double``/``int``/``long``, ``Decimal`` ``decimal``,
    datetimes and dates ``date``, ``ObjectId`` (references too) ``objectId``, ``bytes`` and
    ``UUID`` ``binData``. Other properties are allowed (see :data:`HIDDEN_FIELDS`).
    """
    mapping = document.__mdocument_mapping__
    schema = _model_schema(document, frozenset({document}))
    properties: dict[str, Any] = {}
    required: list[str] = ["_id"]
    for name, field in mapping.fields.items():
        stored = field.stored
        value = schema["properties"].pop(_stored_name(name, field.info))
        properties[stored] = value
        if field.info.is_required() and stored not in required:
            required.append(stored)
    properties.update(HIDDEN_FIELDS)
    return {
        "bsonType": "object",
        "title": document.__name__,
        "required": required,
        "properties": properties,
    }


def validator(document: type[Document]) -> dict[str, Any]:
    """The collection validator of a document class: ``{"$jsonSchema": json_schema(...)}``."""
    return {"$jsonSchema": json_schema(document)}


@dataclass(frozen=True)
class ValidatorChange:
    """One collection's validator: what the server holds and what the class asks for."""

    document: type[Document]
    collection: str
    wanted: dict[str, Any]
    """The generated validator (``{"$jsonSchema": ...}``)."""
    current: dict[str, Any] | None
    """The collection's validator on the server; ``None``: none, or no collection yet."""
    level: str | None
    """The collection's ``validationLevel`` on the server (``None``: no collection)."""
    action: str | None
    """The collection's ``validationAction`` on the server (``None``: no collection)."""
    exists: bool
    """Whether the collection exists."""

    def differs(self, level: str = "strict", action: str = "error") -> bool:
        """Whether applying with this level and action would change anything."""
        return (
            not self.exists
            or _normalized(self.current) != _normalized(self.wanted)
            or self.level != level
            or self.action != action
        )


def _normalized(value: Any) -> Any:
    # The server may give numbers back as floats and lists of one type as they were sent:
    # compare structure and values only.
    if isinstance(value, Mapping):
        items = cast("Mapping[str, Any]", value).items()
        return {key: _normalized(item) for key, item in items}
    if isinstance(value, (list, tuple)):
        return [_normalized(item) for item in cast("Sequence[Any]", value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


async def _collection_info(registry: Registry, name: str) -> dict[str, Any] | None:
    reply = await registry.store.command({"listCollections": 1, "filter": {"name": name}})
    batch: list[dict[str, Any]] = reply.get("cursor", {}).get("firstBatch", [])
    return batch[0] if batch else None


async def validator_changes(
    registry: Registry, documents: Sequence[type[Document]] | None = None
) -> list[ValidatorChange]:
    """Each registered collection's validator, as held by the server and as generated.

    One ``listCollections`` per collection; nothing is written.
    """
    changes: list[ValidatorChange] = []
    for document in documents or registry.documents:
        if document.__mdocument_mapping__.view is not None:
            continue  # a view holds no documents of its own
        collection = document.__mdocument_mapping__.collection
        info = await _collection_info(registry, collection)
        options: dict[str, Any] = (info or {}).get("options", {})
        changes.append(
            ValidatorChange(
                document=document,
                collection=collection,
                wanted=validator(document),
                current=options.get("validator"),
                level=options.get("validationLevel", "strict") if info else None,
                action=options.get("validationAction", "error") if info else None,
                exists=info is not None,
            )
        )
    return changes


async def apply_validators(
    registry: Registry,
    *,
    level: ValidationLevel = "strict",
    action: ValidationAction = "error",
    documents: Sequence[type[Document]] | None = None,
) -> list[ValidatorChange]:
    """Install the generated validator on each collection of ``registry``.

    Existing collections get ``collMod``; missing ones are created with their validator.
    Collections whose validator, level and action are already the wanted ones are left alone.
    Returns the collections that changed. Existing documents are not checked: a non-conforming
    one is refused on its next write (``strict``), or let through (``moderate``).

    Args:
        registry: the registry of :func:`mdocument.init`.
        level: ``"strict"`` or ``"moderate"`` (see :data:`ValidationLevel`).
        action: ``"error"`` or ``"warn"`` (see :data:`ValidationAction`).
        documents: only these registered classes (default: all of them).
    """
    if level not in LEVELS:
        raise ValueError(f"validation level is one of {', '.join(LEVELS)}, not {level!r}")
    if action not in ACTIONS:
        raise ValueError(f"validation action is one of {', '.join(ACTIONS)}, not {action!r}")
    changed: list[ValidatorChange] = []
    for change in await validator_changes(registry, documents):
        if not change.differs(level, action):
            continue
        options = {
            "validator": change.wanted,
            "validationLevel": level,
            "validationAction": action,
        }
        if change.exists:
            try:
                await registry.store.command({"collMod": change.collection, **options})
            except OperationFailure as exc:
                # Dropped between listCollections and collMod: create it instead.
                if exc.code != _NAMESPACE_NOT_FOUND:
                    raise
                await registry.store.command({"create": change.collection, **options})
        else:
            await registry.store.command({"create": change.collection, **options})
        changed.append(change)
    return changed
