"""Writing a child whose reference points to a missing parent raises DocumentDoesntExist and
writes nothing; the check is batched and only covers references that changed."""

import pytest

from mdocument import (
    Document,
    DocumentDoesntExist,
    Field,
    ObjectId,
    OptionalRef,
    Ref,
    RefList,
    Synced,
    init,
)


class User(Document):
    name: str


class Tag(Document):
    label: str


class UserCard(Synced[User]):
    id: ObjectId
    name: str


class Post(Document):
    author_id: Ref[User]
    reviewer_id: OptionalRef[User] = Field(default=None)
    tag_ids: RefList[Tag] = Field(default_factory=list)
    readers: list[UserCard] = Field(default_factory=list)
    title: str = ""


@pytest.fixture
async def blog(database):
    await init(database, models=[User, Tag, Post])
    return database


async def test_a_missing_parent_is_refused_naming_field_and_id(blog):
    ghost = ObjectId()
    with pytest.raises(DocumentDoesntExist) as caught:
        await Post.create(author_id=ghost)
    error = caught.value
    assert error.document is Post
    assert error.field == "author_id"
    assert error.ids == (ghost,)
    assert "Post.author_id refers to User" in str(error)
    assert str(ghost) in str(error)
    assert await blog["post"].count_documents({}) == 0


async def test_missing_ids_in_lists_and_copies_are_refused(blog):
    ada = await User.create(name="Ada")
    tag = await Tag.create(label="x")
    ghost = ObjectId()
    with pytest.raises(DocumentDoesntExist, match=r"Post\.tag_ids refers to Tag"):
        await Post.create(author_id=ada.id, tag_ids=[tag.id, ghost])
    with pytest.raises(DocumentDoesntExist, match=r"Post\.readers refers to User"):
        await Post.create(author_id=ada.id, readers=[UserCard(id=ghost, name="?")])
    assert await Post.count() == 0


async def test_none_and_empty_references_need_no_parent(blog, commands):
    ada = await User.create(name="Ada")
    commands.clear()
    post = await Post.create(author_id=ada.id)
    assert post.reviewer_id is None
    # One write guards the author and checks it exists (see GUARD_FIELD), in the insert's
    # transaction: nothing for the empty references.
    assert commands.names == ["update", "insert", "commitTransaction"]


async def test_insert_many_checks_one_query_per_parent_collection(blog, commands):
    users = await User.insert_many([User(name=f"u{i}") for i in range(5)])
    tags = await Tag.insert_many([Tag(label=f"t{i}") for i in range(3)])
    posts = [
        Post(
            author_id=user.id,
            reviewer_id=users[0].id,
            tag_ids=[tag.id for tag in tags],
            readers=[UserCard.of(users[1])],
        )
        for user in users * 4
    ]
    commands.clear()
    await Post.insert_many(posts)
    # Users are read (the readers' copies come from them) and guarded; tags only guarded, the
    # guard's matched count being the existence check.
    assert [find["find"] for find in commands.of("find")] == ["user"]
    assert sorted(update["update"] for update in commands.of("update")) == ["tag", "user"]
    assert await Post.count() == 20


async def test_insert_many_with_one_missing_parent_writes_nothing(blog):
    ada = await User.create(name="Ada")
    batch = [Post(author_id=ada.id), Post(author_id=ObjectId()), Post(author_id=ada.id)]
    with pytest.raises(DocumentDoesntExist):
        await Post.insert_many(batch)
    assert await Post.count() == 0


async def test_save_checks_only_references_that_changed(blog, commands):
    ada, grace = await User.create(name="Ada"), await User.create(name="Grace")
    post = await Post.create(author_id=ada.id)
    post.title = "new title"
    commands.clear()
    await post.save()
    assert commands.names == ["update"]
    post.author_id = grace.id
    commands.clear()
    await post.save()
    assert commands.names == ["update", "update", "commitTransaction"]  # guard, then the post
    post.reviewer_id = ObjectId()
    with pytest.raises(DocumentDoesntExist, match="reviewer_id"):
        await post.save()
    assert (await Post.get(post.id)).reviewer_id is None


async def test_bulk_update_checks_the_references_it_writes(blog):
    ada = await User.create(name="Ada")
    post = await Post.create(author_id=ada.id)
    repository = Post._repository()
    with pytest.raises(DocumentDoesntExist, match="author_id"):
        await repository.update_many({}, {"$set": {"author_id": ObjectId()}}, None)
    with pytest.raises(DocumentDoesntExist, match="tag_ids"):
        await repository.update_many({}, {"$push": {"tag_ids": ObjectId()}}, None)
    with pytest.raises(DocumentDoesntExist, match="tag_ids"):
        await repository.update_many({}, {"$addToSet": {"tag_ids": {"$each": [ObjectId()]}}}, None)
    assert await Post.get(post.id) == post
    tag = await Tag.create(label="ok")
    assert await repository.update_many({}, {"$push": {"tag_ids": tag.id}}, None) == 1
