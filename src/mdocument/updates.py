"""Bulk updates: compiling ``{"$set": {...}, "$inc": {...}}`` to stored names, values checked.

``Doc.find(query).update({...})`` compiles its update here before anything is sent: field names
become stored names, and each operator's values are validated against the field's type, so a
bulk update cannot write what ``save()`` would refuse. ``raw({...})`` is sent as written.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel

from mdocument.annotations import is_class, shape_of
from mdocument.exceptions import WrongValueType
from mdocument.expressions import Raw
from mdocument.paths import PathSpec, literal, path_of

__all__ = ["Update", "compile_update"]

Update = Mapping[str, Any] | Raw
"""An update in MongoDB syntax naming the document's fields (``{"$set": {"title": "x"}}``), or
``raw({...})``, sent as written."""

_PUSH_MODIFIERS = frozenset({"$each", "$position", "$slice", "$sort"})


def _require_list(spec: PathSpec, operator: str) -> None:
    if not (spec.many or spec.free):
        raise WrongValueType(
            f"{spec.label} is not a list: {operator} works on list fields",
            document=spec.document,
            field=spec.name,
        )


def _set(spec: PathSpec, value: Any, operator: str) -> Any:
    # A written value: held to the field's constraints too, as the document would be.
    return spec.check(value, write=True)


def _unset(spec: PathSpec, value: Any, operator: str) -> Any:
    if not spec.removable:
        raise WrongValueType(
            f"{spec.label} is required and has no default: $unset would leave documents that "
            "cannot be loaded (set it to a value, or None if it is optional)",
            document=spec.document,
            field=spec.name,
        )
    return ""


def _number(spec: PathSpec, value: Any, operator: str) -> Any:
    kind = shape_of(spec.annotation).item
    numeric = is_class(kind) and issubclass(kind, (int, float, decimal.Decimal))
    if not spec.free and (kind is bool or not numeric or spec.many):
        raise spec.wrong_value(value, f"{operator} works on number fields")
    return spec.check(value)


def _push(spec: PathSpec, value: Any, operator: str) -> Any:
    _require_list(spec, operator)
    if isinstance(value, Mapping) and "$each" in value:
        modifiers = cast("Mapping[str, Any]", value)
        unknown = set(modifiers) - _PUSH_MODIFIERS
        if unknown:
            raise ValueError(f"{spec.label}: {operator} takes no modifier {sorted(unknown)}")
        each = [spec.check(item, item=True, write=True) for item in modifiers["$each"]]
        return {**modifiers, "$each": each}
    return spec.check(value, item=True, write=True)


def _pull(spec: PathSpec, value: Any, operator: str) -> Any:
    # The elements equal to the value, never a condition: a dict from a request must not pull
    # more than itself ($pullAll pulls several values; raw() takes conditions).
    _require_list(spec, operator)
    return literal(spec.check(value, item=True))


def _pull_all(spec: PathSpec, value: Any, operator: str) -> Any:
    _require_list(spec, operator)
    if not isinstance(value, (list, tuple)):
        raise spec.wrong_value(value, f"{operator} takes a list of values")
    return [spec.check(item, item=True) for item in cast("Sequence[Any]", value)]


def _pop(spec: PathSpec, value: Any, operator: str) -> Any:
    _require_list(spec, operator)
    if value not in (1, -1) or isinstance(value, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise spec.wrong_value(value, "$pop takes 1 (the last element) or -1 (the first)")
    return value


def _current_date(spec: PathSpec, value: Any, operator: str) -> Any:
    spec.check(datetime.datetime.now(datetime.timezone.utc))  # a date field, or this raises
    if value is True or value == {"$type": "date"}:
        return value
    raise spec.wrong_value(value, '$currentDate takes True or {"$type": "date"}')


_UPDATE_OPERATORS: dict[str, Callable[[PathSpec, Any, str], Any]] = {
    "$set": _set,
    "$setOnInsert": _set,
    "$min": _set,
    "$max": _set,
    "$unset": _unset,
    "$inc": _number,
    "$mul": _number,
    "$push": _push,
    "$addToSet": _push,
    "$pull": _pull,
    "$pullAll": _pull_all,
    "$pop": _pop,
    "$currentDate": _current_date,
}


def compile_update(document: type[BaseModel], update: Update) -> dict[str, Any]:
    """The update to send to MongoDB: stored names, and values checked against the fields.

    Invalid values raise :class:`~mdocument.WrongValueType` before anything is sent; ``id``
    cannot change. ``raw({...})`` is sent as written.
    """
    if isinstance(update, Raw):
        return update.to_filter()
    name = document.__name__
    if not isinstance(update, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"a {name} update is a dict of update operators, not {update!r}")
    compiled: dict[str, Any] = {}
    for operator, changes in update.items():
        handler = _UPDATE_OPERATORS.get(operator)
        if handler is None:
            known = ", ".join(_UPDATE_OPERATORS)
            raise ValueError(
                f"a {name} update takes the operators {known}; not {operator!r} "
                "(use raw({...}) for anything else, or save() an instance to replace it)"
            )
        if not isinstance(changes, Mapping):
            raise TypeError(f"{name}: {operator} takes a dict of fields, not {changes!r}")
        body: dict[str, Any] = {}
        for path, value in cast("Mapping[str, Any]", changes).items():
            spec = path_of(document, path)
            if spec.stored == "_id":
                raise WrongValueType(f"{name}.id cannot change", document=document, field="id")
            body[spec.stored] = handler(spec, value, operator)
        if body:
            compiled[operator] = body
    return compiled
