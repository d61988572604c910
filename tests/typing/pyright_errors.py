"""The mistakes of ``check_errors.py``, with the pyright rule each one must break.

Pyright only (mypy excludes it in pyproject.toml): with ``reportUnnecessaryTypeIgnoreComment``,
a ``# pyright: ignore[rule]`` that suppresses nothing fails the check.
"""

# pyright: reportUnnecessaryTypeIgnoreComment=true

from __future__ import annotations

from pydantic import BaseModel

from mdocument import Document, asc, contains, regex


class User(Document):
    name: str
    age: int = 0
    tags: list[str] = []


class Card(BaseModel):
    name: str


async def mistakes() -> None:
    User.find(User.age == "3")  # pyright: ignore[reportUnnecessaryComparison]
    User.find(User.age > "3")  # pyright: ignore[reportOperatorIssue, reportUnknownArgumentType]
    User.find(User.name != 3)  # pyright: ignore[reportUnnecessaryComparison]
    regex(User.age, "^1")  # pyright: ignore[reportArgumentType]
    contains(User.age, 1)  # pyright: ignore[reportArgumentType]
    User.find().sort(User.age)  # pyright: ignore[reportArgumentType]
    await User.one("Ada")  # pyright: ignore[reportArgumentType, reportCallIssue]
    card = await User.find().project(Card).first()
    if card is not None:
        str(card.age)  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    User.find(asc(User.age))  # pyright: ignore[reportArgumentType]
