"""Projections: loading only the fields of a smaller model, checked against the document."""

import datetime

import pytest
from pydantic import BaseModel
from pydantic import Field as PydanticField

from mdocument import (
    Document,
    Field,
    ObjectId,
    UnknownModelField,
    WrongModelFieldType,
    WrongValueType,
    asc,
    desc,
    init,
)


class Address(BaseModel):
    city: str
    street: str = Field(alias="st")
    zip_code: str | None = None


class User(Document):
    name: str
    age: int = 0
    email: str = Field(default="", alias="mail")
    password_hash: str = Field(default="", sensitive=True)
    address: Address | None = None
    previous: list[Address] = Field(default_factory=list)
    joined: datetime.datetime | None = None


class Card(BaseModel):
    name: str
    age: int


class CardWithId(BaseModel):
    id: ObjectId
    name: str


class City(BaseModel):
    city: str


class Located(BaseModel):
    name: str
    address: City | None = None
    previous: list[City] = []


class Contact(BaseModel):
    email: str = PydanticField(alias="e")  # an alias of its own, for its JSON


@pytest.fixture
async def users(database):
    await init(database, models=[User])
    return await User.insert_many(
        [
            User(
                name="Ada",
                age=36,
                mail="ada@example.com",
                password_hash="secret",
                address=Address(city="London", st="St James's Square"),
                previous=[Address(city="Marylebone", st="Dorset Street")],
            ),
            User(name="Grace", age=85, mail="grace@example.com"),
        ]
    )


async def test_project_loads_only_the_model_fields_and_returns_model_instances(users, commands):
    commands.clear()
    cards = await User.find(User.age > 30).sort(asc(User.name)).project(Card).to_list()
    assert cards == [Card(name="Ada", age=36), Card(name="Grace", age=85)]
    assert commands.of("find")[0]["projection"] == {"name": 1, "age": 1}


async def test_projected_results_in_every_reading_method(users):
    cards = User.find().sort(desc(User.age)).project(Card)
    assert [card.name async for card in cards] == ["Grace", "Ada"]
    assert await cards.first() == Card(name="Grace", age=85)
    page = await cards.paginate(offset=0, limit=1)
    assert page.items == [Card(name="Grace", age=85)]
    keyset = await cards.keyset(size=1)
    assert keyset.items == [Card(name="Grace", age=85)]
    following = await cards.keyset(size=1, after=keyset.next_token)
    assert following.items == [Card(name="Ada", age=36)]


async def test_the_id_is_loaded_when_the_model_has_it(users, commands):
    commands.clear()
    found = await User.find(User.name == "Ada").project(CardWithId).first()
    assert found == CardWithId(id=users[0].id, name="Ada")
    assert commands.of("find")[0]["projection"] == {"_id": 1, "name": 1}


async def test_nested_smaller_models_load_their_fields_only(users, commands):
    commands.clear()
    located = await User.find(User.name == "Ada").project(Located).first()
    assert located == Located(
        name="Ada", address=City(city="London"), previous=[City(city="Marylebone")]
    )
    assert commands.of("find")[0]["projection"] == {
        "name": 1,
        "address.city": 1,
        "previous.city": 1,
    }
    grace = await User.find(User.name == "Grace").project(Located).first()
    assert grace == Located(name="Grace", address=None, previous=[])


async def test_stored_names_are_read_back_into_the_model_field_names(users):
    # User.email is stored as "mail"; Contact declares it by name, with an alias of its own.
    assert await User.find(User.name == "Ada").project(Contact).first() == Contact(
        e="ada@example.com"
    )


async def test_an_unknown_field_is_refused_when_projecting():
    class Wrong(BaseModel):
        name: str
        nickname: str

    with pytest.raises(UnknownModelField, match=r"Wrong\.nickname: User has no field 'nickname'"):
        User.find().project(Wrong)

    class WrongNested(BaseModel):
        address: "WrongCity | None"

    class WrongCity(BaseModel):
        town: str

    WrongNested.model_rebuild()
    with pytest.raises(UnknownModelField, match=r"User has no field 'address\.town'"):
        User.find().project(WrongNested)


@pytest.mark.parametrize(
    ("annotation", "fits"),
    [
        (int, True),
        (float, True),  # an int is a valid float
        (int | None, True),
        (str, False),
        (bool, False),
        (list[int], False),
    ],
)
def test_field_types_are_checked_when_projecting(annotation, fits):
    model = type("Age", (BaseModel,), {"__annotations__": {"age": annotation}})
    if fits:
        User.find().project(model)
    else:
        with pytest.raises(WrongModelFieldType, match=r"Age\.age is .* cannot hold the values"):
            User.find().project(model)


def test_an_optional_document_field_needs_an_optional_model_field():
    class Joined(BaseModel):
        joined: datetime.datetime

    class MaybeJoined(BaseModel):
        joined: datetime.datetime | None

    with pytest.raises(WrongModelFieldType, match=r"User\.joined"):
        User.find().project(Joined)
    User.find().project(MaybeJoined)


async def test_stored_data_that_does_not_fit_names_the_document_and_field(users, database):
    await database["user"].update_one({"_id": users[1].id}, {"$set": {"age": "old"}})
    with pytest.raises(WrongValueType, match=rf"User {users[1].id}: the stored value of 'age'"):
        await User.find(User.name == "Grace").project(Card).to_list()
