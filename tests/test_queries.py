"""Queries against the real server, with both drivers: expressions and dicts in every query API,
the chainable query set, distinct values, and bulk updates and deletes."""

import enum

import pytest
from pydantic import BaseModel

from mdocument import (
    Document,
    Field,
    ObjectId,
    OnDelete,
    UnknownModelField,
    WrongValueType,
    asc,
    contains,
    desc,
    exists,
    in_,
    init,
    not_,
    raw,
    regex,
)


class Status(str, enum.Enum):
    DRAFT = "draft"
    LIVE = "live"


class Author(BaseModel):
    name: str
    country: str = Field(default="", alias="c")


class Post(Document):
    title: str
    views: int = 0
    slug: str = Field(default="", alias="s")
    author: Author | None = None
    tags: list[str] = Field(default_factory=list)
    status: Status = Status.DRAFT
    note: str | None = None
    reviewers: list[Author] = Field(default_factory=list)


class Owner(Document):
    name: str


class Pet(Document):
    name: str
    owner_id: ObjectId | None = Field(default=None, related=Owner, on_delete=OnDelete.CASCADE)


@pytest.fixture
async def posts(database):
    await init(database, models=[Post, Owner, Pet])
    return await Post.insert_many(
        [
            Post(title="Intro", views=5, slug="intro", author=Author(name="Ada", c="UK")),
            Post(title="Engines", views=50, author=Author(name="Ada"), tags=["math", "hw"]),
            Post(title="Compilers", views=30, author=Author(name="Grace", c="US"), tags=["sw"]),
            Post(title="Draft", views=0, tags=["math"], status=Status.LIVE),
        ]
    )


def titles(found):
    return sorted(post.title for post in found)


async def test_expressions_work_in_every_query_api(posts, commands):
    commands.clear()
    assert (await Post.one(Post.title == "Engines")).views == 50
    assert titles(await Post.many(Post.views > 10)) == ["Compilers", "Engines"]
    assert titles(await Post.find(Post.author.name == "Ada").to_list()) == ["Engines", "Intro"]
    assert await Post.count((Post.views >= 5) & contains(Post.tags, "math")) == 1
    filters = [command["filter"] for command in commands.of("find")]
    assert filters[:3] == [{"title": "Engines"}, {"views": {"$gt": 10}}, {"author.name": "Ada"}]


async def test_conditions_use_stored_names_and_encoded_values(posts, commands):
    commands.clear()
    found = await Post.many(
        (Post.slug == "intro") & (Post.author.country == "UK") & (Post.status == "draft")
    )
    assert titles(found) == ["Intro"]
    assert commands.of("find")[0]["filter"] == {"s": "intro", "author.c": "UK", "status": "draft"}
    assert await Post.one(Post.id == str(posts[0].id)) == posts[0]


async def test_combinators_membership_existence_and_patterns(posts):
    assert titles(await Post.many((Post.views < 5) | (Post.title == "Intro"))) == [
        "Draft",
        "Intro",
    ]
    assert titles(await Post.many(not_(Post.views > 0))) == ["Draft"]
    assert titles(await Post.many(in_(Post.views, ["5", 30]))) == ["Compilers", "Intro"]
    assert titles(await Post.many(exists(Post.author, False) | (Post.author == None))) == [  # noqa: E711
        "Draft"
    ]
    assert titles(await Post.many(regex(Post.title, "^c", "i"))) == ["Compilers"]
    assert titles(await Post.many(Post.tags == "math")) == ["Draft", "Engines"]


async def test_dict_queries_are_checked_against_the_fields(posts, commands):
    assert titles(await Post.many({"views": {"$gt": 10}, "author.name": "Ada"})) == ["Engines"]
    assert titles(await Post.many({"$or": [{"slug": "intro"}, {"s": "nothing"}]})) == ["Intro"]
    assert titles(await Post.many({"$or": [Post.views == 0, {"title": "Intro"}]})) == [
        "Draft",
        "Intro",
    ]
    commands.clear()
    with pytest.raises(UnknownModelField, match=r"Post has no field 'veiws'.*did you mean 'views'"):
        await Post.many({"veiws": {"$gt": 10}})
    with pytest.raises(UnknownModelField, match="Author has no field 'nmae'"):
        await Post.count({"author.nmae": "Ada"})
    assert commands.count == 0  # refused before anything was sent


