"""The stored form read from the instance (``instance_diff.instance_form``), attacked.

A write of a plain class's new document (and the full path of its saves) reads the stored form
from the instance instead of dumping it and proving the dump exact. The differential tests put
hostile values at every place a value can change in place, or bypass validation, and compare
with the dump's path (:func:`mdocument.forms.dumped_form`): the form must either step aside
(``None``) or be exactly the dump, key order included (the BSON sent, and a bulk insert's
baseline, are encoded from it), and never answer where the dump's path would coerce or refuse.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

import bson
import pytest
from bson.codec_options import DEFAULT_CODEC_OPTIONS
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from mdocument import Document, Field, ObjectId, init
from mdocument.codec import codec_options, encode
from mdocument.forms import checked_form, dumped_form
from test_exact_forms import (
    CHANGE_MIXES,
    PLACES,
    Address,
    Profile,
    apply_changes,
    fresh,
    hostile,
    identical,
)
from test_instance_diff import BYPASS

UTC = datetime.timezone.utc
MAPPING = Profile.__mdocument_mapping__
OPTIONS = codec_options(DEFAULT_CODEC_OPTIONS)


def dump_path(document: Profile) -> tuple[str, dict[str, Any] | None]:
    """What the dump's path does with a copy of ``document``: refuse, coerce, or store as is."""
    document = document.model_copy(deep=True)
    data = encode(document, MAPPING)
    try:
        stored = dumped_form(MAPPING, document)
    except ValidationError:
        return "refused", None
    exact = MAPPING.exact_check is not None and MAPPING.exact_check(data)
    return ("exact" if exact and identical(stored, data) else "coerced"), stored


def assert_form_agrees(document: Profile) -> bool:
    """The form's answer against the dump's path; whether the form answered."""
    outcome, stored = dump_path(document)
    assert MAPPING.instance_form is not None
    form = MAPPING.instance_form(document.__dict__)
    if form is None:
        return False
    assert outcome == "exact"  # answered: the dump's path stored the dump as it is
    assert stored is not None
    assert list(form) == list(stored)  # the same keys in the same order: the same BSON
    assert identical(form, stored)
    try:
        sent = bson.encode(stored, codec_options=OPTIONS)
    except OverflowError:  # an int beyond 64 bits: the driver refuses both alike
        with pytest.raises(OverflowError):
            bson.encode(form, codec_options=OPTIONS)
    else:
        assert bson.encode(form, codec_options=OPTIONS) == sent
    return True


def test_an_unchanged_document_has_the_dump_as_its_form():
    document = fresh()
    assert assert_form_agrees(document)
    assert next(iter(MAPPING.instance_form(document.__dict__))) == "_id"  # type: ignore[misc]


@pytest.mark.parametrize("place", sorted({**PLACES, **BYPASS}))
def test_every_hostile_value_at_every_place_is_formed_as_the_dump_is(place):
    answered = 0
    for value in hostile():
        document = fresh()
        with contextlib.suppress(AttributeError, TypeError, IndexError, ValueError):
            {**PLACES, **BYPASS}[place](document, value)
        answered += assert_form_agrees(document)
    # A value written past validation is a raw replacement no hostile value fits (a model).
    assert answered > 0 or place.startswith(("del ", "raw "))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(CHANGE_MIXES)
def test_any_mix_of_changes_is_formed_as_the_dump_is(changes):
    document = fresh()
    apply_changes(document, changes)
    assert_form_agrees(document)


def test_the_form_shares_no_container_with_the_instance():
    document = fresh()
    form = MAPPING.instance_form(document.__dict__)  # type: ignore[misc]
    assert form is not None
    before = bson.encode(form, codec_options=OPTIONS)
    document.tags.append("b")
    document.counters["b"] = 2
    document.address.city = "Lyon"
    document.history[0].zip = "1"
    document.nested["a"].append(2)
    assert bson.encode(form, codec_options=OPTIONS) == before


def test_instances_the_form_cannot_vouch_for_take_the_dump():
    class Special(Profile):
        note: str = ""

    special = Special(name="Ada", note="n")
    assert checked_form(MAPPING, special)["note"] == "n"  # a subclass: its own fields stored
    built = Profile.model_construct(**dict(fresh()))
    built.__dict__["score"] = "1.5"
    built.__pydantic_private__ = {"_mdocument_unvalidated": True}
    assert checked_form(MAPPING, built)["score"] == 1.5  # built without validation: validated
    coerced = fresh()
    coerced.counters["b"] = "5"  # type: ignore[assignment]
    assert MAPPING.instance_form(coerced.__dict__) is None  # type: ignore[misc]
    assert checked_form(MAPPING, coerced)["counters"] == {"a": 1, "b": 5}
    assert coerced.counters["b"] == 5  # adopted by the instance, as before
    refused = fresh()
    refused.tags.append({"$ne": None})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        checked_form(MAPPING, refused)


