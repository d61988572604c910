"""Create, read, update and delete against the real server, with both drivers."""

import datetime

import bson
import pytest

from mdocument import Document, Field, WrongValueType, init


class Author(Document):
    name: str = Field(unique=True)
    born: int | None = None
    tags: list[str] = Field(default_factory=list)


@pytest.fixture
async def authors(database):
    await init(database, models=[Author])
    return database


async def test_create_inserts_and_returns_the_document(authors):
    ada = await Author.create(name="Ada", born=1815)
    stored = await authors["author"].find_one({"_id": ada.id})
    assert stored == {"_id": ada.id, "name": "Ada", "born": 1815, "tags": []}
    assert ada.is_stored


async def test_get_finds_by_object_id_or_hex_string(authors):
    ada = await Author.create(name="Ada")
    assert await Author.get(ada.id) == ada
    assert await Author.get(str(ada.id)) == ada
    assert await Author.get(bson.ObjectId()) is None


async def test_get_rejects_a_malformed_id_naming_the_document(authors):
    with pytest.raises(WrongValueType, match="Author ids"):
        await Author.get("nope")


async def test_one_returns_the_match_or_raises_the_class_not_found_error(authors):
    await Author.create(name="Ada")
    assert (await Author.one({"name": "Ada"})).name == "Ada"
    with pytest.raises(Author.NotFoundError, match="no Author matches"):
        await Author.one({"name": "Bob"})
    assert await Author.one({"name": "Bob"}, required=False) is None


async def test_many_sorts_skips_and_limits(authors):
    for name, born in [("Ada", 1815), ("Grace", 1906), ("Alan", 1912), ("Edsger", 1930)]:
        await Author.create(name=name, born=born)
    assert [a.name for a in await Author.many(sort="born")] == ["Ada", "Grace", "Alan", "Edsger"]
    assert [a.name for a in await Author.many(sort="-born", limit=2)] == ["Edsger", "Alan"]
    assert [a.name for a in await Author.many({"born": {"$gt": 1900}}, sort="born", skip=1)] == [
        "Alan",
        "Edsger",
    ]


async def test_find_streams_documents_of_the_class(authors):
    await Author.insert_many([Author(name=f"a{i}", born=i) for i in range(5)])
    seen = [author async for author in Author.find({"born": {"$gte": 2}}).sort("born")]
    assert [author.born for author in seen] == [2, 3, 4]
    assert all(isinstance(author, Author) for author in seen)


async def test_query_set_is_reusable_and_chainable(authors):
    await Author.insert_many([Author(name=f"a{i}", born=i) for i in range(6)])
    base = Author.find({"born": {"$lt": 5}}).sort("-born")
    assert [a.born for a in await base.limit(2).to_list()] == [4, 3]
    assert [a.born for a in await base.skip(3).to_list()] == [1, 0]
    assert (await base.first()).born == 4
    assert await base.count() == 5
    assert await base.exists()
    assert not await Author.find({"born": 99}).exists()


async def test_count_counts_matches(authors):
    await Author.insert_many([Author(name=f"a{i}", born=i % 2) for i in range(5)])
    assert await Author.count() == 5
    assert await Author.count({"born": 1}) == 2


async def test_insert_many_inserts_in_one_command(authors, commands):
    commands.clear()
    inserted = await Author.insert_many([Author(name="a"), Author(name="b")])
    assert [a.name for a in inserted] == ["a", "b"]
    assert commands.names.count("insert") == 1
    assert await Author.count() == 2
    assert all(author.is_stored for author in inserted)


async def test_insert_many_of_one_document_is_one_insert_without_a_transaction(authors, commands):
    commands.clear()
    (ada,) = await Author.insert_many([Author(name="Ada")])
    assert commands.names == ["insert"]  # as create() sends it: one document is atomic anyway
    assert ada.is_stored
    assert await Author.count() == 1
    commands.clear()
    with pytest.raises(Author.DuplicateError):
        await Author.insert_many([Author(name="Ada")])
    assert commands.names == ["insert"]
    assert await Author.count() == 1


async def test_insert_many_of_several_documents_is_one_transaction(mongodb_database, commands):
    await init(mongodb_database, models=[Author])
    commands.clear()
    await Author.insert_many([Author(name="a"), Author(name="b")])
    assert commands.names == ["insert", "commitTransaction"]
    assert commands.of("insert")[0].get("startTransaction") is True


