"""One database per tenant: the same document classes, a registry per tenant, chosen per task.

Runs on $MONGODB_URI when set, else on an embedded SecantusDB server started for the run:

    python examples/tenants.py

Two shops write at the same time, each inside `tenants.use(name)`: every document, cascade and
synced copy lands in that shop's own database. Outside any tenant, documents have no database
and refuse to run (NotInitializedError) rather than write into the wrong one.
"""

import asyncio

from pymongo import AsyncMongoClient

from mdocument import Document, NotInitializedError, ObjectId, Ref, Synced
from mdocument.embedded import server_uri
from mdocument.tenants import Tenants


class Customer(Document):
    name: str


class CustomerCard(Synced[Customer]):
    id: ObjectId
    name: str


class Order(Document):
    customer_id: Ref[Customer]  # deleting a customer deletes their orders, in their shop only
    customer: CustomerCard
    item: str


async def serve(tenants: Tenants, shop: str, customers: list[str]) -> None:
    """What one shop's requests do, interleaved with the other shop's."""
    async with tenants.use(shop):
        for name in customers:
            customer = await Customer.create(name=name)
            await asyncio.sleep(0)  # let the other shop run between the writes
            await Order.create(
                customer_id=customer.id, customer=CustomerCard.of(customer), item="tea"
            )
        first = await Customer.one(Customer.name == customers[0])
        first.name += " (VIP)"
        await first.save()  # the copy in their orders follows, in this shop's database


async def main(uri: str, prefix: str = "tenants_example") -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri)
    tenants = Tenants(client, models=[Customer, Order], database=lambda shop: f"{prefix}_{shop}")
    await asyncio.gather(
        serve(tenants, "paris", ["Ada", "Grace"]),
        serve(tenants, "lyon", ["Alan", "Edsger", "Barbara"]),
    )
    for shop in ("paris", "lyon"):
        async with tenants.use(shop):
            orders = await Order.find().sort("customer.name").to_list()
            print(f"{shop}: {[order.customer.name for order in orders]}")
        raw = client[f"{prefix}_{shop}"]  # checked with the driver alone
        print(f"{shop} database: {await raw['order'].count_documents({})} orders")

    try:
        await Customer.count()  # no tenant chosen
    except NotInitializedError:
        print("outside a tenant: refused")

    async with tenants.use("lyon"):
        alan = await Customer.one(Customer.name == "Alan (VIP)")
        await alan.delete()
        print("lyon orders after deleting Alan:", await Order.count())
    async with tenants.use("paris"):
        print("paris orders:", await Order.count())

    for shop in ("paris", "lyon"):
        await client.drop_database(f"{prefix}_{shop}")
    await client.close()


if __name__ == "__main__":
    with server_uri() as uri:
        asyncio.run(main(uri))
