"""A registry is the unit of binding: chosen per context, remembered by each instance.

Two tenants, one database each, used by interleaved asyncio tasks: every document and every
cascade lands in its own tenant's database, checked with the raw driver.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from httpx import ASGITransport, AsyncClient

from mdocument import (
    Document,
    NotInitializedError,
    ObjectId,
    Ref,
    Synced,
    init,
)
from mdocument.binding import CrossRegistryWrite, active
from mdocument.fastapi import tenant_dependency
from mdocument.tenants import Tenants
from mdocument.testing import new_database_name

SEEN: list[tuple[str, Any]] = []


class Shop(Document):
    name: str
    tenant: str

    async def before_save(self) -> None:
        SEEN.append((self.tenant, active()))


class ShopCard(Synced[Shop]):
    id: ObjectId
    name: str


class Order(Document):
    shop_id: Ref[Shop]
    shop: ShopCard
    tenant: str


MODELS = [Shop, Order]


@pytest.fixture
async def two(mongodb_database):
    client = mongodb_database.client
    names = {"a": new_database_name(), "b": new_database_name()}
    registries = {tenant: await init(client[name], models=MODELS) for tenant, name in names.items()}
    yield client, names, registries
    for name in names.values():
        await client.drop_database(name)


async def test_fifty_interleaved_tasks_write_each_into_its_own_tenant(two):
    client, names, registries = two
    rng = random.Random(7)

    async def task(number: int) -> None:
        tenant = rng.choice("ab")
        with registries[tenant].use():
            shop = await Shop.create(name=f"s{number}", tenant=tenant)
            await asyncio.sleep(0)  # let the other tasks run between the writes
            for _ in range(2):
                await Order.create(shop_id=shop.id, shop=ShopCard.of(shop), tenant=tenant)
            await asyncio.sleep(0)
            shop.name = f"renamed{number}"
            await shop.save()
            if number % 3 == 0:
                await shop.delete()  # its orders go with it, in this tenant only

    await asyncio.gather(*(task(number) for number in range(50)))
    for tenant, name in names.items():
        database = client[name]
        shops = await database["shop"].find().to_list(None)
        orders = await database["order"].find().to_list(None)
        assert shops
        assert {shop["tenant"] for shop in shops} == {tenant}
        assert {order["tenant"] for order in orders} <= {tenant}
        by_id = {shop["_id"]: shop for shop in shops}
        for order in orders:  # cascades and copies stayed inside the tenant
            assert order["shop_id"] in by_id
            assert order["shop"]["name"] == by_id[order["shop_id"]]["name"]


async def test_an_instance_is_written_back_to_its_own_registry(two):
    client, names, registries = two
    with registries["a"].use():
        shop = await Shop.create(name="kept", tenant="a")
    # Outside any use(), the default is b (the most recent init): the instance still goes to a.
    shop.name = "changed"
    await shop.save()
    assert (await client[names["a"]]["shop"].find_one({"_id": shop.id}))["name"] == "changed"
    assert await client[names["b"]]["shop"].count_documents({}) == 0
    await shop.reload()
    await shop.delete()
    assert await client[names["a"]]["shop"].count_documents({}) == 0


async def test_writing_an_instance_inside_another_registry_is_refused(two):
    client, names, registries = two
    with registries["a"].use():
        shop = await Shop.create(name="a's", tenant="a")
    shop.name = "hijacked"
    with registries["b"].use():
        with pytest.raises(CrossRegistryWrite, match="Shop"):
            await shop.save()
        with pytest.raises(CrossRegistryWrite):
            await shop.delete()
    stored = await client[names["a"]]["shop"].find_one({"_id": shop.id})
    assert stored["name"] == "a's"
    assert await client[names["b"]]["shop"].count_documents({}) == 0


async def test_hooks_run_with_the_registry_of_the_write(two):
    _, _, registries = two
    with registries["a"].use():
        shop = await Shop.create(name="x", tenant="a")
    SEEN.clear()
    await shop.save()  # nothing changed, but the hook runs: with a active, not the default b
    assert [("a", registries["a"])] == SEEN


async def test_a_second_init_leaves_the_instances_of_the_first_where_they_are(mongodb_database):
    client = mongodb_database.client
    first = await init(mongodb_database, models=MODELS)
    shop = await Shop.create(name="first", tenant="a")
    other = client[new_database_name()]
    try:
        second = await init(other, models=MODELS)
        assert second is not first
        shop.name = "still first"
        await shop.save()
        assert (await mongodb_database["shop"].find_one())["name"] == "still first"
        assert await other["shop"].count_documents({}) == 0
        assert await Shop.count() == 0  # class-level calls use the most recent init
        with first.use():
            assert await Shop.count() == 1
    finally:
        await client.drop_database(other.name)


async def test_strict_init_leaves_no_default(mongodb_database):
    registry = await init(mongodb_database, models=MODELS, strict=True)
    with pytest.raises(NotInitializedError, match="no registry is active"):
        await Shop.count()
    with registry.use():
        assert await Shop.count() == 0


async def test_a_class_the_active_registry_does_not_register_is_named(mongodb_database):
    class Lonely(Document):
        name: str

    await init(mongodb_database, models=MODELS)
    with pytest.raises(NotInitializedError, match="Lonely"):
        await Lonely.count()


async def test_the_fastapi_tenant_dependency_routes_each_request(mongodb_database):
    client = mongodb_database.client
    prefix = new_database_name()
    tenants = Tenants(client, models=MODELS, database=lambda tenant: f"{prefix}_{tenant}")

    def tenant_of(request: Request) -> str:
        name = request.headers.get("X-Tenant", "")
        if name not in ("a", "b"):
            raise HTTPException(404, "unknown tenant")
        return name

    app = FastAPI(dependencies=[Depends(tenant_dependency(tenants, tenant_of))])

    @app.post("/shops")
    async def create_shop(name: str, request: Request) -> dict[str, str]:
        shop = await Shop.create(name=name, tenant=request.headers["X-Tenant"])
        return {"id": str(shop.id)}

    @app.get("/shops")
    async def list_shops() -> list[str]:
        return [shop.name for shop in await Shop.many()]

    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
            created = await asyncio.gather(
                *(
                    http.post("/shops", params={"name": f"{t}{i}"}, headers={"X-Tenant": t})
                    for i in range(10)
                    for t in "ab"
                )
            )
            assert all(response.status_code == 200 for response in created)
            for tenant in "ab":
                names = (await http.get("/shops", headers={"X-Tenant": tenant})).json()
                assert sorted(names) == sorted(f"{tenant}{i}" for i in range(10))
            assert (await http.get("/shops", headers={"X-Tenant": "c"})).status_code == 404
        for tenant in "ab":
            stored = await client[f"{prefix}_{tenant}"]["shop"].find().to_list(None)
            assert {shop["tenant"] for shop in stored} == {tenant}
    finally:
        for tenant in "ab":
            await client.drop_database(f"{prefix}_{tenant}")


async def test_instances_copy_and_pickle_without_their_registry(two):
    import copy
    import pickle

    client, names, registries = two
    with registries["a"].use():
        shop = await Shop.create(name="kept", tenant="a")
        loaded = await Shop.get(shop.id)
    for instance in (shop, loaded):
        twin = copy.deepcopy(instance)
        assert twin == instance
        thawed = pickle.loads(pickle.dumps(instance))  # a client never goes into a pickle
        assert thawed == instance
    twin = copy.deepcopy(loaded)
    twin.name = "copied"
    await twin.save()  # a copy keeps the instance's registry: a's database
    assert (await client[names["a"]]["shop"].find_one({"_id": shop.id}))["name"] == "copied"
