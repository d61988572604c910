"""``delete(dry_run=True)``: the plan of a delete, counted, without writing anything."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mdocument import (
    DeletePreview,
    DeleteRestricted,
    Document,
    Field,
    OnDelete,
    OptionalRef,
    Ref,
    RefList,
    init,
)
from mdocument.cascade import plan_delete

READS = {"find", "aggregate", "count", "listIndexes", "getMore"}


class User(Document):
    name: str


class Post(Document):
    title: str
    author_id: Ref[User]  # CASCADE


class Comment(Document):
    post_id: Ref[Post]  # CASCADE, level 2
    author_id: OptionalRef[User] = Field(default=None, on_delete=OnDelete.SET_NULL)


class Team(Document):
    member_ids: RefList[User] = Field(default_factory=list)  # CASCADE on a list


class Bookmark(Document):
    post_ids: RefList[Post] = Field(default_factory=list, on_delete=OnDelete.PULL)


class Invoice(Document):
    user_id: Ref[User] = Field(on_delete=OnDelete.RESTRICT)


MODELS: list[type[Document]] = [User, Post, Comment, Team, Bookmark]


async def graph() -> tuple[User, User]:
    """Ada's delete reaches every rule, at two levels; Bob keeps what is his."""
    ada, bob = await User.create(name="Ada"), await User.create(name="Bob")
    ada_posts = [await Post.create(title=f"a{n}", author_id=ada.id) for n in range(3)]
    bob_post = await Post.create(title="b", author_id=bob.id)
    for post in ada_posts:  # 3 x 2 comments deleted with the posts, one of them by Ada
        await Comment.create(post_id=post.id, author_id=bob.id)
    for post in ada_posts[:2]:
        await Comment.create(post_id=post.id, author_id=None)
    await Comment.create(post_id=ada_posts[0].id, author_id=ada.id)  # deleted, not nulled
    for _ in range(2):  # Ada's comments on Bob's post: author set to None
        await Comment.create(post_id=bob_post.id, author_id=ada.id)
    await Comment.create(post_id=bob_post.id, author_id=bob.id)
    await Team.create(member_ids=[ada.id])  # emptied: deleted
    await Team.create(member_ids=[ada.id, bob.id])  # Ada pulled
    await Team.create(member_ids=[bob.id])
    await Bookmark.create(post_ids=[ada_posts[0].id, bob_post.id])  # pulled, kept
    await Bookmark.create(post_ids=[ada_posts[1].id])  # pulled, kept empty
    await Bookmark.create(post_ids=[bob_post.id])
    return ada, bob


async def snapshot(models: list[type[Document]]) -> dict[str, list[dict[str, Any]]]:
    return {
        model.__name__: sorted(
            [item.model_dump(mode="json") for item in await model.many({})],
            key=lambda raw: raw["id"],
        )
        for model in models
    }


def steps(preview: DeletePreview) -> dict[tuple[int, str, str, str | None], int]:
    return {
        (step.level, step.operation, step.collection, step.edge): step.count
        for step in preview.steps
    }


async def test_preview_counts_what_the_delete_then_does(database, commands):
    registry = await init(database, models=MODELS)
    ada, _ = await graph()
    before = await snapshot(MODELS)

    commands.clear()
    preview = await ada.delete(dry_run=True)
    assert set(commands.names) <= READS, commands.names
    assert await snapshot(MODELS) == before

    assert steps(preview) == {
        (0, "delete", "user", None): 1,
        (1, "delete", "post", "Post.author_id"): 3,
        (1, "set_null", "comment", "Comment.author_id"): 2,
        (1, "delete", "team", "Team.member_ids"): 1,
        (1, "pull", "team", "Team.member_ids"): 1,
        (2, "delete", "comment", "Comment.post_id"): 6,
        (2, "pull", "bookmark", "Bookmark.post_ids"): 2,
    }
    assert preview.deletes == {"user": 1, "post": 3, "team": 1, "comment": 6}
    assert preview.updates == {"comment": 2, "team": 1, "bookmark": 2}
    assert preview.total == 16
    assert preview.allowed
    assert preview.refused == []
    assert preview.missing_indexes == []
    assert {use.edge for use in preview.indexes} == {
        "Post.author_id",
        "Comment.author_id",
        "Team.member_ids",
        "Comment.post_id",
        "Bookmark.post_ids",
    }
    json.dumps(preview.to_dict())
    assert "Post.author_id" in str(preview)

    # The same plan, run write by write: each write's own count is the preview's.
    plan = await plan_delete(registry, {User: [ada.id]}, None)
    done: dict[tuple[int, str, str, str | None], int] = {}
    level_of = {
        id(write): level
        for level, planned in enumerate(plan.levels)
        for write in [*planned.deletes, *planned.updates]
    }
    for write in plan.writes:
        operation = (
            "delete" if write.update is None else "set_null" if "$set" in write.update else "pull"
        )
        label = write.edge.label if write.edge is not None else None
        key = (level_of[id(write)], operation, write.collection.name, label)
        done[key] = done.get(key, 0) + await write.run(None)
    assert done == steps(preview)


