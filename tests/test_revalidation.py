"""Before a write, a document is validated again: what changed in place is caught there.

Scalars are validated at every assignment; lists, dicts and nested models can change without
one (``doc.tags.append(42)``). Before a write: constraints, validators and naive datetimes are
checked at every depth, coercions are adopted, nothing is written on error, the instance keeps
its own objects when nothing changed, and its set fields are left alone.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError, field_validator, model_validator

from mdocument import Document, Field, init


class Address(BaseModel):
    city: str = Field(max_length=20)
    since: datetime.datetime | None = None


class Card(BaseModel):
    number: str = Field(sensitive=True)
    holder: list[str] = []


class Member(Document):
    name: str
    tags: list[str] = []
    counters: dict[str, int] = {}
    address: Address = Address(city="London")
    card: Card | None = None

    @field_validator("tags")
    @classmethod
    def no_blank_tag(cls, tags: list[str]) -> list[str]:
        if any(not tag.strip() for tag in tags):
            raise ValueError("tags cannot be blank")
        return tags


class Ranged(Document):
    low: int
    high: int
    marks: list[int] = []

    @model_validator(mode="after")
    def ordered(self) -> Ranged:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


@pytest.fixture
async def member(database):
    await init(database, models=[Member, Ranged])
    return await Member.create(name="Ada")


async def stored(database, document) -> dict[str, Any]:
    return await database[type(document).__mdocument_mapping__.collection].find_one(
        {"_id": document.id}
    )


async def test_a_nested_constraint_broken_in_place_is_refused(database, member, commands):
    member.address.city = "x" * 30
    commands.clear()
    with pytest.raises(ValidationError, match=r"address\.city"):
        await member.save()
    assert commands.of("update") == []
    assert (await stored(database, member))["address"]["city"] == "London"


async def test_a_naive_datetime_put_in_place_is_refused(database, member, commands):
    member.address.since = datetime.datetime(2026, 1, 1)  # naive: the point
    commands.clear()
    with pytest.raises(ValidationError, match="timezone"):
        await member.save()
    assert commands.of("update") == []


async def test_a_field_validator_runs_on_a_value_changed_in_place(member):
    member.tags.append("  ")
    with pytest.raises(ValidationError, match="blank"):
        await member.save()


async def test_a_refused_save_leaves_the_instance_as_it_was(member):
    tags = member.tags
    member.tags.append(42)  # type: ignore[arg-type]
    fields_set = set(member.__pydantic_fields_set__)
    with pytest.raises(ValidationError):
        await member.save()
    assert member.tags is tags
    assert member.__pydantic_fields_set__ == fields_set


async def test_coercions_are_stored_and_adopted(database, member):
    member.counters["visits"] = "5"  # type: ignore[assignment]
    await member.save()
    assert (await stored(database, member))["counters"] == {"visits": 5}
    assert member.counters == {"visits": 5}


async def test_the_instance_keeps_its_own_objects_when_nothing_changed(database, member):
    address, tags = member.address, member.tags
    member.name = "Ada L"
    await member.save()
    assert member.address is address
    assert member.tags is tags
    address.city = "Paris"  # through a reference taken before the save
    await member.save()
    assert (await stored(database, member))["address"]["city"] == "Paris"


async def test_fields_set_is_unchanged_by_a_save(member):
    before = set(member.__pydantic_fields_set__)
    member.tags.append("vip")
    await member.save()
    assert member.__pydantic_fields_set__ == before
    assert "tags" not in member.model_dump(exclude_unset=True)


async def test_a_nested_sensitive_value_is_not_shown_in_the_error(member):
    member.card = Card(number="4111-1111", holder=[])
    await member.save()
    member.card.holder.append(7)  # type: ignore[arg-type]
    member.card.number = "5500-0000"
    with pytest.raises(ValidationError) as caught:
        await member.save()
    assert "5500" not in str(caught.value)


async def test_a_model_validator_sees_the_whole_document_again(database, member):
    ranged = await Ranged.create(low=1, high=5)
    vars(ranged)["low"] = 9  # bypasses assignment validation, as some libraries do
    ranged.marks.append(1)
    with pytest.raises(ValidationError, match="low must not exceed high"):
        await ranged.save()
    assert (await stored(database, ranged))["low"] == 1
