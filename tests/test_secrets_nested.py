"""Sensitive values nested in models, lists and dicts: masked in errors, reprs and schemas."""

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import AnyUrl, BaseModel, model_validator

from mdocument import (
    Document,
    Field,
    ObjectId,
    Synced,
    WrongModelFieldType,
    WrongValueType,
    init,
)
from mdocument.fastapi import add_exception_handlers
from mdocument.masking import mask_at, mask_filter

SECRET = "4970-s3cret-1234"
OTHER = "5133-s3cret-9876"
MAIL = "ada.s3cret@example.com"


class Card(BaseModel):
    number: str = Field(sensitive=True, pattern=r"^[0-9a-z-]+$", min_length=4)
    holder: list[str]


class Member(Document):
    name: str
    email: str = Field(default="a@b.c", sensitive=True, pattern=r"^[^@]+@[^@]+$")
    site: AnyUrl | None = Field(default=None, sensitive=True)
    pin: int = Field(default=0, sensitive=True, ge=0)
    card: Card | None = None
    cards: list[Card] = Field(default_factory=list)
    wallet: dict[str, Card] = Field(default_factory=dict)
    level: int = 0

    @model_validator(mode="after")
    def _level_in_range(self) -> "Member":
        if self.level > 9:
            raise ValueError("level is at most 9")
        return self


def card(number: str = SECRET, holder: Any = ("x",)) -> dict[str, Any]:
    return {"number": number, "holder": list(holder) if isinstance(holder, tuple) else holder}


def assert_hidden(*texts: str) -> None:
    for text in texts:
        assert "s3cret" not in text  # in every secret, even a cut one


# -- errors about stored documents -------------------------------------------------------------


async def stored_error(database: Any, **fields: Any) -> WrongValueType:
    await init(database, models=[Member])
    result = await database["member"].insert_one({**fields, "name": "ada"})
    with pytest.raises(WrongValueType) as caught:
        await Member.get(result.inserted_id)
    return caught.value


@pytest.mark.parametrize(
    "fields",
    [
        {"card": [card()]},  # a card stored as a list: the input is the whole list
        {"cards": [card(), 5]},
        {"wallet": {"main": [card()]}},  # a dict of cards, one stored as a list
        {"email": MAIL, "level": 12},  # a model validator: the whole document is the input
        {"wallet": {"main": card(holder=5), "old": card(OTHER)}},
    ],
)
async def test_a_stored_document_error_masks_nested_sensitive_values(mongodb_database, fields):
    error = await stored_error(mongodb_database, **fields)
    assert_hidden(str(error), repr(error), error.message)
    assert "Member" in str(error)


async def test_a_stored_document_error_shows_the_other_values(mongodb_database):
    error = await stored_error(mongodb_database, wallet={"main": [card(holder=["Ada"])]})
    assert "'number': '***'" in str(error)
    assert "'holder': ['Ada']" in str(error)
    assert "wallet.main" in str(error)
    error = await stored_error(mongodb_database, card=card(holder=5))
    assert "stored value 5 of field 'card.holder'" in str(error)


def test_mask_at_masks_the_sensitive_leaves_of_an_error_location():
    value = {"main": card(), "old": [card(OTHER)]}
    assert mask_at(Member, ("wallet",), value) == {
        "main": {"number": "***", "holder": ["x"]},
        "old": [{"number": "***", "holder": ["x"]}],
    }
    assert mask_at(Member, ("card", "Card", "number"), SECRET) == "***"
    assert mask_at(Member, "cards.0", Card(number=SECRET, holder=[])) == {
        "number": "***",
        "holder": [],
    }
    assert mask_at(Member, (), {"email": MAIL, "name": "ada"}) == {"email": "***", "name": "ada"}


