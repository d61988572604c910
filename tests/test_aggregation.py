"""Aggregation pipelines with typed results, on both drivers."""

import pytest
from pydantic import BaseModel, Field

from mdocument import Document, WrongValueType, desc, init


class Sale(Document):
    shop: str
    amount: int
    paid: bool = True


class ShopTotal(BaseModel):
    shop: str = Field(alias="_id")
    total: int
    count: int


@pytest.fixture
async def sales(database):
    await init(database, models=[Sale])
    return await Sale.insert_many(
        [
            Sale(shop="north", amount=10),
            Sale(shop="north", amount=5),
            Sale(shop="south", amount=7),
            Sale(shop="south", amount=100, paid=False),
        ]
    )


TOTALS = [
    {"$group": {"_id": "$shop", "total": {"$sum": "$amount"}, "count": {"$sum": 1}}},
    {"$sort": {"_id": 1}},
]


async def test_results_are_dicts_without_a_model(sales):
    assert await Sale.aggregate(TOTALS) == [
        {"_id": "north", "total": 15, "count": 2},
        {"_id": "south", "total": 107, "count": 2},
    ]


async def test_results_are_validated_into_the_result_model(sales):
    totals = await Sale.aggregate(TOTALS, ShopTotal)
    assert totals == [
        ShopTotal(_id="north", total=15, count=2),
        ShopTotal(_id="south", total=107, count=2),
    ]


async def test_a_match_stage_takes_a_field_expression(sales, commands):
    commands.clear()
    totals = await Sale.aggregate([{"$match": Sale.paid == True}, *TOTALS], ShopTotal)  # noqa: E712
    assert [(t.shop, t.total) for t in totals] == [("north", 15), ("south", 7)]
    assert commands.of("aggregate")[0]["pipeline"][0] == {"$match": {"paid": True}}


async def test_a_query_set_aggregates_its_matches_in_its_order(sales, commands):
    commands.clear()
    biggest = (
        await Sale.find(Sale.amount > 5)
        .sort(desc(Sale.amount))
        .limit(2)
        .aggregate([{"$project": {"_id": 0, "amount": 1}}])
    )
    assert biggest == [{"amount": 100}, {"amount": 10}]
    assert commands.of("aggregate")[0]["pipeline"] == [
        {"$match": {"amount": {"$gt": 5}}},
        {"$sort": {"amount": -1}},
        {"$limit": 2},
        {"$project": {"_id": 0, "amount": 1}},
    ]


async def test_the_document_class_as_result_gives_stored_documents(sales):
    found = await Sale.aggregate([{"$match": {"shop": "south"}}, {"$sort": {"amount": 1}}], Sale)
    assert found == [sales[2], sales[3]]
    assert all(sale.is_stored for sale in found)


async def test_a_result_that_does_not_fit_the_model_names_it(sales):
    with pytest.raises(WrongValueType, match=r"Sale\.aggregate: a result does not fit ShopTotal"):
        await Sale.aggregate([{"$project": {"_id": "$shop", "total": "$shop"}}], ShopTotal)


async def test_aggregate_runs_in_a_session(sales, database, commands):
    client = database.client
    session = client.start_session()
    session = await session if hasattr(session, "__await__") else session  # Motor: a coroutine
    try:
        commands.clear()
        assert len(await Sale.aggregate(TOTALS, session=session)) == 2
        assert commands.of("aggregate")[0]["lsid"] == session.session_id
    finally:
        await session.end_session()
