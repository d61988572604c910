"""The baselines of documents inserted by ``insert_many``: the BSON it sent, attacked.

``insert_many`` encodes each document once, sends those bytes, and keeps them as the instance's
change baseline (bytes, which the garbage collector never scans, instead of a dict and its
lists). The first save after it decodes them like a loaded document's: it must send exactly
what changed since the insert, nothing when nothing did, and never miss a change made in place.
"""

from __future__ import annotations

import copy
import datetime
import gc
import pickle
from typing import Any

import pytest
from pydantic import BaseModel

from mdocument import Document, DuplicateError, Field, init
from mdocument.changes import STORED

UTC = datetime.timezone.utc
# Microseconds: BSON keeps milliseconds, so the bytes hold another value than the instance.
AT = datetime.datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)


class Place(BaseModel):
    city: str
    zip: str = ""


class Member(Document):
    name: str = Field(unique=True)
    email: str = ""
    score: float = 0.0
    joined: datetime.datetime = AT
    tags: list[str] = []
    place: Place = Place(city="Lyon")
    counters: dict[str, int] = {}
    extra: Any = None  # shared with the raw baseline on loads: copied, never aliased
    token: str = Field(default="", sensitive=True)


class Versioned(Document):
    name: str
    tags: list[str] = []

    class Meta:
        revision = True
        soft_delete = True


def batch(count: int, **values: Any) -> list[Member]:
    return [
        Member(
            name=f"m{index}",
            tags=["a", "b"],
            counters={"x": index},
            extra={"k": [index]},
            **values,
        )
        for index in range(count)
    ]


@pytest.fixture
async def members(database):
    await init(database, models=[Member, Versioned])
    return database


async def test_each_baseline_is_the_bson_sent(members):
    inserted = await Member.insert_many(batch(3))
    for member in inserted:
        stored = member.__pydantic_private__[STORED]
        assert type(stored) is bytes
        assert not gc.is_tracked(stored)
        assert member.is_stored


async def test_nothing_is_sent_when_nothing_changed(members, commands):
    inserted = await Member.insert_many(batch(3))
    commands.clear()
    for member in inserted:
        await member.save()
    # Not even the microsecond datetime: the server holds its millisecond value already.
    assert commands.names == []


async def test_the_first_save_sends_exactly_what_changed(members, commands):
    first, second, third = await Member.insert_many(batch(3))
    first.name = "renamed"
    second.tags.append("c")  # in place: the baseline is the bytes, not this list
    second.place.city = "Paris"
    third.counters["y"] = 2
    third.extra["k"].append(99)  # an Any value changed in place
    commands.clear()
    for member in (first, second, third):
        await member.save()
    updates = [command["updates"][0]["u"] for command in commands.of("update")]
    assert updates == [  # a list that grew is set whole, as after a load
        {"$set": {"name": "renamed"}},
        {"$set": {"tags": ["a", "b", "c"], "place.city": "Paris"}},
        {"$set": {"counters.y": 2, "extra.k": [2, 99]}},
    ]
    stored = {raw["name"]: raw for raw in await members["member"].find().to_list()}
    assert stored["renamed"]["name"] == "renamed"
    assert stored["m1"]["tags"] == ["a", "b", "c"]
    assert stored["m1"]["place"] == {"city": "Paris", "zip": ""}
    assert stored["m2"]["counters"] == {"x": 2, "y": 2}
    assert stored["m2"]["extra"] == {"k": [2, 99]}
    commands.clear()
    for member in (first, second, third):
        await member.save()
    assert commands.names == []  # the saved forms are the baselines now


async def test_a_copy_and_a_pickle_keep_a_baseline_that_still_diffs(members, commands):
    (member,) = await Member.insert_many(batch(1))
    twin = copy.deepcopy(member)
    revived = pickle.loads(pickle.dumps(member))
    twin.tags.append("t")
    commands.clear()
    await twin.save()
    assert [c["updates"][0]["u"] for c in commands.of("update")] == [
        {"$set": {"tags": ["a", "b", "t"]}}
    ]
    revived.email = "e@x.org"
    await revived.save()
    assert (await Member.get(member.id)).model_dump(include={"tags", "email"}) == {
        "tags": ["a", "b", "t"],
        "email": "e@x.org",
    }


async def test_revision_and_soft_delete_marks_survive_the_first_save(members, commands):
    inserted = await Versioned.insert_many([Versioned(name=f"v{i}", tags=["a"]) for i in range(2)])
    inserted[0].tags[0] = "x"
    commands.clear()
    await inserted[0].save()
    (update,) = [command["updates"][0] for command in commands.of("update")]
    assert update["u"] == {"$set": {"tags.0": "x"}, "$inc": {"_revision": 1}}
    assert update["q"]["_revision"] == 1  # the revision the insert started
    raw = await members["versioned"].find_one({"_id": inserted[0].id})
    assert raw["_revision"] == 2
    assert raw["_live"] is True
    await inserted[1].delete()
    assert await Versioned.many() == [inserted[0]]


async def test_a_failed_batch_leaves_no_baseline_and_no_secret(members):
    await Member.insert_many(batch(1, token="hunter2-secret"))
    fresh = batch(2, token="hunter2-secret")  # m0 again: a duplicate
    with pytest.raises(DuplicateError) as caught:
        await Member.insert_many(fresh)
    for output in (str(caught.value), repr(caught.value), repr(caught.value.__dict__)):
        assert "hunter2" not in output
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert not any(member.is_stored for member in fresh)  # nothing claims to be stored
    assert await members["member"].count_documents({}) == 1  # the batch wrote nothing