async def test_raw_is_the_escape_hatch_for_undeclared_fields(posts, database):
    await database["post"].update_one({"_id": posts[0].id}, {"$set": {"legacy": True}})
    with pytest.raises(UnknownModelField):
        await Post.many({"legacy": True})
    assert titles(await Post.many(raw({"legacy": True}))) == ["Intro"]
    assert titles(await Post.many(raw({"legacy": {"$exists": False}}) & (Post.views > 10))) == [
        "Compilers",
        "Engines",
    ]


async def test_a_bool_from_an_instance_is_refused_with_a_hint(posts):
    post = posts[0]
    with pytest.raises(TypeError, match="not from an instance"):
        await Post.many(post.views > 3)


async def test_query_sets_chain_without_changing_the_base(posts, commands):
    base = Post.find(Post.views < 100)
    by_views = base.sort(desc(Post.views))
    assert [post.views for post in await by_views.limit(2).to_list()] == [50, 30]
    assert [post.views for post in await by_views.skip(1).limit(2).to_list()] == [30, 5]
    assert [post.title for post in await base.sort(asc(Post.title)).to_list()] == [
        "Compilers",
        "Draft",
        "Engines",
        "Intro",
    ]
    assert [post.views async for post in by_views] == [50, 30, 5, 0]
    assert (await by_views.first()).title == "Engines"
    assert await by_views.skip(3).count() == 1
    assert await base.count() == 4
    assert await base.exists()
    assert not await Post.find(Post.views > 1000).exists()
    assert await Post.find(Post.views > 1000).first() is None
    commands.clear()
    await base.sort("-views", ("title", 1)).sort(asc(Post.slug)).to_list()
    assert commands.of("find")[0]["sort"] == {"views": -1, "title": 1, "s": 1}


async def test_many_takes_sort_keys(posts):
    assert [p.views for p in await Post.many(sort=desc(Post.views), limit=2)] == [50, 30]
    assert [p.views for p in await Post.many(sort=[asc(Post.views)], skip=2)] == [30, 50]


async def test_distinct_gives_values_of_the_field_type(posts):
    assert sorted(await Post.find().distinct(Post.tags)) == ["hw", "math", "sw"]
    statuses = await Post.find().distinct(Post.status)
    assert sorted(statuses) == [Status.DRAFT, Status.LIVE]
    assert all(isinstance(status, Status) for status in statuses)
    assert sorted(await Post.find(Post.views > 10).distinct("author.name")) == ["Ada", "Grace"]
    assert sorted(await Post.find().distinct(Post.author.country)) == ["", "UK", "US"]


async def test_bulk_update_translates_names_and_checks_values(posts, commands):
    commands.clear()
    modified = await Post.find(Post.author.name == "Ada").update(
        {"$set": {"slug": "ada", "author.country": "GB"}, "$inc": {"views": "1"}}
    )
    assert modified == 2
    assert commands.of("update")[0]["updates"][0]["u"] == {
        "$set": {"s": "ada", "author.c": "GB"},
        "$inc": {"views": 1},
    }
    assert sorted(p.views for p in await Post.many(Post.slug == "ada")) == [6, 51]


async def test_bulk_update_lists(posts):
    engines = Post.find(Post.title == "Engines")
    await engines.update({"$push": {"tags": "history"}})
    await engines.update({"$addToSet": {"tags": {"$each": ["math", "new"]}}})
    assert (await engines.first()).tags == ["math", "hw", "history", "new"]
    await engines.update({"$pullAll": {"tags": ["hw", "new"]}})
    await engines.update({"$pop": {"tags": 1}})
    assert (await engines.first()).tags == ["math"]


