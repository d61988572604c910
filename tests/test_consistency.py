"""Related data stays consistent with two writers, stale instances and interrupted cascades.

Every interleaving is deterministic: the registry's test-only pause hook stops one write at a
named point (``checked``: a child's parents were checked and guarded; ``written``: a parent was
written, before its cascade or its copies), the test runs the competing write, then resumes.
What is promised differs with and without transactions (docs/relations.md, "Consistency"):

- with transactions, the two writes are serialized: the result is one of the two orders;
- without them, the race can leave a dangling reference or a stale copy, which
  ``mdocument.check(fix=True)`` finds and repairs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mdocument import (
    CopiedFieldWrite,
    Document,
    DocumentDoesntExist,
    DuplicateError,
    Field,
    NotFoundError,
    ObjectId,
    OnDelete,
    Ref,
    RevisionConflict,
    Synced,
    init,
)
from mdocument.registry import Registry
from mdocument.testing import FailPoint


class User(Document):
    name: str
    city: str = ""


class UserCard(Synced[User]):
    id: ObjectId
    name: str
    city: str


class Post(Document):
    author_id: Ref[User]
    author: UserCard
    title: str = ""


class Comment(Document):
    post_id: Ref[Post]
    user_id: Ref[User]
    text: str = ""


class Reply(Document):
    comment_id: Ref[Comment]
    text: str = ""


class Like(Document):
    user_id: ObjectId | None = Field(None, related=User, on_delete=OnDelete.SET_NULL)
    post_ids: list[ObjectId] = Field(default_factory=list, related=Post, on_delete=OnDelete.PULL)


class Account(Document):
    email: str = Field(unique=True)
    balance: int = 0

    class Meta:
        revision = True


MODELS = [User, Post, Comment, Reply, Like, Account]


async def dangling(database: Any) -> list[str]:
    """Every reference to a missing document, read with the raw driver."""
    ids = {
        name: {doc["_id"] for doc in await database[name].find({}, {"_id": 1}).to_list(None)}
        for name in ("user", "post", "comment")
    }
    found: list[str] = []
    for post in await database["post"].find().to_list(None):
        if post["author_id"] not in ids["user"] or post["author"]["id"] not in ids["user"]:
            found.append(f"post {post['_id']} -> user")
    for comment in await database["comment"].find().to_list(None):
        if comment["post_id"] not in ids["post"]:
            found.append(f"comment {comment['_id']} -> post")
        if comment["user_id"] not in ids["user"]:
            found.append(f"comment {comment['_id']} -> user")
    for reply in await database["reply"].find().to_list(None):
        if reply["comment_id"] not in ids["comment"]:
            found.append(f"reply {reply['_id']} -> comment")
    for like in await database["like"].find().to_list(None):
        if like["user_id"] is not None and like["user_id"] not in ids["user"]:
            found.append(f"like {like['_id']} -> user")
        if any(post not in ids["post"] for post in like["post_ids"]):
            found.append(f"like {like['_id']} -> post")
    return found


async def stale_copies(database: Any) -> list[str]:
    """Every copy that differs from its source, read with the raw driver."""
    users = {doc["_id"]: doc for doc in await database["user"].find().to_list(None)}
    found: list[str] = []
    for post in await database["post"].find().to_list(None):
        source = users.get(post["author"]["id"])
        card = post["author"]
        if source is not None and (card["name"], card["city"]) != (source["name"], source["city"]):
            found.append(f"post {post['_id']}: {card} != {source}")
    return found


class Pause:
    """Stops the first write that reaches ``point`` until :meth:`resume` is called."""

    def __init__(self, registry: Registry, point: str) -> None:
        self.point = point
        self.reached = asyncio.Event()
        self.released = asyncio.Event()
        self.used = False
        registry.pause_hook = self

    async def __call__(self, point: str, subject: Any) -> None:
        if point != self.point or self.used:
            return
        self.used = True
        self.reached.set()
        await self.released.wait()

    def resume(self) -> None:
        self.released.set()


async def interleave(
    registry: Registry,
    point: str,
    first: Callable[[], Awaitable[Any]],
    second: Callable[[], Awaitable[Any]],
    *,
    hold: float = 0.3,
) -> tuple[Any, Any]:
    """Run ``first`` until it pauses at ``point``, run ``second`` alongside, then resume.

    ``second`` is given ``hold`` seconds to finish (it may instead be waiting on ``first``,
    as a write conflict makes it do); then ``first`` resumes. Returns both outcomes (a value or
    the exception raised).
    """
    pause = Pause(registry, point)
    one = asyncio.ensure_future(first())
    await asyncio.wait_for(pause.reached.wait(), 10)
    two = asyncio.ensure_future(second())
    await asyncio.wait({two}, timeout=hold)
    pause.resume()
    results = await asyncio.gather(one, two, return_exceptions=True)
    registry.pause_hook = None
    return results[0], results[1]


@pytest.fixture
async def replica(mongodb_database):
    registry = await init(mongodb_database, models=MODELS)
    assert registry.supports_transactions
    return registry, mongodb_database


@pytest.fixture(params=["replica", "standalone"])
async def server(request, mongodb_database, standalone_database):
    database = mongodb_database if request.param == "replica" else standalone_database
    registry = await init(database, models=MODELS)
    return registry, database


@pytest.fixture
async def standalone(standalone_database):
    registry = await init(standalone_database, models=MODELS)
    assert not registry.supports_transactions
    return registry, standalone_database


async def a_user_and_post() -> tuple[User, Post]:
    ada = await User.create(name="Ada", city="London")
    post = await Post.create(author_id=ada.id, author=UserCard.of(ada), title="t")
    return ada, post


# -- a child created while its parent is deleted ------------------------------------------------


async def test_child_create_paused_after_its_check_then_parent_delete(replica):
    registry, database = replica
    ada, _ = await a_user_and_post()
    # The create has guarded Ada: the delete conflicts, waits for the create's commit, then
    # cascades the new post too.
    created, deleted = await interleave(
        registry,
        "checked",
        lambda: Post.create(author_id=ada.id, author=UserCard.of(ada)),
        ada.delete,
    )
    assert isinstance(created, Post)
    assert deleted is None
    assert await dangling(database) == []
    assert await database["post"].count_documents({}) == 0


async def test_parent_delete_paused_after_its_guard_then_child_create(replica):
    registry, database = replica
    ada, _ = await a_user_and_post()
    deleted, created = await interleave(
        registry,
        "written",
        ada.delete,
        lambda: Post.create(author_id=ada.id, author=UserCard.of(ada)),
    )
    assert deleted is None
    assert isinstance(created, DocumentDoesntExist), created
    assert await dangling(database) == []


async def test_comment_create_against_a_cascade_that_deletes_its_post(replica):
    registry, database = replica
    ada, post = await a_user_and_post()
    # The comment guards the post; the user's cascade deletes that post later in its own
    # transaction: a conflict, so one of the two orders wins, never both.
    created, deleted = await interleave(
        registry,
        "checked",
        lambda: Comment.create(post_id=post.id, user_id=ada.id),
        ada.delete,
    )
    assert deleted is None
    assert isinstance(created, Comment | DocumentDoesntExist)
    assert await dangling(database) == []


async def test_reference_change_against_a_delete_of_the_new_parent(replica):
    registry, database = replica
    ada, post = await a_user_and_post()
    grace = await User.create(name="Grace")
    post.author_id = grace.id
    post.author = UserCard.of(grace)
    saved, deleted = await interleave(registry, "checked", post.save, grace.delete)
    assert saved is None or isinstance(saved, Post), saved
    assert deleted is None
    assert await dangling(database) == []
    assert await database["post"].count_documents({"_id": post.id}) == 0  # cascaded after


async def test_bulk_reference_change_against_a_delete_of_the_new_parent(replica):
    registry, database = replica
    ada, post = await a_user_and_post()
    grace = await User.create(name="Grace")
    like = await Like.create(user_id=ada.id, post_ids=[post.id])
    updated, deleted = await interleave(
        registry,
        "checked",
        lambda: Like.find(Like.id == like.id).update({"$set": {"user_id": grace.id}}),
        grace.delete,
    )
    assert updated == 1
    assert deleted is None
    assert await dangling(database) == []
    assert (await Like.get(like.id)).user_id is None  # SET_NULL ran after the update


@pytest.mark.standalone
async def test_without_transactions_the_race_dangles_and_check_repairs_it(standalone):
    from mdocument import check

    registry, database = standalone
    ada, _ = await a_user_and_post()
    created, deleted = await interleave(
        registry,
        "checked",
        lambda: Post.create(author_id=ada.id, author=UserCard.of(ada)),
        ada.delete,
    )
    assert isinstance(created, Post)
    assert deleted is None
    assert await dangling(database) != []  # what the docs say can happen here
    report = await check(fix=True)
    assert [finding.kind for finding in report.findings] == ["dangling"]
    assert await dangling(database) == []
    assert (await check()).ok


# -- a child created while its parent is renamed ------------------------------------------------


async def test_child_create_paused_after_reading_the_copy_then_parent_rename(replica):
    registry, database = replica
    ada, _ = await a_user_and_post()

    async def rename() -> None:
        fresh = await User.get(ada.id)
        fresh.name = "Ada Lovelace"
        await fresh.save()

    created, renamed = await interleave(
        registry,
        "checked",
        lambda: Post.create(author_id=ada.id, author=UserCard.of(ada)),
        rename,
    )
    assert isinstance(created, Post)
    assert renamed is None
    assert await stale_copies(database) == []
    assert {post["author"]["name"] for post in await database["post"].find().to_list(None)} == {
        "Ada Lovelace"
    }


async def test_rename_paused_before_its_copies_then_child_create(replica):
    registry, database = replica
    ada, _ = await a_user_and_post()
    ada.name = "Ada Lovelace"
    renamed, created = await interleave(
        registry,
        "written",
        ada.save,
        lambda: Post.create(author_id=ada.id, author=UserCard.of(ada)),
    )
    assert isinstance(renamed, User)
    assert isinstance(created, Post)
    assert await stale_copies(database) == []


async def test_bulk_update_of_a_copy_against_a_rename(replica):
    registry, database = replica
    ada, post = await a_user_and_post()
    grace = await User.create(name="Grace", city="Arlington")

    async def rename() -> None:
        fresh = await User.get(grace.id)
        fresh.city = "Washington"
        await fresh.save()

    updated, renamed = await interleave(
        registry,
        "checked",
        lambda: Post.find(Post.id == post.id).update(
            {"$set": {"author_id": grace.id, "author": UserCard.of(grace)}}
        ),
        rename,
    )
    assert updated == 1
    assert renamed is None
    assert await stale_copies(database) == []
    assert (await Post.get(post.id)).author.city == "Washington"


# -- copies come from the stored source, never from a stale instance ----------------------------


async def test_two_stale_instances_leave_every_copy_equal_to_its_source(server):
    _, database = server
    ada, _ = await a_user_and_post()
    a, b = await User.get(ada.id), await User.get(ada.id)
    a.city = "Paris"
    await a.save()
    b.name = "Ada L"
    await b.save()
    stored = await database["user"].find_one({"_id": ada.id})
    assert (stored["name"], stored["city"]) == ("Ada L", "Paris")
    assert await stale_copies(database) == []


async def test_a_bulk_update_of_the_source_rewrites_copies_from_the_stored_source(server):
    _, database = server
    ada, _ = await a_user_and_post()
    stale = await User.get(ada.id)
    await User.find(User.id == ada.id).update({"$set": {"city": "Paris"}})
    stale.name = "Ada L"
    await stale.save()
    assert await stale_copies(database) == []


# -- copies belong to their source ---------------------------------------------------------------


@pytest.mark.parametrize(
    "update",
    [
        {"$set": {"author.name": "x"}},
        {"$set": {"author.city": "x", "title": "y"}},
        {"$min": {"author.name": "a"}},
        {"$set": {"author.id": ObjectId(), "author.name": "x"}},
    ],
)
async def test_a_bulk_update_inside_a_copy_is_refused_before_anything_is_sent(
    replica, commands, update
):
    _, database = replica
    await a_user_and_post()
    commands.clear()
    with pytest.raises(CopiedFieldWrite, match=r"Post.*author.*User"):
        await Post.find().update(update)
    assert commands.of("update", "find") == []
    assert await stale_copies(database) == []


async def test_setting_a_whole_copy_resyncs_it_from_its_source(replica):
    _, database = replica
    ada, post = await a_user_and_post()
    forged = UserCard(id=ada.id, name="Forged", city="Nowhere")
    await Post.find(Post.id == post.id).update({"$set": {"author": forged}})
    assert (await Post.get(post.id)).author.name == "Ada"
    assert await stale_copies(database) == []


# -- without transactions: children before parents at every write ------------------------------


async def a_thread() -> User:
    """User <- Post <- Comment (which refers to the user too) <- Reply, and likes."""
    ada, post = await a_user_and_post()
    other = await Post.create(author_id=ada.id, author=UserCard.of(ada))
    grace = await User.create(name="Grace")
    for commenter in (ada, grace):
        comment = await Comment.create(post_id=post.id, user_id=commenter.id)
        await Reply.create(comment_id=comment.id)
    own = await Comment.create(post_id=other.id, user_id=ada.id)
    await Reply.create(comment_id=own.id)
    await Like.create(user_id=ada.id, post_ids=[post.id, other.id])
    await Like.create(user_id=grace.id, post_ids=[post.id])
    return ada


async def count_writes(database: Any, commands: Any) -> int:
    await init(database, models=MODELS)
    ada = await a_thread()
    commands.clear()
    await ada.delete()
    return len(commands.of("delete", "update"))


@pytest.mark.standalone
async def test_an_interruption_at_any_write_of_a_cascade_leaves_no_dangling_reference(
    standalone_database, commands
):
    from mdocument import check

    client = standalone_database.client
    if not await FailPoint.available(client):
        pytest.skip("the server does not accept configureFailPoint")
    writes = await count_writes(standalone_database, commands)
    assert writes >= 8
    for failing in range(writes):
        await standalone_database.client.drop_database(standalone_database.name)
        await init(standalone_database, models=MODELS)
        ada = await a_thread()
        async with FailPoint(client, ["delete", "update"], skip=failing):
            with pytest.raises(Exception, match="Failing command"):
                await ada.delete()
        assert await dangling(standalone_database) == [], f"after write {failing}"
        assert (await standalone_database["mdocument_journal"].count_documents({})) == 1
        await check(fix=True)  # completes the journaled cascade
        assert await User.get(ada.id) is None
        assert await dangling(standalone_database) == []
        assert await standalone_database["mdocument_journal"].count_documents({}) == 0
        assert (await check()).ok


async def test_an_interrupted_cascade_in_a_transaction_changes_nothing(mongodb_database, commands):
    client = mongodb_database.client
    if not await FailPoint.available(client):
        pytest.skip("the server does not accept configureFailPoint")
    writes = await count_writes(mongodb_database, commands)
    for failing in range(writes):
        await client.drop_database(mongodb_database.name)
        await init(mongodb_database, models=MODELS)
        ada = await a_thread()
        before = {
            name: await mongodb_database[name].find().to_list(None)
            for name in ("user", "post", "comment", "reply", "like")
        }
        async with FailPoint(client, ["delete", "update"], skip=failing):
            with pytest.raises(Exception, match="Failing command"):
                await ada.delete()
        after = {name: await mongodb_database[name].find().to_list(None) for name in before}
        for name in before:  # guard counters aside, everything is as it was
            strip = [
                {k: v for k, v in doc.items() if k != "_mdocument_guard"} for doc in after[name]
            ]
            assert strip == [
                {k: v for k, v in doc.items() if k != "_mdocument_guard"} for doc in before[name]
            ]


def unguarded(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in doc.items() if k != "_mdocument_guard"} for doc in documents]


@pytest.mark.standalone
@pytest.mark.parametrize("failing", [0, 1])
async def test_an_interrupted_rename_is_journaled_and_completed_by_check(
    standalone_database, failing
):
    from mdocument import check

    client = standalone_database.client
    if not await FailPoint.available(client):
        pytest.skip("the server does not accept configureFailPoint")
    await init(standalone_database, models=MODELS)
    ada, _ = await a_user_and_post()
    ada.name = "Ada Lovelace"
    # update 0: the user; then the journal entry, a read, and the copies' update (update 1)
    async with FailPoint(client, ["update"], skip=failing):
        with pytest.raises(Exception, match="Failing command"):
            await ada.save()
    await check(fix=True)
    assert await stale_copies(standalone_database) == []
    assert (await check()).ok


# -- optimistic concurrency: Meta.revision ------------------------------------------------------


async def test_a_save_from_a_stale_instance_raises_revision_conflict(database):
    await init(database, models=MODELS)
    created = await Account.create(email="a@example.com")
    a, b = await Account.get(created.id), await Account.get(created.id)
    a.balance = 10
    await a.save()
    b.balance = 20
    with pytest.raises(RevisionConflict, match=str(created.id)) as caught:
        await b.save()
    assert caught.value.expected == 1
    stored = await database["account"].find_one({"_id": created.id})
    assert (stored["balance"], stored["_revision"]) == (10, 2)
    await b.reload()
    b.balance = 20
    await b.save()  # reloaded: up to date
    assert (await database["account"].find_one({"_id": created.id}))["_revision"] == 3


async def test_racing_saves_of_two_instances_one_wins(database):
    await init(database, models=MODELS)
    created = await Account.create(email="a@example.com")
    instances = [await Account.get(created.id) for _ in range(5)]
    for number, instance in enumerate(instances):
        instance.balance = number + 1
    results = await asyncio.gather(*(i.save() for i in instances), return_exceptions=True)
    won = [number for number, result in enumerate(results) if isinstance(result, Account)]
    assert len(won) == 1
    assert all(isinstance(r, RevisionConflict) for r in results if not isinstance(r, Account))
    winner = won[0]
    stored = await database["account"].find_one({"_id": created.id})
    assert stored["balance"] == winner + 1


async def test_a_bulk_update_advances_the_revision(database):
    await init(database, models=MODELS)
    created = await Account.create(email="a@example.com")
    loaded = await Account.get(created.id)
    await Account.find(Account.id == created.id).update({"$inc": {"balance": 5}})
    loaded.balance = 1
    with pytest.raises(RevisionConflict):
        await loaded.save()


async def test_unique_violation_and_revision_conflict_are_never_confused(database):
    await init(database, models=MODELS)
    await Account.create(email="taken@example.com")
    mine = await Account.create(email="mine@example.com")
    mine.email = "taken@example.com"
    with pytest.raises(DuplicateError):
        await mine.save()  # up to date, but a duplicate: not a revision conflict
    stale = await Account.get(mine.id)
    fresh = await Account.get(mine.id)
    fresh.balance = 1
    await fresh.save()
    stale.email = "taken@example.com"
    with pytest.raises(RevisionConflict):
        await stale.save()  # stale and a duplicate: the filter matches nothing, no write
    other = await Account.get(mine.id)
    await (await Account.get(mine.id)).delete()
    other.balance = 3
    with pytest.raises(NotFoundError):
        await other.save()


async def test_documents_stored_before_revisions_were_turned_on_can_be_saved(database):
    await init(database, models=MODELS)
    await database["account"].insert_one({"email": "old@example.com", "balance": 1})
    old = await Account.one(Account.email == "old@example.com")
    stale = await Account.get(old.id)
    old.balance = 2
    await old.save()
    assert (await database["account"].find_one({"_id": old.id}))["_revision"] == 1
    stale.balance = 3
    with pytest.raises(RevisionConflict):
        await stale.save()


async def test_revisions_need_no_field_in_the_class(database):
    await init(database, models=MODELS)
    account = await Account.create(email="a@example.com")
    assert "_revision" not in account.model_dump()
    assert "_revision" not in account.model_dump_json()
    assert (await database["account"].find_one({"_id": account.id}))["_revision"] == 1


# -- every pair without transactions: what can break there, check --fix repairs ----------------


async def _rename(user_id: Any) -> None:
    fresh = await User.get(user_id)
    fresh.name = "Ada Lovelace"
    await fresh.save()


@pytest.mark.standalone
@pytest.mark.parametrize(
    ("point", "pair"),
    [
        ("checked", "create child, delete parent"),
        ("planned", "delete parent, create child"),
        ("checked", "create child, rename parent"),
        ("written", "rename parent, create child"),
        ("checked", "change reference, delete new parent"),
        ("checked", "bulk reference change, delete new parent"),
    ],
)
async def test_without_transactions_every_pair_is_repaired_by_check(standalone, point, pair):
    from mdocument import check

    registry, database = standalone
    ada, post = await a_user_and_post()
    grace = await User.create(name="Grace")
    writes: dict[str, Any] = {
        "create child": lambda: Post.create(author_id=ada.id, author=UserCard.of(ada)),
        "delete parent": ada.delete,
        "rename parent": lambda: _rename(ada.id),
        "delete new parent": grace.delete,
    }
    if pair.startswith("change reference"):
        post.author_id, post.author = grace.id, UserCard.of(grace)
        writes["change reference"] = post.save
    writes["bulk reference change"] = lambda: Post.find(Post.id == post.id).update(
        {"$set": {"author_id": grace.id, "author": UserCard.of(grace)}}
    )
    first, second = pair.split(", ")
    outcomes = await interleave(registry, point, writes[first], writes[second])
    documented = (DocumentDoesntExist, NotFoundError)
    assert all(not isinstance(o, Exception) or isinstance(o, documented) for o in outcomes)
    await check(fix=True)
    assert await dangling(database) == []
    assert await stale_copies(database) == []
    assert (await check()).ok
