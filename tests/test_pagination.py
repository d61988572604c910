"""Pagination by offset/limit and by keyset, tested at the page boundaries on both drivers."""

import datetime
import random

import bson
import pytest

from mdocument import (
    Document,
    Field,
    InvalidPageToken,
    KeysetPage,
    Page,
    asc,
    desc,
    init,
)
from mdocument.pagination import page_token_keys
from mdocument.testing import FailPoint


class Item(Document):
    rank: int
    group: str = "a"
    score: float | None = None
    at: datetime.datetime | None = None
    tags: list[str] = Field(default_factory=list)
    secret: str = Field(default="", sensitive=True)


@pytest.fixture
async def items(database):
    await init(database, models=[Item])


async def insert(count, **fields):
    return await Item.insert_many([Item(rank=i, **fields) for i in range(count)])


# -- by offset and limit ------------------------------------------------------------------------


async def test_an_empty_collection_has_an_empty_page_with_a_zero_total(items):
    page = await Item.find().paginate(offset=0, limit=10)
    assert page == Page(items=[], total=0, offset=0, limit=10)


async def test_an_exact_multiple_of_the_limit_fills_every_page(items):
    await insert(20)
    query = Item.find().sort(asc(Item.rank))
    first = await query.paginate(offset=0, limit=10)
    last = await query.paginate(offset=10, limit=10)
    assert [item.rank for item in first.items] == list(range(10))
    assert [item.rank for item in last.items] == list(range(10, 20))
    assert (first.total, first.offset, last.total, last.offset) == (20, 0, 20, 10)
    after_the_last = await query.paginate(offset=20, limit=10)  # where a client would go next
    assert after_the_last == Page(items=[], total=20, offset=20, limit=10)


async def test_the_last_page_is_partial(items):
    await insert(23)
    page = await Item.find().sort(desc(Item.rank)).paginate(offset=20, limit=10)
    assert [item.rank for item in page.items] == [2, 1, 0]
    assert (page.total, page.offset, page.limit) == (23, 20, 10)


async def test_an_offset_need_not_be_a_multiple_of_the_limit(items):
    await insert(10)
    page = await Item.find().sort(asc(Item.rank)).paginate(offset=3, limit=4)
    assert [item.rank for item in page.items] == [3, 4, 5, 6]


async def test_an_offset_past_the_end_is_an_empty_page_with_the_total(items):
    await insert(5)
    for offset in (5, 6, 1000):
        page = await Item.find().sort(asc(Item.rank)).paginate(offset=offset, limit=2)
        assert page == Page(items=[], total=5, offset=offset, limit=2)


async def test_duplicate_sort_values_never_repeat_or_skip_across_pages(items, commands):
    await Item.insert_many([Item(rank=i % 3) for i in range(11)])
    seen = []
    for offset in (0, 4, 8):
        page = await Item.find().sort(asc(Item.rank)).paginate(offset=offset, limit=4)
        seen.extend(page.items)
    assert commands.of("find")[-1]["sort"] == {"rank": 1, "_id": 1}  # _id breaks the ties
    assert sorted(item.id for item in seen) == sorted(item.id for item in await Item.many())
    assert [item.rank for item in seen] == sorted(item.rank for item in seen)


async def test_the_total_and_the_page_follow_the_filter(items, commands):
    await insert(12)
    commands.clear()
    page = await Item.find(Item.rank >= 5).sort(asc(Item.rank)).paginate(offset=5, limit=5)
    assert [item.rank for item in page.items] == [10, 11]
    assert page.total == 7
    find = commands.of("find")[0]
    assert (find["filter"], find["skip"], find["limit"]) == ({"rank": {"$gte": 5}}, 5, 5)


async def test_the_count_and_the_page_are_read_concurrently(items, database, commands):
    client = database.client
    if not await FailPoint.available(client):
        pytest.skip("the server has no configureFailPoint (mongod needs enableTestCommands)")
    await insert(3)
    # Each of the two reads is held 300 ms on the server: read one after the other, the first
    # would be answered before the second is sent.
    await client.admin.command(
        {
            "configureFailPoint": "failCommand",
            "mode": {"times": 2},
            "data": {
                "failCommands": ["find", "aggregate"],
                "blockConnection": True,
                "blockTimeMS": 300,
            },
        }
    )
    order: list[str] = []
    record = commands.started

    def started(event):
        record(event)
        order.append(f"sent {event.command_name}")

    commands.started = started  # the client's listener: it sees the driver's command events
    commands.succeeded = lambda event: order.append(f"answered {event.command_name}")
    try:
        page = await Item.find().paginate(limit=2)
    finally:
        await client.admin.command({"configureFailPoint": "failCommand", "mode": "off"})
    assert (len(page.items), page.total) == (2, 3)
    assert sorted(order[:2]) == ["sent aggregate", "sent find"], order


async def test_paginate_in_a_session_sends_both_reads_in_it(items, database, commands):
    session = database.client.start_session()
    session = await session if hasattr(session, "__await__") else session  # Motor: a coroutine
    try:
        await insert(3)
        commands.clear()
        page = await Item.find(session=session).sort(asc(Item.rank)).paginate(limit=2)
        assert ([item.rank for item in page.items], page.total) == ([0, 1], 3)
        # count_documents is an aggregate command; the session runs it first, then the page.
        assert commands.names == ["aggregate", "find"]
        assert {event.command["lsid"]["id"] for event in commands.events} == {
            session.session_id["id"]
        }
    finally:
        await session.end_session()


