"""What type checkers infer for mdocument's public API.

Checked by ``mypy --strict tests/typing`` and by pyright (strict), never run: ``assert_type``
fails the check when an inferred type changes.
"""

from __future__ import annotations

import datetime
from typing import Any

import bson
from pydantic import BaseModel
from typing_extensions import assert_type

from mdocument import (
    Collection,
    DeletePreview,
    Document,
    Expression,
    Field,
    KeysetPage,
    OptionalRef,
    Page,
    QuerySet,
    Ref,
    RefList,
    SortKey,
    and_,
    asc,
    collection,
    contains,
    desc,
    exists,
    in_,
    not_,
    not_in,
    or_,
    raw,
    regex,
)


class Address(BaseModel):
    city: str
    zip_code: str | None = None


class User(Document):
    name: str
    age: int = 0
    score: float = 0.0
    email: str | None = None
    tags: list[str] = Field(default_factory=list)
    address: Address | None = None
    home: Address = Address(city="Paris")
    created: datetime.datetime | None = None


class Tag(Document):
    label: str


class Post(Document):
    title: str
    author_id: Ref[User]
    reviewer_id: OptionalRef[User] = Field(default=None)
    tag_ids: RefList[Tag] = Field(default_factory=list)


class Card(BaseModel):
    name: str
    age: int


class AgeGroup(BaseModel):
    id: int
    count: int


class Vehicle(Document):
    plate: str

    class Meta:
        polymorphic = True


class Car(Vehicle):
    seats: int = 4


async def hierarchies() -> None:
    assert_type(await Vehicle.many(), list[Vehicle])
    assert_type(await Car.many(Car.seats > 2), list[Car])
    assert_type(await Car.one({"plate": "C-1"}), Car)
    assert_type(await Vehicle.find().to_list(), list[Vehicle])


async def reads(user_id: bson.ObjectId, hex_id: str) -> None:
    assert_type(await User.get(user_id), User | None)
    assert_type(await User.get(hex_id), User | None)
    assert_type(await User.one(User.name == "Ada"), User)
    assert_type(await User.one({"name": "Ada"}), User)
    assert_type(await User.one(User.name == "Ada", required=False), User | None)
    assert_type(await User.many(User.age > 3), list[User])
    assert_type(await User.many({"age": {"$gt": 3}}, sort=desc(User.created)), list[User])
    assert_type(await User.count(User.age < 3), int)


async def collections(user: User) -> None:
    users = collection(User)
    assert_type(users, Collection[User])
    assert_type(await users.find(User.age > 3, sort="name", limit=2), list[User])
    assert_type(await users.find_one({"name": "Ada"}), User | None)
    assert_type(await users.insert_one(user), User)
    assert_type(await users.insert_many([user]), list[User])
    assert_type(await users.update_one(User.age < 0, {"$set": {"age": 0}}), int)
    assert_type(await users.update_many(User.age < 0, {"$set": {"age": 0}}), int)
    assert_type(await users.delete_one(User.name == "Ada"), bool)
    assert_type(await users.delete_many({"age": 0}), int)
    assert_type(await users.count(), int)
    assert_type(users.query(User.age > 3), QuerySet[User])


async def query_sets() -> None:
    query = User.find(User.age >= 18).sort(desc(User.created), asc(User.name)).skip(10).limit(5)
    assert_type(query, QuerySet[User])
    async for user in query:
        assert_type(user, User)
    assert_type(await query.to_list(), list[User])
    assert_type(await query.first(), User | None)
    assert_type(await query.count(), int)
    assert_type(await query.exists(), bool)
    assert_type(await User.find().distinct(User.tags), list[Any])
    assert_type(await User.find(User.age < 0).update({"$set": {"age": 0}}), int)
    assert_type(await User.find(User.age < 0).delete(), int)
    assert_type(await User.find(User.age < 0).delete(dry_run=True), DeletePreview)


async def projections() -> None:
    cards = User.find(User.age > 3).project(Card)
    assert_type(cards, QuerySet[Card])
    assert_type(await cards.to_list(), list[Card])
    assert_type(await cards.first(), Card | None)
    async for card in cards:
        assert_type(card, Card)


async def aggregations() -> None:
    pipeline = [{"$group": {"_id": "$age", "count": {"$sum": 1}}}]
    assert_type(await User.aggregate(pipeline), list[dict[str, Any]])
    assert_type(await User.aggregate(pipeline, AgeGroup), list[AgeGroup])
    assert_type(await User.find(User.age > 3).aggregate(pipeline, AgeGroup), list[AgeGroup])


async def pages(token: str | None) -> None:
    page = await User.find().sort(asc(User.name)).paginate(offset=20, limit=20)
    assert_type(page, Page[User])
    assert_type(page.items, list[User])
    assert_type(page.total, int)
    assert_type(page.offset, int)
    assert_type(page.limit, int)
    keyset = await User.find().sort(desc(User.created)).keyset(size=20, after=token)
    assert_type(keyset, KeysetPage[User])
    assert_type(keyset.next_token, str | None)
    assert_type(await User.find().project(Card).paginate(), Page[Card])


def expressions(text: str) -> None:
    # Comparisons on a field type as bool (what the type checker checks is the compared
    # value); every query API takes them.
    assert_type(User.age > 3, bool)
    assert_type(User.home.city == "Paris", bool)
    User.find(User.age == 3)
    User.find(User.score >= 2.5)
    User.find((User.age > 3) & (User.name != text))
    User.find((User.age > 3) | (User.email == None))  # noqa: E711 - builds {"email": None}
    assert_type(and_(User.age > 3, User.name == "Ada"), Expression)
    assert_type(or_(User.age > 3, not_(User.name == "Ada")), Expression)
    assert_type(in_(User.age, [1, 2, 3]), Expression)
    assert_type(not_in(User.name, ["Bob"]), Expression)
    assert_type(contains(User.tags, "admin"), Expression)
    assert_type(exists(User.email), Expression)
    assert_type(regex(User.name, "^A", "i"), Expression)
    assert_type(regex(User.email, "@example"), Expression)
    assert_type(asc(User.created), SortKey)
    assert_type(desc(User.age), SortKey)
    User.find(raw({"legacy_field": {"$exists": True}}))
    User.find({"age": {"$gt": 3}, "address.city": "Paris"})


def references(user: User, tag: Tag) -> None:
    Post.find(Post.author_id == user.id)
    Post.find((Post.reviewer_id == None) | (Post.reviewer_id != user.id))  # noqa: E711
    assert_type(contains(Post.tag_ids, tag.id), Expression)
    assert_type(in_(Post.author_id, [user.id]), Expression)
    assert_type(exists(Post.reviewer_id), Expression)


async def deletes(user: User) -> None:
    assert_type(await user.delete(), None)
    preview: DeletePreview = await user.delete(dry_run=True)
    assert_type(preview.total, int)
    assert_type(preview.deletes, dict[str, int])
