"""The changes of a save read from the instance (``mdocument.instance_diff``), attacked.

For a plain class, a save walks the instance against its baseline instead of dumping the whole
document, proving its types and diffing the dump. The differential tests put hostile values at
every place a value can change in place, or bypass validation, and compare with the full path:
the walk must either step aside (``None``) or find exactly the changes and the new baseline the
full path finds, and never step in where the full path would coerce or refuse.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
from typing import Any

import bson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from mdocument import Document, Field, init
from mdocument.changes import Changes, diff, loaded, remember
from mdocument.codec import encode
from mdocument.forms import checked_form, dumped_form, normalized, quick_changes
from test_exact_forms import (
    CHANGE_MIXES,
    PLACES,
    Address,
    Colour,
    Profile,
    apply_changes,
    fresh,
    hostile,
    identical,
    raw_of,
)

UTC = datetime.timezone.utc
MAPPING = Profile.__mdocument_mapping__

# Places where validation is bypassed for a field that cannot change in place: the full path
# trusts assignment there, and so must the walk (both send what the instance holds).
BYPASS: dict[str, Any] = {
    "raw name": lambda document, value: document.__dict__.__setitem__("name", value),
}


def stored_baseline(document: Profile, *, raw: bool, shared: bool = True) -> None:
    """Make ``document`` look loaded (``raw``: its baseline as the driver returns it) or saved.

    Loaded, it holds no enum: a stored enum is its value, which only validation turns back into
    a member (that baseline takes the full path). ``shared``: as a real load or save leaves
    them, the instance and its baseline hold the very same strings, numbers and datetimes (the
    walk passes over a model whose values are all the baseline's own); else equal copies.
    """
    if raw:
        document.colours = []
    form = raw_of(document)
    if raw:
        if shared:  # validation keeps the objects it was given: the instance holds the raw ones
            document.__dict__.update(Profile.model_validate(form).__dict__)
        loaded(document, form, None, None)  # type: ignore[arg-type]
    elif shared:
        remember(document, checked_form(MAPPING, document), raw=False)
    else:
        remember(document, normalized(MAPPING, form), raw=False)


BASELINES = {
    "loaded": {"raw": True},
    "saved": {"raw": False},
    "loaded apart": {"raw": True, "shared": False},
    "saved apart": {"raw": False, "shared": False},
}
"""The baselines the walk meets: loaded or saved, sharing values with the instance or not."""


def full_path(document: Profile) -> tuple[str, Changes | None, dict[str, Any] | None]:
    """What a save's full path finds: refused, or its changes and the new baseline."""
    document = document.model_copy(deep=True)
    private = document.__pydantic_private__ or {}
    before = private["_mdocument_stored"]
    if private.get("_mdocument_raw"):
        before = normalized(MAPPING, before)
    try:
        stored = dumped_form(MAPPING, document)
    except ValidationError:
        return "refused", None, None
    exact = MAPPING.exact_check is not None and MAPPING.exact_check(encode(document, MAPPING))
    return ("exact" if exact else "coerced"), diff(before, stored, MAPPING.equality_names), stored


def assert_walk_agrees(document: Profile) -> bool:
    """The walk's answer against the full path's; whether the walk answered."""
    outcome, expected, stored = full_path(document)
    got = quick_changes(MAPPING, document)
    if got is None:
        return False
    # The walk answered: the full path must have stored the dump as it is, unchanged.
    assert outcome == "exact"
    assert expected is not None
    assert stored is not None
    changes, baseline = got
    assert changes.unset == expected.unset
    assert changes.set.keys() == expected.set.keys()
    for path, value in expected.set.items():
        assert identical(changes.set[path], value), path
    assert baseline.keys() == stored.keys()
    for key, value in stored.items():
        assert identical(baseline[key], value), key
    return True


def test_the_plain_document_has_a_walk():
    assert MAPPING.instance_walk is not None


def test_the_generated_functions_take_their_names_as_globals_one_per_object():
    """A call binds every keyword default not passed: one dict lookup each, on every call.

    The walk of a document of 13 nested models once named 300 constants (a name per leaf for
    the same ``str``) as keyword defaults: 3 µs a call before any work. Its names are globals
    now, cached by the interpreter, and each object is named once.
    """
    generated = [
        MAPPING.instance_walk,
        MAPPING.instance_raw_walk,
        MAPPING.instance_form,
        MAPPING.exact_check,
        MAPPING.stored_check,
        MAPPING.utc_attacher,
    ]
    for function in generated:
        assert function is not None
        assert function.__kwdefaults__ is None, function.__name__
        named = [value for name, value in function.__globals__.items() if name.startswith("c")]
        assert len({id(value) for value in named}) == len(named), function.__name__


@pytest.mark.parametrize("baseline", sorted(BASELINES))
def test_an_unchanged_document_has_no_changes(baseline):
    document = fresh()
    stored_baseline(document, **BASELINES[baseline])
    found = quick_changes(MAPPING, document)
    assert found is not None
    assert not found[0]


@pytest.mark.parametrize("baseline", sorted(BASELINES))
@pytest.mark.parametrize("place", sorted({**PLACES, **BYPASS}))
def test_every_hostile_value_at_every_place_is_diffed_as_the_full_path_does(place, baseline):
    answered = 0
    for value in hostile():
        document = fresh()
        stored_baseline(document, **BASELINES[baseline])
        with contextlib.suppress(AttributeError, TypeError, IndexError, ValueError):
            {**PLACES, **BYPASS}[place](document, value)
        answered += assert_walk_agrees(document)
    # The walk is not simply stepping aside (a deleted field, or a value written past validation
    # as no hostile value fits, is the full path's to report or coerce).
    assert answered > 0 or place.startswith(("del ", "raw "))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(sorted(BASELINES)), CHANGE_MIXES)
