"""Documents declared inside functions, in a module with ``from __future__ import annotations``.

Every annotation here is a string that pydantic resolves in the namespace of the function that
declares the class: the classes refer to each other (references, synced copies, nested models,
lists), so a class built with the wrong namespace fails at ``init`` or on first use.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys

import pytest
from pydantic import BaseModel

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


async def test_local_documents_referring_to_each_other_work_end_to_end(database):
    class Address(BaseModel):
        city: str
        street: str = Field(sensitive=True)

    class Author(Document):
        name: str = Field(unique=True)
        address: Address | None = None
        born: datetime.datetime | None = None

    class AuthorCard(Synced[Author]):
        id: ObjectId
        name: str

    class Tag(Document):
        label: str

    class Book(Document):
        title: str
        author_id: Ref[Author]
        author: AuthorCard
        editor_id: OptionalRef[Author] = None
        tag_ids: RefList[Tag] = Field(default_factory=list)
        reviewers: list[AuthorCard] = Field(default_factory=list)
        addresses: list[Address] = Field(default_factory=list)

    await init(database, models=[Author, Tag, Book])
    ada = await Author.create(name="Ada", address=Address(city="London", street="12 Secret St"))
    tag = await Tag.create(label="math")
    book = await Book.create(
        title="Notes",
        author_id=ada.id,
        author=AuthorCard.of(ada),
        tag_ids=[tag.id],
        reviewers=[AuthorCard.of(ada)],
        addresses=[Address(city="Paris", street="1 Rue")],
    )
    assert isinstance(book.author_id, ObjectId)
    loaded = await Book.get(book.id)
    assert loaded == book
    assert loaded is not None
    assert loaded.addresses[0].city == "Paris"
    assert '"street":"***"' in ada.model_dump_json()

    found = await Book.one(Book.author.name == "Ada")
    assert found.id == book.id

    # A synced copy follows its source.
    ada.name = "Ada Lovelace"
    await ada.save()
    reloaded = await Book.get(book.id)
    assert reloaded is not None
    assert reloaded.author.name == "Ada Lovelace"
    assert reloaded.reviewers[0].name == "Ada Lovelace"

    # A reference is checked on write.
    with pytest.raises(DocumentDoesntExist):
        await Book.create(title="x", author_id=ObjectId(), author=AuthorCard.of(ada))

    # Deleting the author deletes her books (the default rule of a required reference).
    await ada.delete()
    assert await Book.count() == 0


async def test_a_reference_to_a_class_declared_later_in_the_function_by_name(database):
    class Note(BaseModel):
        text: str

    class Comment(Document):
        # Post is declared below: named as a string inside the annotation, found by init.
        post_id: Ref["Post"]  # noqa: UP037
        text: str

    class Post(Document):
        title: str
        comments: list[Note] = Field(default_factory=list)

    await init(database, models=[Post, Comment])
    post = await Post.create(title="t", comments=[Note(text="n")])
    await Comment.create(post_id=post.id, text="c")
    await post.delete()
    assert await Comment.count() == 0


def test_a_subclass_redeclaring_a_field_and_a_field_named_like_a_class_method():
    class Base(Document):
        title: str = "x"

        class Meta:
            abstract = True

    class Child(Base):
        title: str = "y"
        count: int

    assert Child(count=1).title == "y"
    assert Child(count=1).count == 1  # the instance reads the field, the class keeps the method
    assert callable(Child.count)
    assert Child.model_fields["count"].is_required()
    assert repr(Child.title) != ""  # the class attribute is the field's query expression


# -- the public API to type checkers, in a module with postponed annotations ------------------

TYPED_MODULE = """
from __future__ import annotations

import bson
from fastapi import FastAPI

from mdocument import Document, Field, ObjectId, Ref, Synced, init
from mdocument.fastapi import Input, Patch, get_or_404


class User(Document):
    name: str = Field(unique=True)
    password_hash: str = Field(sensitive=True)
    karma: int = 0


class UserCard(Synced[User]):
    id: ObjectId
    name: str


class Post(Document):
    author_id: Ref[User]
    author: UserCard
    tags: list[str] = Field(default_factory=list)


class UserCreate(Input[User]):
    password: str


app = FastAPI()


@app.post("/users")
async def create_user(data: UserCreate) -> User:
    return await data.create(password_hash=data.password)


@app.patch("/users/{user_id}")
async def update_user(user_id: ObjectId, data: Patch[User]) -> User:
    user = await get_or_404(User, user_id)
    return await data.apply(user).save()


async def main(database: object) -> None:
    await init(database, models=[User, Post])
    ada = await User.create(name="Ada", password_hash="x")
    post = await Post.create(author_id=ada.id, author=UserCard.of(ada))
    identifier: bson.ObjectId = post.author_id
    assert isinstance(identifier, ObjectId)
    fresh: ObjectId = ObjectId()
    found: Post = await Post.one(Post.author.name == "Ada")
    top: list[User] = await User.many(User.karma > 10)
    print(fresh, found, top)
"""


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_the_public_api_type_checks_with_postponed_annotations(tmp_path, checker):
    (tmp_path / "typed_app.py").write_text(TYPED_MODULE)
    bin_dir = os.path.dirname(sys.executable)
    if checker == "mypy":
        pytest.importorskip("mypy")
        command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".c")]
    else:
        pyright = shutil.which("pyright", path=bin_dir)
        if pyright is None:
            pytest.skip("pyright is in the lint extra")
        (tmp_path / "pyrightconfig.json").write_text('{"typeCheckingMode": "strict"}')
        command = [pyright, "--pythonpath", sys.executable]
    result = subprocess.run(
        [*command, "typed_app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
