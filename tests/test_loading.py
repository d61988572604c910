"""Loading related documents: fetch a child's parents, prefetch many, list a parent's children."""

import pytest

from mdocument import (
    Document,
    DocumentDoesntExist,
    Field,
    ObjectId,
    OnDelete,
    OptionalRef,
    Ref,
    RefList,
    RelationNotSet,
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
    author: UserCard
    reviewer_id: OptionalRef[User] = Field(default=None, on_delete=OnDelete.NOTHING)
    tag_ids: RefList[Tag] = Field(default_factory=list, on_delete=OnDelete.NOTHING)
    title: str = ""


@pytest.fixture
async def data(database):
    await init(database, models=[User, Tag, Post])
    ada, grace = await User.create(name="Ada"), await User.create(name="Grace")
    tags = [await Tag.create(label=label) for label in ("a", "b", "c")]
    post = await Post.create(
        author_id=ada.id,
        author=UserCard.of(ada),
        tag_ids=[tags[2].id, tags[0].id],
        title="Engines",
    )
    return ada, grace, tags, post


async def test_fetch_a_single_reference(data, commands):
    ada, grace, tags, post = data
    commands.clear()
    assert await post.fetch(Post.author_id) == ada
    assert commands.names == ["find"]
    assert await post.fetch("author_id") == ada


async def test_fetch_a_synced_copy_gives_its_source(data):
    ada, grace, tags, post = data
    assert await post.fetch(Post.author) == ada


async def test_fetch_an_unset_optional_reference_gives_none(data, commands):
    ada, grace, tags, post = data
    commands.clear()
    assert await post.fetch(Post.reviewer_id) is None
    assert commands.count == 0


async def test_fetch_a_list_keeps_the_list_order(data):
    ada, grace, tags, post = data
    assert await post.fetch(Post.tag_ids) == [tags[2], tags[0]]


async def test_fetch_reports_a_dangling_reference(data):
    ada, grace, tags, post = data
    await tags[0].delete()  # on_delete=NOTHING leaves the id behind
    with pytest.raises(DocumentDoesntExist) as caught:
        await post.fetch(Post.tag_ids)
    assert caught.value.ids == (tags[0].id,)


async def test_fetch_of_a_field_that_is_no_relation(data):
    ada, grace, tags, post = data
    with pytest.raises(RelationNotSet, match=r"Post\.title is not a reference"):
        await post.fetch("title")


async def test_prefetch_loads_the_parents_of_many_children_in_one_query(data, commands):
    ada, grace, tags, post = data
    posts = [post]
    for i in range(4):
        author = ada if i % 2 else grace
        posts.append(
            await Post.create(author_id=author.id, author=UserCard.of(author), reviewer_id=ada.id)
        )
    commands.clear()
    authors = await User.prefetch(posts, Post.author_id)
    assert commands.names == ["find"]
    assert authors == {ada.id: ada, grace.id: grace}
    assert {p.author_id for p in posts} <= set(authors)
    # Without fields: every field of Post that refers to User.
    everyone = await User.prefetch(posts)
    assert set(everyone) == {ada.id, grace.id}
    assert await Tag.prefetch([post]) == {tags[0].id: tags[0], tags[2].id: tags[2]}


async def test_prefetch_through_a_field_to_another_class_is_refused(data):
    ada, grace, tags, post = data
    with pytest.raises(RelationNotSet, match="refers to User, not Tag"):
        await Tag.prefetch([post], Post.author_id)


async def test_children_lists_the_documents_referring_to_a_parent(data):
    ada, grace, tags, post = data
    other = await Post.create(author_id=grace.id, author=UserCard.of(grace), reviewer_id=ada.id)
    assert await ada.children(Post, Post.author_id) == [post]
    assert await ada.children(Post, "reviewer_id") == [other]
    assert await tags[2].children(Post) == [post]
    with pytest.raises(RelationNotSet, match="name the field"):
        await ada.children(Post)