async def test_bulk_update_lists_of_models(posts, commands):
    intro = Post.find(Post.title == "Intro")
    await intro.update({"$push": {"reviewers": {"$each": [{"name": "Bob", "c": "FR"}]}}})
    await intro.update({"$push": {"reviewers": Author(name="Eve")}})
    assert [r.name for r in (await intro.first()).reviewers] == ["Bob", "Eve"]
    commands.clear()
    # $pull takes an element value, matched whole: a partial dict pulls nothing.
    await intro.update({"$pull": {"reviewers": {"name": "Bob"}}})
    assert [r.name for r in (await intro.first()).reviewers] == ["Bob", "Eve"]
    await intro.update({"$pull": {"reviewers": {"name": "Bob", "c": "FR"}}})
    assert [r.name for r in (await intro.first()).reviewers] == ["Eve"]
    assert commands.of("update")[-1]["updates"][0]["u"] == {
        "$pull": {"reviewers": {"$eq": {"name": "Bob", "c": "FR"}}}
    }


async def test_invalid_updates_never_reach_the_server(posts, commands):
    commands.clear()
    with pytest.raises(WrongValueType, match=r"Post\.views: 'lots' does not fit the field"):
        await Post.find().update({"$set": {"views": "lots"}})
    with pytest.raises(WrongValueType, match=r"Post\.tags: 3 does not fit"):
        await Post.find().update({"$push": {"tags": 3}})
    with pytest.raises(WrongValueType, match="is required"):
        await Post.find().update({"$unset": {"title": ""}})
    with pytest.raises(WrongValueType, match="not a list"):
        await Post.find().update({"$push": {"title": "x"}})
    with pytest.raises(WrongValueType, match=r"Post\.title: 1 .*\$inc works on number fields"):
        await Post.find().update({"$inc": {"title": 1}})
    with pytest.raises(WrongValueType, match="cannot change"):
        await Post.find().update({"$set": {"id": ObjectId()}})
    with pytest.raises(UnknownModelField, match="titel"):
        await Post.find().update({"$set": {"titel": "x"}})
    with pytest.raises(ValueError, match="update takes the operators"):
        await Post.find().update({"title": "x"})
    with pytest.raises(ValueError, match="applies to every match"):
        await Post.find().limit(1).update({"$set": {"title": "x"}})
    assert commands.count == 0


async def test_optional_fields_can_be_unset(posts):
    await Post.find(Post.title == "Intro").update({"$set": {"note": "n"}})
    assert await Post.count(Post.note == "n") == 1
    await Post.find().update({"$unset": {"note": ""}})
    assert await Post.count(exists(Post.note)) == 0


async def test_an_empty_update_sends_nothing(posts, commands):
    commands.clear()
    assert await Post.find().update({"$set": {}}) == 0
    assert commands.count == 0


async def test_raw_updates_are_sent_as_written(posts, database):
    await Post.find(Post.title == "Intro").update(raw({"$set": {"legacy": 1}}))
    assert (await database["post"].find_one({"_id": posts[0].id}))["legacy"] == 1


async def test_bulk_delete_deletes_the_matches_with_their_cascades(posts):
    ada, bob = await Owner.insert_many([Owner(name="Ada"), Owner(name="Bob")])
    await Pet.insert_many([Pet(name="Rex", owner_id=ada.id), Pet(name="Tom", owner_id=bob.id)])
    assert await Owner.find(Owner.name == "Ada").delete() == 1
    assert [owner.name for owner in await Owner.many()] == ["Bob"]
    assert [pet.name for pet in await Pet.many()] == ["Tom"]  # Rex went with Ada
    assert await Post.find(Post.views > 10).delete() == 2
    assert await Post.count() == 2
    with pytest.raises(ValueError, match="applies to every match"):
        await Post.find().skip(1).delete()


async def test_positional_segments_are_refused_outside_updates(database):
    from mdocument import UnknownModelField

    class Tagged(Document):
        tags: list[str] = []

    await init(database, models=[Tagged])
    with pytest.raises(UnknownModelField, match="updates only"):
        await Tagged.find({"tags.$": "x"}).to_list()
    with pytest.raises(UnknownModelField, match="updates only"):
        Tagged.find().sort("tags.$[]")
    with pytest.raises(UnknownModelField, match="updates only"):
        Tagged.find(Tagged.tags["$"] == "x")
    assert await Tagged.find({"tags.0": "x"}).to_list() == []
