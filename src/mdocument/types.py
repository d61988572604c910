"""Pydantic-aware BSON types.

``bson.ObjectId`` is not a type pydantic knows. ``mdocument.ObjectId`` is the same class,
annotated with a validator and serializer, so a field declared with it:

- keeps the driver's ``ObjectId`` object as is (no copy, no conversion when loading);
- accepts a 24-character hex string (a path parameter, a JSON body) and converts it;
- serializes to that hex string in JSON mode and stays an ``ObjectId`` in Python mode, which is
  what the database encoding uses;
- describes itself in JSON Schema / OpenAPI as a string of 24 hex characters.

Type checkers see ``mdocument.ObjectId`` as ``bson.ObjectId`` itself, and at run time it works
like the class too: ``isinstance(value, ObjectId)`` is ``isinstance(value, bson.ObjectId)``, and
``ObjectId()`` / ``ObjectId("5eb7...")`` make a ``bson.ObjectId``.

A field annotated with plain ``bson.ObjectId`` is refused when its document class is defined
(:func:`bare_object_id`): pydantic can neither validate a hex string into it nor write it as
JSON, and ``arbitrary_types_allowed``, which pydantic suggests, only moves the failure to the
first JSON response.
"""

from __future__ import annotations

import ast
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

import bson
from bson.errors import InvalidId
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["OBJECT_ID_PATTERN", "ObjectId", "bare_object_id", "mentions_bare_object_id"]

OBJECT_ID_PATTERN = "^[0-9a-fA-F]{24}$"


def _object_id_from_str(value: str) -> bson.ObjectId:
    if len(value) == 24:
        try:
            return bson.ObjectId(value)
        except InvalidId:
            pass
    raise PydanticCustomError(
        "object_id", "Input should be an ObjectId or a string of 24 hexadecimal characters"
    )


class _ObjectIdAnnotation:
    """The pydantic schema of ``bson.ObjectId``; used through ``Annotated``."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        from_str = core_schema.chain_schema(
            [
                core_schema.str_schema(),
                core_schema.no_info_plain_validator_function(_object_id_from_str),
            ]
        )
        return core_schema.json_or_python_schema(
            json_schema=from_str,
            # The instance check comes first: values loaded from MongoDB are ObjectIds already,
            # and checking them costs no Python call.
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(bson.ObjectId), from_str],
                mode="left_to_right",
                custom_error_type="object_id",
                custom_error_message=(
                    "Input should be an ObjectId or a string of 24 hexadecimal characters"
                ),
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, when_used="json-unless-none"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": OBJECT_ID_PATTERN,
            "examples": ["5eb7cf5a86d9755df3a6c593"],
        }


if TYPE_CHECKING:
    # The class itself to type checkers: usable in annotations, isinstance(), calls.
    ObjectId = bson.ObjectId
else:

    class _ObjectIdAlias(typing._AnnotatedAlias, _root=True):
        """``Annotated[bson.ObjectId, ...]`` that class and instance checks accept.

        Still an ``Annotated`` form, so that pydantic (and mdocument's own reading of
        annotations) sees ``bson.ObjectId`` with its schema, and keeps the driver's objects as
        they are: no conversion when loading. ``typing`` refuses ``isinstance`` with any
        subscripted form; this one answers for ``bson.ObjectId``.
        """

        def __instancecheck__(self, instance):
            return isinstance(instance, bson.ObjectId)

        def __subclasscheck__(self, subclass):
            return issubclass(subclass, bson.ObjectId)

    ObjectId = _ObjectIdAlias(bson.ObjectId, (_ObjectIdAnnotation,))
"""``bson.ObjectId`` with pydantic validation, JSON serialization and JSON Schema."""


def bare_object_id(annotation: Any, _seen: set[int] | None = None) -> str | None:
    """Where ``annotation`` holds a ``bson.ObjectId`` without mdocument's schema, else ``None``.

    The answer is ``""`` for the annotation itself (``bson.ObjectId``, ``list[bson.ObjectId]``)
    or the dotted path of the field inside a nested pydantic model (``"owner.id"``), which can
    only hold one if that model allows arbitrary types.
    """
    seen: set[int] = set() if _seen is None else _seen
    if annotation is bson.ObjectId:
        return ""
    if get_origin(annotation) is Annotated:
        # Any metadata next to the type (mdocument's, or the user's own validator and
        # serializer) is a schema for it: only the bare class is refused.
        inner, *metadata = get_args(annotation)
        return None if inner is bson.ObjectId and metadata else bare_object_id(inner, seen)
    if isinstance(annotation, type) and get_origin(annotation) is None:
        fields: Mapping[str, Any] | None = getattr(annotation, "__pydantic_fields__", None)
        if fields is None or id(annotation) in seen:
            return None
        seen.add(id(annotation))
        for name, info in fields.items():
            if info.annotation is bson.ObjectId:  # its Annotated metadata is in info.metadata
                if not info.metadata:
                    return name
                continue
            inner = bare_object_id(info.annotation, seen)
            if inner is not None:
                return f"{name}.{inner}" if inner else name
        return None
    for argument in get_args(annotation):
        found = bare_object_id(argument, seen)
        if found is not None:
            return found
    return None


def mentions_bare_object_id(annotation: Any, namespace: Mapping[str, Any]) -> bool:
    """Whether an annotation as written (a string when postponed) names ``bson.ObjectId`` bare.

    A string is read without being evaluated: its names (``ObjectId``, ``bson.ObjectId``) are
    looked up in ``namespace``, and one that is ``bson.ObjectId`` itself counts, unless it is
    inside ``Annotated[...]``.
    """
    if not isinstance(annotation, str):
        return bare_object_id(annotation) == ""
    try:
        tree = ast.parse(annotation, mode="eval")
    except SyntaxError:
        return False  # pydantic reports it
    return _names_bare_object_id(tree.body, namespace)


def _names_bare_object_id(node: ast.expr, namespace: Mapping[str, Any]) -> bool:
    if isinstance(node, ast.Subscript) and _resolve(node.value, namespace) is Annotated:
        inner = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
        if _resolve(inner, namespace) is bson.ObjectId:
            return False
        return _names_bare_object_id(inner, namespace)
    if _resolve(node, namespace) is bson.ObjectId:
        return True
    return any(
        _names_bare_object_id(child, namespace)
        for child in ast.iter_child_nodes(node)
        if isinstance(child, ast.expr)
    )


def _resolve(node: ast.expr, namespace: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        return None if owner is None else getattr(owner, node.attr, None)
    return None
