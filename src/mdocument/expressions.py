"""Field expressions: the typed query language built from document classes.

On a document class, a field name gives the field's expression (``Post.title``); comparing it
builds a condition that compiles to a MongoDB filter on the field's stored name::

    Post.find((Post.views > 10) & (Post.author.name == "Ada"))
    # {"views": {"$gt": 10}, "author.name": "Ada"}

Type checkers see ``Post.views`` as the field's declared type (``int``), so they check the
compared value, and ``Post.views > 10`` types as ``bool``, which every query API accepts. The
functions here (:func:`and_`, :func:`in_`, :func:`asc`...) are the forms type checkers accept
where an operator on the declared type would not type-check.

A value compared with a field is always a value: it is validated against the field's type
(leniently: ``"10"`` becomes ``10`` for an ``int`` field) and encoded the way documents encode
it, and a dict is matched literally (``{"$eq": {...}}``), never read as query operators. A value
that does not fit raises :class:`~mdocument.WrongValueType` naming the document and the field.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    NoReturn,
    TypeVar,
    cast,
    get_args,
    get_origin,
)

import bson

from mdocument.annotations import is_class
from mdocument.conditions import (
    And,
    Condition,
    Expression,
    Or,
    Raw,
    SortKey,
    as_condition,
    untyped,
)
from mdocument.paths import PathSpec, literal, root_spec
from mdocument.value_types import (
    ANY_TYPES,
    UNION_ORIGINS,
    is_operator_document,
    shown,
    type_name,
)

if TYPE_CHECKING:
    from mdocument.references import RefListField

__all__ = [
    "Expression",
    "FieldPath",
    "Raw",
    "SortKey",
    "and_",
    "asc",
    "contains",
    "desc",
    "exists",
    "field_expression",
    "in_",
    "not_",
    "not_in",
    "or_",
    "raw",
    "regex",
    "some",
    "spec_of",
]

_REGEX_OPTIONS = frozenset("imsxu")
_PATTERNS = (re.Pattern, bson.Regex)

T = TypeVar("T")


def field_expression(document: type[Any], name: str) -> FieldPath:
    """The query expression of a document field, as returned by ``Document.<field>``."""
    return FieldPath(root_spec(document, name))


def spec_of(field: object) -> PathSpec:
    """The :class:`PathSpec` behind a field expression; a clear error for anything else."""
    if isinstance(field, FieldPath):
        return field.__mdocument_path__
    raise TypeError(
        f"expected a field of a document class (like Post.title), not {shown(field, False)}; "
        "a value read from an instance (post.title) is not a field"
    )


class FieldPath:
    """A field (or a path into a nested model) of a document class: ``Post.author.name``.

    Comparisons build :class:`Expression` conditions, ``-Post.created`` a descending
    :class:`SortKey`, attribute access a path into a nested model (or a list of them) and
    indexing a list element (``Post.tags[0]``) or a field by name (``Post.author["exists"]``,
    for names the methods below take).
    """

    __slots__ = ("__mdocument_path__",)

    __hash__ = None  # type: ignore[assignment]  # == builds a condition, not a comparison

    def __init__(self, spec: PathSpec) -> None:
        self.__mdocument_path__ = spec

    # -- paths --------------------------------------------------------------------------------

    def __getattr__(self, name: str) -> FieldPath:
        if name.startswith("_"):
            raise AttributeError(name)
        return FieldPath(self.__mdocument_path__.child(name))

    def __getitem__(self, key: int | str) -> FieldPath:
        if isinstance(key, int) and key < 0:
            raise IndexError(f"{self.__mdocument_path__.label}: list paths take indexes >= 0")
        return FieldPath(self.__mdocument_path__.child(str(key)))

    # -- conditions ----------------------------------------------------------------------------

    def _compare(self, operator: str, value: Any) -> Expression:
        spec = self.__mdocument_path__.readable()
        if isinstance(value, FieldPath):
            raise TypeError(
                f"{spec.label} is compared with another field ({value!r}); comparing two "
                'fields needs an aggregation expression: raw({"$expr": ...})'
            )
        if value is None and operator in ("$eq", "$ne"):
            encoded = None  # matches a null or missing value, whatever the type
        else:
            encoded = spec.check(value, item=not isinstance(value, (list, tuple, set, frozenset)))
        operand: Any
        if operator == "$eq":
            operand = literal(encoded)
        elif isinstance(encoded, _PATTERNS):
            # A pattern given as a value (a field of any value may hold one) is compared as a
            # value: $eq takes it literally, where $ne or $gt would fail on the server.
            if operator != "$ne":
                raise spec.wrong_value(
                    value, "a pattern compares only with == and != (regex() matches one)"
                )
            operand = {"$not": {"$eq": cast("Any", encoded)}}
        else:
            operand = {operator: encoded}
        return Condition(spec.document, spec.stored, operand, spec.sensitive)

    def __eq__(self, value: object) -> Expression:  # type: ignore[override]
        return self._compare("$eq", value)

    def __ne__(self, value: object) -> Expression:  # type: ignore[override]
        return self._compare("$ne", value)

    def __lt__(self, value: object) -> Expression:
        return self._compare("$lt", value)

    def __le__(self, value: object) -> Expression:
        return self._compare("$lte", value)

    def __gt__(self, value: object) -> Expression:
        return self._compare("$gt", value)

    def __ge__(self, value: object) -> Expression:
        return self._compare("$gte", value)

    def contains(self, value: object) -> Expression:
        """The list field holds ``value`` (an element equal to it)."""
        spec = self.__mdocument_path__.readable()
        if not (spec.many or spec.free):
            hint = " (for text: regex(field, re.escape(text)))" if spec.item is str else ""
            raise TypeError(f"{spec.label} is not a list: contains() tests list elements{hint}")
        encoded = None if value is None else spec.check(value, item=True)
        return Condition(spec.document, spec.stored, literal(encoded), spec.sensitive)

    def in_(self, values: Iterable[object]) -> Expression:
        """The field's value (an element, for a list) is one of ``values``."""
        return self._membership("$in", values)

    def not_in(self, values: Iterable[object]) -> Expression:
        """The field's value (every element, for a list) is none of ``values``."""
        return self._membership("$nin", values)

    def _membership(self, operator: str, values: Iterable[object]) -> Expression:
        spec = self.__mdocument_path__.readable()
        given = untyped(values)  # a str is iterable too, and a common mistake here
        if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
            raise TypeError(
                f"{spec.label}: {operator[1:]}() takes a list of values, "
                f"not {type(values).__name__}"
            )
        encoded = [None if value is None else spec.check(value, item=True) for value in values]
        for value, stored in zip(values, encoded, strict=True):
            if is_operator_document(stored) or isinstance(stored, _PATTERNS):
                # $in would read the one as operators (the server refuses them) and match the
                # other as a pattern: a value must stay a value.
                raise spec.wrong_value(
                    value,
                    f"{operator[1:]}() takes values, and {operator} would read a dict whose keys "
                    "start with $ as operators, a pattern as a pattern; compare it with == "
                    "instead",
                    item=True,
                )
        return Condition(spec.document, spec.stored, {operator: encoded}, spec.sensitive)

    def exists(self, present: bool = True) -> Expression:
        """The field is present in the stored document (``present=False``: missing)."""
        spec = self.__mdocument_path__.readable()
        given = untyped(present)
        if not isinstance(given, bool):
            raise TypeError(f"{spec.label}: exists() takes True or False, not {given!r}")
        return Condition(spec.document, spec.stored, {"$exists": present}, False)

    def regex(self, pattern: str | re.Pattern[str], options: str = "") -> Expression:
        """The text field matches a regular expression (``options``: ``i``, ``m``, ``s``, ``x``).

        ``pattern`` is a regular expression: escape text from users with ``re.escape``.
        """
        spec = self.__mdocument_path__.readable()
        if isinstance(pattern, re.Pattern):
            flags = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s", re.VERBOSE: "x"}
            options += "".join(letter for flag, letter in flags.items() if pattern.flags & flag)
            pattern = pattern.pattern
        given = untyped(pattern)
        if not isinstance(given, str):
            raise spec.wrong_value(given, "regex() takes a pattern as a str")
        if not set(options) <= _REGEX_OPTIONS:
            raise ValueError(f"{spec.label}: regex options are among 'imsx', not {options!r}")
        if not (spec.free or _is_text(spec.item)):
            raise TypeError(f"{spec.label} holds {type_name(spec.item)} values, not text")
        operand = {"$regex": pattern, "$options": options} if options else {"$regex": pattern}
        return Condition(spec.document, spec.stored, operand, spec.sensitive)

    # -- sort keys -----------------------------------------------------------------------------

    def asc(self) -> SortKey:
        """Sort by this field, ascending."""
        return SortKey(self.__mdocument_path__.readable(), 1)

    def desc(self) -> SortKey:
        """Sort by this field, descending."""
        return SortKey(self.__mdocument_path__.readable(), -1)

    def __pos__(self) -> SortKey:
        return SortKey(self.__mdocument_path__.readable(), 1)

    def __neg__(self) -> SortKey:
        return SortKey(self.__mdocument_path__.readable(), -1)

    # -- misuse ----------------------------------------------------------------------------------

    def __bool__(self) -> NoReturn:
        raise TypeError(
            f"{self!r} is a field of the class, not a value: compare it to build a condition "
            "(Post.views > 3), or read the value from an instance (post.views)"
        )

    def __iter__(self) -> NoReturn:
        raise TypeError(f"{self!r} is a field, not a list: use contains({self!r}, value)")

    def __contains__(self, value: object) -> NoReturn:
        raise TypeError(f"`in` cannot build a condition: use contains({self!r}, value)")

    def _precedence(self, other: object) -> NoReturn:
        raise TypeError(
            f"{self!r} is combined with & or | before being compared: & | ~ bind tighter than "
            "comparisons, so put each condition in parentheses: (Post.views > 3) & (...)"
        )

    __and__ = __rand__ = __or__ = __ror__ = _precedence

    def __repr__(self) -> str:
        return self.__mdocument_path__.label


