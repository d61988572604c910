"""Writes that must never be lost or garbled: insert_many's clean-up, BSON-typed changes, NaN.

Change detection compares what BSON stores (type and value), not what Python's ``==`` says:
``1 == 1.0 == True`` in Python, three different values on the server (and to ``$type``).
"""

from __future__ import annotations

import datetime
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from bson import Binary, Decimal128
from bson.binary import UuidRepresentation
from pymongo.errors import BulkWriteError, OperationFailure

from mdocument import Document, DuplicateError, Field, init
from mdocument.changes import diff, same
from mdocument.testing import FailPoint


class Item(Document):
    name: str = Field(unique=True)
    data: dict[str, Any] = Field(default_factory=dict)
    values: list[Any] = Field(default_factory=list)
    anything: Any = None
    score: float = 0.0
    price: Decimal = Decimal("0")
    when: datetime.datetime | None = None
    blob: bytes = b""


def updates(commands):
    return [update["u"] for command in commands.of("update") for update in command["updates"]]


async def raw(database, item):
    return await database["item"].find_one({"_id": item.id})


# -- insert_many never deletes what it did not insert --------------------------------------------


@pytest.fixture
async def stored_items(standalone_database):
    await init(standalone_database, models=[Item])
    return await Item.insert_many([Item(name=f"stored{i}") for i in range(3)])


async def stored_names(database) -> list[str]:
    return sorted(doc["name"] for doc in await database["item"].find().to_list(None))


@pytest.mark.standalone
async def test_a_retried_insert_many_keeps_the_documents_of_the_first_call(
    standalone_database, stored_items
):
    again = [Item(id=item.id, name=item.name) for item in stored_items]
    with pytest.raises(DuplicateError):
        await Item.insert_many(again)
    assert await stored_names(standalone_database) == ["stored0", "stored1", "stored2"]


@pytest.mark.standalone
@pytest.mark.parametrize("position", ["start", "middle", "end"])
@pytest.mark.parametrize("collision", ["id", "unique field"])
async def test_a_colliding_batch_deletes_only_what_it_inserted(
    standalone_database, stored_items, position, collision
):
    victim = stored_items[1]
    clash = (
        Item(id=victim.id, name="new-clash")
        if collision == "id"
        else Item(name=victim.name)  # the unique name of a stored document
    )
    fresh = [Item(name=f"new{i}") for i in range(4)]
    at = {"start": 0, "middle": 2, "end": 4}[position]
    batch = [*fresh[:at], clash, *fresh[at:]]
    with pytest.raises(DuplicateError):
        await Item.insert_many(batch)
    assert await stored_names(standalone_database) == ["stored0", "stored1", "stored2"]
    assert (await raw(standalone_database, victim))["name"] == "stored1"


@pytest.mark.standalone
async def test_a_duplicate_inside_the_batch_leaves_nothing_of_the_batch(
    standalone_database, stored_items
):
    first = Item(name="twin-a")
    batch = [Item(name="n0"), first, Item(name="n1"), Item(id=first.id, name="twin-b")]
    with pytest.raises(DuplicateError):
        await Item.insert_many(batch)
    assert await stored_names(standalone_database) == ["stored0", "stored1", "stored2"]


async def fail_inserts(database, **data):
    """Arm failCommand on the next insert (skipped when the server has no test commands)."""
    client = database.client
    if not await FailPoint.available(client):
        pytest.skip("the server of MONGODB_STANDALONE_URI does not accept configureFailPoint")
    await client.admin.command(
        {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {"failCommands": ["insert"], **data},
        }
    )


@pytest.mark.standalone
async def test_an_insert_that_failed_before_writing_deletes_nothing_stored(
    standalone_database, stored_items
):
    # A command error: the server says nothing of where the batch stopped.
    await fail_inserts(standalone_database, errorCode=2)
    batch = [Item(name="n0"), Item(id=stored_items[0].id, name="other"), Item(name="n1")]
    with pytest.raises(OperationFailure):
        await Item.insert_many(batch)
    assert await stored_names(standalone_database) == ["stored0", "stored1", "stored2"]


