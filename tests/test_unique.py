"""Unique fields: enforced by the server's unique index, reported as DuplicateError."""

import traceback

import pytest

from mdocument import Document, DuplicateError, Field, Index, ObjectId, init


class Member(Document):
    login: str = Field(unique=True)
    email: str = Field(unique=True, sensitive=True)
    nickname: str | None = Field(default=None, unique=True)
    badges: list[str] = Field(default_factory=list, unique=True)


class Seat(Document):
    row: int
    number: int

    class Meta:
        indexes = [Index([("row", 1), ("number", 1)], unique=True)]


@pytest.fixture
async def members(database):
    await init(database, models=[Member, Seat])
    return database


async def test_duplicate_raises_the_class_duplicate_error_naming_the_field(members):
    await Member.create(login="ada", email="ada@example.com")
    with pytest.raises(Member.DuplicateError) as caught:
        await Member.create(login="ada", email="other@example.com")
    error = caught.value
    assert isinstance(error, DuplicateError)
    assert error.document is Member
    assert error.fields == ("login",)
    assert error.field == "login"
    assert error.value == "ada"
    assert "login" in str(error)
    assert "'ada'" in str(error)


async def test_duplicate_writes_nothing(members):
    await Member.create(login="ada", email="ada@example.com")
    with pytest.raises(Member.DuplicateError):
        await Member.create(login="ada", email="other@example.com")
    assert await members["member"].count_documents({}) == 1


async def test_duplicate_of_a_sensitive_field_never_shows_the_value(members):
    await Member.create(login="ada", email="secret@example.com")
    with pytest.raises(Member.DuplicateError) as caught:
        await Member.create(login="bob", email="secret@example.com")
    error = caught.value
    assert error.fields == ("email",)
    assert error.value == "***"
    assert "secret@example.com" not in str(error)
    assert "secret@example.com" not in repr(error)
    # The driver's error, whose message holds the value, is not chained to it.
    assert error.__cause__ is None
    assert error.__suppress_context__
    printed = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert "E11000" not in printed  # (the test's own source lines show the address)


async def test_update_to_a_duplicate_value_is_refused_and_changes_nothing(members):
    await Member.create(login="ada", email="a@example.com")
    bob = await Member.create(login="bob", email="b@example.com")
    bob.login = "ada"
    with pytest.raises(Member.DuplicateError):
        await bob.save()
    stored = await members["member"].find_one({"_id": bob.id})
    assert stored["login"] == "bob"


async def test_enforced_by_the_index_not_by_a_read(members, commands):
    await Member.create(login="ada", email="a@example.com")
    commands.clear()
    with pytest.raises(Member.DuplicateError):
        await Member.create(login="ada", email="b@example.com")
    assert commands.names == ["insert"]


async def test_optional_unique_fields_allow_many_none(members):
    await Member.create(login="a", email="a@x")
    await Member.create(login="b", email="b@x")
    await Member.create(login="c", email="c@x", nickname="cee")
    with pytest.raises(Member.DuplicateError, match="nickname"):
        await Member.create(login="d", email="d@x", nickname="cee")


async def test_unique_lists_allow_many_empty_lists_but_no_shared_element(members):
    await Member.create(login="a", email="a@x")
    await Member.create(login="b", email="b@x")
    await Member.create(login="c", email="c@x", badges=["gold", "silver"])
    with pytest.raises(Member.DuplicateError, match="badges"):
        await Member.create(login="d", email="d@x", badges=["silver"])


async def test_compound_unique_index_reports_all_its_fields(members):
    await Seat.create(row=1, number=1)
    await Seat.create(row=1, number=2)
    with pytest.raises(Seat.DuplicateError) as caught:
        await Seat.create(row=1, number=2)
    assert caught.value.fields == ("row", "number")
    assert caught.value.value == {"row": 1, "number": 2}


async def test_insert_many_with_a_duplicate_writes_nothing(members):
    await Member.create(login="ada", email="a@x")
    batch = [Member(login="b", email="b@x"), Member(login="ada", email="c@x")]
    with pytest.raises(Member.DuplicateError):
        await Member.insert_many(batch)
    assert await Member.count() == 1
    assert not any(member.is_stored for member in batch)


async def test_insert_many_with_a_duplicate_inside_the_batch_writes_nothing(members):
    batch = [
        Member(login="x", email="1@x"),
        Member(login="y", email="2@x"),
        Member(login="x", email="3@x"),
    ]
    with pytest.raises(Member.DuplicateError):
        await Member.insert_many(batch)
    assert await Member.count() == 0


async def test_insert_many_without_transactions_removes_what_it_wrote(standalone_database):
    await init(standalone_database, models=[Member])
    await Member.create(login="ada", email="a@x")
    batch = [
        Member(login="b", email="b@x"),
        Member(login="c", email="c@x"),
        Member(login="ada", email="d@x"),
    ]
    with pytest.raises(Member.DuplicateError):
        await Member.insert_many(batch)
    assert sorted(m.login for m in await Member.many()) == ["ada"]


async def test_unique_indexes_are_created_by_init(members):
    indexes = await members["member"].index_information()
    assert indexes["login_1"]["unique"]
    assert indexes["nickname_1"]["partialFilterExpression"] == {"nickname": {"$type": "string"}}
    assert indexes["badges_1"]["partialFilterExpression"] == {"badges": {"$type": "string"}}


def test_a_unique_field_of_mixed_types_that_may_be_empty_is_refused():
    from mdocument import WrongModelFieldType
    from mdocument.registry import index_models

    class Mixed(Document):
        ref: ObjectId | str | None = Field(default=None, unique=True)

    with pytest.raises(WrongModelFieldType, match=r"Mixed\.ref"):
        index_models(Mixed.__mdocument_mapping__)


async def test_a_duplicate_reported_without_key_pattern_is_named_by_its_index(members):
    # Servers before MongoDB 4.4 give only the index name, in the message.
    from pymongo.errors import DuplicateKeyError

    error = DuplicateKeyError(
        'E11000 duplicate key error collection: db.member index: login_1 dup key: { login: "ada" }',
        11000,
        {"code": 11000, "errmsg": 'E11000 ... index: login_1 dup key: { login: "ada" }'},
    )
    translated = Member._repository().duplicate_error(error)
    assert translated.fields == ("login",)
    assert "ada" not in str(translated)
    assert "unique field 'login'" in str(translated)
