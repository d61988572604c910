"""One database per tenant: a registry per tenant, made on first use and chosen per request.

::

    tenants = Tenants(client, models=[User, Post], database=lambda tenant: f"shop_{tenant}")

    async def handle(tenant: str) -> None:
        async with tenants.use(tenant):       # this task now reads and writes shop_<tenant>
            await Post.create(...)

Each tenant's registry is made by ``init(..., strict=True)`` the first time the tenant is used
(indexes created then), so a request that chose no tenant has no registry at all and fails with
:class:`~mdocument.NotInitializedError` instead of writing into another tenant's database. The
FastAPI dependency :func:`mdocument.fastapi.tenant_dependency` wraps :meth:`Tenants.use`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from mdocument.registry import Registry, init

if TYPE_CHECKING:
    from mdocument.model import DocumentBase

__all__ = ["Tenants"]


class Tenants:
    """The registries of the tenants of one application, one database each."""

    def __init__(
        self,
        client: Any,
        models: Iterable[type[DocumentBase]],
        *,
        database: Callable[[str], str] = lambda tenant: f"tenant_{tenant}",
        create_indexes: bool = True,
    ) -> None:
        """Describe the tenants; no registry is made before a tenant is used.

        Args:
            client: a ``pymongo.AsyncMongoClient`` (or Motor client) reaching every tenant.
            models: the document classes every tenant's database holds.
            database: the database name of a tenant (validate tenant names before this:
                they come from requests).
            create_indexes: create each tenant's indexes when it is first used.
        """
        self.client = client
        self.models = tuple(models)
        self.database = database
        self.create_indexes = create_indexes
        self._registries: dict[str, Registry] = {}
        self._lock = asyncio.Lock()

    async def registry(self, tenant: str) -> Registry:
        """The tenant's registry, made (and its indexes created) on first use."""
        registry = self._registries.get(tenant)
        if registry is not None:
            return registry
        async with self._lock:  # two first requests of a tenant make one registry
            registry = self._registries.get(tenant)
            if registry is None:
                registry = await init(
                    self.client[self.database(tenant)],
                    self.models,
                    create_indexes=self.create_indexes,
                    strict=True,
                )
                self._registries[tenant] = registry
        return registry

    @contextlib.asynccontextmanager
    async def use(self, tenant: str) -> AsyncGenerator[Registry]:
        """Make the tenant's registry the one documents use in this task, inside the block."""
        registry = await self.registry(tenant)
        with registry.use():
            yield registry

    def __repr__(self) -> str:
        return f"<Tenants {sorted(self._registries)}>"
