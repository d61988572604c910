"""Pagination by page number and by keyset, tested at the page boundaries on both drivers."""

import base64
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


# -- by page number -----------------------------------------------------------------------------


async def test_an_empty_collection_has_one_empty_page_and_no_pages(items):
    page = await Item.find().paginate(page=1, size=10)
    assert page == Page(items=[], total=0, page=1, size=10, pages=0)


async def test_an_exact_multiple_of_the_page_size_fills_every_page(items):
    await insert(20)
    first = await Item.find().sort(asc(Item.rank)).paginate(page=1, size=10)
    last = await Item.find().sort(asc(Item.rank)).paginate(page=2, size=10)
    assert (first.total, first.pages, last.pages) == (20, 2, 2)
    assert [item.rank for item in first.items] == list(range(10))
    assert [item.rank for item in last.items] == list(range(10, 20))
    beyond = await Item.find().sort(asc(Item.rank)).paginate(page=3, size=10)
    assert beyond.items == []
    assert beyond.total == 20


async def test_the_last_page_is_partial(items):
    await insert(23)
    page = await Item.find().sort(desc(Item.rank)).paginate(page=3, size=10)
    assert [item.rank for item in page.items] == [2, 1, 0]
    assert (page.total, page.page, page.size, page.pages) == (23, 3, 10, 3)


async def test_duplicate_sort_values_never_repeat_or_skip_across_pages(items, commands):
    await Item.insert_many([Item(rank=i % 3) for i in range(11)])
    seen = []
    for number in (1, 2, 3):
        page = await Item.find().sort(asc(Item.rank)).paginate(page=number, size=4)
        seen.extend(page.items)
    assert commands.of("find")[-1]["sort"] == {"rank": 1, "_id": 1}  # _id breaks the ties
    assert sorted(item.id for item in seen) == sorted(item.id for item in await Item.many())
    assert [item.rank for item in seen] == sorted(item.rank for item in seen)


async def test_page_numbers_count_with_the_filter(items):
    await insert(12)
    page = await Item.find(Item.rank >= 5).sort(asc(Item.rank)).paginate(page=2, size=5)
    assert [item.rank for item in page.items] == [10, 11]
    assert (page.total, page.pages) == (7, 2)


async def test_paginate_refuses_bad_arguments(items):
    with pytest.raises(ValueError, match="page >= 1"):
        await Item.find().paginate(page=0)
    with pytest.raises(ValueError, match="size >= 1"):
        await Item.find().paginate(size=0)
    with pytest.raises(ValueError, match="skip\\(\\) and limit\\(\\)"):
        await Item.find().limit(3).paginate()


def test_a_page_is_a_response_model():
    schema = Page[Item].model_json_schema()
    assert {"items", "total", "page", "size", "pages"} <= set(schema["properties"])
    dumped = Page(items=[Item(rank=1, secret="s")], total=1, page=1, size=1, pages=1).model_dump(
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
    for bad in (token[:-3], token[:10] + "A" + token[11:], "not a token", "", "@@@@"):
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
    data = bson.decode(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for forged in ({"$ne": None}, "one"):
        data["v"][0] = forged
        bad = base64.urlsafe_b64encode(bson.encode(data)).decode().rstrip("=")
        with pytest.raises(InvalidPageToken, match="do not fit the sort fields"):
            await query.keyset(size=2, after=bad)


async def test_keyset_refuses_sensitive_and_list_sort_keys(items):
    with pytest.raises(ValueError, match=r"Item\.secret is sensitive"):
        await Item.find().sort(asc(Item.secret)).keyset()
    with pytest.raises(ValueError, match=r"Item\.tags holds a list"):
        await Item.find().sort(asc(Item.tags)).keyset()
    with pytest.raises(ValueError, match="size >= 1"):
        await Item.find().keyset(size=0)
