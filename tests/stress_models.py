"""The documents of the concurrency stress test: every relation kind and on-delete rule."""

from __future__ import annotations

from mdocument import Document, Field, ObjectId, OnDelete, Ref, Synced


class User(Document):
    name: str
    city: str = ""


class UserCard(Synced[User]):
    id: ObjectId
    name: str
    city: str


class Post(Document):
    author_id: Ref[User]  # CASCADE
    author: UserCard  # a synced copy of the same user


class Comment(Document):
    post_id: Ref[Post]  # CASCADE, two levels below the user
    user_id: Ref[User]  # and a second path to the user


class Like(Document):
    user_id: ObjectId | None = Field(None, related=User, on_delete=OnDelete.SET_NULL)
    post_ids: list[ObjectId] = Field(default_factory=list, related=Post, on_delete=OnDelete.PULL)


MODELS = [User, Post, Comment, Like]
