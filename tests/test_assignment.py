"""Assignment of an exact value without pydantic-core, attacked (``exact.assignable``).

``validate_assignment`` copies an instance's whole ``__dict__`` to validate one field. For a
plain field (a leaf or an optional leaf, no validator, constraint or ``frozen``) of a class with
neutral configuration, a value of exactly one of the field's types is what validation returns,
the very object: ``Document.__setattr__`` sets it as it is. The differential tests assign every
hostile value to every field, alone and in Hypothesis sequences, once through ``setattr`` and
once through pydantic's own ``__setattr__``, and demand the same outcome: the same error, or the
same value (the very object where the shortcut was taken), fields set and stored form.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import enum
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import bson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from mdocument import Document, DocumentDoesntExist, Field, ObjectId, Ref, init
from mdocument.codec import codec_options, encode
from mdocument.exact import assignable
from mdocument.model import _assignable
from test_exact_forms import HOSTILE

UTC = datetime.timezone.utc
OPTIONS = codec_options(bson.codec_options.DEFAULT_CODEC_OPTIONS)  # a collection's
PLUS_TWO = datetime.timezone(datetime.timedelta(hours=2))


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Owner(Document):
    name: str = "owner"


class Account(Document):
    """Every kind of field: leaves the shortcut takes, and fields it must leave to pydantic."""

    name: str = "Ada"
    count: int = 0
    score: float = 0.0
    active: bool = False
    blob: bytes = b""
    at: datetime.datetime = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    seen: datetime.datetime | None = None
    ref: ObjectId = Field(default_factory=bson.ObjectId)
    colour: Colour = Colour.RED
    bio: str | None = None
    either: int | str = 0
    pin: str = Field(default="0000", sensitive=True)
    code: str = Field(default="c", unique=True)
    owner: Ref[Owner] | None = None
    boss: ObjectId | None = Field(default=None, related=Owner)
    tags: list[str] = []
    level: Literal["a", "b"] = "a"
    short: Annotated[str, StringConstraints(max_length=3)] = "ab"


SHORTCUT = {
    "name",
    "count",
    "score",
    "active",
    "blob",
    "at",
    "seen",
    "ref",
    "colour",
    "bio",
    "either",
    "pin",
    "code",
    "boss",
}
"""The fields the shortcut takes for an exact value (``id`` is frozen; a ``Ref``'s metadata is
left to pydantic)."""

EXACT: dict[str, Any] = {
    "name": "Grace",
    "count": 7,
    "score": 2.5,
    "active": True,
    "blob": b"\x00\x01",
    "at": datetime.datetime(2025, 3, 1, 12, 30, tzinfo=UTC),  # utcoffset() is zero: falsy
    "seen": None,
    "ref": bson.ObjectId(),
    "colour": Colour.BLUE,
    "bio": "hello",
    "either": "text",
    "pin": "9876",
    "code": "z",
    "boss": bson.ObjectId(),
}
"""A value of exactly each shortcut field's type."""

EXTRA: list[Any] = [
    datetime.datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=PLUS_TWO),  # aware, not UTC, µs
    bson.Int64(5),
    float("inf"),
    type("Text", (str,), {})("sub"),
    "abcd",
    "a",
]


def values() -> list[Any]:
    """Fresh copies of every hostile value (a value a test keeps must not be shared)."""
    return copy.deepcopy([*HOSTILE, *EXTRA, *EXACT.values()])


def through_pydantic(document: BaseModel, name: str, value: Any) -> None:
    """The assignment as pydantic makes it, past ``Document.__setattr__``."""
    BaseModel.__setattr__(document, name, value)


