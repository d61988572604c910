"""The bulk writer: queued creates, saves and deletes sent as one batch per collection."""

import pytest

from mdocument import (
    Bulk,
    DocumentDoesntExist,
    DuplicateError,
    Field,
    NotFoundError,
    ObjectId,
    OnDelete,
    RevisionConflict,
    Synced,
    bulk,
    init,
)
from mdocument import Document as Base


class Author(Base):
    name: str = Field(unique=True)


class AuthorCard(Synced[Author]):
    id: ObjectId
    name: str


class Post(Base):
    title: str = Field(unique=True)
    author: AuthorCard = Field(synced=Author, on_delete=OnDelete.CASCADE)


class Comment(Base):
    text: str
    post: ObjectId = Field(related=Post, on_delete=OnDelete.CASCADE)


MODELS = [Author, Post, Comment]


async def send(*queue: tuple[str, Base]) -> None:
    """Queue ("create" | "save" | "delete", document) pairs in one bulk and send them."""
    async with bulk() as batch:
        for operation, document in queue:
            getattr(batch, operation)(document)


def collection_of(command: dict, name: str) -> str:
    return command[name]


def per_collection(commands, name: str) -> list[str]:
    return sorted(collection_of(command, name) for command in commands.of(name))


async def snapshot(database) -> dict[str, list[dict]]:
    return {
        name: sorted(
            [{k: v for k, v in raw.items() if not k.startswith("_")} | {"_id": raw["_id"]}
             for raw in await database[name].find().to_list()],
            key=lambda raw: str(raw["_id"]),
        )
        for name in ("author", "post", "comment")
    }  # fmt: skip


async def test_one_write_per_collection_in_relation_order(database, commands):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    old = await Post.create(title="old", author=AuthorCard.of(ada))
    kept = await Post.create(title="kept", author=AuthorCard.of(ada))
    await Comment.create(text="on old", post=old.id)
    commands.clear()

    async with bulk() as batch:
        grace = Author(name="Grace")
        batch.create(grace)
        new = Post(title="new", author=AuthorCard.of(grace))  # its parent is in the bulk too
        batch.create(new)
        batch.create(Comment(text="on new", post=new.id))
        ada.name = "Ada L."
        batch.save(ada)  # its copies in posts are rewritten from the stored author
        batch.delete(old)  # cascades to its comment
        assert isinstance(batch, Bulk)
        assert len(batch) == 5
        assert commands.names == []  # nothing is sent before the block ends

    assert per_collection(commands, "insert") == ["author", "comment", "post"]
    assert per_collection(commands, "delete") == ["comment", "post"]
    # parents before children: the author's insert goes before the post's, the post's before
    # the comment's
    inserts = [command["insert"] for command in commands.of("insert")]
    assert inserts == ["author", "post", "comment"]
    saves = [c for c in commands.of("update") if c["update"] == "author"]
    assert any(
        update["u"].get("$set", {}).get("name") == "Ada L."
        for command in saves
        for update in command["updates"]
    )
    assert {p.title: p.author.name for p in await Post.find().to_list()} == {
        "kept": "Ada L.",
        "new": "Grace",
    }
    assert [c.text for c in await Comment.find().to_list()] == ["on new"]
    assert await Post.get(old.id) is None
    assert kept.id in {p.id for p in await Post.find().to_list()}
    # the instances are stored now: a later save sends changes only
    grace.name = "Grace H."
    await grace.save()
    assert (await Author.get(grace.id)).name == "Grace H."
    assert await Post.get(new.id) is not None


async def test_deletes_cascade_in_one_batch_across_queued_parents(database, commands):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    first, second, third = [
        await Post.create(title=title, author=AuthorCard.of(ada)) for title in ("1", "2", "3")
    ]
    for post in (first, second, third):
        for n in range(3):
            await Comment.create(text=f"{post.title}.{n}", post=post.id)
    commands.clear()

    async with bulk() as batch:
        batch.delete(first)
        batch.delete(second)

    assert per_collection(commands, "delete") == ["comment", "post"]
    deleted = {c["delete"]: c["deletes"] for c in commands.of("delete")}
    assert len(deleted["comment"]) == 1  # one delete_many for the comments of both posts
    assert [p.title for p in await Post.find().to_list()] == ["3"]
    assert sorted(c.text for c in await Comment.find().to_list()) == ["3.0", "3.1", "3.2"]


