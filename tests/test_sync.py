"""Synced copies follow their source: one update_many per edge, none when nothing copied changed."""

import pytest

from mdocument import Document, Field, ObjectId, Synced, init


class User(Document):
    name: str
    city: str = ""
    karma: int = 0


class UserCard(Synced[User]):
    id: ObjectId
    name: str
    city: str


class NameOnly(Synced[User]):
    id: ObjectId
    name: str


class Post(Document):
    author: UserCard
    editor: NameOnly | None = None
    title: str


class Thread(Document):
    participants: list[UserCard] = Field(default_factory=list)


@pytest.fixture
async def blog(database):
    await init(database, models=[User, Post, Thread])
    ada = await User.create(name="Ada", city="London")
    grace = await User.create(name="Grace", city="Arlington")
    posts = [
        await Post.create(author=UserCard.of(ada), editor=NameOnly.of(grace), title=f"p{i}")
        for i in range(3)
    ]
    other = await Post.create(author=UserCard.of(grace), title="other")
    thread = await Thread.create(participants=[UserCard.of(grace), UserCard.of(ada)])
    return ada, grace, posts, other, thread


def sync_updates(commands, collection):
    return [
        update
        for command in commands.of("update")
        if command["update"] == collection
        for update in command["updates"]
    ]


async def test_renaming_a_parent_rewrites_every_single_copy(blog, commands):
    ada, grace, posts, other, thread = blog
    ada.name = "Ada Lovelace"
    commands.clear()
    await ada.save()
    for post in posts:
        assert (await Post.get(post.id)).author == UserCard(
            id=ada.id, name="Ada Lovelace", city="London"
        )
    assert (await Post.get(other.id)).author.name == "Grace"
    # One update_many per edge: Post.author and Post.editor both copy the name.
    post_updates = sync_updates(commands, "post")
    assert [update["q"] for update in post_updates] == [
        {"author.id": ada.id},
        {"editor.id": ada.id},
    ]
    assert all(update["multi"] for update in post_updates)


async def test_copies_inside_lists_are_rewritten_with_array_filters(blog, commands):
    ada, grace, posts, other, thread = blog
    ada.city = "Marylebone"
    commands.clear()
    await ada.save()
    participants = (await Thread.get(thread.id)).participants
    assert participants == [UserCard.of(grace), UserCard(id=ada.id, name="Ada", city="Marylebone")]
    (update,) = sync_updates(commands, "thread")
    assert update["arrayFilters"] == [{"copy.id": ada.id}]


async def test_each_edge_is_rewritten_only_when_its_copied_fields_change(blog, commands):
    ada, grace, posts, other, thread = blog
    grace.city = "New York"  # copied by UserCard, not by NameOnly
    commands.clear()
    await grace.save()
    assert {command["update"] for command in commands.of("update")} == {"user", "post", "thread"}
    post_updates = sync_updates(commands, "post")
    assert [update["q"] for update in post_updates] == [{"author.id": grace.id}]
    assert (await Post.get(posts[0].id)).editor == NameOnly.of(grace)


async def test_a_change_of_fields_no_copy_holds_sends_no_sync_write(blog, commands):
    ada, *_ = blog
    ada.karma = 42
    commands.clear()
    await ada.save()
    assert commands.names == ["update"]
    assert commands.of("update")[0]["update"] == "user"


async def test_sync_and_the_parent_update_share_one_transaction(blog, commands):
    ada, *_ = blog
    assert ada._repository().registry.supports_transactions
    ada.name = "Countess"
    commands.clear()
    await ada.save()
    writes = [event.command for event in commands.events if event.command_name == "update"]
    assert len(writes) == 4  # the user, Post.author, Post.editor, Thread.participants
    assert len({(str(w["lsid"]), w.get("txnNumber")) for w in writes}) == 1
    assert writes[0].get("startTransaction") is True
    assert commands.names[-1] == "commitTransaction"


async def test_a_copy_written_with_stale_values_is_refreshed_from_its_source(blog):
    ada, *_ = blog
    stale = UserCard(id=ada.id, name="Someone else", city="Nowhere")
    post = await Post.create(author=stale, title="stale")
    assert post.author == UserCard.of(ada)
    assert (await Post.get(post.id)).author == UserCard.of(ada)


async def test_bulk_update_of_parents_rewrites_their_copies(blog):
    ada, grace, posts, other, thread = blog
    modified = await User._repository().update_many(
        {"name": {"$in": ["Ada", "Grace"]}}, {"$set": {"city": "Paris"}}, None
    )
    assert modified == 2
    assert all(p.author.city == "Paris" for p in await Post.many())
    assert all(p.city == "Paris" for p in (await Thread.get(thread.id)).participants)


async def test_bulk_update_writing_a_copy_by_value_is_made_equal_to_its_source(blog):
    ada, grace, posts, other, thread = blog
    card = {"id": grace.id, "name": "wrong", "city": "wrong"}
    await Post._repository().update_many({"_id": posts[0].id}, {"$set": {"author": card}}, None)
    assert (await Post.get(posts[0].id)).author == UserCard.of(grace)


async def test_resync_repairs_copies_written_behind_the_library_back(blog, database):
    ada, grace, posts, other, thread = blog
    await database["post"].update_many({}, {"$set": {"author.name": "stale"}})
    await database["thread"].update_many({}, {"$set": {"participants.$[].city": "stale"}})
    registry = ada._repository().registry
    assert await registry.resync(User, {"name": "Ada"}) == 4  # 3 posts and the thread
    assert {p.author.name for p in await Post.many({"author.id": ada.id})} == {"Ada"}
    assert (await Post.get(other.id)).author.name == "stale"  # Grace was not resynced
    assert await registry.resync(User) >= 2
    assert all(p.author == UserCard.of(grace) for p in await Post.many({"author.id": grace.id}))
    assert (await Thread.get(thread.id)).participants == [UserCard.of(grace), UserCard.of(ada)]
