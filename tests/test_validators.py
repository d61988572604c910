"""$jsonSchema validators generated from document classes, enforced by the server."""

import datetime
import decimal
import enum
import uuid
from typing import Literal

import bson
import pytest
from pydantic import BaseModel
from pymongo.errors import WriteError

from mdocument import Document, Field, ObjectId, Ref, init
from mdocument.validators import (
    HIDDEN_FIELDS,
    apply_validators,
    json_schema,
    validator,
    validator_changes,
)

UTC = datetime.timezone.utc
VALIDATION_FAILED = 121


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    city: str
    street: str = Field(sensitive=True)
    zip: int | None = None


class Owner(Document):
    name: str = Field(unique=True)
    email: str = Field(sensitive=True)
    karma: int = 0
    score: float = 0.0
    balance: decimal.Decimal = decimal.Decimal(0)
    joined: datetime.datetime
    color: Color = Color.RED
    size: Literal["s", "m"] = "s"
    address: Address | None = None
    addresses: list[Address] = []
    tags: list[str] = []
    extra: dict[str, int] = {}
    token: uuid.UUID | None = None
    anything: object = None

    class Meta:
        collection = "owners"
        revision = True


class Pet(Document):
    owner_id: Ref[Owner]
    name: str = Field(alias="petName")
    friends: list[ObjectId] = []


class Loose(Document):
    nick: str = None  # type: ignore[assignment]  # pydantic does not check defaults


def owner_row(**changes):
    row = {
        "_id": bson.ObjectId(),
        "name": "Ada",
        "email": "ada@example.com",
        "karma": 1,
        "score": 1.5,
        "balance": bson.Decimal128("1.10"),
        "joined": datetime.datetime(2024, 1, 1, tzinfo=UTC),
        "color": "red",
        "size": "s",
        "address": {"city": "London", "street": "1 Lane", "zip": None},
        "addresses": [],
        "tags": ["a"],
        "extra": {"x": 1},
        "token": None,
        "anything": [1, "two"],
    }
    row.update(changes)
    return row


def test_schema_describes_types_required_nested_lists_enums():
    schema = json_schema(Owner)
    props = schema["properties"]
    assert schema["bsonType"] == "object"
    assert schema["required"] == ["_id", "name", "email", "joined"]
    assert props["_id"] == {"bsonType": "objectId"}
    assert props["name"] == {"bsonType": "string"}
    assert props["email"] == {"bsonType": "string"}  # sensitive: still a string
    assert props["karma"] == {"bsonType": ["int", "long"]}
    assert props["score"] == {"bsonType": ["double", "int", "long"]}
    assert props["balance"] == {"bsonType": "decimal"}
    assert props["joined"] == {"bsonType": "date"}
    assert props["color"] == {"enum": ["red", "blue"]}
    assert props["size"] == {"enum": ["s", "m"]}
    assert props["address"] == {
        "anyOf": [
            {
                "bsonType": "object",
                "properties": {
                    "city": {"bsonType": "string"},
                    "street": {"bsonType": "string"},
                    "zip": {"bsonType": ["int", "long", "null"]},
                },
                "required": ["city", "street"],
            },
            {"bsonType": "null"},
        ]
    }
    assert props["addresses"]["bsonType"] == "array"
    assert props["addresses"]["items"]["required"] == ["city", "street"]
    assert props["tags"] == {"bsonType": "array", "items": {"bsonType": "string"}}
    assert props["extra"] == {
        "bsonType": "object",
        "additionalProperties": {"bsonType": ["int", "long"]},
    }
    assert props["token"] == {"bsonType": ["binData", "null"]}
    assert props["anything"] == {}
    assert "additionalProperties" not in schema
    for hidden, spec in HIDDEN_FIELDS.items():
        assert props[hidden] == spec


def test_a_none_default_allows_null():
    assert json_schema(Loose)["properties"]["nick"] == {"bsonType": ["string", "null"]}


def test_schema_of_references_and_aliases():
    props = json_schema(Pet)["properties"]
    assert props["owner_id"] == {"bsonType": "objectId"}
    assert props["petName"] == {"bsonType": "string"}
    assert props["friends"] == {"bsonType": "array", "items": {"bsonType": "objectId"}}
    assert validator(Pet) == {"$jsonSchema": json_schema(Pet)}