async def test_a_duplicate_names_the_document_and_writes_nothing(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    await Post.create(title="taken", author=AuthorCard.of(ada))
    before = await snapshot(database)

    grace = Author(name="Grace")
    clash = Post(title="taken", author=AuthorCard.of(grace))
    with pytest.raises(Post.DuplicateError) as caught:
        await send(
            ("create", grace),
            ("create", Post(title="fine", author=AuthorCard.of(grace))),
            ("create", clash),
        )
    error = caught.value
    assert isinstance(error, DuplicateError)
    assert str(error).startswith(f"bulk: create of Post {clash.id}: ")
    assert error.operation == "create"
    assert error.document_id == clash.id
    assert error.fields == ("title",)
    assert await snapshot(database) == before  # the authors' insert was rolled back too
    assert await Author.get(grace.id) is None


async def test_a_missing_parent_names_the_document_and_writes_nothing(database):
    await init(database, models=MODELS)
    ada = await Author.create(name="Ada")
    post = await Post.create(title="p", author=AuthorCard.of(ada))
    before = await snapshot(database)

    orphan = Comment(text="orphan", post=ObjectId())
    with pytest.raises(DocumentDoesntExist) as caught:
        await send(
            ("create", Comment(text="fine", post=post.id)),
            ("create", orphan),
            ("create", Author(name="Grace")),
        )
    assert str(caught.value).startswith(f"bulk: create of Comment {orphan.id}: ")
    assert caught.value.operation == "create"
    assert await snapshot(database) == before


async def test_a_deleted_document_names_the_delete(mongodb_database):
    await init(mongodb_database, models=MODELS)
    ada = await Author.create(name="Ada")
    gone = await Post.create(title="gone", author=AuthorCard.of(ada))
    stale = await Post.get(gone.id)
    await gone.delete()
    with pytest.raises(Post.NotFoundError) as caught:
        await send(("create", Author(name="Grace")), ("delete", stale))
    assert isinstance(caught.value, NotFoundError)
    assert caught.value.operation == "delete"
    assert str(caught.value).startswith(f"bulk: delete of Post {gone.id}: ")
    assert await Author.find().count() == 1


async def test_an_exception_inside_the_block_sends_nothing(mongodb_database, commands):
    await init(mongodb_database, models=MODELS)
    ada = await Author.create(name="Ada")
    commands.clear()

    async def interrupted() -> None:
        async with bulk() as batch:
            batch.create(Author(name="Grace"))
            batch.delete(ada)
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        await interrupted()
    assert commands.names == []
    assert await Author.find().count() == 1


async def test_queueing_refuses_what_cannot_be_written(mongodb_database):
    await init(mongodb_database, models=MODELS)
    ada = await Author.create(name="Ada")
    async with bulk() as batch:
        batch.save(ada)
        with pytest.raises(ValueError, match="queued in this bulk already"):
            batch.delete(ada)
    async with bulk() as batch:
        with pytest.raises(ValueError, match="stored already"):
            batch.create(ada)
        with pytest.raises(Author.NotFoundError):
            batch.delete(Author(name="never stored"))


async def test_hooks_run_around_the_batch(mongodb_database):
    calls: list[str] = []

    class Hooked(Base):
        name: str

        async def before_save(self) -> None:
            calls.append(f"before_save {self.name}")
            self.name = self.name.upper()

        async def after_save(self) -> None:
            calls.append(f"after_save {self.name}")

        async def before_delete(self) -> None:
            calls.append(f"before_delete {self.name}")

        async def after_delete(self) -> None:
            calls.append(f"after_delete {self.name}")

    await init(mongodb_database, models=[Hooked])
    old = await Hooked.create(name="old")
    calls.clear()
    async with bulk() as batch:
        batch.create(Hooked(name="new"))
        batch.delete(old)
    assert calls == ["before_save new", "before_delete OLD", "after_save NEW", "after_delete OLD"]
    assert [h.name for h in await Hooked.find().to_list()] == ["NEW"]


@pytest.mark.standalone
async def test_without_transactions_parents_go_first(standalone_database, commands):
    """No transaction: inserts go parents first, deletes children first, so a failure leaves
    the writes made before it, and no reference to a missing document."""
    await init(standalone_database, models=MODELS)
    ada = await Author.create(name="Ada")
    await Post.create(title="taken", author=AuthorCard.of(ada))
    commands.clear()
    grace = Author(name="Grace")
    with pytest.raises(Post.DuplicateError, match="bulk: create of Post"):
        await send(("create", grace), ("create", Post(title="taken", author=AuthorCard.of(grace))))
    assert [c["insert"] for c in commands.of("insert")] == ["author", "post"]
    assert await Author.get(grace.id) is not None  # written before the failure: kept
    assert await Post.find().count() == 1


class Counter(Base):
    value: int = 0

    class Meta:
        revision = True


async def test_a_stale_or_missing_save_names_the_document(mongodb_database):
    await init(mongodb_database, models=[Counter])
    counter = await Counter.create()
    stale = await Counter.get(counter.id)
    counter.value = 1
    await counter.save()
    stale.value = 2
    fresh = await Counter.create()
    fresh.value = 5
    with pytest.raises(RevisionConflict) as caught:
        await send(("save", fresh), ("save", stale))
    assert caught.value.operation == "save"
    assert str(caught.value).startswith(f"bulk: save of Counter {counter.id}: ")
    assert {c.id: c.value for c in await Counter.find().to_list()} == {
        counter.id: 1,
        fresh.id: 0,
    }
    gone = await Counter.create()
    copy = await Counter.get(gone.id)
    await gone.delete()
    copy.value = 3
    with pytest.raises(Counter.NotFoundError, match=f"bulk: save of Counter {gone.id}"):
        await send(("save", copy))
    await send(("save", fresh))  # a save that succeeds advances the instance's revision
    fresh.value = 6
    await fresh.save()
    assert (await Counter.get(fresh.id)).value == 6