def test_any_mix_of_changes_is_diffed_as_the_full_path_does(baseline, changes):
    document = fresh()
    stored_baseline(document, **BASELINES[baseline])
    apply_changes(document, changes)
    assert_walk_agrees(document)


@pytest.mark.parametrize("baseline", sorted(BASELINES))
def test_a_model_put_where_the_baseline_has_none_is_diffed_as_the_full_path_does(baseline):
    document = fresh()
    document.other = None
    stored_baseline(document, **BASELINES[baseline])
    document.other = Address(street="s", city="c", zip="z")
    assert assert_walk_agrees(document)
    found = quick_changes(MAPPING, document)
    assert found is not None
    assert found[0].set == {"other": {"street": "s", "city": "c", "zip": "z", "since": None}}


def test_assignments_are_diffed_as_the_full_path_does():
    for raw in (True, False):
        document = fresh()
        stored_baseline(document, raw=raw)
        document.name = "Grace"
        document.score = -0.0  # equal to 0.0 in Python, stored apart
        document.address = Address(street="2 Side St", city="Springfield", zip="12345")
        document.other = None
        document.colours = [Colour.BLUE]
        assert assert_walk_agrees(document)


def test_the_walk_steps_aside_where_it_cannot_answer():
    document = fresh()
    assert quick_changes(MAPPING, document) is None  # never stored: an insert
    stored_baseline(document, raw=True)
    built = Profile.model_construct(**dict(document))
    loaded(built, raw_of(document), None, None)  # type: ignore[arg-type]
    built.__pydantic_private__["_mdocument_unvalidated"] = True  # type: ignore[index]
    assert quick_changes(MAPPING, built) is None  # built without validation
    document.__pydantic_private__["_mdocument_stored"]["score"] = 1  # type: ignore[index]
    assert quick_changes(MAPPING, document) is None  # a stored value validation would coerce
    stored_baseline(document, raw=False)
    del document.__dict__["tags"]
    assert quick_changes(MAPPING, document) is None  # a field deleted from the instance