async def test_insert_many_of_nothing_sends_nothing(authors, commands):
    commands.clear()
    assert await Author.insert_many([]) == []
    assert commands.count == 0


async def test_insert_many_refuses_other_classes(authors):
    class Other(Document):
        pass

    with pytest.raises(TypeError, match="Author instances"):
        await Author.insert_many([Other()])


async def test_save_updates_the_changed_field(authors):
    ada = await Author.create(name="Ada")
    ada.born = 1815
    await ada.save()
    assert (await Author.get(ada.id)).born == 1815


async def test_save_of_a_new_instance_inserts_it(authors):
    ada = Author(name="Ada")
    assert not ada.is_stored
    await ada.save()
    assert await Author.count({"name": "Ada"}) == 1


async def test_save_of_a_deleted_document_raises_not_found(authors):
    ada = await Author.create(name="Ada")
    await authors["author"].delete_one({"_id": ada.id})
    ada.born = 1
    with pytest.raises(Author.NotFoundError):
        await ada.save()


async def test_delete_removes_the_document(authors):
    ada = await Author.create(name="Ada")
    await ada.delete()
    assert await Author.get(ada.id) is None
    assert not ada.is_stored


async def test_delete_of_a_missing_document_raises_not_found(authors):
    with pytest.raises(Author.NotFoundError):
        await Author(name="ghost").delete()


async def test_reload_replaces_values_with_the_stored_ones(authors):
    ada = await Author.create(name="Ada")
    await authors["author"].update_one({"_id": ada.id}, {"$set": {"born": 1815}})
    ada.tags.append("local change")
    assert await ada.reload() is ada
    assert ada.born == 1815
    assert ada.tags == []


async def test_reload_of_a_deleted_document_raises_not_found(authors):
    ada = await Author.create(name="Ada")
    await authors["author"].delete_one({"_id": ada.id})
    with pytest.raises(Author.NotFoundError):
        await ada.reload()


async def test_queries_accept_id_and_translate_it(authors):
    ada = await Author.create(name="Ada")
    assert await Author.one({"id": ada.id}) == ada
    assert await Author.count({"id": {"$in": [ada.id, bson.ObjectId()]}}) == 1


async def test_sessions_are_passed_through_to_the_driver(authors, commands):
    client = authors.client
    session = client.start_session()
    if hasattr(session, "__await__"):  # Motor's start_session is a coroutine
        session = await session
    session_id = session.session_id
    try:
        ada = await Author.create(name="Ada", session=session)
        await Author.get(ada.id, session=session)
        await Author.one({"name": "Ada"}, session=session)
        await Author.many(session=session)
        await Author.count(session=session)
        await Author.insert_many([Author(name="b")], session=session)
        ada.born = 1
        await ada.save(session=session)
        await ada.reload(session=session)
        await ada.delete(session=session)
    finally:
        await session.end_session()
    sent = [e for e in commands.events if e.command_name not in ("createIndexes", "listIndexes")]
    assert sent
    assert all(event.command.get("lsid") == session_id for event in sent), [
        event.command_name for event in sent if event.command.get("lsid") != session_id
    ]


class Event(Document):
    name: str
    at: datetime.datetime


async def test_datetimes_come_back_timezone_aware_and_equal(database):
    await init(database, models=[Event])
    moment = datetime.datetime(2026, 11, 22, 12, 30, tzinfo=datetime.timezone.utc)
    event = await Event.create(name="launch", at=moment)
    loaded = await Event.get(event.id)
    assert loaded.at == moment
    assert loaded.at.tzinfo is not None


async def test_private_attributes_of_a_document_live_beside_the_change_tracking(database):
    from pydantic import PrivateAttr

    class Cached(Document):
        name: str
        _hits: int = PrivateAttr(default=0)

    await init(database, models=[Cached])
    document = await Cached.create(name="a")
    document._hits = 3
    document.name = "b"
    await document.save()
    assert document._hits == 3
    loaded = await Cached.get(document.id)
    assert loaded._hits == 0
    loaded.name = "c"
    await loaded.save()
    assert (await Cached.get(document.id)).name == "c"
