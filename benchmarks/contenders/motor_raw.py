"""Motor, the driver ODMantic runs on, documents as plain dicts (ODMantic's baseline)."""

from __future__ import annotations

from typing import Any

from contenders.pymongo_raw import RawPyMongo


class RawMotor(RawPyMongo):
    """``motor.motor_asyncio.AsyncIOMotorClient``: synchronous PyMongo on a thread pool."""

    name = "motor"
    packages = ("motor", "pymongo")

    def _client(self, uri: str) -> Any:
        from motor.motor_asyncio import AsyncIOMotorClient

        return AsyncIOMotorClient(uri)

    async def close(self) -> None:
        self.client.close()


CONTENDER = RawMotor
