"""Field paths: what mdocument knows about ``Post.author.name`` in a document class.

A :class:`PathSpec` resolves a dotted path of field names to stored names (aliases, ``id`` →
``_id``), knows the type of its values and validates them (leniently, without the field's
constraints), and says whether the path is sensitive. Expressions, updates, sorts and page tokens
are all built on it; it does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
)

import bson
from pydantic import BaseModel, TypeAdapter, ValidationError

from mdocument.annotations import NAIVE_DATETIME, model_type, naive_datetime_at, shape_of
from mdocument.codec import encode_value
from mdocument.exceptions import UnknownModelField, WrongValueType
from mdocument.fields import field_spec
from mdocument.mapping import resolve_path
from mdocument.masking import SENSITIVE_PLACEHOLDER, mask_at
from mdocument.names import ARRAY_SEGMENT
from mdocument.value_types import (
    ANY_TYPES,
    NO_TYPE,
    SCALARS,
    declared_type,
    exact_type,
    is_operator_document,
    item_of,
    mapping_values,
    shown,
    type_name,
    without_constraints,
)

if TYPE_CHECKING:
    from mdocument.mapping import DocumentMapping

__all__ = [
    "PathSpec",
    "is_operator_document",
    "literal",
    "naive_error",
    "path_of",
    "root_spec",
    "shown",
    "type_name",
    "without_constraints",
]


# Cache of the root paths, kept on each document class (dunder names are never fields, and the
# cache lives and dies with the class). Their type adapters are built once, on first use.
_CACHE = "__mdocument_paths__"


# -- field paths ---------------------------------------------------------------------------------


def naive_error(spec: PathSpec, value: Any, where: str) -> WrongValueType:
    """The error for a naive datetime in a value given for ``spec``."""
    at = f" (at {where})" if where else ""
    return WrongValueType(
        f"{spec.label}: {shown(value, spec.sensitive)}{at}: {NAIVE_DATETIME}",
        document=spec.document,
        field=spec.name,
    )


class PathSpec:
    """What mdocument knows about one field path of a document: names, type and validation.

    Built once per path and cached; the type adapters that validate values are built on first
    use. ``FieldPath`` (what ``Post.title`` is at runtime) wraps one.
    """

    __slots__ = (
        "_adapters",
        "_children",
        "_exact",
        "_item_exact",
        "annotation",
        "declared",
        "declared_item",
        "document",
        "free",
        "item",
        "many",
        "multi",
        "name",
        "nested",
        "optional",
        "positional",
        "removable",
        "sensitive",
        "stored",
    )

    document: type[BaseModel]
    """The document class the path starts from."""
    name: str
    """The dotted path of Python field names (``"author.name"``, ``"tags.0"``)."""
    stored: str
    """The dotted path of stored names (``"_id"``, aliases)."""
    annotation: Any
    """The type query values of the path are validated against (without constraints)."""
    declared: Any
    """The declared type, constraints included: what written values must satisfy."""
    declared_item: Any
    """The declared type of one element when the path holds a list, else ``declared``."""
    item: Any
    """The type of one element when the path holds a list, else ``annotation``."""
    many: bool
    """Whether the path holds a list."""
    multi: bool
    """Whether a document may hold several values at this path (it is or is inside a list)."""
    optional: bool
    """Whether ``None`` is a valid value."""
    removable: bool
    """Whether the value may be missing from a stored document (``$unset``)."""
    nested: type[BaseModel] | None
    """The pydantic model of the values (or of the elements), if any."""
    sensitive: bool
    """Whether the path is in a sensitive field: its values are masked in messages."""
    free: bool
    """Whether the path is below a ``dict`` or ``Any`` value, where names and values are free."""
    positional: bool
    """Whether the path has an update's positional segment (``$``, ``$[]``, ``$[name]``)."""

    def __init__(
        self,
        document: type[BaseModel],
        name: str,
        stored: str,
        annotation: Any,
        *,
        sensitive: bool,
        removable: bool,
        multi: bool = False,
        free: bool = False,
    ) -> None:
        self.document = document
        self.name = name
        self.stored = stored
        self.positional = any(segment.startswith("$") for segment in name.split("."))
        self.declared = annotation
        annotation = without_constraints(annotation)
        self.annotation = annotation
        self.sensitive = sensitive
        self.removable = removable
        shape = shape_of(annotation)
        self.free = free or (shape.item in ANY_TYPES and not shape.many)
        self.many = shape.many
        self.multi = multi or shape.many
        self.optional = shape.optional or self.free
        self.nested = model_type(annotation)
        item = item_of(annotation) if shape.many else annotation
        self.item = annotation if item is NO_TYPE else item
        declared_item = item_of(self.declared) if shape.many else self.declared
        self.declared_item = self.declared if declared_item is NO_TYPE else declared_item
        self._adapters: dict[tuple[bool, bool], TypeAdapter[Any]] = {}
        self._children: dict[str, PathSpec] = {}
        self._exact = exact_type(annotation)
        self._item_exact = exact_type(self.item) if shape.many else self._exact

    def readable(self) -> PathSpec:
        """The path, for a filter, a sort or a projection: positional segments refused.

        ``$``, ``$[]`` and ``$[name]`` address the matched elements of an update; the server
        refuses them anywhere else.
        """
        if self.positional:
            raise UnknownModelField(
                f"{self.label}: $, $[] and $[name] address elements in updates only; "
                "a filter or a sort names a field or an element index",
                document=self.document,
                field=self.name,
            )
        return self

    @property
    def label(self) -> str:
        """``Post.author.name``: how messages name the path."""
        return f"{self.document.__name__}.{self.name}"

    def child(self, segment: str) -> PathSpec:
        """The path one level down: a field of the nested model, or a list element."""
        found = self._children.get(segment)
        if found is None:
            found = self._children[segment] = self._make_child(segment)
        return found

    def _make_child(self, segment: str) -> PathSpec:
        name, stored = f"{self.name}.{segment}", f"{self.stored}.{segment}"
        if self.free:
            return PathSpec(
                self.document, name, stored, Any, sensitive=self.sensitive, removable=True,
                multi=self.multi, free=True,
            )  # fmt: skip
        if ARRAY_SEGMENT.match(segment):
            if not self.many:
                raise UnknownModelField(
                    f"{self.label} is not a list: {segment!r} in {name!r} addresses an element",
                    document=self.document,
                    field=name,
                )
            item = shape_of(self.item)
            return PathSpec(
                self.document, name, stored, self.declared_item, sensitive=self.sensitive,
                removable=item.optional, multi=True,
            )  # fmt: skip
        model = self.nested
        values = mapping_values(shape_of(self.declared_item).item)
        if model is None and values is not NO_TYPE:
            return PathSpec(
                self.document, name, stored, values, sensitive=self.sensitive, removable=True,
                multi=self.multi,
            )  # fmt: skip
        if model is None:
            raise UnknownModelField(
                f"{self.label} holds {type_name(self.item)} values, which have no field "
                f"{segment!r}",
                document=self.document,
                field=name,
            )
        try:
            stored_segment = resolve_path(model, name, [segment])[0]
        except UnknownModelField as error:
            raise UnknownModelField(
                f"{self.document.__name__} has no field {name!r}: {error}",
                document=self.document,
                field=name,
            ) from None
        fields = model.__pydantic_fields__
        info = fields.get(segment)
        if info is None:  # named by its alias
            segment, info = next(
                (key, field)
                for key, field in fields.items()
                if (field.serialization_alias or field.alias or key) == stored_segment
            )
            name = f"{self.name}.{segment}"
        return PathSpec(
            self.document,
            name,
            f"{self.stored}.{stored_segment}",
            declared_type(info),
            sensitive=self.sensitive or field_spec(info).sensitive,
            removable=not info.is_required(),
            multi=self.multi,
        )

    def _adapter_for(self, item: bool, write: bool = False) -> TypeAdapter[Any]:
        key = (item and self.many, write)
        adapter = self._adapters.get(key)
        if adapter is None:
            if write:
                annotation = self.declared_item if key[0] else self.declared
            else:
                annotation = self.item if key[0] else self.annotation
            adapter = self._adapters[key] = TypeAdapter(annotation)
        return adapter

    def validate(self, value: Any, *, item: bool = False, write: bool = False) -> Any:
        """``value`` validated against the path's type (its element type, with ``item``).

        Query values are held to the type only; with ``write`` (a value an update writes) to
        the declared constraints too. Raises :class:`~mdocument.WrongValueType` naming the
        document and the field, with the value masked when the field is sensitive.
        """
        if self.free:
            return value
        try:
            return self._adapter_for(item, write).validate_python(value)
        except ValidationError as exc:
            raise self.wrong_value(value, exc, item=item) from None

    def check(self, value: Any, *, item: bool = False, write: bool = False) -> Any:
        """The stored form of ``value``, validated as :meth:`validate` does.

        A naive datetime anywhere in it is refused (it would be stored as if it were UTC),
        whatever the field's type.
        """
        if not write and type(value) is (self._item_exact if item else self._exact):
            encoded = value  # already the field's type: validation would return it as it is
        else:
            encoded = encode_value(self.validate(value, item=item, write=write))
        where = naive_datetime_at(encoded)
        if where is not None:
            raise naive_error(self, value, where)
        return encoded

    def _masked(self, value: Any) -> Any:
        # A value of a path that is not sensitive itself may still hold sensitive ones
        # ({"number": SECRET, ...} for a card whose number is): those are masked in place.
        if self.sensitive:
            return value
        try:
            return mask_at(self.document, self.stored, value)
        except Exception:  # a path mask_at cannot follow: show nothing of the value
            return SENSITIVE_PLACEHOLDER

    def wrong_value(
        self, value: Any, error: ValidationError | str, *, item: bool = False
    ) -> WrongValueType:
        """The error for a value that does not fit the path (masked if sensitive)."""
        if isinstance(error, ValidationError):
            first = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            detail = first["msg"] + (f" (at {where})" if where else "")
        else:
            detail = error
        expected = type_name(self.item if item and self.many else self.annotation)
        return WrongValueType(
            f"{self.label}: {shown(self._masked(value), self.sensitive)} does not fit the field "
            f"({expected}): {detail}",
            document=self.document,
            field=self.name,
        )

    def __repr__(self) -> str:
        return f"<PathSpec {self.label} -> {self.stored!r}>"


