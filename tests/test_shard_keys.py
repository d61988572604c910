"""``Meta.shard_key``: single-document updates and deletes carry it; changing it is refused.

The embedded server has no sharding: these tests read the commands the driver sends.
"""

from __future__ import annotations

import pytest

from mdocument import Document, Ref, ShardKeyChange, UnknownModelField, init


class Tenant(Document):
    name: str


class Invoice(Document):
    tenant_id: Ref[Tenant]
    number: int
    total: int = 0

    class Meta:
        shard_key = ("tenant_id", "number")
        revision = True


class Note(Document):
    region: str
    text: str = ""

    class Meta:
        shard_key = ("region",)


async def test_updates_and_deletes_carry_the_shard_key(database, commands):
    await init(database, models=[Tenant, Invoice, Note])
    tenant = await Tenant.create(name="acme")
    invoice = await Invoice.create(tenant_id=tenant.id, number=7)
    commands.clear()
    invoice.total = 100
    await invoice.save()
    [update] = commands.of("update")
    assert update["updates"][0]["q"] == {
        "_id": invoice.id, "tenant_id": tenant.id, "number": 7, "_revision": 1
    }  # fmt: skip
    note = await Note.create(region="eu", text="a")
    loaded = await Note.get(note.id)
    assert loaded is not None
    commands.clear()
    loaded.text = "b"
    await loaded.save()
    await loaded.delete()
    [update] = commands.of("update")
    assert update["updates"][0]["q"] == {"_id": note.id, "region": "eu"}
    [delete] = commands.of("delete")
    assert delete["deletes"][0]["q"] == {"_id": note.id, "region": "eu"}
    assert await Note.get(note.id) is None


async def test_a_changed_shard_key_is_refused_before_anything_is_sent(database, commands):
    await init(database, models=[Tenant, Invoice, Note])
    note = await Note.create(region="eu")
    commands.clear()
    note.region = "us"
    with pytest.raises(ShardKeyChange) as refused:
        await note.save()
    assert refused.value.field == "region"
    assert "shard key" in str(refused.value)
    assert commands.names == []
    stored = await Note.get(note.id)
    assert stored is not None
    assert stored.region == "eu"


def test_an_unknown_shard_key_field_is_refused():
    with pytest.raises(UnknownModelField, match="tenant"):

        class Broken(Document):
            name: str

            class Meta:
                shard_key = ("tenant",)

    with pytest.raises(TypeError, match="tuple of field names"):

        class Stringly(Document):
            name: str

            class Meta:
                shard_key = "name"


class Order(Document):
    tenant_id: Ref[Tenant]  # the edge's field is the child's shard key

    class Meta:
        shard_key = ("tenant_id",)


class Line(Document):
    order_id: Ref[Order]  # a child of the orders, sharded by something else

    class Meta:
        shard_key = ("sku",)

    sku: str = "x"


async def test_a_cascade_carries_the_shard_key_where_the_edge_is_part_of_it(database, commands):
    await init(database, models=[Tenant, Order, Line])
    acme = await Tenant.create(name="acme")
    orders = [await Order.create(tenant_id=acme.id) for _ in range(3)]
    for order in orders:
        await Line.create(order_id=order.id)
    commands.clear()
    await acme.delete()
    deletes = {
        command["delete"]: [statement["q"] for statement in command["deletes"]]
        for command in commands.of("delete")
    }
    [order_filter] = deletes["order"]
    assert order_filter["tenant_id"] == {"$in": [acme.id]}  # routed to acme's shards
    assert set(order_filter["_id"]["$in"]) == {order.id for order in orders}
    [line_filter] = deletes["line"]  # Line's edge field is not its shard key: by filter only
    assert "sku" not in line_filter
    assert await Order.count() == 0
    assert await Line.count() == 0