async def test_a_raw_write_that_breaks_a_type_is_refused_by_the_server(mongodb_database):
    registry = await init(mongodb_database, models=[Owner, Pet], validators=True)
    owners = mongodb_database["owners"]
    await owners.insert_one(owner_row())  # conforming: accepted
    with pytest.raises(WriteError) as caught:
        await owners.insert_one(owner_row(karma="many"))
    assert caught.value.code == VALIDATION_FAILED
    with pytest.raises(WriteError) as caught:
        await owners.insert_one(owner_row(_id=bson.ObjectId(), joined="2024-01-01"))
    assert caught.value.code == VALIDATION_FAILED
    with pytest.raises(WriteError) as caught:
        await owners.update_one({"name": "Ada"}, {"$set": {"address.city": 7}})
    assert caught.value.code == VALIDATION_FAILED
    with pytest.raises(WriteError) as caught:
        await owners.insert_one({"_id": bson.ObjectId(), "name": "No email"})
    assert caught.value.code == VALIDATION_FAILED
    with pytest.raises(WriteError) as caught:
        await mongodb_database["pet"].insert_one(
            {"owner_id": "not-an-id", "petName": "Rex", "friends": []}
        )
    assert caught.value.code == VALIDATION_FAILED
    # Ints in a float field, a hidden guard and revision, unknown extra fields: accepted.
    await owners.insert_one(
        owner_row(_id=bson.ObjectId(), name="Bo", score=3, _mdocument_guard=2, _revision=4)
    )
    await owners.update_one({"name": "Bo"}, {"$set": {"legacy": "kept"}})
    assert registry.documents == (Owner, Pet)


async def test_mdocument_writes_pass_the_validators(mongodb_database):
    await init(mongodb_database, models=[Owner, Pet], validators=True)
    owner = await Owner.create(
        name="Ada",
        email="ada@example.com",
        joined=datetime.datetime(2024, 1, 1, tzinfo=UTC),
        address=Address(city="London", street="1 Lane"),
        addresses=[Address(city="Paris", street="2 Rue", zip=75000)],
        token=uuid.uuid4(),
        score=2,
    )
    pet = await Pet.create(owner_id=owner.id, petName="Rex")
    owner.karma = 5
    owner.color = Color.BLUE
    await owner.save()
    await pet.delete()
    await owner.delete()


async def test_levels_and_actions_are_choices(mongodb_database):
    await mongodb_database["owners"].insert_one({"_id": 1, "name": 5})  # held before
    registry = await init(mongodb_database, models=[Owner], create_indexes=False)
    changes = await validator_changes(registry)
    assert [change.current for change in changes] == [None]
    assert changes[0].differs()
    changed = await apply_validators(registry, level="moderate", action="warn")
    assert [change.collection for change in changed] == ["owners"]
    info = await _options(mongodb_database, "owners")
    assert info["validationLevel"] == "moderate"
    assert info["validationAction"] == "warn"
    assert info["validator"] == validator(Owner)
    # warn: the non-conforming write goes through.
    await mongodb_database["owners"].insert_one({"_id": 2, "name": 6})
    # Applying the same again changes nothing; another level does.
    assert await apply_validators(registry, level="moderate", action="warn") == []
    assert not (await validator_changes(registry))[0].differs("moderate", "warn")
    assert len(await apply_validators(registry)) == 1
    info = await _options(mongodb_database, "owners")
    assert (info["validationLevel"], info["validationAction"]) == ("strict", "error")
    with pytest.raises(ValueError, match="validation level"):
        await apply_validators(registry, level="lax")  # type: ignore[arg-type]


async def test_a_missing_collection_is_created_with_its_validator(mongodb_database):
    registry = await init(mongodb_database, models=[Owner, Pet], create_indexes=False)
    assert "pet" not in await mongodb_database.list_collection_names()
    changed = await apply_validators(registry, documents=[Pet])
    assert [change.document for change in changed] == [Pet]
    assert "owners" not in await mongodb_database.list_collection_names()
    assert (await _options(mongodb_database, "pet"))["validator"] == validator(Pet)


async def _options(database, name):
    infos = await (await database.list_collections(filter={"name": name})).to_list(None)
    return infos[0]["options"]