def reorder(document: Profile, where: str) -> None:
    """Delete one field of ``where`` and set it again: pydantic moves it to its dict's end."""
    owner = {"top": document, "nested": document.address, "listed": document.history[0]}[where]
    name = "name" if where == "top" else "city"
    value = getattr(owner, name)
    delattr(owner, name)
    setattr(owner, name, value)


@pytest.mark.parametrize("where", ["top", "nested", "listed"])
def test_a_field_deleted_and_set_again_is_stored_in_the_dumps_order(where):
    # pydantic dumps a model in its __dict__'s order; the form, built in the declared order,
    # steps aside, and what is stored is the dump, key for key (Hypothesis found it: a nested
    # field deleted, then set).
    document = fresh()
    reorder(document, where)
    assert MAPPING.instance_form(document.__dict__) is None  # type: ignore[misc]
    stored, dumped = checked_form(MAPPING, document), encode(document, MAPPING)
    assert bson.encode(stored, codec_options=OPTIONS) == bson.encode(dumped, codec_options=OPTIONS)
    assert assert_form_agrees(fresh())  # in the declared order, the form answers


class Renamed(Document):
    """Top-level aliases, ``id`` declared again, an optional model and a sensitive value."""

    title: str = Field(alias="t")
    id: ObjectId = Field(default_factory=ObjectId, alias="_id")
    where: Address | None = Field(default=None, alias="w")
    pin: str = Field(default="1234", sensitive=True)
    seen: list[datetime.datetime] = []


def test_aliases_and_a_redeclared_id_are_formed_in_the_dumps_order():
    mapping = Renamed.__mdocument_mapping__
    assert mapping.instance_form is not None
    document = Renamed(t="x", w=Address(street="s", city="c", zip="z"))
    document.seen.append(datetime.datetime(2024, 1, 1, tzinfo=UTC))
    form = mapping.instance_form(document.__dict__)
    assert form is not None
    dumped = encode(document, mapping)
    assert list(form) == list(dumped)
    assert form == dumped
    document.seen.append(datetime.datetime(2024, 1, 1))  # naive: the dump's path refuses it
    assert mapping.instance_form(document.__dict__) is None
    with pytest.raises(ValidationError) as raised:
        checked_form(mapping, document)
    assert "1234" not in str(raised.value)


# -- through a server -------------------------------------------------------------------------


async def test_new_documents_are_stored_exactly_as_dumped(database):
    await init(database, models=[Renamed])
    created = await Renamed.create(t="a", w=Address(street="s", city="c", zip="z"))
    batch = [
        Renamed(t=str(number), seen=[datetime.datetime(2024, 1, 1, tzinfo=UTC)])
        for number in range(3)
    ]
    await Renamed.insert_many(batch)
    raw = database["renamed"].with_options(codec_options=bson.CodecOptions(tz_aware=True))
    for document in [created, *batch]:
        stored = await raw.find_one({"_id": document.id})
        assert stored is not None
        dumped = encode(document, Renamed.__mdocument_mapping__)
        assert list(stored) == list(dumped)
        assert stored == dumped


async def test_a_new_document_changed_in_place_is_refused_before_the_write(database, commands):
    await init(database, models=[Renamed])
    document = Renamed(t="a")
    document.seen.append("2024-01-01")  # type: ignore[arg-type]
    commands.clear()
    with pytest.raises(ValidationError):
        await document.save()
    with pytest.raises(ValidationError):
        await Renamed.insert_many([Renamed(t="b"), document])
    assert commands.of("insert") == []
    assert await database["renamed"].count_documents({}) == 0


@pytest.mark.parametrize("where", ["top", "nested", "listed"])
async def test_what_create_stores_of_a_reordered_document_is_its_dump(database, where):
    await init(database, models=[Profile])
    document = fresh()
    reorder(document, where)
    await document.save()
    raw = database["profile"].with_options(codec_options=OPTIONS)
    stored = await raw.find_one({"_id": document.id})
    dumped = encode(document, MAPPING)
    assert bson.encode(stored, codec_options=OPTIONS) == bson.encode(dumped, codec_options=OPTIONS)
