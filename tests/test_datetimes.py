"""Naive datetimes are refused everywhere: never silently taken as UTC.

A ``datetime`` without ``tzinfo`` means "local time somewhere"; BSON stores UTC, and the driver
would store a naive value as if it were UTC, hours off in any other timezone. mdocument refuses
it in documents, queries and updates, with an error naming the document, the field and the fix.
"""

import datetime
import time
from datetime import timezone

import pytest
from pydantic import BaseModel, ValidationError

from mdocument import Document, Field, WrongValueType, in_, init
from mdocument.expressions import some

UTC = timezone.utc
NAIVE = datetime.datetime(2024, 6, 1, 12, 0)
AWARE = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class Address(BaseModel):
    city: str
    moved: datetime.datetime | None = None


class Author(Document):
    name: str
    born: datetime.datetime | None = None
    times: list[datetime.datetime] = Field(default_factory=list)
    day: datetime.date | None = None
    address: Address | None = None
    addresses: list[Address] = Field(default_factory=list)
    created: datetime.datetime = Field(default_factory=lambda: datetime.datetime.now(UTC))


@pytest.fixture
async def authors(database):
    await init(database, models=[Author])
    return await Author.insert_many(
        [
            Author(name="ada", born=AWARE, address=Address(city="London"), created=AWARE),
            Author(name="bob", address=Address(city="Paris", moved=AWARE), created=AWARE),
        ]
    )


def _names(error: pytest.ExceptionInfo[BaseException], field: str) -> None:
    text = str(error.value)
    assert "Author" in text
    assert field in text
    assert "timezone" in text  # the fix: an aware datetime


@pytest.mark.parametrize(
    "values",
    [
        {"born": NAIVE},
        {"times": [AWARE, NAIVE]},
        {"address": {"city": "x", "moved": NAIVE}},
        {"address": Address(city="x", moved=NAIVE)},
        {"addresses": [Address(city="x", moved=NAIVE)]},
        {"created": NAIVE},
    ],
    ids=["top", "list", "nested-dict", "nested-model", "list-of-models", "required"],
)
def test_documents_refuse_naive_datetimes(values):
    with pytest.raises(ValidationError) as error:
        Author(name="x", **values)
    _names(error, next(iter(values)))


def test_assignment_refuses_naive_datetimes():
    author = Author(name="x")
    with pytest.raises(ValidationError) as error:
        author.born = NAIVE
    _names(error, "born")
    with pytest.raises(ValidationError):
        author.address = Address(city="x", moved=NAIVE)
    author.born = AWARE
    author.day = datetime.date(2024, 6, 1)  # a date is a date


async def test_writes_refuse_naive_datetimes(authors, commands):
    commands.clear()
    with pytest.raises(ValidationError):
        await Author.create(name="x", born=NAIVE)
    author = Author(name="x")
    author.times.append(NAIVE)  # not seen by assignment validation
    with pytest.raises(ValidationError) as error:
        await author.save()
    _names(error, "times")
    address = Address(city="x")
    address.moved = NAIVE
    with pytest.raises(ValidationError):
        await Author.create(name="y", address=address)
    with pytest.raises(ValidationError):
        await Author.insert_many([Author.model_construct(name="z", born=NAIVE)])
    assert commands.names.count("insert") == 0


async def test_queries_refuse_naive_datetimes(authors, commands):
    commands.clear()
    for build in (
        lambda: some(Author.born) < NAIVE,
        lambda: Author.born == NAIVE,
        lambda: in_(Author.times, [NAIVE]),
        lambda: some(Author.address).moved > NAIVE,
        lambda: Author.address == Address(city="London", moved=NAIVE),
        lambda: {"born": {"$lt": NAIVE}},
        lambda: {"$or": [{"address.moved": {"$in": [AWARE, NAIVE]}}]},
    ):
        with pytest.raises(WrongValueType) as error:
            await Author.many(build())
        assert error.value.document is Author
        assert "timezone" in str(error.value)
    assert commands.count == 0


async def test_updates_refuse_naive_datetimes(authors, commands):
    commands.clear()
    for update in (
        {"$set": {"born": NAIVE}},
        {"$set": {"address.moved": NAIVE}},
        {"$set": {"address": {"city": "x", "moved": NAIVE}}},
        {"$push": {"times": NAIVE}},
        {"$max": {"created": NAIVE}},
    ):
        with pytest.raises(WrongValueType) as error:
            await Author.find().update(update)
        assert error.value.document is Author
        assert "timezone" in str(error.value)
    assert commands.count == 0


@pytest.fixture
def new_york(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_nothing_is_shifted_in_another_timezone(new_york, authors):
    local_noon = datetime.datetime(2024, 6, 1, 12, 0).astimezone()  # aware, New York time
    assert local_noon.utcoffset() == datetime.timedelta(hours=-4)
    author = await Author.create(name="ny", born=local_noon)
    loaded = await Author.one(Author.name == "ny")
    assert loaded.born == local_noon  # the same instant
    assert loaded.born is not None
    assert loaded.born.hour == 16  # 12:00 EDT is 16:00 UTC
    assert (await Author.one(Author.born == local_noon)).id == author.id
    with pytest.raises(ValidationError):
        Author(name="ny", born=datetime.datetime.now())  # naive local time: refused


async def test_optional_fields_in_typed_queries(authors):
    ada, bob = authors
    assert await Author.many(some(Author.address).city == "London") == [ada]
    assert await Author.many(Author.address.city == "Paris") == [bob]  # the runtime form
    assert await Author.many(some(Author.born) < AWARE + datetime.timedelta(days=1)) == [ada]
    assert await Author.many(some(Author.address).moved >= AWARE) == [bob]
    assert await Author.many(some(Author.born) > AWARE) == []
