"""The baseline: PyMongo's async client, documents as plain dicts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bson
from _harness import COLLECTIONS, Contender
from pymongo import AsyncMongoClient


class RawPyMongo(Contender):
    """``pymongo.AsyncMongoClient``: what any ODM on PyMongo adds its cost to."""

    name = "raw"

    def _client(self, uri: str) -> Any:
        return AsyncMongoClient(uri)

    async def open(self, uri: str) -> None:
        self.client = self._client(uri)

    async def close(self) -> None:
        await self.client.close()

    async def bind(self, database: str, kinds: Iterable[str]) -> None:
        db = self.client[database]
        self.collections = {kind: db[COLLECTIONS[kind]] for kind in kinds}

    async def insert_many(self, kind: str, docs: list[dict[str, Any]]) -> None:
        await self.collections[kind].insert_many(docs)

    async def create(self, kind: str, doc: dict[str, Any]) -> None:
        await self.collections[kind].insert_one(doc)

    async def fetch_all(self, kind: str) -> list[Any]:
        found: list[Any] = await self.collections[kind].find().to_list(None)
        return found

    async def get(self, kind: str, id: bson.ObjectId) -> Any:
        return await self.collections[kind].find_one({"_id": id})

    async def find_fk(self, fk: bson.ObjectId) -> Any:
        return await self.collections["small_fk"].find_one({"fk": fk})

    async def find_nested(self, unique_id: int) -> Any:
        return await self.collections["nested"].find_one(
            {"embedded_str_doc_1.unique_id": unique_id}
        )

    async def find_nested_array(self, unique_id: int) -> Any:
        return await self.collections["nested"].find_one(
            {"embedded_str_doc_array.unique_id": unique_id}
        )

    async def set_field(self, kind: str, obj: Any, name: str, value: Any) -> None:
        obj[name] = value
        await self.collections[kind].update_one({"_id": obj["_id"]}, {"$set": {name: value}})

    async def set_nested_field1(self, obj: Any, value: str) -> None:
        obj["embedded_str_doc_1"]["field1"] = value
        await self.collections["nested"].update_one(
            {"_id": obj["_id"]}, {"$set": {"embedded_str_doc_1.field1": value}}
        )


CONTENDER = RawPyMongo