# A loaded document's raw baseline is what the server holds: written by another client, an older
# class or a shell, it may hold values validation accepts but converts. The first save after the
# load walks it without proving it whole first (only the raw values that are not the instance's
# own objects are checked): each must either take the full path or do exactly what it does.
HOSTILE_RAW: dict[str, Any] = {
    "score as an int": lambda raw: raw.__setitem__("score", 0),
    "score as an Int64": lambda raw: raw.__setitem__("score", bson.Int64(0)),
    "rank as an Int64": lambda raw: raw["pair"].__setitem__("rank", bson.Int64(1)),
    "rank as a string": lambda raw: raw["pair"].__setitem__("rank", "1"),
    "rank as a bool": lambda raw: raw["pair"].__setitem__("rank", True),
    "rank as a float": lambda raw: raw["pair"].__setitem__("rank", 1.0),
    "pair with an extra key": lambda raw: raw["pair"].__setitem__("extra", 1),
    "pair in another order": lambda raw: raw.__setitem__(
        "pair", dict(reversed(raw["pair"].items()))
    ),
    "address with an extra key": lambda raw: raw["address"].__setitem__("extra", "x"),
    "address without its optional key": lambda raw: raw["address"].pop("since"),
    "address in another order": lambda raw: raw.__setitem__(
        "address", dict(reversed(raw["address"].items()))
    ),
    "history item with an extra key": lambda raw: raw["history"][0].__setitem__("extra", 1),
    "counter as an Int64": lambda raw: raw["counters"].__setitem__("a", bson.Int64(1)),
    "counter as a bool": lambda raw: raw["counters"].__setitem__("a", True),
    "maybe item as an Int64": lambda raw: raw["maybe"].__setitem__(0, bson.Int64(1)),
    "an extra top-level key": lambda raw: raw.__setitem__("extra", 1),
    # As many keys as the stored form, one of them not its own: walked as it is, it must
    # still step aside (the missing field) or agree with the full path.
    "an extra key in place of a missing field": lambda raw: (
        raw.pop("other"),
        raw.__setitem__("extra", 1),
    ),
    "keys in another order": lambda raw: [raw.__setitem__(k, raw.pop(k)) for k in list(raw)[::-1]],
    "a missing optional field": lambda raw: raw.pop("other"),
    "other as None": lambda raw: raw.__setitem__("other", None),
}

RAW_CHANGES: dict[str, Any] = {
    "nothing": lambda document: None,
    "address.street": lambda document: setattr(document.address, "street", "2 Side St"),
    "pair.rank": lambda document: setattr(document.pair, "rank", 2),
    "score": lambda document: setattr(document, "score", 2.5),
    "counters[b]": lambda document: document.counters.__setitem__("b", 2),
    "history[0].city": lambda document: setattr(document.history[0], "city", "Paris"),
}


@pytest.mark.parametrize("change", sorted(RAW_CHANGES))
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "apart"])
@pytest.mark.parametrize("hostile", sorted(HOSTILE_RAW))
def test_a_hostile_raw_baseline_is_walked_as_the_full_path_does(hostile, shared, change):
    document = fresh()
    document.colours = []  # a stored enum is its value: validation alone turns it back
    raw = raw_of(document)
    HOSTILE_RAW[hostile](raw)
    if shared:  # as a load leaves it: validation keeps the objects it was given
        document.__dict__.update(Profile.model_validate(raw).__dict__)
    loaded(document, raw, None, None)  # type: ignore[arg-type]
    RAW_CHANGES[change](document)
    assert_walk_agrees(document)


def test_the_raw_walk_answers_where_the_raw_values_are_the_instance_own():
    """Not a walk that steps aside whenever a raw value is unusual: it answers for these."""
    for name in ("an extra top-level key", "pair in another order", "address in another order"):
        for change in ("nothing", "score", "counters[b]"):
            document = fresh()
            document.colours = []
            raw = raw_of(document)
            HOSTILE_RAW[name](raw)
            document.__dict__.update(Profile.model_validate(raw).__dict__)
            loaded(document, raw, None, None)  # type: ignore[arg-type]
            RAW_CHANGES[change](document)
            assert assert_walk_agrees(document), (name, change)


