"""What type checkers infer for relations: typed references and synced copies.

Checked by ``mypy --strict tests/typing`` and pyright (strict), never run.
"""

from __future__ import annotations

from typing import Any

import bson
from typing_extensions import assert_type

from mdocument import Document, Field, ObjectId, OptionalRef, Ref, RefList, Synced


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
    author: UserCard
    editor: UserCard | None = None
    watchers: list[UserCard] = Field(default_factory=list)
    legacy_id: ObjectId = Field(related=User)
    title: str = ""


async def relations(post: Post, user: User, tag: Tag) -> None:
    # On an instance a reference is an ObjectId; on the class it is a field fetch can follow.
    assert_type(post.author_id, bson.ObjectId)
    assert_type(post.reviewer_id, bson.ObjectId | None)
    assert_type(post.tag_ids, list[bson.ObjectId])

    assert_type(await post.fetch(Post.author_id), User)
    assert_type(await post.fetch(Post.reviewer_id), User | None)
    assert_type(await post.fetch(Post.tag_ids), list[Tag])
    assert_type(await post.fetch(Post.author), User)
    assert_type(await post.fetch(Post.editor), User | None)
    assert_type(await post.fetch(Post.watchers), list[User])

    # Plain ObjectId fields declared with Field(related=...) carry no target for the checker.
    assert_type(await post.fetch(Post.legacy_id), Any)

    # Building and assigning references takes plain ObjectIds: no casts needed.
    Post(author_id=user.id, author=UserCard.of(user), legacy_id=user.id)
    post.author_id = user.id
    post.reviewer_id = None
    post.tag_ids.append(tag.id)
    assert_type(UserCard.of(user), UserCard)

    authors = await User.prefetch([post], Post.author_id)
    assert_type(authors, dict[bson.ObjectId, User])
    assert_type(await user.children(Post, Post.author_id), list[Post])