async def test_the_fastapi_handlers_echo_no_nested_sensitive_value(mongodb_database, caplog):
    await init(mongodb_database, models=[Member])
    await mongodb_database["member"].insert_one({"name": "ada", "cards": [card(), 5]})
    app = FastAPI()
    add_exception_handlers(app)

    @app.get("/members")
    async def members() -> list[Member]:
        return await Member.find().to_list()

    @app.post("/members")
    async def create(member: Member) -> Member:
        return member

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        stored = await http.get("/members")
        created = await http.post(
            "/members",
            json={"name": "ada", "email": MAIL, "card": card(holder=5), "cards": [card(OTHER)]},
        )
        invalid = await http.post(
            "/members", json={"name": "ada", "email": "not a mail", "card": card(SECRET + "!")}
        )
    assert stored.status_code == 500
    assert created.status_code == 422
    assert invalid.status_code == 422
    assert_hidden(stored.text, created.text, invalid.text, caplog.text)
    assert created.json()["detail"][0]["loc"] == ["body", "card", "holder"]


async def test_a_query_value_error_masks_nested_sensitive_values(mongodb_database):
    await init(mongodb_database, models=[Member])
    app = FastAPI()
    add_exception_handlers(app)

    @app.get("/members/by-card")
    async def by_card() -> list[Member]:
        # A query value of the wrong type (holder), holding a sensitive value.
        return await Member.find(Member.card == {"number": SECRET, "holder": 5}).to_list()

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/members/by-card")
    assert response.status_code == 422
    assert_hidden(response.text)


# -- expressions and filters --------------------------------------------------------------------


def test_the_repr_of_an_expression_masks_nested_sensitive_values():
    by_model = Member.card == Card(number=SECRET, holder=["Ada"])
    by_dict = Member.card == {"number": SECRET, "holder": ["Ada"]}
    listed = Member.cards.contains(Card(number=SECRET, holder=[]))
    among = Member.card.in_([Card(number=SECRET, holder=[]), Card(number=OTHER, holder=[])])
    for expression in (by_model, by_dict, listed, among, by_model & (Member.name == "ada")):
        assert_hidden(repr(expression), str(expression))
    assert "'number': '***'" in repr(by_dict)
    assert "'holder': ['Ada']" in repr(by_dict)
    # The filter sent to the server keeps the real value.
    assert by_dict.to_filter()["card"]["$eq"]["number"] == SECRET


def test_mask_filter_masks_nested_sensitive_values():
    shown = mask_filter(
        {
            "card": {"number": SECRET, "holder": ["Ada"]},
            "cards": {"$elemMatch": {"number": OTHER, "holder": "Ada"}},
            "wallet.main": {"$in": [card(), card(OTHER)]},
            "wallet.main.number": SECRET,
            "$or": [{"cards": {"$all": [card()]}}, {"card.number": {"$ne": OTHER}}],
            "name": "ada",
        },
        Member,
    )
    assert_hidden(repr(shown))
    assert shown["card"] == {"number": "***", "holder": ["Ada"]}
    assert shown["cards"] == {"$elemMatch": {"number": "***", "holder": "Ada"}}
    assert shown["name"] == "ada"


async def test_not_found_errors_mask_nested_sensitive_values(mongodb_database):
    await init(mongodb_database, models=[Member])
    with pytest.raises(Member.NotFoundError) as caught:
        await Member.one({"card": card(), "cards": {"$elemMatch": {"number": OTHER}}})
    assert_hidden(str(caught.value), repr(caught.value))


# -- projections --------------------------------------------------------------------------------


class PlainPublic(BaseModel):
    name: str
    email: str


class MaskedPublic(BaseModel):
    name: str
    email: str = Field(sensitive=True)


class CardPlain(BaseModel):
    number: str
    holder: list[str]


class CardMasked(BaseModel):
    number: str = Field(sensitive=True)


class WithPlainCard(BaseModel):
    card: CardPlain | None = None


class WithPlainCards(BaseModel):
    cards: list[CardPlain]


class WithAnyCard(BaseModel):
    card: Any


class WithMaskedCard(BaseModel):
    card: CardMasked | None = None