class Spy:
    """A class's validator, recording the fields whose assignment it validates."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.validated: list[str] = []

    def validate_assignment(self, model: Any, name: str, value: Any, *args: Any) -> Any:
        self.validated.append(name)
        return self.inner.validate_assignment(model, name, value, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextlib.contextmanager
def spied(document_class: type[BaseModel]) -> Iterator[Spy]:
    """Record what pydantic-core validates for ``document_class`` inside the block."""
    inner = document_class.__dict__["__pydantic_validator__"]
    spy = Spy(inner)
    type.__setattr__(document_class, "__pydantic_validator__", spy)
    try:
        yield spy
    finally:
        type.__setattr__(document_class, "__pydantic_validator__", inner)


def outcome(document: BaseModel, assign: Any, name: str, value: Any) -> tuple[Any, ...]:
    """What an assignment did: its error, or the value set, the fields set and stored form."""
    try:
        assign(document, name, value)
    except ValidationError as exc:
        return ("error", repr(exc.errors(include_url=False)))
    stored = encode(document, type(document).__mdocument_mapping__)  # type: ignore[attr-defined]
    try:
        encoded: Any = bson.encode(stored, codec_options=OPTIONS)
    except OverflowError:  # an int past 64 bits: validation keeps it, BSON cannot hold it
        encoded = OverflowError
    return ("set", sorted(document.__pydantic_fields_set__), encoded)


def took_shortcut(document: BaseModel, name: str, value: Any) -> bool:
    """Assign (an error is kept quiet), and tell whether pydantic-core was skipped."""
    with spied(type(document)) as spy, contextlib.suppress(ValidationError):
        setattr(document, name, value)
    return spy.validated == []


def pair() -> tuple[Account, Account]:
    """Two instances with the same values (the same id too), sharing no container."""
    fast = Account()
    return fast, copy.deepcopy(fast)


@pytest.mark.parametrize("name", [name for name in Account.model_fields if name != "id"])
def test_every_value_at_every_field_does_what_pydantic_does(name: str) -> None:
    shortcuts = 0
    for index, value in enumerate(values()):
        fast, slow = pair()
        expected = outcome(slow, through_pydantic, name, value)
        with spied(Account) as spy:
            got = outcome(fast, setattr, name, value)
        assert got == expected, (name, index, value)
        if not spy.validated:  # the shortcut: pydantic-core would have kept the very object
            shortcuts += 1
            assert name in SHORTCUT
            assert fast.__dict__[name] is value
            assert slow.__dict__[name] is value
    assert (shortcuts > 0) == (name in SHORTCUT)


@pytest.mark.parametrize("name", sorted(SHORTCUT))
def test_an_exact_value_is_set_as_it_is_and_validation_would_keep_it(name: str) -> None:
    document = Account()
    value = EXACT[name]
    assert took_shortcut(document, name, value)
    assert document.__dict__[name] is value
    assert name in document.__pydantic_fields_set__
    # The premise: pydantic's own assignment returns that very object.
    other = Account()
    through_pydantic(other, name, value)
    assert other.__dict__[name] is value


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("count", True),  # a bool is no int to BSON
        ("score", 1),  # an int in a float field is converted
        ("at", datetime.datetime(2024, 1, 1)),  # naive: refused
        ("name", type("Text", (str,), {})("sub")),  # a subclass: converted
        ("colour", "red"),  # the value of a member, not the member
        ("tags", ["a"]),  # not a leaf: changes in place are the save's to check
        ("level", "a"),  # a Literal
        ("short", "ab"),  # a constraint
    ],
)
def test_anything_else_goes_to_pydantic(name: str, value: Any) -> None:
    assert not took_shortcut(Account(), name, value)


def test_a_secret_set_by_the_shortcut_stays_masked() -> None:
    document = Account()
    assert took_shortcut(document, "pin", "s3cr3t-9876")
    for output in (repr(document), str(document), document.model_dump_json()):
        assert "s3cr3t-9876" not in output
    with pytest.raises(ValidationError) as raised:
        document.pin = 12345  # type: ignore[assignment]  # pydantic's path: its error
    assert "12345" not in str(raised.value)


def test_a_naive_datetime_is_refused_and_nothing_changes() -> None:
    document = Account()
    before = dict(document.__dict__)
    with pytest.raises(ValidationError, match="naive datetime"):
        document.at = datetime.datetime(2024, 1, 1)
    assert document.__dict__ == before


def test_the_id_stays_frozen() -> None:
    document = Account()
    with pytest.raises(ValidationError, match="frozen"):
        document.id = bson.ObjectId()  # type: ignore[misc]


class Lowered(Document):
    name: str = "a"
    other: str = "b"

    @field_validator("name")
    @classmethod
    def lower(cls, value: str) -> str:
        return value.lower()


class Ordered(Document):
    low: int = 0
    high: int = 1

    @model_validator(mode="after")
    def ordered(self) -> Ordered:
        if self.low > self.high:
            raise ValueError("low above high")
        return self


class Configured(Document):
    model_config = ConfigDict(str_to_lower=True)

    name: str = "a"


class EnumValues(Document):
    model_config = ConfigDict(use_enum_values=True)

    colour: Colour = Colour.RED


class Frozen(Document):
    model_config = ConfigDict(frozen=True)

    name: str = "a"


def test_a_field_validator_still_runs_and_the_other_fields_take_the_shortcut() -> None:
    document = Lowered()
    assert not took_shortcut(document, "name", "ABC")
    assert document.name == "abc"
    assert took_shortcut(document, "other", "XYZ")
    assert document.other == "XYZ"


def test_a_model_validator_still_runs_on_every_assignment() -> None:
    document = Ordered()
    with spied(Ordered) as spy, pytest.raises(ValidationError, match="low above high"):
        document.low = 5
    assert spy.validated == ["low"]
    assert assignable(Ordered) == {}


def test_a_configuration_that_converts_values_is_left_to_pydantic() -> None:
    document = Configured()
    document.name = "ABC"
    assert document.name == "abc"
    values = EnumValues()
    values.colour = Colour.BLUE
    assert values.colour == "blue"
    frozen = Frozen()
    with pytest.raises(ValidationError, match="frozen"):
        frozen.name = "b"
    for document_class in (Configured, EnumValues, Frozen):
        assert assignable(document_class) == {}


def test_a_class_pydantic_has_not_completed_takes_no_shortcut_until_it_is() -> None:
    class Early(Document):
        name: str = "a"
        later: Later | None = None

    assert not Early.__pydantic_complete__
    assert _assignable(Early) == {}
    assert "__mdocument_assignable__" not in Early.__dict__  # not kept: asked again later

    class Later(BaseModel):
        x: int = 0

    Early.model_rebuild(_types_namespace={"Later": Later})
    document = Early()
    assert took_shortcut(document, "name", "b")
    assert set(Early.__dict__["__mdocument_assignable__"]) == {"name"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from([name for name in Account.model_fields if name != "id"]),
            st.integers(min_value=0, max_value=len(HOSTILE) + len(EXTRA) + len(EXACT) - 1),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_sequences_of_assignments_end_as_pydantic_leaves_them(steps: list[tuple[str, int]]) -> None:
    fast, slow = pair()
    for name, index in steps:
        value = values()[index]
        assert outcome(fast, setattr, name, value) == outcome(slow, through_pydantic, name, value)


async def test_a_save_after_exact_assignments_stores_them(database: Any) -> None:
    await init(database, models=[Owner, Account])
    owner = await Owner.create()
    created = await Account.create()
    loaded = await Account.get(created.id)
    for name in ("name", "count", "score", "at", "bio", "pin", "colour"):
        assert took_shortcut(loaded, name, EXACT[name])
    assert took_shortcut(loaded, "boss", owner.id)
    await loaded.save()
    again = await Account.get(created.id)
    assert again == loaded
    raw = await database["account"].find_one({"_id": created.id})
    assert raw["at"] == EXACT["at"].replace(tzinfo=None)
    assert raw["colour"] == "blue"
    assert raw["boss"] == owner.id


async def test_a_dangling_reference_set_by_the_shortcut_is_still_refused(database: Any) -> None:
    await init(database, models=[Owner, Account])
    created = await Account.create()
    assert took_shortcut(created, "boss", bson.ObjectId())
    with pytest.raises(DocumentDoesntExist, match="Owner"):
        await created.save()
    raw = await database["account"].find_one({"_id": created.id})
    assert raw["boss"] is None
