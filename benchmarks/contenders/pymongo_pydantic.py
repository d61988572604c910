"""PyMongo's async client plus plain pydantic models: the "into objects" baseline.

What an application without an ODM writes: ``Model(**data).model_dump()`` before a write,
``Model.model_validate(raw)`` after a read, an explicit ``$set`` for an update.
"""

from __future__ import annotations

from typing import Any

import bson
from _harness import build_models
from pydantic import BaseModel, ConfigDict, Field

from contenders.pymongo_raw import RawPyMongo


class _Base(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, validate_by_name=True)

    id: bson.ObjectId = Field(default_factory=bson.ObjectId, alias="_id")


class PyMongoPydantic(RawPyMongo):
    """Raw driver calls; documents validated into / dumped from plain pydantic models."""

    name = "raw+pydantic"
    packages = ("pymongo", "pydantic")
    models: dict[str, Any]

    async def open(self, uri: str) -> None:
        await super().open(uri)
        self.models = build_models(
            self.shapes,
            document_base=_Base,
            embedded_base=BaseModel,
            object_id=bson.ObjectId,
            namespace=lambda kind: {},
            module=__name__,
        )

    async def insert_many(self, kind: str, docs: list[dict[str, Any]]) -> None:
        model = self.models[kind]
        await self.collections[kind].insert_many(
            [model(**doc).model_dump(by_alias=True) for doc in docs]
        )

    async def create(self, kind: str, doc: dict[str, Any]) -> None:
        await self.collections[kind].insert_one(self.models[kind](**doc).model_dump(by_alias=True))

    async def fetch_all(self, kind: str) -> list[Any]:
        model = self.models[kind]
        return [
            model.model_validate(raw) for raw in await self.collections[kind].find().to_list(None)
        ]

    async def _one(self, kind: str, query: dict[str, Any]) -> Any:
        raw = await self.collections[kind].find_one(query)
        return None if raw is None else self.models[kind].model_validate(raw)

    async def get(self, kind: str, id: bson.ObjectId) -> Any:
        return await self._one(kind, {"_id": id})

    async def find_fk(self, fk: bson.ObjectId) -> Any:
        return await self._one("small_fk", {"fk": fk})

    async def find_nested(self, unique_id: int) -> Any:
        return await self._one("nested", {"embedded_str_doc_1.unique_id": unique_id})

    async def find_nested_array(self, unique_id: int) -> Any:
        return await self._one("nested", {"embedded_str_doc_array.unique_id": unique_id})

    async def set_field(self, kind: str, obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)
        await self.collections[kind].update_one({"_id": obj.id}, {"$set": {name: value}})

    async def set_nested_field1(self, obj: Any, value: str) -> None:
        obj.embedded_str_doc_1.field1 = value
        await self.collections["nested"].update_one(
            {"_id": obj.id}, {"$set": {"embedded_str_doc_1.field1": value}}
        )


CONTENDER = PyMongoPydantic