@pytest.mark.standalone
async def test_an_insert_whose_outcome_is_unknown_deletes_exactly_its_own_documents(
    standalone_database, stored_items
):
    # A write concern error: the documents were written, and the call still failed.
    await fail_inserts(
        standalone_database, writeConcernError={"code": 64, "errmsg": "waiting for replication"}
    )
    with pytest.raises(BulkWriteError):
        await Item.insert_many([Item(name="n0"), Item(name="n1")])
    assert await stored_names(standalone_database) == ["stored0", "stored1", "stored2"]


async def test_a_colliding_batch_writes_nothing_in_a_transaction(mongodb_database):
    await init(mongodb_database, models=[Item])
    stored = await Item.create(name="stored")
    with pytest.raises(DuplicateError):
        await Item.insert_many([Item(name="a"), Item(id=stored.id, name="b"), Item(name="c")])
    assert await stored_names(mongodb_database) == ["stored"]


# One document without references is one insert, sent without a transaction (as create()): the
# failures a transaction used to cover are the non-transactional path's, on a replica set too.


async def test_one_colliding_document_deletes_nothing_stored(mongodb_database):
    await init(mongodb_database, models=[Item])
    stored = await Item.create(name="stored")
    with pytest.raises(DuplicateError):
        await Item.insert_many([Item(id=stored.id, name="other")])
    assert await stored_names(mongodb_database) == ["stored"]


async def test_one_document_whose_insert_failed_leaves_nothing(mongodb_database):
    await init(mongodb_database, models=[Item])
    await Item.create(name="stored")
    await fail_inserts(mongodb_database, errorCode=2)
    with pytest.raises(OperationFailure):
        await Item.insert_many([Item(name="n0")])
    assert await stored_names(mongodb_database) == ["stored"]


async def test_one_document_written_with_an_unknown_outcome_is_taken_back(mongodb_database):
    # A write concern error: the document was written, and the call still failed.
    await init(mongodb_database, models=[Item])
    await Item.create(name="stored")
    await fail_inserts(
        mongodb_database, writeConcernError={"code": 64, "errmsg": "waiting for replication"}
    )
    with pytest.raises(BulkWriteError):
        await Item.insert_many([Item(name="n0")])
    assert await stored_names(mongodb_database) == ["stored"]


# -- changes that only alter a BSON type are saved ---------------------------------------------


@pytest.fixture
async def item(database):
    await init(database, models=[Item])
    return await Item.create(
        name="x",
        data={"flag": 1, "x": 1, "nested": {"n": 0}},
        values=[0, 1],
        anything={"a": 1},
        price=Decimal("1.0"),
        score=1.5,
    )


@pytest.mark.parametrize("loaded", [False, True], ids=["saved", "loaded"])
@pytest.mark.parametrize(
    ("change", "expected_set", "check"),
    [
        (lambda d: d.data.update(flag=True), {"data.flag": True}, ("data", "flag", bool)),
        (lambda d: d.data.update(x=1.0), {"data.x": 1.0}, ("data", "x", float)),
        (
            lambda d: d.data["nested"].update(n=False),
            {"data.nested.n": False},
            ("data", "nested", dict),
        ),
        (lambda d: d.values.__setitem__(0, False), {"values.0": False}, ("values", 0, bool)),
        (lambda d: setattr(d, "anything", {"a": True}), {"anything.a": True}, None),
    ],
    ids=["int-to-bool", "int-to-float", "nested-int-to-bool", "list-int-to-bool", "any"],
)
async def test_a_change_of_bson_type_is_saved(
    database, item, commands, loaded, change, expected_set, check
):
    target = await Item.get(item.id) if loaded else item
    change(target)
    commands.clear()
    await target.save()
    assert updates(commands) == [{"$set": expected_set}]
    stored = await raw(database, item)
    if check is not None:
        field, key, kind = check
        assert type(stored[field][key]) is kind
    # and saved once only: a second save sends nothing
    commands.clear()
    await target.save()
    assert commands.count == 0


