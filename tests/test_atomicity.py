"""A cascade either completes or leaves no trace (transactions); without transactions, it runs
children first so that a retry completes it. The Nth write fails through a server fail point."""

import pytest
from pymongo.errors import OperationFailure

from mdocument import Document, Field, ObjectId, OnDelete, Synced, init
from mdocument.testing import FailPoint


class Author(Document):
    name: str


class AuthorCard(Synced[Author]):
    id: ObjectId
    name: str


class Book(Document):
    author: AuthorCard
    title: str


class Chapter(Document):
    book_id: ObjectId = Field(related=Book)


class Award(Document):
    author_id: ObjectId | None = Field(default=None, related=Author, on_delete=OnDelete.SET_NULL)


class Shelf(Document):
    book_ids: list[ObjectId] = Field(default_factory=list, related=Book, on_delete=OnDelete.PULL)


MODELS = [Author, Book, Chapter, Award, Shelf]
# Deleting an author: chapters, then the shelf's pull, then books and the awards' set-null,
# then the author: five writes. In a transaction, the author is written first (its guard, so
# that no child create can commit against it meanwhile): six.
CASCADE_WRITES = 5
GUARDED_CASCADE_WRITES = CASCADE_WRITES + 1


async def library():
    ada, grace = await Author.create(name="Ada"), await Author.create(name="Grace")
    books = [
        await Book.create(author=AuthorCard.of(a), title=f"b{i}")
        for i, a in enumerate([ada, ada, grace])
    ]
    for book in books:
        await Chapter.insert_many([Chapter(book_id=book.id) for _ in range(3)])
    await Award.create(author_id=ada.id)
    await Award.create(author_id=grace.id)
    await Shelf.create(book_ids=[book.id for book in books])
    return ada, grace


async def snapshot(database):
    state = {}
    for name in sorted(await database.list_collection_names()):
        cursor = database[name].find({}, sort=[("_id", 1)])
        state[name] = await cursor.to_list(None)
    return state


async def needs_fail_points(client):
    if not await FailPoint.available(client):
        pytest.skip("the server of MONGODB_URI does not accept configureFailPoint")


@pytest.mark.parametrize("failing", range(GUARDED_CASCADE_WRITES))
async def test_a_failed_cascade_changes_nothing_in_a_transaction(mongodb_database, failing):
    await needs_fail_points(mongodb_database.client)
    registry = await init(mongodb_database, models=MODELS)
    assert registry.supports_transactions
    ada, _ = await library()
    before = await snapshot(mongodb_database)
    async with FailPoint(mongodb_database.client, ["delete", "update"], skip=failing):
        with pytest.raises(OperationFailure):
            await ada.delete()
    assert await snapshot(mongodb_database) == before


async def expected_after_deleting_ada(database_name, client):
    """The state a delete without failures leaves, computed on a scratch database."""
    scratch = client[f"{database_name}_expected"]
    try:
        await init(scratch, models=MODELS)
        ada, _ = await library()
        await ada.delete()
        return {name: len(docs) for name, docs in (await snapshot(scratch)).items()}
    finally:
        await client.drop_database(scratch.name)


@pytest.mark.parametrize("failing", range(CASCADE_WRITES))
async def test_without_transactions_a_retry_completes_the_cascade(standalone_database, failing):
    client = standalone_database.client
    await needs_fail_points(client)
    expected = await expected_after_deleting_ada(standalone_database.name, client)
    registry = await init(standalone_database, models=MODELS)
    assert not registry.supports_transactions
    ada, grace = await library()
    async with FailPoint(client, ["delete", "update"], skip=failing):
        with pytest.raises(OperationFailure):
            await ada.delete()
    assert await Author.get(ada.id) is not None  # the author goes last
    await ada.delete()  # the retry plans what is left and completes it
    state = await snapshot(standalone_database)
    assert {name: len(docs) for name, docs in state.items()} == expected
    assert await Author.get(ada.id) is None
    assert all(book.author.id == grace.id for book in await Book.many())
    assert (await Shelf.one()).book_ids == [book.id for book in await Book.many()]
    assert [award.author_id for award in await Award.many()] == [None, grace.id]


async def test_a_failed_sync_leaves_the_parent_unchanged_in_a_transaction(mongodb_database):
    await needs_fail_points(mongodb_database.client)
    await init(mongodb_database, models=MODELS)
    ada, _ = await library()
    before = await snapshot(mongodb_database)
    ada.name = "Ada Lovelace"
    async with FailPoint(mongodb_database.client, ["update"], skip=1):  # the copies' update
        with pytest.raises(OperationFailure):
            await ada.save()
    assert await snapshot(mongodb_database) == before
    await ada.save()  # nothing was recorded as saved: the same change goes again
    assert {book.author.name for book in await Book.many()} == {"Ada Lovelace", "Grace"}


async def test_without_transactions_a_failed_sync_is_completed_by_saving_again(
    standalone_database,
):
    await needs_fail_points(standalone_database.client)
    await init(standalone_database, models=MODELS)
    ada, _ = await library()
    ada.name = "Ada Lovelace"
    async with FailPoint(standalone_database.client, ["update"], skip=1):
        with pytest.raises(OperationFailure):
            await ada.save()
    assert (await Author.get(ada.id)).name == "Ada Lovelace"
    assert "Ada" in {book.author.name for book in await Book.many()}  # stale copies
    await ada.save()
    assert {book.author.name for book in await Book.many()} == {"Ada Lovelace", "Grace"}


async def test_the_cascade_above_has_exactly_the_writes_the_tests_fail(mongodb_database, commands):
    await init(mongodb_database, models=MODELS)
    ada, _ = await library()
    commands.clear()
    await ada.delete()
    assert len(commands.of("delete", "update")) == GUARDED_CASCADE_WRITES
