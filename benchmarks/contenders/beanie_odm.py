"""Beanie 2.x (on PyMongo's async client), run from its own virtual environment.

Default document settings (no state management). An update is ``doc.set({field: value})``,
Beanie's partial update of an instance: it runs ``find_one_and_update`` and merges the returned
document into the instance, so its client cost includes decoding and merging that document.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bson
from _harness import COLLECTIONS, Contender, build_models
from pydantic import BaseModel
from pymongo import AsyncMongoClient


class Beanie(Contender):
    """``beanie.Document`` subclasses bound with ``beanie.init_beanie``."""

    name = "beanie"
    packages = ("beanie", "pymongo", "pydantic")

    async def open(self, uri: str) -> None:
        from beanie import Document, PydanticObjectId

        self.client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
        self.models: dict[str, Any] = build_models(
            self.shapes,
            document_base=Document,
            embedded_base=BaseModel,
            object_id=PydanticObjectId,
            namespace=self._namespace,
            module=__name__,
        )

    def _namespace(self, kind: str) -> dict[str, Any]:
        # `class Settings: name = ...` inside the class body, as a user writes it.
        qualname = f"{self.shapes[kind].name}.Settings"
        settings = type("Settings", (), {"name": COLLECTIONS[kind], "__qualname__": qualname})
        return {"Settings": settings}

    async def close(self) -> None:
        await self.client.close()

    async def bind(self, database: str, kinds: Iterable[str]) -> None:
        from beanie import init_beanie

        await init_beanie(
            database=self.client[database], document_models=[self.models[k] for k in kinds]
        )

    async def insert_many(self, kind: str, docs: list[dict[str, Any]]) -> None:
        model = self.models[kind]
        await model.insert_many([model(**doc) for doc in docs])

    async def create(self, kind: str, doc: dict[str, Any]) -> None:
        await self.models[kind](**doc).insert()

    async def fetch_all(self, kind: str) -> list[Any]:
        found: list[Any] = await self.models[kind].find_all().to_list()
        return found

    async def get(self, kind: str, id: bson.ObjectId) -> Any:
        return await self.models[kind].get(id)

    async def find_fk(self, fk: bson.ObjectId) -> Any:
        model = self.models["small_fk"]
        return await model.find_one(model.fk == fk)

    async def find_nested(self, unique_id: int) -> Any:
        model = self.models["nested"]
        return await model.find_one(model.embedded_str_doc_1.unique_id == unique_id)

    async def find_nested_array(self, unique_id: int) -> Any:
        model = self.models["nested"]
        return await model.find_one({"embedded_str_doc_array.unique_id": unique_id})

    async def set_field(self, kind: str, obj: Any, name: str, value: Any) -> None:
        await obj.set({getattr(self.models[kind], name): value})

    async def set_nested_field1(self, obj: Any, value: str) -> None:
        await obj.set({self.models["nested"].embedded_str_doc_1.field1: value})


CONTENDER = Beanie
