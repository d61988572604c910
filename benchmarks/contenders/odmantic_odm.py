"""ODMantic 1.x (on Motor), run from its own virtual environment.

ODMantic has no bulk insert: ``engine.save_all`` saves the instances one by one (an upsert
each), in one session. A save sends the modified fields plus every mutable field (embedded
models, lists) as one ``$set`` upsert.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bson
from _harness import COLLECTIONS, Contender, build_models


class ODMantic(Contender):
    """``odmantic.Model`` subclasses saved through an ``AIOEngine``."""

    name = "odmantic"
    packages = ("odmantic", "motor", "pymongo", "pydantic")

    async def open(self, uri: str) -> None:
        from motor.motor_asyncio import AsyncIOMotorClient
        from odmantic import EmbeddedModel, Model
        from odmantic.bson import ObjectId

        self.client = AsyncIOMotorClient(uri)
        self.models: dict[str, Any] = build_models(
            self.shapes,
            document_base=Model,
            embedded_base=EmbeddedModel,
            object_id=ObjectId,
            namespace=lambda kind: {"model_config": {"collection": COLLECTIONS[kind]}},
            module=__name__,
        )

    async def close(self) -> None:
        self.client.close()

    async def bind(self, database: str, kinds: Iterable[str]) -> None:
        from odmantic import AIOEngine

        self.engine = AIOEngine(client=self.client, database=database)

    async def insert_many(self, kind: str, docs: list[dict[str, Any]]) -> None:
        model = self.models[kind]
        await self.engine.save_all([model(**doc) for doc in docs])

    async def create(self, kind: str, doc: dict[str, Any]) -> None:
        await self.engine.save(self.models[kind](**doc))

    async def fetch_all(self, kind: str) -> list[Any]:
        found: list[Any] = await self.engine.find(self.models[kind])
        return found

    async def get(self, kind: str, id: bson.ObjectId) -> Any:
        model = self.models[kind]
        return await self.engine.find_one(model, model.id == id)

    async def find_fk(self, fk: bson.ObjectId) -> Any:
        model = self.models["small_fk"]
        return await self.engine.find_one(model, model.fk == fk)

    async def find_nested(self, unique_id: int) -> Any:
        model = self.models["nested"]
        return await self.engine.find_one(model, model.embedded_str_doc_1.unique_id == unique_id)

    async def find_nested_array(self, unique_id: int) -> Any:
        model = self.models["nested"]
        return await self.engine.find_one(model, {"embedded_str_doc_array.unique_id": unique_id})

    async def set_field(self, kind: str, obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)
        await self.engine.save(obj)

    async def set_nested_field1(self, obj: Any, value: str) -> None:
        obj.embedded_str_doc_1.field1 = value
        await self.engine.save(obj)


CONTENDER = ODMantic
