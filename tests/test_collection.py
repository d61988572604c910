"""``mdocument.collection(Doc)``: the 2020 client's typed collection, running the relation rules."""

import pytest

import mdocument
from mdocument import (
    Collection,
    DocumentDoesntExist,
    DocumentException,
    DuplicateError,
    Field,
    ObjectId,
    OnDelete,
    Ref,
    Synced,
    WrongQueryType,
    WrongValueType,
    collection,
    init,
)


class User(mdocument.Document):
    name: str = Field(unique=True)
    email: str = Field(unique=True, sensitive=True)
    pin: int = Field(default=0, sensitive=True)
    age: int = 0


class AuthorCard(Synced[User]):
    id: ObjectId
    name: str


class Post(mdocument.Document):
    author_id: Ref[User] = Field(on_delete=OnDelete.CASCADE)
    author: AuthorCard
    title: str
    views: int = 0


@pytest.fixture
async def blog(database):
    await init(database, models=[User, Post])
    users = collection(User)
    ada, grace, alan = await users.insert_many(
        [
            User(name="Ada", email="ada@example.com", age=36),
            User(name="Grace", email="grace@example.com", age=85),
            User(name="Alan", email="alan@example.com", age=41),
        ]
    )
    posts = collection(Post)
    for author, title in [(ada, "Notes"), (ada, "Engine"), (grace, "Cobol")]:
        await posts.insert_one(Post(author_id=author.id, author=AuthorCard.of(author), title=title))
    return database, (ada, grace, alan)


async def test_a_collection_names_its_class():
    users = collection(User)
    assert isinstance(users, Collection)
    assert users.document is User
    assert repr(users) == "<Collection User>"
    with pytest.raises(TypeError, match="Document subclass"):
        collection(AuthorCard)  # type: ignore[type-var]


async def test_find_returns_documents_sorted_skipped_limited(blog):
    users = collection(User)
    assert [u.name for u in await users.find(sort="name")] == ["Ada", "Alan", "Grace"]
    assert [u.name for u in await users.find(User.age > 40, sort="-age")] == ["Grace", "Alan"]
    assert [u.name for u in await users.find({}, sort="age", skip=1, limit=1)] == ["Alan"]
    assert all(isinstance(u, User) for u in await users.find())
    assert await users.find({"name": "Nobody"}) == []


async def test_find_one_returns_a_document_or_none(blog):
    _, (ada, _, _) = blog
    users = collection(User)
    assert await users.find_one({"name": "Ada"}) == ada
    assert await users.find_one(User.name == "Nobody") is None
    assert await users.count(User.age > 40) == 2
    assert await users.count() == 3
    assert [
        p.title async for p in collection(Post).query(Post.author_id == ada.id).sort("title")
    ] == [
        "Engine",
        "Notes",
    ]


async def test_insert_one_stores_the_document(blog):
    database, _ = blog
    users = collection(User)
    edsger = await users.insert_one(User(name="Edsger", email="ewd@example.com"))
    assert edsger.is_stored
    assert (await database["user"].find_one({"_id": edsger.id}))["name"] == "Edsger"


async def test_insert_with_a_missing_parent_raises_document_doesnt_exist(blog):
    database, _ = blog
    ghost = User(name="Ghost", email="ghost@example.com")
    posts = collection(Post)
    with pytest.raises(DocumentDoesntExist, match=r"Post\.author_id refers to User"):
        await posts.insert_one(Post(author_id=ghost.id, author=AuthorCard.of(ghost), title="x"))
    with pytest.raises(DocumentDoesntExist):
        await posts.insert_many([Post(author_id=ghost.id, author=AuthorCard.of(ghost), title="y")])
    assert await database["post"].count_documents({"title": {"$in": ["x", "y"]}}) == 0


async def test_a_duplicate_never_shows_a_sensitive_value(blog):
    users = collection(User)
    with pytest.raises(DuplicateError) as caught:
        await users.insert_one(User(name="Other", email="ada@example.com"))
    assert caught.value.value == "***"
    assert "ada@example.com" not in str(caught.value)


