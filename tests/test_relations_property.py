"""Random sequences of creates, updates and deletes over a small graph keep two invariants after
every step: no reference points to a missing document, and every synced copy equals its source."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdocument import (
    DeleteRestricted,
    Document,
    Field,
    ObjectId,
    OnDelete,
    OptionalRef,
    Ref,
    RefList,
    Synced,
    init,
)


class User(Document):
    name: str
    city: str = ""


class UserCard(Synced[User]):
    id: ObjectId
    name: str


class Tag(Document):
    label: str


class Post(Document):
    author_id: Ref[User]
    author: UserCard
    reviewer_id: OptionalRef[User] = Field(default=None, on_delete=OnDelete.SET_NULL)
    tag_ids: RefList[Tag] = Field(default_factory=list, on_delete=OnDelete.PULL)
    watchers: list[UserCard] = Field(default_factory=list)
    title: str = ""


class Comment(Document):
    post_id: Ref[Post]
    parent_id: OptionalRef["Comment"] = Field(default=None)


class Group(Document):
    member_ids: RefList[User] = Field(default_factory=list)


class Pin(Document):
    tag_id: Ref[Tag] = Field(on_delete=OnDelete.RESTRICT)


MODELS = [User, Tag, Post, Comment, Group, Pin]
NAMES = st.sampled_from(["Ada", "Grace", "Alan", "Edsger", "Barbara"])


async def check_invariants() -> None:
    ids = {model: {doc.id for doc in await model.many()} for model in MODELS}
    users = {user.id: user for user in await User.many()}
    for post in await Post.many():
        assert post.author_id in ids[User]
        assert post.author == UserCard.of(users[post.author.id])
        assert post.reviewer_id is None or post.reviewer_id in ids[User]
        assert set(post.tag_ids) <= ids[Tag]
        for card in post.watchers:
            assert card == UserCard.of(users[card.id])
    for comment in await Comment.many():
        assert comment.post_id in ids[Post]
        assert comment.parent_id is None or comment.parent_id in ids[Comment]
    for group in await Group.many():
        assert group.member_ids, "a group whose members all went must go too"
        assert set(group.member_ids) <= ids[User]
    for pin in await Pin.many():
        assert pin.tag_id in ids[Tag]


async def pick(data, model, label):
    documents = await model.many(sort="id")
    return data.draw(st.sampled_from(documents), label=label) if documents else None


async def step(data) -> None:
    action = data.draw(
        st.sampled_from(
            [
                "user",
                "rename",
                "del_user",
                "tag",
                "del_tag",
                "post",
                "edit_post",
                "del_post",
                "comment",
                "del_comment",
                "group",
                "del_group",
                "pin",
            ]
        ),
        label="action",
    )
    if action == "user":
        await User.create(name=data.draw(NAMES, label="name"))
    elif action == "rename" and (user := await pick(data, User, "user")):
        user.name = data.draw(NAMES, label="new name")
        user.city = data.draw(st.sampled_from(["", "Paris"]), label="city")
        await user.save()
    elif action == "del_user" and (user := await pick(data, User, "user")):
        await user.delete()
    elif action == "tag":
        await Tag.create(label=data.draw(NAMES, label="label"))
    elif action == "del_tag" and (tag := await pick(data, Tag, "tag")):
        try:
            await tag.delete()
        except DeleteRestricted:
            assert await Pin.count({"tag_id": tag.id})
    elif action == "post" and (author := await pick(data, User, "author")):
        users, tags = await User.many(), await Tag.many()
        reviewer = data.draw(st.none() | st.sampled_from(users), label="reviewer")
        chosen = (
            data.draw(st.lists(st.sampled_from(tags), unique_by=lambda t: t.id), label="tags")
            if tags
            else []
        )
        watchers = data.draw(
            st.lists(st.sampled_from(users), unique_by=lambda u: u.id), label="watchers"
        )
        await Post.create(
            author_id=author.id,
            author=UserCard.of(author),
            reviewer_id=reviewer.id if reviewer else None,
            tag_ids=[tag.id for tag in chosen],
            watchers=[UserCard.of(user) for user in watchers],
        )
    elif action == "edit_post" and (post := await pick(data, Post, "post")):
        users = await User.many()
        new_author = data.draw(st.sampled_from(users), label="new author")
        post.author_id = new_author.id
        post.author = UserCard.of(new_author)
        post.title = data.draw(NAMES, label="title")
        await post.save()
    elif action == "del_post" and (post := await pick(data, Post, "post")):
        await post.delete()
    elif action == "comment" and (post := await pick(data, Post, "post")):
        replies = await Comment.many({"post_id": post.id})
        parent = (
            data.draw(st.none() | st.sampled_from(replies), label="parent") if replies else None
        )
        await Comment.create(post_id=post.id, parent_id=parent.id if parent else None)
    elif action == "del_comment" and (comment := await pick(data, Comment, "comment")):
        await comment.delete()
    elif action == "group" and (users := await User.many()):
        members = data.draw(
            st.lists(st.sampled_from(users), min_size=1, unique_by=lambda u: u.id), label="members"
        )
        await Group.create(member_ids=[user.id for user in members])
    elif action == "del_group" and (group := await pick(data, Group, "group")):
        await group.delete()
    elif action == "pin" and (tag := await pick(data, Tag, "tag")):
        await Pin.create(tag_id=tag.id)


@pytest.fixture
async def graph(mongodb_database):
    await init(mongodb_database, models=MODELS)
    return mongodb_database


async def populate(data) -> None:
    """A starting graph where every kind of edge is in use, so each step has work to do."""
    users = await User.insert_many([User(name=name) for name in ("Ada", "Grace", "Alan")])
    tags = await Tag.insert_many([Tag(label=label) for label in ("x", "y")])
    posts = await Post.insert_many(
        [
            Post(
                author_id=user.id,
                author=UserCard.of(user),
                reviewer_id=users[(i + 1) % 3].id,
                tag_ids=[tag.id for tag in tags[: i % 3]],
                watchers=[UserCard.of(other) for other in users if other is not user],
            )
            for i, user in enumerate(users)
        ]
    )
    root = await Comment.create(post_id=posts[0].id)
    await Comment.create(post_id=posts[0].id, parent_id=root.id)
    await Group.insert_many(
        [Group(member_ids=[u.id for u in users[:2]]), Group(member_ids=[users[2].id])]
    )
    await Pin.create(tag_id=tags[1].id)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_histories_keep_references_and_copies_consistent(graph, data):
    for model in MODELS:  # every example starts from the same small graph
        await model._repository().collection.delete_many({})
    await populate(data)
    await check_invariants()
    for _ in range(data.draw(st.integers(min_value=3, max_value=15), label="steps")):
        await step(data)
        await check_invariants()
