"""mdocument.export: streams documents to JSON Lines, JSON or CSV, sensitive values masked."""

import csv
import datetime
import gc
import io
import json
import os
import sys
import tracemalloc
from typing import Any

import bson
import pytest
from pydantic import BaseModel, computed_field

from mdocument import (
    Document,
    FieldIsNotJsonEncodable,
    UnknownModelField,
    WrongValueType,
    export,
    init,
)
from mdocument import Field as F
from mdocument.export import format_of

UTC = datetime.timezone.utc
JOINED = datetime.datetime(2024, 5, 17, 9, 30, tzinfo=UTC)


class Address(BaseModel):
    city: str
    street: str = F(sensitive=True)


class Customer(Document):
    name: str
    email: str = F(sensitive=True)
    pin: str | None = F(default=None, sensitive=True)
    joined: datetime.datetime = JOINED
    active: bool = True
    score: float = 0.0
    tags: list[str] = F(default_factory=list)
    address: Address | None = None
    nickname: str | None = F(default=None, alias="nick")

    @computed_field
    @property
    def initial(self) -> str:
        return self.name[:1]


@pytest.fixture
async def customers(database):
    await init(database, models=[Customer])
    await Customer.insert_many(
        [
            Customer(
                name="Ada",
                email="ada@s3cret.org",
                pin="1111",
                tags=["math", "engines"],
                address=Address(city="London", street="12 S3cret Street"),
                score=2.5,
                nickname="countess",
            ),
            Customer(name="Bob", email="bob@s3cret.org", active=False),
            Customer(name="Cy", email="cy@s3cret.org", score=float("nan")),
        ]
    )
    return database


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def test_jsonl_writes_one_masked_document_a_line_and_returns_the_count(customers, tmp_path):
    path = tmp_path / "customers.jsonl"
    count = await export(Customer, out=path, sort="name")
    assert count == 3
    text = path.read_text(encoding="utf-8")
    assert "s3cret" not in text
    rows = lines(text)
    ada = await Customer.one({"name": "Ada"})
    assert rows[0] == {
        "id": str(ada.id),
        "name": "Ada",
        "email": "***",
        "pin": "***",
        "joined": "2024-05-17T09:30:00Z",
        "active": True,
        "score": 2.5,
        "tags": ["math", "engines"],
        "address": {"city": "London", "street": "***"},
        "nickname": "countess",
        "initial": "A",
    }
    assert rows[1]["pin"] is None  # unset stays null
    assert rows[2]["score"] is None  # NaN has no JSON form: null, as model_dump_json writes it


async def test_datetimes_are_iso_8601_with_their_timezone(customers):
    out = io.StringIO()
    await export(Customer, {"name": "Bob"}, out=out)
    joined = lines(out.getvalue())[0]["joined"]
    assert datetime.datetime.fromisoformat(joined.replace("Z", "+00:00")) == JOINED
    assert joined.endswith("Z")


async def test_reveal_writes_the_real_values(customers):
    out = io.StringIO()
    await export(Customer, {"name": "Ada"}, out=out, reveal=True)
    row = lines(out.getvalue())[0]
    assert row["email"] == "ada@s3cret.org"
    assert row["address"]["street"] == "12 S3cret Street"


async def test_query_names_fields_and_aliases_are_translated(customers):
    out = io.StringIO()
    assert await export(Customer, {"active": True, "score": {"$gt": 1}}, out=out) == 1
    assert lines(out.getvalue())[0]["name"] == "Ada"
    out = io.StringIO()
    assert await export(Customer, {"nickname": "countess"}, out=out) == 1


async def test_json_format_is_one_array(customers):
    out = io.StringIO()
    await export(Customer, out=out, fmt="json", sort="-name")
    data = json.loads(out.getvalue())
    assert [row["name"] for row in data] == ["Cy", "Bob", "Ada"]
    assert {row["email"] for row in data} == {"***"}


async def test_json_format_of_nothing_is_an_empty_array(customers):
    out = io.StringIO()
    assert await export(Customer, {"name": "nobody"}, out=out, fmt="json") == 0
    assert json.loads(out.getvalue()) == []


async def test_csv_has_a_header_and_flattens_values(customers):
    out = io.StringIO()
    await export(Customer, out=out, fmt="csv", sort="name")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == [
        "id",
        "name",
        "email",
        "pin",
        "joined",
        "active",
        "score",
        "tags",
        "address",
        "nickname",
        "initial",
    ]
    ada, bob, cy = rows
    assert ada["email"] == "***"
    assert ada["tags"] == '["math","engines"]'  # nested values: a cell of JSON
    assert json.loads(ada["address"]) == {"city": "London", "street": "***"}
    assert ada["joined"] == "2024-05-17T09:30:00Z"
    assert ada["active"] == "true"
    assert bob["active"] == "false"
    assert bob["pin"] == ""  # None: an empty cell
    assert bob["address"] == ""
    assert cy["score"] == ""
    assert ada["score"] == "2.5"
    assert "s3cret" not in out.getvalue()


async def test_fields_select_and_order_columns_with_dotted_paths(customers):
    out = io.StringIO()
    await export(
        Customer, out=out, fmt="csv", sort="name", fields=["address.city", "name", "tags.0"]
    )
    assert out.getvalue().splitlines() == [
        "address.city,name,tags.0",
        "London,Ada,math",
        ",Bob,",
        ",Cy,",
    ]
    out = io.StringIO()
    await export(Customer, {"name": "Ada"}, out=out, fields=["email", "name"], reveal=True)
    assert out.getvalue() == '{"email":"ada@s3cret.org","name":"Ada"}\n'


