"""Loading many documents at once keeps every guarantee of loading one."""

import pytest

from mdocument import Document, WrongValueType, init


class Reading(Document):
    value: int
    labels: list[str] = []


async def test_a_query_loads_documents_that_save_only_what_changed(database, commands):
    await init(database, models=[Reading])
    await Reading.insert_many([Reading(value=i) for i in range(5)])
    loaded = await Reading.find().sort("value").to_list()
    assert [reading.value for reading in loaded] == list(range(5))
    commands.clear()
    for reading in loaded:
        await reading.save()
    assert commands.count == 0  # each remembered its stored form
    loaded[2].labels.append("x")
    await loaded[2].save()
    assert [update["u"] for update in commands.of("update")[0]["updates"]] == [
        {"$set": {"labels": ["x"]}}
    ]


async def test_a_stored_document_that_does_not_fit_is_named_among_many(database):
    await init(database, models=[Reading])
    await database["reading"].insert_many([{"value": 1}, {"value": "x"}, {"value": 3}])
    with pytest.raises(WrongValueType, match=r"Reading .* in collection 'reading'.*value"):
        await Reading.find().sort("value").to_list()