def test_a_raw_value_validation_converts_takes_the_full_path_where_it_is_compared():
    document = fresh()
    document.colours = []
    raw = raw_of(document)
    raw["pair"]["rank"] = bson.Int64(1)
    document.__dict__.update(Profile.model_validate(raw).__dict__)
    loaded(document, raw, None, None)  # type: ignore[arg-type]
    document.pair.rank = 2  # compared with the raw Int64: not proved, so the full path
    assert quick_changes(MAPPING, document) is None


def test_a_subclass_instance_takes_the_full_path():
    class Special(Profile):
        note: str = ""

    document = Special(name="Ada")
    stored_baseline(document, raw=False)  # type: ignore[arg-type]
    assert quick_changes(MAPPING, document) is None


# -- through a server -------------------------------------------------------------------------


class Account(Document):
    name: str
    balance: float = 0.0
    tags: list[str] = []
    address: Address | None = None
    opened: datetime.datetime = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    secret: str = Field(default="", sensitive=True)


@pytest.fixture
async def accounts(database):
    await init(database, models=[Account])
    return database


async def test_a_loaded_document_sends_only_what_changed(accounts, commands):
    created = await Account.create(
        name="a", tags=["x"], address=Address(street="s", city="c", zip="z")
    )
    loaded_ = await Account.get(created.id)
    loaded_.address.city = "Lyon"  # type: ignore[union-attr]
    loaded_.tags[0] = "y"
    loaded_.balance = 2.5
    commands.clear()
    await loaded_.save()
    (update,) = [command["updates"][0]["u"] for command in commands.of("update")]
    assert update == {"$set": {"balance": 2.5, "tags.0": "y", "address.city": "Lyon"}}
    commands.clear()
    await loaded_.save()
    assert commands.names == []
    stored = await accounts["account"].find_one({"_id": created.id})
    assert stored["address"]["city"] == "Lyon"
    assert stored["tags"] == ["y"]


async def test_a_document_another_client_wrote_is_saved_as_the_full_path_saves_it(
    accounts, commands
):
    """Values validation converts, and keys the class does not know, written by someone else."""
    created = await Account.create(name="a", tags=["x"])
    await accounts["account"].update_one(
        {"_id": created.id},
        {
            "$set": {
                "balance": bson.Int64(3),  # validated into 3.0: not the raw object
                "address": {"street": "s", "city": "c", "zip": "z", "since": None, "floor": 2},
                "legacy": "kept",
            }
        },
    )
    first = await Account.get(created.id)
    assert first is not None
    first.name = "b"  # the unusual values are left alone: nothing else is written
    commands.clear()
    await first.save()
    (update,) = [command["updates"][0]["u"] for command in commands.of("update")]
    assert update == {"$set": {"name": "b"}}
    second = await Account.get(created.id)
    assert second is not None
    second.address.city = "Lyon"  # type: ignore[union-attr]
    commands.clear()
    await second.save()
    (update,) = [command["updates"][0]["u"] for command in commands.of("update")]
    assert update == {"$set": {"address.city": "Lyon"}}
    stored = await accounts["account"].find_one({"_id": created.id})
    assert stored["address"] == {
        "street": "s", "city": "Lyon", "zip": "z", "since": None, "floor": 2
    }  # fmt: skip
    assert stored["balance"] == 3
    assert stored["legacy"] == "kept"
    assert stored["name"] == "b"


async def test_a_value_validation_would_refuse_is_refused_before_the_write(accounts, commands):
    created = await Account.create(name="a", tags=["x"])
    loaded_ = await Account.get(created.id)
    loaded_.tags.append({"$ne": None})  # type: ignore[arg-type]
    commands.clear()
    with pytest.raises(ValidationError):
        await loaded_.save()
    assert commands.of("update") == []
    loaded_.tags[-1] = True  # type: ignore[call-overload]
    with pytest.raises(ValidationError):
        await loaded_.save()
    assert commands.of("update") == []


