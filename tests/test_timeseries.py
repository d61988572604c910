"""Time series: a document whose collection init creates with time-series options."""

from __future__ import annotations

import datetime

import pytest

from mdocument import Document, DocumentException, Field, UnknownModelField, init


class Reading(Document):
    at: datetime.datetime = Field(alias="t")
    sensor: str
    value: float

    class Meta:
        timeseries = {"time_field": "at", "meta_field": "sensor", "granularity": "seconds"}


def when(second: int) -> datetime.datetime:
    return datetime.datetime(2024, 1, 1, 12, 0, second, tzinfo=datetime.timezone.utc)


async def collection_info(database, name):
    cursor = database.list_collections(filter={"name": name})
    if hasattr(cursor, "__await__"):
        cursor = await cursor
    found = [info async for info in cursor]
    assert len(found) == 1
    return found[0]


async def test_init_creates_a_time_series_collection(database):
    await init(database, models=[Reading])
    info = await collection_info(database, "reading")
    assert info["type"] in ("timeseries", "collection")  # MongoDB: timeseries
    options = info["options"]["timeseries"]
    assert options["timeField"] == "t"  # the stored name
    assert options["metaField"] == "sensor"
    assert options["granularity"] == "seconds"
    await init(database, models=[Reading])  # it exists: left alone


async def test_inserts_and_queries_work(database):
    await init(database, models=[Reading])
    await Reading.insert_many(
        [Reading(at=when(i), sensor="s1" if i % 2 else "s2", value=float(i)) for i in range(6)]
    )
    await Reading.create(at=when(30), sensor="s1", value=30.0)
    found = await Reading.find(Reading.sensor == "s1").sort("at").to_list()
    assert [r.value for r in found] == [1.0, 3.0, 5.0, 30.0]
    assert found[0].at == when(1)
    assert await Reading.count(Reading.at >= when(4)) == 3


def test_field_names_are_checked():
    with pytest.raises(UnknownModelField, match="when"):

        class Bad(Document):
            at: datetime.datetime

            class Meta:
                timeseries = {"time_field": "when"}

    with pytest.raises(DocumentException, match="granularity"):

        class Bad2(Document):
            at: datetime.datetime

            class Meta:
                timeseries = {"time_field": "at", "granularity": "days"}
