"""Bad input is refused before anything is sent, with an error that names the document and field.

Values on fields that take any value (``Any``, ``dict``, untyped lists) cannot act as operators,
and whatever is sent never fails on the server with a raw ``OperationFailure``. Constraints
(``max_length``, ``le``...) apply to written values, never to query values, whichever way they
are declared.
"""

import re
from typing import Annotated, Any

import pytest
from pydantic import StringConstraints, ValidationError
from pymongo.errors import OperationFailure

from mdocument import Document, Field, WrongValueType, contains, in_, init, not_in


class Thing(Document):
    name: str = ""
    secret: Any = Field(default=None, sensitive=True)
    data: Any = None
    settings: dict[str, Any] = Field(default_factory=dict)
    items: list = Field(default_factory=list)  # type: ignore[type-arg]
    anys: list[Any] = Field(default_factory=list)


@pytest.fixture
async def things(database):
    await init(database, models=[Thing])
    return await Thing.insert_many(
        [Thing(name="a", data={"$ne": None}, items=[{"$gt": 1}]), Thing(name="b", data=3)]
    )


OPERATOR_DICTS = [{"$ne": None}, {"$gt": 1}, {"$where": "1"}]


@pytest.mark.parametrize("payload", OPERATOR_DICTS, ids=str)
@pytest.mark.parametrize("operator", [in_, not_in], ids=["in_", "not_in"])
@pytest.mark.parametrize("field", ["data", "settings", "items", "anys"])
async def test_in_refuses_an_operator_dict_on_a_field_of_any_value(
    things, commands, payload, operator, field
):
    commands.clear()
    with pytest.raises(WrongValueType) as error:
        await Thing.many(operator(getattr(Thing, field), [payload]))
    assert error.value.document is Thing
    assert error.value.field == field
    message = str(error.value)
    assert f"Thing.{field}" in message
    assert "$" in message
    assert commands.count == 0


async def test_in_on_a_nested_free_path_and_in_dict_queries(things, commands):
    commands.clear()
    with pytest.raises(WrongValueType, match=r"Thing\.settings\.x"):
        await Thing.many(in_(Thing.settings["x"], [{"$gt": 1}]))
    with pytest.raises(WrongValueType, match=r"Thing\.data"):
        await Thing.many({"data": {"$in": [{"$ne": None}]}})
    with pytest.raises(WrongValueType, match=r"Thing\.data"):
        await Thing.many({"$or": [{"data": {"$nin": [{"$ne": None}]}}]})
    assert commands.count == 0


async def test_in_masks_a_sensitive_value(things):
    with pytest.raises(WrongValueType) as error:
        await Thing.many(in_(Thing.secret, [{"$ne": "hunter2"}]))
    assert "hunter2" not in str(error.value)
    assert "Thing.secret" in str(error.value)


async def test_plain_dicts_in_in_are_values(things):
    # A dict without operator keys is a document value: $in compares it whole.
    assert await Thing.many(in_(Thing.data, [{"a": 1}, 3])) == [things[1]]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Thing.data == {"$ne": None},
        lambda: Thing.data != {"$ne": None},
        lambda: Thing.data > {"$ne": None},
        lambda: Thing.data <= {"$gt": 1},
        lambda: Thing.data == [{"$ne": None}],
        lambda: Thing.data["x"] == {"$ne": None},
        lambda: contains(Thing.items, {"$gt": 1}),
        lambda: contains(Thing.anys, {"$ne": None}),
    ],
)
async def test_other_operators_on_free_fields_send_values_the_server_accepts(things, build):
    try:
        found = await Thing.many(build())
    except OperationFailure as exc:  # pragma: no cover - the failure this test is about
        pytest.fail(f"raw OperationFailure: {exc}")
    assert all(isinstance(thing, Thing) for thing in found)
    assert [t.name for t in await Thing.many(Thing.data == {"$ne": None})] == ["a"]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Thing.data != re.compile("x"),
        lambda: Thing.data > re.compile("x"),
    ],
)
async def test_patterns_on_free_fields_are_values_or_refused(things, build):
    # A pattern given as a value must never match as a pattern, nor fail on the server.
    try:
        found = await Thing.many(build())
    except WrongValueType as error:
        refused = error
    except OperationFailure as exc:  # pragma: no cover - the failure this test is about
        pytest.fail(f"raw OperationFailure: {exc}")
    else:
        assert all(thing.name in ("a", "b") for thing in found)
        return
    assert refused.document is Thing