async def test_the_real_delete_matches_the_preview(database):
    await init(database, models=MODELS)
    ada, bob = await graph()
    preview = await ada.delete(dry_run=True)
    sizes = {model.__name__.lower(): await model.count() for model in MODELS}
    await ada.delete()
    gone = {
        model.__name__.lower(): sizes[model.__name__.lower()] - await model.count()
        for model in MODELS
    }
    assert {name: count for name, count in gone.items() if count} == preview.deletes
    assert await Comment.count({"author_id": None}) == 2  # nulled; the others went with the posts
    assert [team.member_ids for team in await Team.many({})] == [[bob.id], [bob.id]]
    assert sorted(len(b.post_ids) for b in await Bookmark.many({})) == [0, 1, 1]


async def test_restrict_is_reported_not_raised(database, commands):
    await init(database, models=[*MODELS, Invoice])
    ada, bob = await graph()
    invoices = [await Invoice.create(user_id=ada.id) for _ in range(7)]
    await Invoice.create(user_id=bob.id)
    before = await snapshot([*MODELS, Invoice])

    commands.clear()
    preview = await ada.delete(dry_run=True)
    assert set(commands.names) <= READS, commands.names
    assert not preview.allowed
    [refusal] = preview.refused
    assert (refusal.edge, refusal.collection, refusal.count) == ("Invoice.user_id", "invoice", 7)
    assert len(refusal.sample) == 5
    assert set(refusal.sample) <= {invoice.id for invoice in invoices}
    assert preview.to_dict()["refused"][0]["count"] == 7
    assert "REFUSED by Invoice.user_id" in str(preview)
    assert steps(preview)[(1, "delete", "post", "Post.author_id")] == 3  # the plan is kept
    assert any(use.edge == "Invoice.user_id" for use in preview.indexes)

    with pytest.raises(DeleteRestricted):
        await ada.delete()
    assert await snapshot([*MODELS, Invoice]) == before


async def test_missing_indexes_are_reported(database):
    await init(database, models=MODELS, create_indexes=False)
    ada, _ = await graph()
    preview = await ada.delete(dry_run=True)
    missing = {(use.collection, use.path) for use in preview.missing_indexes}
    assert missing == {
        ("post", "author_id"),
        ("comment", "author_id"),
        ("comment", "post_id"),
        ("team", "member_ids"),
        ("bookmark", "post_ids"),
    }
    assert "missing index: post.author_id" in str(preview)
    await database["post"].create_index([("author_id", 1)], name="by_author")
    again = await ada.delete(dry_run=True)
    [use] = [use for use in again.indexes if use.edge == "Post.author_id"]
    assert (use.index, use.missing) == ("by_author", False)


async def test_query_set_dry_run(database, commands):
    await init(database, models=MODELS)
    ada, _ = await graph()
    commands.clear()
    preview = await User.find(User.name == "Ada").delete(dry_run=True)
    assert set(commands.names) <= READS, commands.names
    assert preview.deletes == {"user": 1, "post": 3, "team": 1, "comment": 6}
    assert await User.count() == 2
    nobody = await User.find(User.name == "Nobody").delete(dry_run=True)
    assert (nobody.steps, nobody.total) == ([], 0)
    assert await User.find(User.name == "Ada").delete() == 1
    assert await User.get(ada.id) is None


async def test_a_class_without_relations(database):
    await init(database, models=MODELS)
    _, bob = await graph()
    team = await Team.one({"member_ids": [bob.id]})
    preview = await team.delete(dry_run=True)
    assert steps(preview) == {(0, "delete", "team", None): 1}
    assert preview.indexes == []
