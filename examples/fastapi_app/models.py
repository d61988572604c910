"""The documents of the blog, and the bodies its endpoints accept.

Documents are what the API returns: ``email`` and ``password_hash`` are sensitive, so every
response shows them as ``"***"`` and the OpenAPI schema marks them write-only. A post refers to
its author (``author_id``) and carries a copy of the author's public fields (``author``), which
mdocument rewrites when the user changes; deleting a user deletes their posts.

Request bodies are made from the documents (``mdocument.fastapi.Input`` and ``Patch``): a client
never sends an id nor a field listed in ``Meta.server_owned`` (a password hash, a date, a copy),
and any field it should not send is a 422. The bodies add what the documents do not store: a
password, never its hash.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from mdocument import Document, Field, Index, ObjectId, Ref, Synced
from mdocument.fastapi import Input, Patch

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]


def now() -> datetime:
    """The current time to the millisecond, which is what MongoDB keeps of it."""
    moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class User(Document):
    name: Name = Field(unique=True, examples=["ada"])
    email: Email = Field(unique=True, sensitive=True)
    password_hash: str = Field(sensitive=True)
    bio: str = Field(default="", max_length=500)
    joined: datetime = Field(default_factory=now)

    class Meta:
        collection = "users"
        server_owned = ("password_hash", "joined")  # never in a request body


class AuthorCard(Synced[User]):
    """What a post shows of its author without loading the user: public fields only."""

    id: ObjectId
    name: Name


class Post(Document):
    title: Title = Field(examples=["On the Analytical Engine"])
    body: str = ""
    author_id: Ref[User]  # deleting the user deletes their posts (the default rule)
    author: AuthorCard  # renaming the user rewrites this copy in each of their posts
    tags: list[Tag] = Field(default_factory=list)
    published: datetime = Field(default_factory=now)

    class Meta:
        collection = "posts"
        server_owned = ("author", "published")  # the copy follows author_id; set on creation
        indexes = [
            Index([("author_id", 1), ("published", -1)]),  # a user's posts, newest first
            Index([("published", -1), ("id", 1)]),  # the feed's order, _id breaking ties
            Index([("author.name", 1), ("published", -1)]),  # search by the author's name
            Index("tags"),
        ]


class Body(BaseModel):
    # Bodies with a sensitive field: a validation error never prints its input.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class UserCreate(Input[User]):
    """A new user: name, email and bio as ``User`` declares them, and a password."""

    password: Password = Field(sensitive=True)


class UserUpdate(Patch[User]):
    """Fields left out are kept; ``null`` is refused (no field of a user may be empty)."""

    password: Password = Field(default=None, sensitive=True)


class Login(Body):
    name: Name
    password: Password = Field(sensitive=True)


PostCreate = Input[Post]
"""A new post: title, body, author_id and tags (the author's card is made by the server)."""


class PostSearch(Body):
    """A search of posts: each condition given must hold; values are values, never operators."""

    title: Title | None = Field(default=None, description="Exactly this title.")
    author: Name | None = Field(default=None, description="By the user of this name.")
    tags: list[Tag] = Field(default_factory=list, description="With every one of these tags.")
    sort: str = Field(
        default="-published",
        description="A field of Post to sort by (`-field`: descending). Unknown fields are a 422.",
    )


PostUpdate = Patch[Post]
"""Fields left out are kept (``author_id`` is refused by the endpoint: a post keeps its author)."""
