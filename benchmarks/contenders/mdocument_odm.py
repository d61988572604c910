"""mdocument, through its documented API only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bson
from _harness import COLLECTIONS, Contender, build_models
from pydantic import BaseModel
from pymongo import AsyncMongoClient


class MDocument(Contender):
    """``Document`` subclasses bound with ``mdocument.init``."""

    name = "mdocument"
    packages = ("mdocument", "pymongo", "pydantic")

    async def open(self, uri: str) -> None:
        from mdocument import Document, ObjectId

        self.client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
        self.models: dict[str, Any] = build_models(
            self.shapes,
            document_base=Document,
            embedded_base=BaseModel,
            object_id=ObjectId,
            namespace=self._namespace,
            module=__name__,
        )

    def _namespace(self, kind: str) -> dict[str, Any]:
        # `class Meta: collection = ...` inside the class body, as a user writes it.
        qualname = f"{self.shapes[kind].name}.Meta"
        return {
            "Meta": type("Meta", (), {"collection": COLLECTIONS[kind], "__qualname__": qualname})
        }

    async def close(self) -> None:
        await self.client.close()

    async def bind(self, database: str, kinds: Iterable[str]) -> None:
        from mdocument import init

        await init(self.client[database], models=[self.models[kind] for kind in kinds])

    async def insert_many(self, kind: str, docs: list[dict[str, Any]]) -> None:
        model = self.models[kind]
        await model.insert_many([model(**doc) for doc in docs])

    async def create(self, kind: str, doc: dict[str, Any]) -> None:
        await self.models[kind].create(**doc)

    async def fetch_all(self, kind: str) -> list[Any]:
        found: list[Any] = await self.models[kind].many()
        return found

    async def get(self, kind: str, id: bson.ObjectId) -> Any:
        return await self.models[kind].get(id)

    async def find_fk(self, fk: bson.ObjectId) -> Any:
        return await self.models["small_fk"].one({"fk": fk})

    async def find_nested(self, unique_id: int) -> Any:
        return await self.models["nested"].one({"embedded_str_doc_1.unique_id": unique_id})

    async def find_nested_array(self, unique_id: int) -> Any:
        return await self.models["nested"].one({"embedded_str_doc_array.unique_id": unique_id})

    async def set_field1(self, kind: str, obj: Any, value: str) -> None:
        obj.field1 = value
        await obj.save()

    async def set_nested_field1(self, obj: Any, value: str) -> None:
        obj.embedded_str_doc_1.field1 = value
        await obj.save()


CONTENDER = MDocument
