"""Datetimes read naive and made aware by the class's own attach function, attacked.

Classes whose annotations say where every datetime is are read with a naive-datetime codec and
get UTC attached before validation (``mdocument.utc``). Every way of loading must still give
aware UTC datetimes equal to the stored ones, at every depth; classes the attach function
cannot follow keep the driver's aware decoding.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from mdocument import Document, WrongValueType, desc, init
from mdocument.utc import utc_attacher

UTC = datetime.timezone.utc
PARIS = datetime.timezone(datetime.timedelta(hours=1))
AT = datetime.datetime(2024, 3, 1, 12, 30, 15, 123000, tzinfo=UTC)


class Stamp(BaseModel):
    at: datetime.datetime
    note: str = ""


class Event(BaseModel):
    at: datetime.datetime | None = None
    stamps: list[Stamp] = []


class Timeline(Document):
    title: str
    at: datetime.datetime
    maybe: datetime.datetime | None = None
    moments: list[datetime.datetime] = []
    unique: set[datetime.datetime] = set()
    by_name: dict[str, datetime.datetime] = {}
    stamp: Stamp | None = None
    events: list[Event] = []
    nested: dict[str, list[Stamp]] = {}
    day: datetime.date = datetime.date(2024, 3, 1)


class Loose(Document):
    at: datetime.datetime
    extra: Any = None


def full(offset: int = 0) -> Timeline:
    at = AT + datetime.timedelta(seconds=offset)
    return Timeline(
        title=f"t{offset:03d}",
        at=at,
        maybe=at.astimezone(PARIS),  # stored in UTC, read back in UTC
        moments=[at, at + datetime.timedelta(days=1)],
        unique={at},
        by_name={"a": at},
        stamp=Stamp(at=at),
        events=[Event(at=at, stamps=[Stamp(at=at, note="x")]), Event()],
        nested={"k": [Stamp(at=at)]},
    )


def datetimes(value: Any) -> list[datetime.datetime]:
    """Every datetime inside a value (models, lists, sets and dicts included)."""
    if isinstance(value, datetime.datetime):
        return [value]
    if isinstance(value, BaseModel):
        return [
            found for name in type(value).model_fields for found in datetimes(getattr(value, name))
        ]
    if isinstance(value, dict):
        return [found for item in value.values() for found in datetimes(item)]
    if isinstance(value, (list, set, tuple)):
        return [found for item in value for found in datetimes(item)]
    return []


def assert_aware_and_equal(loaded: Timeline, saved: Timeline) -> None:
    found = datetimes(loaded)
    assert len(found) == 10
    assert all(value.tzinfo is UTC for value in found)
    assert loaded == saved.model_copy(update={"maybe": saved.maybe.astimezone(UTC)})


def test_the_class_is_read_naive_and_the_loose_one_aware():
    assert Timeline.__mdocument_mapping__.utc_attacher is not None
    assert Loose.__mdocument_mapping__.utc_attacher is None  # an Any field may hold datetimes


async def test_every_way_of_loading_gives_aware_utc_datetimes_at_every_depth(database):
    await init(database, models=[Timeline])
    saved = [await Timeline.create(**dict(full(offset))) for offset in range(3)]
    by_get = await Timeline.get(saved[0].id)
    by_one = await Timeline.one(Timeline.title == "t001")
    by_many = await Timeline.many()
    by_stream = [document async for document in Timeline.find()]
    by_first = await Timeline.find().sort(desc(Timeline.at)).first()
    page = await Timeline.find().sort(Timeline.at).keyset(size=2)
    second = await Timeline.find().sort(Timeline.at).keyset(size=2, after=page.next_token)
    assert_aware_and_equal(by_get, saved[0])
    assert_aware_and_equal(by_one, saved[1])
    assert_aware_and_equal(by_first, saved[2])
    for loaded, original in zip(by_many, saved, strict=True):
        assert_aware_and_equal(loaded, original)
    for loaded, original in zip(by_stream, saved, strict=True):
        assert_aware_and_equal(loaded, original)
    assert [item.title for item in [*page.items, *second.items]] == ["t000", "t001", "t002"]


async def test_a_loaded_document_saves_nothing_when_nothing_changed(database, commands):
    await init(database, models=[Timeline])
    saved = await Timeline.create(**dict(full()))
    loaded = await Timeline.get(saved.id)
    commands.clear()
    await loaded.save()
    assert commands.names == []  # the baseline holds the same aware values as the instance
    loaded.events[0].stamps[0].at = AT + datetime.timedelta(hours=1)
    await loaded.save()
    assert commands.names == ["update"]
    assert (await Timeline.get(saved.id)).events[0].stamps[0].at == AT + datetime.timedelta(hours=1)


async def test_datetimes_elsewhere_keep_the_drivers_aware_decoding(database):
    await init(database, models=[Loose])
    saved = await Loose.create(at=AT, extra={"when": AT, "list": [AT]})
    loaded = await Loose.get(saved.id)
    assert loaded.extra["when"].tzinfo is not None
    assert loaded.extra["list"][0] == AT


async def test_a_stored_document_of_the_wrong_shape_is_reported_not_crashed_on(database):
    await init(database, models=[Timeline])
    await database["timeline"].insert_one(
        {
            "title": "bad",
            "at": datetime.datetime(2024, 1, 1),
            "moments": "not a list",
            "events": [{"stamps": {"at": 5}}],
            "stamp": [1, 2],
            "by_name": ["x"],
        }
    )
    # The attach function tolerated every wrong shape; validation names the first one.
    with pytest.raises(WrongValueType, match="stored value 'not a list' of field 'moments'"):
        await Timeline.one(Timeline.title == "bad")


def test_what_the_attach_function_cannot_follow_is_read_aware():
    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        at: datetime.datetime

    class Subclass(datetime.datetime):
        pass

    def fields(**annotations: Any) -> list[tuple[str, str, Any]]:
        return [(name, name, annotation) for name, annotation in annotations.items()]

    refused = [
        {"value": Any},
        {"value": dict[str, Any]},
        {"value": list[dict]},  # type: ignore[type-arg]
        {"value": Open},
        {"value": Subclass},
        {"value": Stamp | Event},  # which member a stored value is: unknown
        {"value": tuple[datetime.datetime, str]},
    ]
    for declared in refused:
        assert utc_attacher(Timeline, fields(**declared)) is None, declared
    assert utc_attacher(Timeline, fields(value=int, other=list[str])) is not None


@pytest.mark.parametrize(
    "naive",
    [
        datetime.datetime.min,
        datetime.datetime.max,
        datetime.datetime(1969, 12, 31, 23, 59, 59, 999000),  # before the epoch
        datetime.datetime(2024, 2, 29, 0, 0, 0, 1000),
    ],
)
def test_the_attach_function_gives_the_same_instant_in_utc(naive):
    # It rebuilds each datetime from its pickle state: the same value as replace(tzinfo=UTC).
    attach = utc_attacher(Timeline, [("at", "at", datetime.datetime)])
    assert attach is not None
    raw = {"at": naive}
    attach(raw)
    assert raw["at"] == naive.replace(tzinfo=UTC)
    assert raw["at"].tzinfo is UTC
    assert type(raw["at"]) is datetime.datetime
    assert (raw["at"].microsecond, raw["at"].fold) == (naive.microsecond, 0)