async def test_update_one_updates_the_first_match_only(blog):
    _, (ada, grace, alan) = blog
    users = collection(User)
    assert await users.update_one({"age": {"$gt": 40}}, {"$inc": {"age": 1}}) == 1
    ages = {u.name: u.age for u in await users.find()}
    assert ages["Ada"] == 36
    assert sorted([ages["Grace"], ages["Alan"]]) in ([42, 85], [41, 86])
    assert await users.update_one(User.name == "Nobody", {"$set": {"age": 1}}) == 0
    assert await users.update_one(None, {"$set": {"age": 36}}) in (0, 1)  # the first user
    assert await users.update_one(User.name == "Ada", {"$set": {"age": 36}}) == 0  # unchanged


async def test_update_many_counts_modified_documents(blog):
    users = collection(User)
    assert await users.update_many(User.age > 40, {"$set": {"age": 50}}) == 2
    assert await users.count({"age": 50}) == 2
    assert await collection(Post).update_many({}, {"$inc": {"views": 1}}) == 3


async def test_updating_a_source_rewrites_its_copies(blog):
    _, (ada, _, _) = blog
    users, posts = collection(User), collection(Post)
    assert await users.update_one(User.name == "Ada", {"$set": {"name": "Ada Lovelace"}}) == 1
    written = await posts.find(Post.author_id == ada.id)
    assert {post.author.name for post in written} == {"Ada Lovelace"}
    assert await users.update_many({"name": "Grace"}, {"$set": {"name": "Grace Hopper"}}) == 1
    assert (await posts.find_one({"title": "Cobol"})).author.name == "Grace Hopper"


async def test_update_values_are_checked_and_sensitive_ones_masked(blog):
    users = collection(User)
    with pytest.raises(WrongValueType) as caught:
        await users.update_one(User.name == "Ada", {"$set": {"pin": "hunter2"}})
    assert "hunter2" not in str(caught.value)
    assert "User.pin" in str(caught.value)
    assert "1234" not in repr(users.query({"pin": 1234}))
    with pytest.raises(DocumentDoesntExist):
        await collection(Post).update_many({}, {"$set": {"author_id": ObjectId()}})


async def test_delete_one_of_a_parent_cascades(blog):
    database, (ada, grace, _) = blog
    users = collection(User)
    assert await users.delete_one(User.name == "Ada") is True
    assert await users.find_one({"name": "Ada"}) is None
    assert [p.title for p in await collection(Post).find()] == ["Cobol"]
    assert await users.delete_one({"name": "Ada"}) is False
    assert await database["post"].count_documents({"author_id": ada.id}) == 0


async def test_delete_many_cascades_and_counts(blog):
    database, _ = blog
    users = collection(User)
    assert await users.delete_many(User.age > 30) == 3
    assert await users.count() == 0
    assert await database["post"].count_documents({}) == 0
    assert await users.delete_many({}) == 0


@pytest.mark.parametrize("query", [["name", "Ada"], "name", 3, True])
async def test_a_query_of_the_wrong_kind_raises_wrong_query_type(blog, commands, query):
    users = collection(User)
    calls = [
        lambda: users.find(query),
        lambda: users.find_one(query),
        lambda: users.count(query),
        lambda: users.update_one(query, {"$set": {"age": 1}}),
        lambda: users.update_many(query, {"$set": {"age": 1}}),
        lambda: users.delete_one(query),
        lambda: users.delete_many(query),
    ]
    commands.events.clear()
    for call in calls:
        with pytest.raises(WrongQueryType) as caught:
            await call()
        error = caught.value
        assert isinstance(error, DocumentException)
        assert isinstance(error, TypeError)
        assert error.document is User
        assert "User query" in str(error)
        assert type(query).__name__ in str(error)
    assert commands.events == []
    assert await users.count() == 3


async def test_wrong_query_type_is_what_find_raises_too(blog):
    with pytest.raises(WrongQueryType, match="not list"):
        User.find(["name"])  # type: ignore[arg-type]
