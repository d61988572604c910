"""Loading datetimes decoded naive: UTC attached where a class declares datetimes.

mdocument hands out timezone-aware datetimes, in UTC, as BSON stores them. The driver can decode
them aware itself, but it does so with two Python calls per datetime, about a microsecond each,
which was a tenth of the cost of loading a typical document. Where a class says exactly where
its datetimes can be (every field's annotation is one this module can follow: no ``Any``, no
open ``dict``, no custom type), its documents are read with a naive-datetime codec and a
function generated once per class attaches UTC at those places before validation: one
constructor call per datetime, and the instance and its change baseline hold the same aware values
as before.

Any class this module cannot follow (and a polymorphic hierarchy, a class storing extra fields,
projections, raw reads) keeps the driver's aware decoding.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

import bson
from pydantic import BaseModel

from mdocument.annotations import is_class, strip_annotated

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = ["Attach", "utc_attacher"]

Attach = Callable[[dict[str, Any]], None]
"""Attaches UTC, in place, to the naive datetimes of a raw stored document."""

_UNIONS: tuple[Any, ...] = (Union, types.UnionType)
_ARRAYS: tuple[Any, ...] = (list, set, frozenset, tuple)
# Values that never hold a datetime, as BSON stores them (a ``date`` is stored as a datetime,
# but validation turns an aware or a naive midnight into the same date).
_NO_DATETIME: tuple[type[Any], ...] = (
    str, int, float, bool, bytes, type(None), bson.ObjectId, decimal.Decimal, uuid.UUID,
    datetime.date, enum.Enum,
)  # fmt: skip


@dataclass(frozen=True)
class _Here:
    """A datetime."""


@dataclass(frozen=True)
class _Items:
    """A list (or set, or tuple) whose items may hold datetimes."""

    item: _Place


@dataclass(frozen=True)
class _Values:
    """A ``dict[str, ...]`` whose values may hold datetimes."""

    value: _Place


@dataclass(frozen=True)
class _Fields:
    """A model whose fields may hold datetimes, by stored key."""

    fields: tuple[tuple[str, _Place], ...]


_Place = Union[_Here, _Items, _Values, _Fields]  # noqa: UP007 - a runtime alias
_NOWHERE: Any = object()  # no datetime can be there


def _place(annotation: Any, seen: frozenset[type[BaseModel]]) -> Any:
    """Where datetimes are in values of ``annotation``.

    A place, ``_NOWHERE``, or ``None`` when this module cannot tell.
    """
    annotation = strip_annotated(annotation)
    if annotation is datetime.datetime:
        return _Here()
    if is_class(annotation):
        return _class_place(annotation, seen)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return _NOWHERE
    if origin in _ARRAYS and args:
        inner = [_place(arg, seen) for arg in args if arg is not Ellipsis]
        if any(place is None for place in inner):
            return None
        found = [place for place in inner if place is not _NOWHERE]
        if not found:
            return _NOWHERE
        return _Items(found[0]) if len(found) == 1 and len(set(inner)) == 1 else None
    if origin is dict and len(args) == 2 and args[0] is str:
        value = _place(args[1], seen)
        return value if value is None or value is _NOWHERE else _Values(value)
    if origin in _UNIONS:
        inner = [_place(arg, seen) for arg in args]
        if any(place is None for place in inner):
            return None
        found = [place for place in inner if place is not _NOWHERE]
        # One member may hold datetimes (``datetime | None``, ``Event | None``); more would
        # need to know which member a stored value is.
        return _NOWHERE if not found else found[0] if len(found) == 1 else None
    return None


def _class_place(annotation: type[Any], seen: frozenset[type[BaseModel]]) -> Any:
    if issubclass(annotation, datetime.datetime):
        return None  # a subclass: left to the driver
    if issubclass(annotation, _NO_DATETIME):
        return _NOWHERE
    if issubclass(annotation, BaseModel):
        return _model_place(annotation, seen)
    return None


def _model_place(model: type[BaseModel], seen: frozenset[type[BaseModel]]) -> Any:
    if model in seen or model.model_config.get("extra") == "allow":
        return None  # recursive, or extra values anywhere
    seen = seen | {model}
    fields: list[tuple[str, _Place]] = []
    for name, info in model.__pydantic_fields__.items():
        place = _place(info.annotation, seen)
        if place is None:
            return None
        if place is not _NOWHERE:
            fields.append((_stored_key(name, info), place))
    return _Fields(tuple(fields)) if fields else _NOWHERE


def _stored_key(name: str, info: FieldInfo) -> str:
    return info.serialization_alias or info.alias or name


class _Writer:
    """Writes the source of one attach function: straight-line code.

    It takes any input: a stored document that does not match its class is reported by
    validation, later.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names = 0

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def fix(self, place: _Place, value: str, assign: str, pad: str) -> None:
        """Lines that attach UTC to the datetimes of ``value``; ``assign`` puts one back.

        A datetime is rebuilt from its pickle state and a tzinfo, the form unpickling calls (the
        C and the pure-Python ``datetime`` both take it): ``replace(tzinfo=...)`` parses nine
        keyword arguments and cost five times as much (0.8 against 0.14 µs here).
        """
        if isinstance(place, _Here):
            self.lines += [
                f"{pad}if type({value}) is datetime and {value}.tzinfo is None:",
                f"{pad}    {assign.format(f'datetime({value}.__reduce__()[1][0], UTC)')}",
            ]
        elif isinstance(place, _Items):
            index, item = self.name("i"), self.name("v")
            self.lines += [
                f"{pad}if type({value}) is list:",
                f"{pad}    for {index}, {item} in enumerate({value}):",
            ]
            self.fix(place.item, item, f"{value}[{index}] = {{}}", pad + "        ")
        elif isinstance(place, _Values):
            key, item = self.name("k"), self.name("v")
            self.lines += [
                f"{pad}if type({value}) is dict:",
                f"{pad}    for {key}, {item} in {value}.items():",
            ]
            self.fix(place.value, item, f"{value}[{key}] = {{}}", pad + "        ")
        else:
            self.lines.append(f"{pad}if type({value}) is dict:")
            self.fields(place, value, pad + "    ")

    def fields(self, place: _Fields, value: str, pad: str) -> None:
        for key, inner in place.fields:
            item = self.name("v")
            self.lines.append(f"{pad}{item} = {value}.get({key!r})")
            self.fix(inner, item, f"{value}[{key!r}] = {{}}", pad)

    def function(self, place: _Fields) -> Attach:
        self.lines = []
        self.fields(place, "raw", "    ")
        source = "\n".join(["def attach(raw):", *self.lines])
        # Its names are globals, which the interpreter caches: a keyword default costs a dict
        # lookup at every call (see mdocument.exact.SourceWriter.bound).
        namespace: dict[str, Any] = {
            "type": type,
            "enumerate": enumerate,
            "datetime": datetime.datetime,
            "UTC": datetime.timezone.utc,
        }
        exec(source, namespace)  # the source is built above, from no input
        attach: Attach = namespace["attach"]
        return attach


def _nothing(raw: dict[str, Any]) -> None:
    """The attach function of a class without datetimes."""


def utc_attacher(
    document: type[BaseModel], fields: Iterable[tuple[str, str, Any]]
) -> Attach | None:
    """The function that attaches UTC to a raw document of ``document`` decoded naive.

    ``fields``: (name, stored name, annotation) of every stored field. ``None`` when the class
    cannot be read naive (its datetimes could be where this module cannot see).
    """
    if document.model_config.get("extra") == "allow":
        return None
    found: list[tuple[str, _Place]] = []
    for _, stored, annotation in fields:
        place = _place(annotation, frozenset())
        if place is None:
            return None
        if place is not _NOWHERE:
            found.append((stored, place))
    return _Writer().function(_Fields(tuple(found))) if found else _nothing