@pytest.mark.parametrize("loaded", [False, True], ids=["saved", "loaded"])
async def test_a_decimal_precision_change_is_saved(database, item, commands, loaded):
    target = await Item.get(item.id) if loaded else item
    target.price = Decimal("1.00")
    commands.clear()
    await target.save()
    [update] = updates(commands)
    assert str(update["$set"]["price"]) == "1.00"
    assert str((await raw(database, item))["price"]) == "1.00"
    commands.clear()
    await target.save()
    assert commands.count == 0


@pytest.mark.parametrize("loaded", [False, True], ids=["saved", "loaded"])
async def test_an_unchanged_nan_is_not_rewritten(database, item, commands, loaded):
    item.score = math.nan
    item.data["n"] = math.nan
    item.values = [math.nan]
    await item.save()
    target = await Item.get(item.id) if loaded else item
    commands.clear()
    await target.save()
    assert commands.count == 0
    target.score = math.nan  # a new NaN object: still the same stored value
    await target.save()
    assert commands.count == 0
    target.score = 2.0
    await target.save()
    assert updates(commands) == [{"$set": {"score": 2.0}}]


async def test_negative_zero_is_a_change_of_the_stored_value(database, item, commands):
    item.score = 0.0
    await item.save()
    item.score = -0.0
    commands.clear()
    await item.save()
    assert updates(commands) == [{"$set": {"score": -0.0}}]
    assert math.copysign(1.0, (await raw(database, item))["score"]) == -1.0


async def test_datetimes_differing_below_a_millisecond_send_nothing(database, item, commands):
    at = datetime.datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=datetime.timezone.utc)
    item.when = at
    await item.save()
    loaded = await Item.get(item.id)
    for target in (item, loaded):
        target.when = at.replace(microsecond=123456)  # BSON keeps milliseconds: same value
        commands.clear()
        await target.save()
        assert commands.count == 0
    loaded.when = at.replace(microsecond=124000)
    await loaded.save()
    assert updates(commands) == [{"$set": {"when": at.replace(microsecond=124000)}}]


async def test_bytes_and_binary_of_the_same_value_send_nothing(database, item, commands):
    item.blob = b"\x00\x01"
    item.anything = b"\x02"
    await item.save()
    loaded = await Item.get(item.id)
    assert isinstance(loaded.anything, bytes)
    loaded.anything = Binary(b"\x02", 0)  # what BSON stores for bytes
    commands.clear()
    await loaded.save()
    assert commands.count == 0
    loaded.anything = Binary(b"\x02", 5)  # another subtype: another stored value
    await loaded.save()
    assert updates(commands) == [{"$set": {"anything": Binary(b"\x02", 5)}}]


def test_uuid_and_its_standard_binary_are_the_same_stored_value():
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    standard = Binary.from_uuid(value, UuidRepresentation.STANDARD)
    legacy = Binary.from_uuid(value, UuidRepresentation.PYTHON_LEGACY)
    assert same(value, standard)
    assert not same(value, legacy)
    assert not diff({"u": value}, {"u": standard})
    assert diff({"u": value}, {"u": legacy}).set == {"u": legacy}


def test_decimal_and_decimal128_compare_by_stored_value():
    assert same(Decimal("1.0"), Decimal128("1.0"))
    assert not same(Decimal("1.0"), Decimal128("1.00"))
    assert not same(Decimal("1.0"), Decimal("1.00"))
    assert same(Decimal("NaN"), Decimal("NaN"))


@pytest.mark.parametrize(
    ("before", "after"),
    [(1, True), (0, False), (1, 1.0), (1, "1"), ([1], [True]), ({"a": 1}, {"a": 1.0}), (0.0, -0.0)],
)
def test_values_python_calls_equal_are_different_stored_values(before, after):
    assert before == after or isinstance(before, int)
    assert not same(before, after)
    assert diff({"v": before}, {"v": after}).set


@pytest.mark.parametrize(
    "make",
    [
        lambda: float("nan"),
        lambda: [float("nan")],
        lambda: {"n": float("nan")},
        lambda: {"a": [{"b": float("nan")}]},
    ],
    ids=["nan", "list", "dict", "deep"],
)
def test_nan_is_the_same_stored_value_as_nan(make):
    assert same(make(), make())
    assert not diff({"v": make()}, {"v": make()})
