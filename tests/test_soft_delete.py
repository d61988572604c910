"""Soft delete (``Meta.soft_delete = True``): hidden, cascaded, restored by deletion, refused
as a parent, unique values released, and a hard delete on request."""

import pytest

from mdocument import (
    Document,
    DuplicateError,
    Field,
    OnDelete,
    OptionalRef,
    ParentSoftDeleted,
    Ref,
    init,
)


class Author(Document):
    name: str = Field(unique=True)

    class Meta:
        soft_delete = True


class Book(Document):
    title: str
    author_id: Ref[Author] = Field(on_delete=OnDelete.CASCADE)

    class Meta:
        soft_delete = True


class Review(Document):
    text: str
    book_id: Ref[Book] = Field(on_delete=OnDelete.CASCADE)

    class Meta:
        soft_delete = True


class Fan(Document):
    """No soft delete; its reference stays while the author is soft-deleted."""

    author_id: OptionalRef[Author] = Field(default=None, on_delete=OnDelete.SET_NULL)


MODELS = [Author, Book, Review, Fan]


def stored(database, document):
    """The raw collection of a class."""
    return database[document.__mdocument_mapping__.collection]


async def test_delete_hides_from_every_query(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    await Author.create(name="Bob")
    await ada.delete()

    assert await Author.get(ada.id) is None
    assert await Author.one(Author.name == "Ada", required=False) is None
    assert [a.name for a in await Author.many()] == ["Bob"]
    assert await Author.count() == 1
    assert [a.name for a in await Author.find().to_list()] == ["Bob"]
    assert not await Author.find(Author.name == "Ada").exists()
    assert await Author.find().distinct(Author.name) == ["Bob"]
    assert len(await Author.aggregate([{"$project": {"name": 1}}])) == 1
    assert (await Author.find().paginate()).total == 1

    everything = Author.find().with_deleted()
    assert sorted(a.name for a in await everything.to_list()) == ["Ada", "Bob"]
    assert await Author.find(Author.name == "Ada").with_deleted().count() == 1
    raw = await stored(database, Author).find_one({"_id": ada.id})
    assert raw["_live"] is False
    assert raw["_deleted_at"] is not None
    assert raw["_deletion"]


async def test_cascade_marks_children_with_the_same_deletion(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    book = await Book.create(title="Notes", author_id=ada.id)
    review = await Review.create(text="good", book_id=book.id)
    fan = await Fan.create(author_id=ada.id)
    await ada.delete()

    assert await Book.count() == 0
    assert await Review.count() == 0
    raws = [
        await stored(database, cls).find_one({"_id": item})
        for cls, item in ((Author, ada.id), (Book, book.id), (Review, review.id))
    ]
    assert {raw["_deletion"] for raw in raws} == {raws[0]["_deletion"]}
    assert all(raw["_live"] is False for raw in raws)
    assert (await Fan.get(fan.id)).author_id == ada.id  # SET_NULL: the reference stays


async def test_restore_restores_exactly_that_deletion(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    first = await Book.create(title="First", author_id=ada.id)
    second = await Book.create(title="Second", author_id=ada.id)
    await first.delete()  # an earlier deletion
    await ada.delete()
    assert await Book.count() == 0

    await ada.restore()
    assert await Author.get(ada.id) == ada
    assert [book.id for book in await Book.many()] == [second.id]
    raw = await stored(database, Author).find_one({"_id": ada.id})
    assert raw["_live"] is True
    assert "_deletion" not in raw
    assert "_deleted_at" not in raw

    await first.restore()
    assert await Book.count() == 2


async def test_restore_refused_under_a_parent_deleted_by_another_deletion(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    book = await Book.create(title="Notes", author_id=ada.id)
    await book.delete()
    await ada.delete()
    with pytest.raises(ParentSoftDeleted) as caught:
        await book.restore()
    assert caught.value.field == "author_id"
    assert await Book.find().with_deleted().count() == 1
    assert await Book.count() == 0


async def test_restore_of_a_live_document_is_not_found(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    with pytest.raises(Author.NotFoundError):
        await ada.restore()


async def test_child_of_a_soft_deleted_parent_is_refused(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    await ada.delete()
    with pytest.raises(ParentSoftDeleted) as caught:
        await Book.create(title="Late", author_id=ada.id)
    assert caught.value.field == "author_id"
    assert "soft-deleted" in str(caught.value)
    with pytest.raises(ParentSoftDeleted):
        await Book.insert_many([Book(title="Late", author_id=ada.id)])
    assert await Book.find().with_deleted().count() == 0
    bob = await Author.create(name="Bob")
    fan = await Fan.create(author_id=bob.id)
    fan.author_id = ada.id
    with pytest.raises(ParentSoftDeleted):
        await fan.save()


async def test_deleting_twice_is_not_found(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    await ada.delete()
    again = await Author.find(Author.id == ada.id).with_deleted().first()
    with pytest.raises(Author.NotFoundError):
        await again.delete()


async def test_hard_delete_cascades_for_real(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    book = await Book.create(title="Notes", author_id=ada.id)
    await Review.create(text="good", book_id=book.id)
    fan = await Fan.create(author_id=ada.id)
    await ada.delete(hard=True)
    assert await stored(database, Author).count_documents({}) == 0
    assert await stored(database, Book).count_documents({}) == 0
    assert await stored(database, Review).count_documents({}) == 0
    assert (await Fan.get(fan.id)).author_id is None


async def test_hard_delete_of_soft_deleted_documents(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    await Book.create(title="Notes", author_id=ada.id)
    await ada.delete()
    assert await Author.find().with_deleted().delete(hard=True) == 1
    assert await stored(database, Author).count_documents({}) == 0
    assert await stored(database, Book).count_documents({}) == 0


async def test_query_delete_is_soft(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    await Book.create(title="Notes", author_id=ada.id)
    await Author.create(name="Bob")
    assert await Author.find(Author.name == "Ada").delete() == 1
    assert await Author.count() == 1
    assert await Book.count() == 0
    assert await stored(database, Book).count_documents({}) == 1


async def test_unique_values_of_soft_deleted_documents_are_free(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    with pytest.raises(DuplicateError):
        await Author.create(name="Ada")
    await ada.delete()
    again = await Author.create(name="Ada")
    with pytest.raises(DuplicateError):
        await Author.create(name="Ada")
    await again.delete()
    await Author.create(name="Ada")
    with pytest.raises(DuplicateError):  # restoring would hold a taken value
        await ada.restore()
    assert await Author.find().with_deleted().count() == 3


async def test_a_cascade_into_a_class_without_soft_delete_is_refused(mongodb_database):
    class Shelf(Document):
        class Meta:
            soft_delete = True

    class Slot(Document):
        shelf_id: Ref[Shelf] = Field(on_delete=OnDelete.CASCADE)

    await init(mongodb_database, models=[Shelf, Slot])
    shelf = await Shelf.create()
    await Slot.create(shelf_id=shelf.id)
    with pytest.raises(TypeError, match="Slot has no soft delete"):
        await shelf.delete()
    assert await Shelf.count() == 1
    await shelf.delete(hard=True)
    assert await Slot.count() == 0


@pytest.mark.standalone
async def test_soft_delete_without_transactions(standalone_database):
    await init(standalone_database, models=MODELS)
    ada = await Author.create(name="Ada")
    await Book.create(title="Notes", author_id=ada.id)
    await ada.delete()
    assert await Author.count() == 0
    assert await Book.count() == 0
    await ada.restore()
    assert await Author.count() == 1
    assert await Book.count() == 1
