"""mdocument, through its documented API only, on PyMongo's async client.

The foreign key of ``small_fk`` is a relation, as a user declares one: ``fk: Ref[Target]``, with
the index mdocument creates for it (the harness leaves that collection's indexes to it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bson
from _data import Shape
from _harness import COLLECTIONS, Contender, build_models
from pydantic import BaseModel
from pymongo import AsyncMongoClient


class MDocument(Contender):
    """``Document`` subclasses bound with ``mdocument.init``."""

    name = "mdocument"
    packages = ("mdocument", "pymongo", "pydantic")
    own_indexes = frozenset({"small_fk"})

    def _client(self, uri: str) -> Any:
        return AsyncMongoClient(uri)

    async def open(self, uri: str) -> None:
        from mdocument import Document, ObjectId, Ref

        self.client: Any = self._client(uri)
        target = type(
            "Target",
            (Document,),
            {
                "__annotations__": {"name": str},
                "__module__": __name__,
                "__qualname__": "Target",
                **self._namespace("target"),
            },
        )
        shapes = dict(self.shapes)
        small_fk = shapes["small_fk"]
        shapes["small_fk"] = Shape(small_fk.name, {**small_fk.fields, "fk": Ref[target]})
        self.models: dict[str, Any] = build_models(
            shapes,
            document_base=Document,
            embedded_base=BaseModel,
            object_id=ObjectId,
            namespace=self._namespace,
            module=__name__,
        )
        self.models["target"] = target

    def _namespace(self, kind: str) -> dict[str, Any]:
        # `class Meta: collection = ...` inside the class body, as a user writes it.
        qualname = f"{self.shapes[kind].name}.Meta"  # `target` too: its shape is in `shapes`
        return {
            "Meta": type("Meta", (), {"collection": COLLECTIONS[kind], "__qualname__": qualname})
        }

    async def close(self) -> None:
        await self.client.close()

    async def bind(self, database: str, kinds: Iterable[str]) -> None:
        from mdocument import init

        kinds = list(kinds)
        if "small_fk" in kinds:  # a reference's target is registered in the same init
            kinds.append("target")
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
        model = self.models["small_fk"]
        return await model.one(model.fk == fk)

    async def find_nested(self, unique_id: int) -> Any:
        return await self.models["nested"].one({"embedded_str_doc_1.unique_id": unique_id})

    async def find_nested_array(self, unique_id: int) -> Any:
        return await self.models["nested"].one({"embedded_str_doc_array.unique_id": unique_id})

    async def set_field(self, kind: str, obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)
        await obj.save()

    async def set_nested_field1(self, obj: Any, value: str) -> None:
        obj.embedded_str_doc_1.field1 = value
        await obj.save()


class MDocumentMotor(MDocument):
    """The same, on a Motor database (``AsyncIOMotorClient``)."""

    name = "mdocument+motor"
    packages = ("mdocument", "motor", "pymongo", "pydantic")

    def _client(self, uri: str) -> Any:
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(uri)

    async def close(self) -> None:
        self.client.close()


CONTENDER = MDocument
