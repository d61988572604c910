"""Mistakes the type checkers catch: each line must be an error for both mypy and pyright.

``# type: ignore[code]`` names the error mypy must report: with ``warn_unused_ignores``
(``--strict``) a line that is no longer an error fails the check. Pyright honours the same
comment, and with ``reportUnnecessaryTypeIgnoreComment`` it fails the check too when it finds no
error there. ``pyright_errors.py`` names the pyright rules.
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
    # A field of type int compared with a str.
    User.find(User.age == "3")  # type: ignore[comparison-overlap]
    User.find(User.age > "3")  # type: ignore[operator]
    User.find(User.name != 3)  # type: ignore[comparison-overlap]
    # A regular expression on a number, list membership on a scalar.
    regex(User.age, "^1")  # type: ignore[arg-type]
    contains(User.age, 1)  # type: ignore[arg-type]
    # A sort key that is not asc()/desc(), a name or a (name, direction) pair.
    User.find().sort(User.age)  # type: ignore[arg-type]
    # A query that is neither a condition nor a dict.
    await User.one("Ada")  # type: ignore[call-overload]
    # A projected model has its own fields only.
    card = await User.find().project(Card).first()
    if card is not None:
        str(card.age)  # type: ignore[attr-defined]
    # asc() of a field gives a sort key, not a condition.
    User.find(asc(User.age))  # type: ignore[arg-type]
