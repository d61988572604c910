"""Typed queries on optional fields: ``some()`` removes ``None`` for the type checker.

Checked by ``mypy --strict tests/typing`` and by pyright (strict), never run.
"""

from __future__ import annotations

import datetime

from pydantic import BaseModel
from typing_extensions import assert_type

from mdocument import Document, Expression, asc, in_
from mdocument.expressions import some


class Address(BaseModel):
    city: str
    moved: datetime.datetime | None = None


class Author(Document):
    name: str
    born: datetime.datetime | None = None
    address: Address | None = None
    score: int | None = None


def optional_fields(when: datetime.datetime) -> None:
    assert_type(some(Author.address), Address)
    assert_type(some(Author.address).city == "London", bool)
    assert_type(some(Author.born) < when, bool)
    assert_type(some(Author.born) >= when, bool)
    assert_type(some(some(Author.address).moved) > when, bool)
    assert_type(some(Author.score) > 3, bool)
    Author.find(some(Author.address).city == "London")
    Author.find((some(Author.born) < when) & (Author.name == "Ada"))
    Author.find(Author.born == when)  # equality needs no some()
    Author.find(Author.born == None)  # noqa: E711 - null or missing
    assert_type(in_(Author.born, [when]), Expression)
    Author.find().sort(asc(Author.born))