def _is_text(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_text(get_args(annotation)[0])
    if origin in UNION_ORIGINS:
        return any(_is_text(arg) for arg in get_args(annotation) if arg is not type(None))
    if origin is Literal:
        return all(isinstance(arg, str) for arg in get_args(annotation))
    return annotation in ANY_TYPES or (is_class(annotation) and issubclass(annotation, str))


# -- the typed forms -----------------------------------------------------------------------------


def and_(*conditions: Expression | bool) -> Expression:
    """All of the conditions hold (``and_()``: every document)."""
    return And.of(as_condition(condition, "and_()") for condition in conditions)


def or_(*conditions: Expression | bool) -> Expression:
    """At least one of the conditions holds (``or_()``: no document)."""
    return Or.of(as_condition(condition, "or_()") for condition in conditions)


def not_(condition: Expression | bool) -> Expression:
    """The condition does not hold (``~condition`` at runtime; ``~`` on a bool types as int)."""
    return ~as_condition(condition, "not_()")


def _as_field(field: object) -> FieldPath:
    if isinstance(field, FieldPath):
        return field
    spec_of(field)  # raises the error that explains what a field is
    raise AssertionError  # pragma: no cover


def in_(field: object, values: Iterable[object]) -> Expression:
    """The field's value (an element, for a list field) is one of ``values``."""
    return _as_field(field).in_(values)


def not_in(field: object, values: Iterable[object]) -> Expression:
    """The field's value (every element, for a list field) is none of ``values``."""
    return _as_field(field).not_in(values)


def contains(field: Collection[Any] | RefListField[Any] | None, value: object) -> Expression:
    """The list field holds an element equal to ``value``: ``contains(Post.tag_ids, tag.id)``."""
    return _as_field(field).contains(value)


def exists(field: object, present: bool = True) -> Expression:
    """The field is present in the stored document (``present=False``: it is missing)."""
    return _as_field(field).exists(present)


def regex(
    field: str | Iterable[str] | None, pattern: str | re.Pattern[str], options: str = ""
) -> Expression:
    """The text field matches a regular expression; escape user text with ``re.escape``."""
    return _as_field(field).regex(pattern, options)


def asc(field: object) -> SortKey:
    """Sort by ``field``, ascending: ``Post.find().sort(asc(Post.title))``."""
    return SortKey(spec_of(field), 1)


def desc(field: object) -> SortKey:
    """Sort by ``field``, descending: ``Post.find().sort(desc(Post.created))``."""
    return SortKey(spec_of(field), -1)


def raw(filter: Mapping[str, Any]) -> Raw:
    """The escape hatch: a filter (or an update) sent as written, unchecked.

    Dict queries are checked against the document's fields; ``raw({...})`` is not, so it can
    name fields the class does not declare. Never put request data in it.
    """
    return Raw(filter)


def some(field: T | None) -> T:
    """An optional field, as type checkers should see it in a condition: without ``None``.

    ``Author.address.city`` and ``Author.born < when`` are conditions at runtime, but where the
    field is declared ``Address | None`` or ``datetime | None`` a type checker refuses them
    (``None`` has no ``city``, and no ``<``). ``some(Author.address).city == "London"`` and
    ``some(Author.born) < when`` type-check, and build the same conditions: they match the
    documents where the field holds a value. Returns ``field`` itself at runtime.
    """
    return cast("T", _as_field(field))