async def test_unknown_names_are_refused_before_anything_is_written(customers, tmp_path):
    path = tmp_path / "out.jsonl"
    with pytest.raises(UnknownModelField, match="did you mean 'name'"):
        await export(Customer, out=path, fields=["nmae"])
    with pytest.raises(UnknownModelField, match="'adress'"):
        await export(Customer, out=path, fields=["adress.city"])
    with pytest.raises(UnknownModelField, match="town"):
        await export(Customer, out=path, fields=["address.town"])
    with pytest.raises(UnknownModelField):
        await export(Customer, {"emial": "x"}, out=path)
    with pytest.raises(ValueError, match="fmt"):
        await export(Customer, out=path, fmt="xml")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


async def test_a_path_is_replaced_only_when_the_export_is_complete(customers, tmp_path):
    path = tmp_path / "customers.jsonl"
    path.write_text("previous export\n")
    bad = bson.ObjectId()
    await customers["customer"].insert_one({"_id": bad, "name": "Zed", "email": 42})
    with pytest.raises(WrongValueType, match=str(bad)):
        await export(Customer, out=path, sort="name")
    assert path.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["customers.jsonl"]  # no partial file
    assert await export(Customer, {"name": {"$ne": "Zed"}}, out=path) == 3
    assert len(path.read_text().splitlines()) == 3


async def test_streams_are_written_and_left_open(customers):
    text = io.StringIO()
    await export(Customer, out=text)
    assert not text.closed
    binary = io.BytesIO()
    await export(Customer, out=binary, fmt="csv")
    assert not binary.closed
    assert binary.getvalue().decode("utf-8").startswith("id,name,email")


async def test_non_ascii_text_is_written_as_utf8(database, tmp_path):
    await init(database, models=[Customer])
    await Customer.create(name="Zoë Ærø", email="z@example.org")
    path = tmp_path / "out.csv"
    await export(Customer, out=path, fmt="csv")
    assert "Zoë Ærø" in path.read_text(encoding="utf-8")


async def test_progress_is_reported_with_the_running_count(mongodb_database):
    await init(mongodb_database, models=[Customer])
    await Customer.insert_many(Customer(name=f"c{i}", email="x") for i in range(600))
    seen: list[int] = []
    assert await export(Customer, out=io.StringIO(), progress=seen.append) == 600
    assert seen == [256, 512, 600]


class Event(Document):
    name: str
    payload: Any = None


async def test_a_value_without_json_form_names_the_document_and_field(mongodb_database):
    await init(mongodb_database, models=[Event])
    event = await Event.create(name="tick", payload=bson.Timestamp(1, 1))
    with pytest.raises(FieldIsNotJsonEncodable) as caught:
        await export(Event, out=io.StringIO())
    assert caught.value.field == "payload"
    assert str(event.id) in str(caught.value)
    assert "Event" in str(caught.value)


def test_format_of_a_file_name():
    assert format_of("a.csv") == "csv"
    assert format_of("a.JSON") == "json"
    assert format_of("a.ndjson") == "jsonl"
    assert format_of("a.txt") == "jsonl"
    assert format_of("a.txt", default="csv") == "csv"


class Reading(Document):
    sensor: str
    value: float
    at: datetime.datetime


async def _export_peak(path) -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    try:
        count = await export(Reading, out=path, batch_size=50)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


async def test_memory_stays_flat_however_many_documents_are_exported(mongodb_database, tmp_path):
    await init(mongodb_database, models=[Reading])
    collection = mongodb_database["reading"]

    def readings(start: int, stop: int) -> list[dict[str, Any]]:
        at = datetime.datetime(2024, 1, 1, tzinfo=UTC)
        return [{"sensor": f"s{i % 7}", "value": i / 3, "at": at} for i in range(start, stop)]

    small = 1000
    await collection.insert_many(readings(0, small))
    await _export_peak(tmp_path / "warm-up.jsonl")  # one-time costs: caches, connections
    count, small_peak = await _export_peak(tmp_path / "small.jsonl")
    assert count == small
    await collection.insert_many(readings(small, 10 * small))
    count, large_peak = await _export_peak(tmp_path / "large.jsonl")
    assert count == 10 * small
    # Holding every document would cost about ten times as much; streaming costs about the same
    # (the margin absorbs garbage the cycle collector has not freed yet, and what the driver's
    # own threads allocate meanwhile).
    assert large_peak < small_peak * 4, (small_peak, large_peak)


async def test_a_revealed_file_is_created_for_its_owner_only(customers, tmp_path):
    old = os.umask(0o022)
    try:
        await export(Customer, out=tmp_path / "clear.jsonl", reveal=True)
        await export(Customer, out=tmp_path / "masked.jsonl")
    finally:
        os.umask(old)
    assert (tmp_path / "clear.jsonl").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "masked.jsonl").stat().st_mode & 0o777 == 0o644


async def test_a_revealed_file_is_never_open_to_others_while_it_is_written(
    customers, tmp_path, monkeypatch
):
    monkeypatch.setattr(sys.modules["mdocument.export"], "_PROGRESS_EVERY", 1)
    modes: list[int] = []

    def progress(count: int) -> None:  # called while the partial file is being written
        modes.extend(p.stat().st_mode & 0o777 for p in tmp_path.iterdir())

    await export(Customer, out=tmp_path / "clear.jsonl", reveal=True, progress=progress)
    assert modes
    assert set(modes) == {0o600}