async def test_a_projection_cannot_unmask_a_sensitive_field(mongodb_database, commands):
    await init(mongodb_database, models=[Member])
    commands.clear()
    with pytest.raises(WrongModelFieldType) as caught:
        Member.find().project(PlainPublic)
    message = str(caught.value)
    assert "PlainPublic.email" in message
    assert "Member.email" in message
    assert "Field(sensitive=True)" in message
    with pytest.raises(
        WrongModelFieldType, match=r"CardPlain\.number projects the sensitive Member\.card\.number"
    ):
        Member.find().project(WithPlainCard)
    with pytest.raises(WrongModelFieldType, match=r"Member\.cards\.number"):
        Member.find().project(WithPlainCards)
    with pytest.raises(WrongModelFieldType, match=r"WithAnyCard\.card .*Member\.card"):
        Member.find().project(WithAnyCard)
    assert commands.count == 0  # refused before anything is sent


async def test_a_projection_with_sensitive_fields_masks_them(mongodb_database):
    await init(mongodb_database, models=[Member])
    await Member.create(name="ada", email=MAIL, card=Card(number=SECRET, holder=["Ada"]))
    public = await Member.find().project(MaskedPublic).first()
    assert public is not None
    assert public.email == MAIL
    assert public.model_dump(mode="json") == {"name": "ada", "email": "***"}
    masked = await Member.find().project(WithMaskedCard).first()
    assert masked is not None
    assert masked.model_dump_json() == '{"card":{"number":"***"}}'


# -- JSON Schema and OpenAPI --------------------------------------------------------------------


def test_the_response_schema_of_a_sensitive_field_admits_the_placeholder():
    output = Member.model_json_schema(mode="serialization")
    email = output["properties"]["email"]
    assert email["type"] == "string"
    assert email["writeOnly"] is True
    assert not {"pattern", "format", "minLength", "maxLength"} & set(email)
    site = json.dumps(output["properties"]["site"])
    assert "format" not in site
    assert "minLength" not in site
    number = output["$defs"]["Card"]["properties"]["number"]
    assert not {"pattern", "minLength"} & set(number)
    pin = output["properties"]["pin"]
    assert {"type": "string"} in pin["anyOf"]  # "***" is not an integer
    # The input schema keeps every constraint.
    given = Member.model_json_schema(mode="validation")
    assert given["properties"]["email"]["pattern"] == r"^[^@]+@[^@]+$"
    assert given["$defs"]["Card"]["properties"]["number"]["minLength"] == 4
    assert given["properties"]["pin"]["minimum"] == 0


def test_the_openapi_response_schema_admits_the_placeholder():
    app = FastAPI()

    @app.post("/members")
    async def create(member: Member) -> Member:
        return member

    schemas = app.openapi()["components"]["schemas"]
    output = schemas["Member-Output"]["properties"]["email"]
    assert "pattern" not in output
    assert schemas["Member-Input"]["properties"]["email"]["pattern"] == r"^[^@]+@[^@]+$"
    number = schemas["Card-Output"]["properties"]["number"]
    assert "pattern" not in number
    assert schemas["Card-Input"]["properties"]["number"]["pattern"] == r"^[0-9a-z-]+$"


class Holder(Document):
    name: str
    pin: str = Field(sensitive=True)


class HolderCard(Synced[Holder]):
    id: ObjectId
    name: str
    pin: str = Field(sensitive=True)


class Badge(Document):
    holder: HolderCard


async def test_a_copy_refreshed_from_a_stored_parent_that_no_longer_fits_is_named_and_masked(
    mongodb_database,
):
    await init(mongodb_database, models=[Holder, Badge])
    holder = await Holder.create(name="Ada", pin="1234")
    # Another program stores a value the class cannot hold, in a copied sensitive field.
    await mongodb_database["holder"].update_one({"_id": holder.id}, {"$set": {"pin": 98765}})
    with pytest.raises(WrongValueType) as caught:
        await Badge.create(holder=HolderCard.of(holder))
    message = str(caught.value)
    assert "Holder" in message
    assert str(holder.id) in message
    assert "pin" in message
    assert "98765" not in message
    assert "1234" not in message
    assert await mongodb_database["badge"].count_documents({}) == 0
