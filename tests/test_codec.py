"""Values BSON cannot hold natively are stored in a standard form and read back as they were;
queries encode their values the same way."""

import datetime
import decimal
import enum
import uuid
from pathlib import PurePosixPath

import pytest
from pydantic import BaseModel, SecretStr

from mdocument import Document, Field, init


class Colour(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    S = 1
    M = 2


class Point(BaseModel):
    x: int
    y: int


class Sample(Document):
    colour: Colour = Colour.RED
    size: Size = Size.S
    price: decimal.Decimal = decimal.Decimal("0")
    day: datetime.date = datetime.date(2020, 1, 1)
    at: datetime.time = datetime.time(12, 0)
    took: datetime.timedelta = datetime.timedelta(0)
    labels: set[str] = Field(default_factory=set)
    key: uuid.UUID = Field(default_factory=uuid.uuid4)
    path: PurePosixPath = PurePosixPath("/tmp")
    secret: SecretStr = SecretStr("")
    where: Point = Point(x=0, y=0)


@pytest.fixture
async def samples(database):
    await init(database, models=[Sample])
    return database


async def test_extended_values_round_trip(samples):
    sample = await Sample.create(
        colour=Colour.BLUE,
        size=Size.M,
        price=decimal.Decimal("12.34"),
        day=datetime.date(2026, 11, 22),
        at=datetime.time(8, 30, 15),
        took=datetime.timedelta(minutes=3),
        labels={"a", "b"},
        path=PurePosixPath("/srv/data"),
        secret=SecretStr("s3cret"),
        where=Point(x=1, y=2),
    )
    loaded = await Sample.get(sample.id)
    assert loaded == sample
    assert loaded.secret.get_secret_value() == "s3cret"


async def test_stored_forms_are_plain_bson(samples):
    sample = await Sample.create(colour=Colour.BLUE, price=decimal.Decimal("1.5"))
    raw = await samples["sample"].find_one({"_id": sample.id})
    assert raw["colour"] == "blue"
    assert raw["size"] == 1
    assert str(raw["price"]) == "1.5"
    assert raw["day"] == datetime.datetime(2020, 1, 1)
    assert raw["where"] == {"x": 0, "y": 0}
    assert raw["path"] == "/tmp"
    assert raw["secret"] == ""  # the real value: masking is for output, never for storage


async def test_query_values_are_encoded_like_document_values(samples):
    await Sample.create(
        colour=Colour.BLUE,
        size=Size.M,
        price=decimal.Decimal("2"),
        where=Point(x=3, y=4),
        day=datetime.date(2021, 5, 6),
    )
    await Sample.create()
    assert await Sample.count({"colour": Colour.BLUE}) == 1
    assert await Sample.count({"size": {"$in": [Size.M]}}) == 1
    assert await Sample.count({"price": decimal.Decimal("2")}) == 1
    assert await Sample.count({"where": Point(x=3, y=4)}) == 1
    assert await Sample.count({"day": datetime.date(2021, 5, 6)}) == 1


async def test_unchanged_extended_values_are_not_resent(samples, commands):
    sample = await Sample.create(labels={"a"}, price=decimal.Decimal("1.10"))
    loaded = await Sample.get(sample.id)
    commands.clear()
    await loaded.save()
    assert commands.count == 0


class Plain(Document):
    name: str


async def test_only_collections_with_decimal_fields_decode_decimal128(database):
    # A decoder sends every reply through the driver's slower decoding: only where needed.
    await init(database, models=[Sample, Plain])
    assert Sample._repository().collection.codec_options.type_registry.codecs
    assert not Plain._repository().collection.codec_options.type_registry.codecs


async def test_decimal_in_a_nested_model_is_decoded_too(database):
    class Price(BaseModel):
        amount: decimal.Decimal

    class Order(Document):
        price: Price

    await init(database, models=[Order])
    order = await Order.create(price=Price(amount=decimal.Decimal("9.99")))
    assert (await Order.get(order.id)).price.amount == decimal.Decimal("9.99")
