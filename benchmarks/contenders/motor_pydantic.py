"""Motor plus plain pydantic models: the typed floor of an ODM on Motor."""

from __future__ import annotations

from typing import Any

from contenders.pymongo_pydantic import PyMongoPydantic


class MotorPydantic(PyMongoPydantic):
    """``AsyncIOMotorClient``; documents validated into / dumped from plain pydantic models."""

    name = "motor+pydantic"
    packages = ("motor", "pymongo", "pydantic")

    def _client(self, uri: str) -> Any:
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(uri)

    async def close(self) -> None:
        self.client.close()


CONTENDER = MotorPydantic