async def test_a_coerced_value_is_written_coerced(accounts):
    created = await Account.create(name="a")
    loaded_ = await Account.get(created.id)
    loaded_.__dict__["balance"] = 3  # past validate_assignment: the full path's to coerce
    loaded_.tags.append("1")
    await loaded_.save()
    stored = await accounts["account"].find_one({"_id": created.id})
    assert stored["tags"] == ["1"]


async def test_a_deleted_document_is_reported_not_recreated(accounts):
    created = await Account.create(name="a")
    stale = await Account.get(created.id)
    await created.delete()
    stale.name = "b"
    with pytest.raises(Account.NotFoundError):
        await stale.save()
    assert await accounts["account"].count_documents({}) == 0


async def test_the_saved_baseline_is_not_shared_with_the_instance(accounts, commands):
    created = await Account.create(name="a", tags=["x"])
    loaded_ = await Account.get(created.id)
    loaded_.tags.append("y")
    await loaded_.save()
    loaded_.tags.append("z")  # the list the baseline copied must not be this one
    commands.clear()
    await loaded_.save()
    assert [c["updates"][0]["u"] for c in commands.of("update")] == [
        {"$set": {"tags": ["x", "y", "z"]}}
    ]


def test_a_copy_of_a_document_keeps_its_own_baseline():
    document = fresh()
    stored_baseline(document, raw=False)
    twin = copy.deepcopy(document)
    twin.tags.append("b")
    assert quick_changes(MAPPING, document) is not None
    assert not quick_changes(MAPPING, document)[0]  # type: ignore[index]
    found = quick_changes(MAPPING, twin)
    assert found is not None
    assert found[0].set == {"tags": ["a", "b"]}


class Unknown(BaseModel):
    value: Any = None


def test_sensitive_fields_are_walked_too():
    # Their mask serializes JSON only: their Python dump, what is stored, is the value itself.
    mapping = Account.__mdocument_mapping__
    assert mapping.instance_walk is not None
    assert mapping.exact_check is not None
    assert "secret" in mapping.equality_names


async def test_a_secret_changed_in_a_saved_document_is_sent_and_never_shown(accounts, commands):
    created = await Account.create(name="a", secret="old-hunter2")
    loaded_ = await Account.get(created.id)
    loaded_.secret = "new-hunter2"
    commands.clear()
    await loaded_.save()
    (update,) = [command["updates"][0]["u"] for command in commands.of("update")]
    assert update == {"$set": {"secret": "new-hunter2"}}
    assert "hunter2" not in repr(loaded_)
    assert "hunter2" not in loaded_.model_dump_json()


def test_a_class_the_walk_cannot_follow_has_none():
    class Loose(Document):
        extra: Unknown | None = None

    assert Loose.__mdocument_mapping__.instance_walk is None


CHANGES_IN_PLACE: dict[str, Any] = {
    "tags": lambda document, value: document.tags.append(value),
    "counters": lambda document, value: document.counters.__setitem__("again", len(value)),
    "address": lambda document, value: setattr(document.address, "city", value),
    "history": lambda document, value: setattr(document.history[0], "city", value),
    "nested": lambda document, value: document.nested["a"].append(len(value)),
    "other": lambda document, value: setattr(document.other, "zip", value),
}


@pytest.mark.parametrize("field", sorted(CHANGES_IN_PLACE))
def test_a_new_baseline_never_shares_a_container_with_the_instance(field):
    document = fresh()
    stored_baseline(document, raw=False)
    # A first change of every container: each baseline value becomes the walk's own copy.
    for change in CHANGES_IN_PLACE.values():
        change(document, "once")
    found = quick_changes(MAPPING, document)
    assert found is not None
    assert found[0].top_level() == set(CHANGES_IN_PLACE)
    remember(document, found[1], raw=False)
    CHANGES_IN_PLACE[field](document, "twice")  # again, in place: must be seen
    found = quick_changes(MAPPING, document)
    assert found is not None
    assert found[0].top_level() == {field}
