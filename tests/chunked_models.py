"""The documents of tests/test_chunked.py, importable by the process it kills mid-delete."""

from __future__ import annotations

from mdocument import Document, Field, ObjectId, OnDelete, Ref


class Author(Document):
    name: str


class Post(Document):
    author_id: Ref[Author]
    title: str = ""


class Comment(Document):
    post_id: Ref[Post]


class Shelf(Document):
    post_ids: list[ObjectId] = Field(default_factory=list, related=Post, on_delete=OnDelete.PULL)


MODELS = [Author, Post, Comment, Shelf]


async def tree(name: str, posts: int = 30, comments: int = 4) -> Author:
    """An author with ``posts`` posts, ``comments`` comments each, and a shelf of the posts."""
    author = await Author.create(name=name)
    made = await Post.insert_many([Post(author_id=author.id) for _ in range(posts)])
    await Comment.insert_many([Comment(post_id=post.id) for post in made for _ in range(comments)])
    await Shelf.create(post_ids=[post.id for post in made])
    return author