async def test_patterns_in_in_are_refused(things, commands):
    # $in would match them as patterns: a value is never a pattern.
    commands.clear()
    with pytest.raises(WrongValueType, match=r"Thing\.data"):
        await Thing.many(in_(Thing.data, [re.compile("x")]))
    with pytest.raises(WrongValueType, match=r"Thing\.anys"):
        await Thing.many(not_in(Thing.anys, [re.compile(".*")]))
    assert commands.count == 0


# -- constraints ----------------------------------------------------------------------------------


class Person(Document):
    name: str = Field(default="", max_length=5)
    nick: Annotated[str, StringConstraints(max_length=5)] = ""
    age: int = Field(default=0, le=150)
    level: Annotated[int, Field(le=10)] = 0
    tags: list[Annotated[str, StringConstraints(max_length=3)]] = Field(default_factory=list)
    maybe: Annotated[str, StringConstraints(max_length=5)] | None = None
    lower: Annotated[str, StringConstraints(to_lower=True)] = ""


@pytest.fixture
async def people(database):
    await init(database, models=[Person])
    return await Person.insert_many([Person(name="ada", nick="ada", age=36, tags=["a"])])


@pytest.mark.parametrize("field", ["name", "nick", "maybe"])
async def test_query_values_are_not_held_to_string_constraints(people, field):
    path = getattr(Person, field)
    assert await Person.many(path == "toolongvalue") == []
    assert await Person.many(path != "toolongvalue") == people
    assert await Person.many(in_(path, ["toolongvalue"])) == []
    assert await Person.many(path > "toolongvalue") == []
    with pytest.raises(WrongValueType, match=rf"Person\.{field}"):
        await Person.many(path == {"$ne": None})  # the type still holds


async def test_query_values_are_not_held_to_number_constraints(people):
    assert await Person.many(Person.age > 200) == []
    assert await Person.many(Person.level > 20) == []
    assert await Person.many(in_(Person.age, [500, 36])) == people
    assert await Person.many(contains(Person.tags, "toolong")) == []
    assert await Person.many({"age": {"$gt": 200}}) == []


async def test_transformations_still_apply_to_query_values(people):
    await Person.find().update({"$set": {"lower": "ABC"}})
    assert (await Person.one(Person.lower == "ABC")).lower == "abc"


@pytest.mark.parametrize(
    "update",
    [
        {"$set": {"name": "toolongvalue"}},
        {"$set": {"nick": "toolongvalue"}},
        {"$set": {"maybe": "toolongvalue"}},
        {"$set": {"age": 200}},
        {"$set": {"level": 20}},
        {"$max": {"age": 200}},
        {"$setOnInsert": {"nick": "toolongvalue"}},
        {"$set": {"tags": ["toolong"]}},
        {"$set": {"tags.0": "toolong"}},
        {"$push": {"tags": "toolong"}},
        {"$addToSet": {"tags": {"$each": ["toolong"]}}},
    ],
    ids=str,
)
async def test_updates_are_held_to_the_constraints_in_both_forms(people, commands, update):
    commands.clear()
    with pytest.raises(WrongValueType) as error:
        await Person.find().update(update)
    assert error.value.document is Person
    assert commands.count == 0
    assert (await Person.one()).name == "ada"


async def test_valid_updates_pass(people):
    await Person.find().update({"$set": {"name": "bob", "nick": "bob", "age": 150}})
    assert (await Person.one()).age == 150
    await Person.find().update({"$pull": {"tags": "toolong"}})  # a condition, not a write


def test_documents_are_held_to_the_constraints_in_both_forms():
    for values in ({"name": "toolongvalue"}, {"nick": "toolongvalue"}, {"age": 200}):
        with pytest.raises(ValidationError):
            Person(**values)
