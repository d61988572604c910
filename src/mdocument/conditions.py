"""Conditions: what typed field comparisons build, combined with ``&``, ``|`` and ``~``.

An :class:`Expression` is a condition on one document class; it compiles to a MongoDB filter
(:meth:`Expression.to_filter`) and shows itself with sensitive values masked. Field paths
(:mod:`mdocument.expressions`) build them: ``Post.views > 3``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, TypeGuard, cast

from pydantic import BaseModel

from mdocument.masking import SENSITIVE_PLACEHOLDER, mask_filter
from mdocument.paths import PathSpec

__all__ = [
    "And",
    "Condition",
    "Expression",
    "Group",
    "Not",
    "Or",
    "Raw",
    "SortKey",
    "as_condition",
    "untyped",
]


def untyped(value: object) -> object:
    """``value`` as an ``object``: arguments that untyped callers may get wrong are checked."""
    return value


def _common_document(
    first: type[BaseModel] | None, second: type[BaseModel] | None
) -> type[BaseModel] | None:
    """The document two conditions can both query (the subclass), or a clear error."""
    if first is None or second is None:
        return first or second
    if issubclass(first, second):
        return first
    if issubclass(second, first):
        return second
    raise TypeError(
        f"a condition on {first.__name__} cannot be combined with one on {second.__name__}"
    )


def as_condition(value: object, where: str) -> Expression:
    """``value`` if it is a condition; a clear error for a bool or anything else."""
    if isinstance(value, Expression):
        return value
    if isinstance(value, bool):
        raise TypeError(
            f"{where} got a bool ({value}), not a condition: conditions are built from the "
            "class (Post.views > 3), not from an instance (post.views > 3)"
        )
    raise TypeError(f"{where} takes conditions like Post.views > 3, not {type(value).__name__}")


class Expression:
    """A condition on a document class, compiled to a MongoDB filter by :meth:`to_filter`.

    Combine conditions with ``&``, ``|`` and ``~`` (or :func:`and_`, :func:`or_`,
    :func:`not_`); pass them to ``find``, ``one``, ``many``, ``count``.
    """

    __slots__ = ("document",)

    document: type[BaseModel] | None
    """The document class the condition is on (``None``: any, for :func:`raw` filters)."""

    def to_filter(self) -> dict[str, Any]:
        """The MongoDB filter of the condition, with stored names and encoded values."""
        raise NotImplementedError

    def shown(self) -> dict[str, Any]:
        """:meth:`to_filter` with the values of sensitive fields masked, for messages."""
        return self.to_filter()

    def __and__(self, other: Expression | bool) -> Expression:
        return And.of((self, as_condition(other, "&")))

    def __or__(self, other: Expression | bool) -> Expression:
        return Or.of((self, as_condition(other, "|")))

    def __invert__(self) -> Expression:
        return Not(self)

    def __bool__(self) -> NoReturn:
        raise TypeError(
            f"{self!r} is a query condition, not a bool: combine conditions with & | ~ (or "
            "and_(), or_(), not_()), never `and`/`or`/`not` or chained comparisons, and pass "
            "them to a query (find, one, many, count)"
        )

    def __repr__(self) -> str:
        return f"<Expression {self.shown()!r}>"


class Condition(Expression):
    """One field's condition: ``{stored path: operand}``."""

    __slots__ = ("_key", "_operand", "_sensitive")

    def __init__(self, document: type[BaseModel], key: str, operand: Any, sensitive: bool) -> None:
        self.document = document
        self._key = key
        self._operand = operand
        self._sensitive = sensitive

    def to_filter(self) -> dict[str, Any]:
        """The filter, as sent."""
        return {self._key: self._operand}

    def shown(self) -> dict[str, Any]:
        """The filter with sensitive values masked."""
        if not self._sensitive:
            condition = {self._key: self._operand}
            # A whole nested model (or a list of them) may hold sensitive values: only those
            # are masked, {"card": {"number": "***", "holder": ...}}.
            return condition if self.document is None else mask_filter(condition, self.document)
        operand: Any = self._operand
        if isinstance(operand, dict):
            # Operators stay visible, their operands are masked: {"$in": "***"}.
            operators = cast("dict[str, Any]", operand)
            return {self._key: dict.fromkeys(operators, SENSITIVE_PLACEHOLDER)}
        return {self._key: SENSITIVE_PLACEHOLDER}