def root_spec(document: type[BaseModel], name: str) -> PathSpec:
    """The :class:`PathSpec` of a top-level field (by name or stored name), built once."""
    cache: dict[str, PathSpec] | None = document.__dict__.get(_CACHE)
    if cache is None:
        cache = {}
        setattr(document, _CACHE, cache)
    spec = cache.get(name)
    if spec is None:
        spec = cache[name] = _new_root(document, name)
    return spec


def _new_root(document: type[BaseModel], name: str) -> PathSpec:
    mapping: DocumentMapping | None = document.__dict__.get("__mdocument_mapping__")
    if mapping is None:
        raise AttributeError(f"{document.__name__} is not a document class with fields")
    field = mapping.fields.get(name) or mapping.by_stored.get(name)
    if field is None:
        mapping.stored_path(name)  # raises UnknownModelField, with a hint
        raise AssertionError(name)  # pragma: no cover
    return PathSpec(
        document,
        field.name,
        field.stored,
        declared_type(field.info),
        sensitive=field.spec.sensitive,
        removable=not field.info.is_required(),
    )


def path_of(document: type[BaseModel], path: str) -> PathSpec:
    """The :class:`PathSpec` of a dotted path of field (or stored) names in a document."""
    first, *rest = path.split(".")
    spec = root_spec(document, first)
    for segment in rest:
        spec = spec.child(segment)
    return spec


def literal(value: Any) -> Any:
    """A stored value as an equality operand: documents and patterns wrapped in ``$eq``.

    ``{"title": {"$ne": None}}`` would be read as an operator and ``{"title": re.compile(...)}``
    as a pattern; ``{"title": {"$eq": ...}}`` matches them literally.
    """
    if type(value) in SCALARS:
        return value
    if isinstance(value, (Mapping, re.Pattern, bson.Regex)):
        wrapped: dict[str, Any] = {"$eq": value}
        return wrapped
    return value
