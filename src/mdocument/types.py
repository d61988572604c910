"""Pydantic-aware BSON types.

``bson.ObjectId`` is not a type pydantic knows. ``mdocument.ObjectId`` is the same class,
annotated with a validator and serializer, so a field declared with it:

- keeps the driver's ``ObjectId`` object as is (no copy, no conversion when loading);
- accepts a 24-character hex string (a path parameter, a JSON body) and converts it;
- serializes to that hex string in JSON mode and stays an ``ObjectId`` in Python mode, which is
  what the database encoding uses;
- describes itself in JSON Schema / OpenAPI as a string of 24 hex characters.

Type checkers see ``mdocument.ObjectId`` as ``bson.ObjectId`` itself.
"""

from __future__ import annotations

from typing import Annotated, Any

import bson
from bson.errors import InvalidId
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["OBJECT_ID_PATTERN", "ObjectId"]

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


ObjectId = Annotated[bson.ObjectId, _ObjectIdAnnotation]
"""``bson.ObjectId`` with pydantic validation, JSON serialization and JSON Schema."""