async def test_paginate_refuses_bad_arguments(items):
    with pytest.raises(ValueError, match="offset >= 0"):
        await Item.find().paginate(offset=-1)
    with pytest.raises(ValueError, match="limit >= 1"):
        await Item.find().paginate(limit=0)
    with pytest.raises(ValueError, match="skip\\(\\) and limit\\(\\)"):
        await Item.find().limit(3).paginate()
    with pytest.raises(ValueError, match="skip\\(\\) and limit\\(\\)"):
        await Item.find().skip(3).paginate()


def test_a_page_is_a_response_model():
    schema = Page[Item].model_json_schema()
    assert set(schema["properties"]) == {"items", "total", "offset", "limit"}
    assert schema["properties"]["total"]["description"] == "How many results match, over all pages."
    dumped = Page(items=[Item(rank=1, secret="s")], total=1, offset=0, limit=1).model_dump(
        mode="json"
    )
    assert dumped["items"][0]["secret"] == "***"


# -- by keyset ----------------------------------------------------------------------------------


async def walk(query, size):
    """Every page of a keyset query, following the tokens."""
    pages = [await query.keyset(size=size)]
    while pages[-1].next_token is not None:
        pages.append(await query.keyset(size=size, after=pages[-1].next_token))
        assert len(pages) < 100
    return pages


async def test_keyset_on_an_empty_collection_is_one_empty_last_page(items):
    assert await Item.find().keyset(size=5) == KeysetPage(items=[], size=5, next_token=None)


async def test_keyset_exact_multiple_ends_without_an_empty_page(items):
    await insert(10)
    pages = await walk(Item.find().sort(asc(Item.rank)), size=5)
    assert [[item.rank for item in page.items] for page in pages] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
    ]
    assert pages[-1].next_token is None


async def test_keyset_last_partial_page(items):
    await insert(7)
    pages = await walk(Item.find().sort(desc(Item.rank)), size=3)
    assert [[item.rank for item in page.items] for page in pages] == [[6, 5, 4], [3, 2, 1], [0]]


async def test_keyset_with_duplicate_values_and_nulls_visits_each_document_once(items):
    generator = random.Random(5)
    await Item.insert_many(
        [
            Item(
                rank=generator.randint(0, 3),
                group=generator.choice("ab"),
                score=generator.choice([None, 1.5, 2.0, 2.0]),
            )
            for _ in range(40)
        ]
    )
    orders = [
        [asc(Item.rank)],
        [desc(Item.rank)],
        [asc(Item.score)],
        [desc(Item.score)],
        [asc(Item.group), desc(Item.score), asc(Item.rank)],
        [desc(Item.group), asc(Item.score)],
    ]
    for order in orders:
        query = Item.find(Item.rank < 3).sort(*order)
        expected = [item.id for item in await query.sort(asc(Item.id)).to_list()]
        for size in (1, 3, 7, 100):
            pages = await walk(query, size)
            assert [item.id for page in pages for item in page.items] == expected, (order, size)


async def test_keyset_sorts_by_dates_and_the_id_alone(items):
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    await Item.insert_many(
        [Item(rank=i, at=start + datetime.timedelta(hours=i % 4)) for i in range(9)]
    )
    pages = await walk(Item.find().sort(desc(Item.at)), size=2)
    dates = [item.at for page in pages for item in page.items]
    assert dates == sorted(dates, reverse=True)
    assert len(dates) == 9
    by_id = await walk(Item.find(), size=4)
    ids = [item.id for page in by_id for item in page.items]
    assert ids == sorted(ids)


async def test_a_tampered_token_is_refused(items):
    await insert(6)
    query = Item.find().sort(asc(Item.rank))
    token = (await query.keyset(size=2)).next_token
    flipped = "B" if token[10] == "A" else "A"  # a changed character, whatever the token holds
    for bad in (token[:-3], token[:10] + flipped + token[11:], "not a token", "", "@@@@"):
        with pytest.raises(InvalidPageToken, match="Item: the page token is not valid"):
            await query.keyset(size=2, after=bad)


async def test_a_token_of_another_sort_is_refused(items):
    await insert(6)
    token = (await Item.find().sort(asc(Item.rank)).keyset(size=2)).next_token
    with pytest.raises(InvalidPageToken):
        await Item.find().sort(desc(Item.rank)).keyset(size=2, after=token)
    with pytest.raises(InvalidPageToken):
        await Item.find().sort(asc(Item.group)).keyset(size=2, after=token)


async def test_a_token_with_forged_values_is_refused(items):
    await insert(6)
    query = Item.find().sort(asc(Item.rank))
    token = (await query.keyset(size=2)).next_token
    keys = page_token_keys()
    data = bson.decode(keys.open(token))
    for forged in ({"$ne": None}, "one"):
        data["v"][0] = forged
        # Sealed with the application's key: the values are still checked as query values.
        bad = keys.seal(bson.encode(data))
        with pytest.raises(InvalidPageToken, match="do not fit the sort fields"):
            await query.keyset(size=2, after=bad)


async def test_keyset_refuses_sensitive_and_list_sort_keys(items):
    with pytest.raises(ValueError, match=r"Item\.secret is sensitive"):
        await Item.find().sort(asc(Item.secret)).keyset()
    with pytest.raises(ValueError, match=r"Item\.tags holds a list"):
        await Item.find().sort(asc(Item.tags)).keyset()
    with pytest.raises(ValueError, match="size >= 1"):
        await Item.find().keyset(size=0)
