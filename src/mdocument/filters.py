"""Compiling queries: filters and sorts from field expressions or dicts naming fields.

A query is a field expression (``Post.views > 10``, see :mod:`mdocument.expressions`) or a dict
in MongoDB syntax whose keys are field names (``"id"``, ``"address.city"``). Dict keys are
translated to stored names (``"_id"``, aliases) and checked, so a misspelled field raises
:class:`~mdocument.UnknownModelField` instead of silently matching nothing; values are encoded
the way documents encode them. ``raw({...})`` sends a filter as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard, cast

from pydantic import BaseModel

from mdocument.annotations import naive_datetime_at
from mdocument.codec import encode_value
from mdocument.exceptions import WrongQueryType
from mdocument.expressions import Expression, FieldPath, SortKey, spec_of
from mdocument.hierarchy import kind_filter
from mdocument.paths import PathSpec, is_operator_document, naive_error, path_of

if TYPE_CHECKING:
    from mdocument.mapping import DocumentMapping

__all__ = [
    "Pipeline",
    "Query",
    "SortSpec",
    "check_document",
    "compile_filter",
    "compile_sort",
    "stored_spec",
    "with_tiebreak",
]

Query = Mapping[str, Any] | Expression | bool | None
"""A filter: a field expression, a dict in MongoDB syntax naming the document's fields, or
``None`` for all. ``bool`` is there for type checkers, which see ``Post.views > 3`` as one."""

SortSpec = str | tuple[str, int] | SortKey | Sequence[str | tuple[str, int] | SortKey] | None
"""``asc(Post.title)``, ``desc(Post.created)``, ``"name"``, ``"-created"`` (descending),
``("name", 1)``, or a sequence of those."""

Pipeline = Sequence[Mapping[str, Any]]
"""An aggregation pipeline; a ``$match`` stage may hold a field expression."""


# Operators whose operand is a list of filters on the same document.
_LOGICAL = frozenset({"$and", "$or", "$nor"})


def check_document(mapping: DocumentMapping, document: type[BaseModel] | None) -> None:
    """Refuse an expression on another document class than the one queried."""
    if document is not None and not issubclass(mapping.document, document):
        raise TypeError(
            f"a condition on {document.__name__} cannot query {mapping.document.__name__}"
        )


def stored_spec(mapping: DocumentMapping, field: object) -> PathSpec:
    """The path a field argument names: a field expression, or a dotted name."""
    spec = path_of(mapping.document, field) if isinstance(field, str) else spec_of(field)
    check_document(mapping, spec.document)
    return spec


# -- filters ----------------------------------------------------------------------------------


def compile_filter(mapping: DocumentMapping, query: Query) -> dict[str, Any]:
    """The filter to send to MongoDB: stored names, encoded values, unknown fields refused."""
    kinds = kind_filter(mapping.document)  # a subclass in a hierarchy matches its subtree only
    compiled = _compile_query(mapping, query)
    return {**compiled, **kinds} if kinds else compiled


def _compile_query(mapping: DocumentMapping, query: Query) -> dict[str, Any]:
    if query is None:
        return {}
    if isinstance(query, Expression):
        check_document(mapping, query.document)
        return query.to_filter()
    if isinstance(query, bool):
        raise WrongQueryType(
            f"a {mapping.document.__name__} query got a bool ({query}): conditions are built "
            f"from the class ({mapping.document.__name__}.field > 3), not from an instance",
            document=mapping.document,
        )
    if isinstance(query, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
        return _compile_mapping(mapping, query)
    raise WrongQueryType(
        f"a {mapping.document.__name__} query is a condition (Doc.field == value) or a dict "
        f"in MongoDB syntax, not {type(query).__name__}",
        document=mapping.document,
    )


def _compile_mapping(mapping: DocumentMapping, query: Mapping[str, Any]) -> dict[str, Any]:
    compiled: dict[str, Any] = {}
    for key, value in query.items():
        if key in _LOGICAL:
            compiled[key] = [compile_filter(mapping, part) for part in value]
        elif key.startswith("$"):
            compiled[key] = value  # $expr, $text, $comment ...: left to the server
        else:
            spec = path_of(mapping.document, key).readable()
            encoded = encode_value(value)
            _check_operand(spec, value, encoded)
            compiled[spec.stored] = encoded
    return compiled


# Operators whose operand is a list of values, where a dict with $ keys is not allowed.
_VALUE_LISTS = frozenset({"$in", "$nin", "$all"})
# Operators whose operand holds more operators on the same field.
_NESTED = frozenset({"$not", "$elemMatch"})


def _check_operand(spec: PathSpec, value: Any, encoded: Any) -> None:
    """Refuse what the server would refuse (or misread) in a dict query's value for ``spec``.

    A naive datetime anywhere (it would be taken as UTC), and a dict with ``$`` keys in a list
    of values (``{"$in": [{"$ne": None}]}``), which the server fails on.
    """
    where = naive_datetime_at(encoded)
    if where is not None:
        raise naive_error(spec, value, where)
    if not isinstance(encoded, dict):
        return
    for operator, operand in cast("dict[str, Any]", encoded).items():
        if operator in _VALUE_LISTS and isinstance(operand, list):
            if any(is_operator_document(item) for item in cast("list[Any]", operand)):
                raise spec.wrong_value(
                    value,
                    f"{operator} takes values, and a dict whose keys start with $ would be read "
                    "as operators",
                )
        elif operator in _NESTED:
            _check_operand(spec, value, operand)


# -- sorts ------------------------------------------------------------------------------------


def compile_sort(mapping: DocumentMapping, sort: SortSpec) -> list[tuple[str, int]] | None:
    """A sort specification as the driver takes it, with stored names."""
    if sort is None:
        return None
    if isinstance(sort, (str, tuple, SortKey, FieldPath)):
        return [_sort_key(mapping, sort)]
    return [_sort_key(mapping, key) for key in sort]


def _sort_key(mapping: DocumentMapping, key: object) -> tuple[str, int]:
    if isinstance(key, SortKey):
        check_document(mapping, key.field.document)
        return key.field.stored, key.direction
    if isinstance(key, FieldPath):  # Post.title at runtime: ascending
        return stored_spec(mapping, key).readable().stored, 1
    if isinstance(key, str):
        name, direction = (key[1:], -1) if key.startswith("-") else (key, 1)
        return path_of(mapping.document, name).readable().stored, direction
    if _is_pair(key):
        field, order = key
        if isinstance(field, str):
            if isinstance(order, bool) or order not in (1, -1):
                raise ValueError(f"sort by {field!r}: a direction is 1 or -1, not {order!r}")
            return path_of(mapping.document, field).readable().stored, order
    raise TypeError(
        f"a sort key is asc(field), desc(field), 'name', '-name' or (name, 1 | -1), not {key!r}"
    )


def _is_pair(value: object) -> TypeGuard[tuple[object, int]]:
    return isinstance(value, tuple) and len(cast("tuple[object, ...]", value)) == 2


def with_tiebreak(sort: list[tuple[str, int]] | None) -> list[tuple[str, int]]:
    """The sort with each key once and ``_id`` last, so that the order is total."""
    keys: dict[str, int] = {}
    for path, direction in sort or ():
        keys.setdefault(path, direction)
    keys.setdefault("_id", 1)
    return list(keys.items())


# -- aggregation ------------------------------------------------------------------------------