def _is_operators(value: Any) -> TypeGuard[dict[str, Any]]:
    """Whether a filter value is a dict of operators (``{"$gt": 1}``), not a document."""
    return isinstance(value, dict) and all(key[0] == "$" for key in cast("dict[str, Any]", value))


def _merge(parts: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """One filter for all ``parts``, or ``None`` when their keys collide.

    Operators on one field merge: ``{"views": {"$gt": 1}}`` and ``{"views": {"$lt": 5}}`` make
    ``{"views": {"$gt": 1, "$lt": 5}}``.
    """
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key not in merged:
                merged[key] = value
                continue
            current = merged[key]
            if not (
                key[0] != "$"
                and _is_operators(current)
                and _is_operators(value)
                and current.keys().isdisjoint(value)
            ):
                return None
            merged[key] = {**current, **value}
    return merged


class Group(Expression):
    """Conditions joined by one logical operator; nested groups of the same kind are flattened."""

    __slots__ = ("_parts",)

    def __init__(self, parts: tuple[Expression, ...], document: type[BaseModel] | None) -> None:
        self.document = document
        self._parts = parts

    @classmethod
    def of(cls, parts: Iterable[Expression]) -> Expression:
        """The group of ``parts``, nested groups of the same kind flattened."""
        flat: list[Expression] = []
        document: type[BaseModel] | None = None
        for part in parts:
            document = _common_document(document, part.document)
            flat.extend(part._parts if isinstance(part, cls) else (part,))
        return flat[0] if len(flat) == 1 else cls(tuple(flat), document)

    def _combine(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError

    def to_filter(self) -> dict[str, Any]:
        """The filter, as sent."""
        return self._combine([part.to_filter() for part in self._parts])

    def shown(self) -> dict[str, Any]:
        """The filter with sensitive values masked."""
        return self._combine([part.shown() for part in self._parts])


class And(Group):
    """All of its conditions (``&``)."""

    __slots__ = ()

    def _combine(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged = _merge(parts)
        return merged if merged is not None else {"$and": parts}


class Or(Group):
    """Any of its conditions (``|``)."""

    __slots__ = ()

    def _combine(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        if not parts:
            return {"$nor": [{}]}  # no alternative: matches nothing
        return {"$or": parts}


class Not(Expression):
    """The negation of a condition (``~``)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Expression) -> None:
        self.document = inner.document
        self._inner = inner

    def __invert__(self) -> Expression:
        return self._inner

    # $not applies to one field's operators only; $nor negates any filter.
    def to_filter(self) -> dict[str, Any]:
        """The filter, as sent."""
        return {"$nor": [self._inner.to_filter()]}

    def shown(self) -> dict[str, Any]:
        """The filter with sensitive values masked."""
        return {"$nor": [self._inner.shown()]}


class Raw(Expression):
    """A filter sent exactly as written: no name translation, checks or value encoding."""

    __slots__ = ("_filter",)

    def __init__(self, filter: Mapping[str, Any]) -> None:
        given = untyped(filter)
        if not isinstance(given, Mapping):
            raise TypeError(f"raw() takes a dict in MongoDB syntax, not {type(given).__name__}")
        self.document = None
        self._filter = dict(filter)

    def to_filter(self) -> dict[str, Any]:
        """The filter (or update) as given."""
        return dict(self._filter)


class SortKey:
    """A sort key: a field and a direction (``1`` ascending, ``-1`` descending)."""

    __slots__ = ("direction", "field")

    field: PathSpec
    direction: int

    def __init__(self, field: PathSpec, direction: int) -> None:
        self.field = field
        self.direction = direction

    def __neg__(self) -> SortKey:
        return SortKey(self.field, -self.direction)

    def __repr__(self) -> str:
        return f"{'asc' if self.direction == 1 else 'desc'}({self.field.label})"
