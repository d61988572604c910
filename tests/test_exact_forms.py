"""The exact-type check that replaces the second validation before a write, attacked.

For plain documents, ``checked_form`` skips validating the dumped document again when a walk
proves that every value changed in place still has exactly its declared type. The differential
tests put hostile values at every mutable position and compare with what a full validation
stores or raises: the shortcut must never store a value validation would have coerced or refused.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import enum
import math
from decimal import Decimal
from typing import Any

import bson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from mdocument import Document, Field, ObjectId, init
from mdocument.changes import diff
from mdocument.codec import codec_options, encode
from mdocument.forms import checked_form, normalized

UTC = datetime.timezone.utc


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    city: str
    zip: str
    since: datetime.datetime | None = None


class Pair(BaseModel):
    """Scalars of one type each: checked by one comparison of keys and one of types."""

    code: str
    rank: int


class Profile(Document):
    """Every annotation the check knows, in a mutable position."""

    name: str
    score: float = 0.0
    tags: list[str] = []
    counters: dict[str, int] = {}
    ratios: list[float] = []
    flags: list[bool] = []
    moments: list[datetime.datetime] = []
    friends: list[ObjectId] = []
    colours: list[Colour] = []
    blobs: list[bytes] = []
    maybe: list[int | None] = []
    either: list[int | str] = []
    address: Address = Address(street="1 Main St", city="Springfield", zip="12345")
    other: Address | None = None
    history: list[Address] = []
    nested: dict[str, list[int]] = {}
    pair: Pair = Pair(code="a", rank=1)


def fresh() -> Profile:
    return Profile(
        name="Ada",
        tags=["a"],
        counters={"a": 1},
        ratios=[0.5],
        flags=[True],
        moments=[datetime.datetime(2024, 1, 1, tzinfo=UTC)],
        friends=[bson.ObjectId()],
        colours=[Colour.RED],
        blobs=[b"x"],
        maybe=[1, None],
        either=[1, "a"],
        other=Address(street="s", city="c", zip="z"),
        history=[Address(street="s", city="c", zip="z")],
        nested={"a": [1]},
    )


def full_form(document: BaseModel) -> dict[str, Any]:
    """What a full validation stores: the reference the shortcut must match."""
    mapping = type(document).__mdocument_mapping__  # type: ignore[attr-defined]
    return encode(type(document).model_validate(encode(document, mapping)), mapping)


HOSTILE: list[Any] = [
    1,
    True,
    False,
    0,
    1.0,
    -0.0,
    math.nan,
    2**70,
    "1",
    "",
    "red",
    b"1",
    None,
    Decimal("1.0"),
    datetime.datetime(2024, 1, 1),  # naive
    datetime.datetime(2024, 1, 1, tzinfo=UTC),
    datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    datetime.date(2024, 1, 1),
    bson.ObjectId(),
    str(bson.ObjectId()),
    Colour.BLUE,
    [],
    ["a"],
    [1],
    {},
    {"a": 1},
    {"$ne": None},
    {"street": "s", "city": "c", "zip": "z"},
    {"street": "s", "city": "c", "zip": 5},
    {"rank": 1, "code": "a"},  # a Pair's keys in another order
    {"code": "a", "rank": True},
    Address(street="s", city="c", zip="z"),
    Address.model_construct(street="s", city=1, zip="z"),
    type("Sub", (str,), {})("sub"),
]


def hostile() -> list[Any]:
    """Fresh copies of :data:`HOSTILE`.

    A place puts the value itself in the document (``tags.append(value)``), and a later change
    may change it in place (``nested.a.append`` after a raw ``nested``): with the shared values,
    one test would change what the next one feeds (a list that came to hold itself, a model
    with another field), and a test would fail or pass depending on Hypothesis' draws.
    """
    return copy.deepcopy(HOSTILE)


def put_in_list(name: str) -> Any:
    return lambda document, value: getattr(document, name).append(value)


def replace_first(name: str) -> Any:
    # Same length: the diff compares the lists item by item.
    return lambda document, value: getattr(document, name).__setitem__(0, value)


def put_in_dict(name: str) -> Any:
    return lambda document, value: getattr(document, name).__setitem__("k", value)


def set_nested(name: str) -> Any:
    return lambda document, value: setattr(document.address, name, value)


def set_in_history(name: str) -> Any:
    return lambda document, value: setattr(document.history[0], name, value)


RAW_PLACES = ("address", "other", "tags", "counters", "pair")


def set_in_pair(name: str) -> Any:
    return lambda document, value: setattr(document.pair, name, value)


def replace_raw(name: str) -> Any:
    # Past validate_assignment, as a model_construct'ed or shared nested object would be.
    return lambda document, value: document.__dict__.__setitem__(name, value)


PLACES: dict[str, Any] = {
    **{f"{name}.append": put_in_list(name) for name in (
        "tags", "ratios", "flags", "moments", "friends", "colours", "blobs", "maybe", "either",
        "history",
    )},
    **{f"{name}[0]": replace_first(name) for name in ("ratios", "maybe", "either", "flags")},
    "counters[k]": put_in_dict("counters"),
    "nested[k]": put_in_dict("nested"),
    "nested.a.append": lambda document, value: document.nested["a"].append(value),
    **{f"address.{name}": set_nested(name) for name in ("street", "zip", "since")},
    **{f"history[0].{name}": set_in_history(name) for name in ("city", "since")},
    **{f"raw {name}": replace_raw(name) for name in RAW_PLACES},
    **{f"pair.{name}": set_in_pair(name) for name in ("code", "rank")},
    "del address.zip": lambda document, value: delattr(document.address, "zip"),
}  # fmt: skip


CHANGE_MIXES = st.lists(
    st.tuples(st.sampled_from(sorted(PLACES)), st.sampled_from(range(len(HOSTILE)))),
    min_size=1,
    max_size=4,
)
"""Up to four hostile values put at places (indexes into ``HOSTILE``), for Hypothesis."""


def apply_changes(document: Profile, changes: list[tuple[str, int]]) -> None:
    """Put the Hypothesis mix ``changes`` (places and indexes into ``HOSTILE``) in ``document``."""
    for place, index in changes:
        # A raw replacement may have made a later place unreachable (``5.append``, ``[]["k"]``).
        with contextlib.suppress(AttributeError, TypeError, IndexError, ValueError):
            PLACES[place](document, copy.deepcopy(HOSTILE[index]))


def identical(a: Any, b: Any) -> bool:
    """Equal values of the very same types at every depth (NaN equal to NaN, -0.0 not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(identical(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(identical, a, b))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    return bool(a == b)


def outcome(form: Any) -> tuple[str, Any]:
    try:
        return "stored", form()
    except ValidationError:
        return "refused", None


def assert_same_outcome(document: Profile) -> None:
    copy = document.model_copy(deep=True)
    expected = outcome(lambda: full_form(copy))
    got = outcome(lambda: checked_form(Profile.__mdocument_mapping__, document))
    assert got[0] == expected[0]
    if expected[0] == "stored":
        for key, value in expected[1].items():
            if key != "_id":
                assert identical(got[1][key], value), key


def test_the_check_covers_the_plain_document():
    assert Profile.__mdocument_mapping__.exact_check is not None
    assert Profile.__mdocument_mapping__.exact_check(encode(fresh(), Profile.__mdocument_mapping__))


@pytest.mark.parametrize("place", sorted(PLACES))
def test_every_hostile_value_at_every_place_is_stored_as_validation_would(place):
    for value in hostile():
        document = fresh()
        PLACES[place](document, value)
        assert_same_outcome(document)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(CHANGE_MIXES)
def test_any_mix_of_changes_in_place_is_stored_as_validation_would(changes):
    document = fresh()
    apply_changes(document, changes)
    assert_same_outcome(document)


def test_coercions_in_place_are_adopted_by_the_instance():
    document = fresh()
    document.counters["b"] = "5"  # type: ignore[assignment]
    document.ratios.append(1)
    stored = checked_form(Profile.__mdocument_mapping__, document)
    assert stored["counters"]["b"] == 5
    assert type(stored["ratios"][-1]) is float
    assert document.counters["b"] == 5
    # A coercion Python calls equal (1 into 1.0) is written coerced and left in the instance.
    assert document.ratios[-1] == 1


class Constrained(BaseModel):
    code: str = Field(max_length=3)


class Checked(BaseModel):
    code: str

    @field_validator("code")
    @classmethod
    def upper(cls, value: str) -> str:
        return value.upper()


class Stripped(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    code: str


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str


class Invariant(Document):
    low: int
    marks: list[int] = []

    @model_validator(mode="after")
    def few_marks(self) -> Invariant:
        if len(self.marks) > 2:
            raise ValueError("at most two marks")
        return self


def full_path_documents() -> list[type[Document]]:
    annotations: list[Any] = [
        Constrained,
        Checked,
        Stripped,
        Open,
        list[Any],
        dict[str, Any],
        list[dict[str, Any]],
        list[Decimal],
        set[str],
        tuple[int, ...],
        dict[int, str],
        list[Constrained] | None,
        Constrained | Checked,
        list[int] | list[str],
    ]
    return [
        type(f"Doc{index}", (Document,), {"__annotations__": {"value": annotation}})
        for index, annotation in enumerate(annotations)
    ]


@pytest.mark.parametrize(
    "document", full_path_documents(), ids=lambda d: str(d.model_fields["value"].annotation)
)
def test_annotations_the_check_cannot_prove_take_the_full_path(document):
    assert document.__mdocument_mapping__.exact_check is None


def test_constraints_on_a_mutable_field_take_the_full_path():
    class Limited(Document):
        tags: list[str] = Field(default_factory=list, max_length=2)

    class Upper(Document):
        tags: list[str] = []

        @field_validator("tags")
        @classmethod
        def upper(cls, tags: list[str]) -> list[str]:
            return [tag.upper() for tag in tags]

    assert Limited.__mdocument_mapping__.exact_check is None
    assert Upper.__mdocument_mapping__.exact_check is None
    assert Invariant.__mdocument_mapping__.exact_check is None


async def test_a_model_invariant_broken_in_place_is_refused_before_the_write(database):
    await init(database, models=[Invariant])
    document = await Invariant.create(low=1, marks=[1])
    document.marks.extend([2, 3])
    with pytest.raises(ValidationError, match="at most two marks"):
        await document.save()
    assert (await database["invariant"].find_one({"_id": document.id}))["marks"] == [1]


async def test_values_changed_in_place_reach_the_server_with_their_declared_types(database):
    await init(database, models=[Profile])
    document = await Profile.create(name="Ada")
    document.counters["n"] = True
    document.ratios.append(2)
    document.address.since = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    await document.save()
    raw = await database["profile"].find_one({"_id": document.id})
    assert type(raw["counters"]["n"]) is int
    assert raw["counters"]["n"] == 1
    assert type(raw["ratios"][0]) is float
    document.tags.append(5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await document.save()
    document.tags.pop()
    document.address.since = datetime.datetime(2024, 1, 1)  # naive
    with pytest.raises(ValidationError, match="naive"):
        await document.save()
    assert (await database["profile"].find_one({"_id": document.id}))["address"]["since"] == raw[
        "address"
    ]["since"]


async def test_a_batch_with_one_document_changed_in_place_writes_nothing(database):
    await init(database, models=[Profile])
    batch = [Profile(name=f"p{number}") for number in range(5)]
    batch[3].history.append(Address.model_construct(street="s", city=None, zip="z"))
    with pytest.raises(ValidationError):
        await Profile.insert_many(batch)
    assert await database["profile"].count_documents({}) == 0


async def test_a_subclass_of_a_hierarchy_is_checked_against_its_own_fields(database):
    class Animal(Document):
        name: str

        class Meta:
            polymorphic = True

    class Dog(Animal):
        tricks: list[str] = []

    await init(database, models=[Animal, Dog])
    dog = Dog(name="Rex")
    dog.tricks.append(3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await dog.save()
    assert await database["animal"].count_documents({}) == 0


# -- the baseline of a loaded document -----------------------------------------------------------

STORED_PLACES = [
    "name", "score", "tags", "counters", "ratios", "moments", "friends", "colours", "maybe",
    "either", "address", "other", "history", "nested", "pair", "_id",
]  # fmt: skip


def slow_baseline(raw: dict[str, Any]) -> dict[str, Any]:
    mapping = Profile.__mdocument_mapping__
    return encode(Profile.model_validate(raw), mapping)


@pytest.mark.parametrize("place", STORED_PLACES)
def test_a_loaded_baseline_is_what_validating_the_stored_values_gives(place):
    mapping = Profile.__mdocument_mapping__
    assert mapping.stored_check is not None
    for value in hostile():
        raw = encode(fresh(), mapping)
        raw[place] = value
        raw["_mdocument_guard"] = 1  # hidden fields are never part of the stored form
        try:
            expected = slow_baseline(raw)
        except ValidationError:
            continue  # such a document cannot be loaded at all
        got = normalized(mapping, raw)
        assert got.keys() == expected.keys()
        for key in expected:
            assert identical(got[key], expected[key]), (place, value)


def test_a_stored_document_missing_a_field_gets_its_default_in_the_baseline():
    mapping = Profile.__mdocument_mapping__
    raw = encode(fresh(), mapping)
    del raw["tags"]
    assert normalized(mapping, raw)["tags"] == []


def test_a_validator_anywhere_sends_the_baseline_through_validation():
    class Lowered(Document):
        name: str

        @field_validator("name")
        @classmethod
        def lower(cls, value: str) -> str:
            return value.lower()

    mapping = Lowered.__mdocument_mapping__
    assert mapping.stored_check is None
    assert normalized(mapping, {"_id": bson.ObjectId(), "name": "ADA"})["name"] == "ada"


# -- whole values compared with == in a diff ------------------------------------------------------


def test_only_values_without_floats_or_mixed_numbers_are_compared_with_equality():
    names = Profile.__mdocument_mapping__.equality_names
    assert {"tags", "counters", "address", "history", "nested", "either", "maybe"} <= names
    assert not {"score", "ratios"} & names  # 0.0 == -0.0 in Python, not in BSON

    class Mixed(Document):
        values: list[int | float] = []

    assert "values" not in Mixed.__mdocument_mapping__.equality_names  # 1 == 1.0
    assert Invariant.__mdocument_mapping__.equality_names == frozenset()  # a validator


def raw_of(document: Profile) -> dict[str, Any]:
    form = encode(document, Profile.__mdocument_mapping__)
    return bson.decode(bson.encode(form, codec_options=CODEC), CODEC)


CODEC = codec_options(bson.codec_options.DEFAULT_CODEC_OPTIONS)  # a collection's


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(CHANGE_MIXES)
def test_a_diff_with_equality_shortcuts_sends_what_a_full_walk_sends(changes):
    mapping = Profile.__mdocument_mapping__
    document = fresh()
    baseline = normalized(mapping, raw_of(document))
    apply_changes(document, changes)
    try:
        stored = checked_form(mapping, document)
    except ValidationError:
        return  # refused before any diff
    fast, full = diff(baseline, stored, mapping.equality_names), diff(baseline, stored)
    assert fast.unset == full.unset
    assert fast.set.keys() == full.set.keys()
    for path, value in full.set.items():
        assert identical(fast.set[path], value)


async def test_a_signed_zero_or_a_number_kind_changed_deep_inside_is_saved(database):
    class Point(BaseModel):
        x: float
        label: str = ""

    class Shape(Document):
        points: list[Point] = []
        values: list[int | float] = []
        names: list[str] = []

    await init(database, models=[Shape])
    shape = await Shape.create(points=[Point(x=0.0)], values=[1], names=["a"])
    shape.points[0].x = -0.0
    shape.values[0] = 1.0
    await shape.save()
    raw = await database["shape"].find_one({"_id": shape.id})
    assert math.copysign(1, raw["points"][0]["x"]) == -1
    assert type(raw["values"][0]) is float
    shape.names[0] = "b"
    await shape.save()
    assert (await database["shape"].find_one({"_id": shape.id}))["names"] == ["b"]


async def test_a_document_stored_before_its_class_joined_a_hierarchy_can_be_saved(database):
    class Animal(Document):
        name: str
        tags: list[str] = []

        class Meta:
            polymorphic = True

    await init(database, models=[Animal])
    stored = {"_id": bson.ObjectId(), "name": "Rex", "tags": ["a"]}  # no _kind yet
    await database["animal"].insert_one(stored)
    animal = await Animal.get(stored["_id"])
    animal.name = "Rex II"
    await animal.save()  # its values pass the stored check, but it has no kind to take as is
    raw = await database["animal"].find_one({"_id": stored["_id"]})
    assert raw["name"] == "Rex II"
