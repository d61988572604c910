"""Field paths: what mdocument knows about ``Post.author.name`` in a document class.

A :class:`PathSpec` resolves a dotted path of field names to stored names (aliases, ``id`` →
``_id``), knows the type of its values and validates them (leniently, without the field's
constraints), and says whether the path is sensitive. Expressions, updates, sorts and page tokens
are all built on it; it does no I/O.
"""

from __future__ import annotations

import datetime
import re
import types
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    Union,
    cast,
    get_args,
    get_origin,
)

import annotated_types
import bson
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from mdocument.annotations import NAIVE_DATETIME, model_type, naive_datetime_at, shape_of
from mdocument.codec import encode_value
from mdocument.exceptions import UnknownModelField, WrongValueType
from mdocument.fields import FieldSpec, field_spec
from mdocument.mapping import resolve_path
from mdocument.masking import SENSITIVE_PLACEHOLDER, mask_at
from mdocument.names import ARRAY_SEGMENT
from mdocument.types import ObjectId

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

_LIST_ORIGINS: tuple[Any, ...] = (list, tuple, set, frozenset, Collection, Iterable)
UNION_ORIGINS: tuple[Any, ...] = (Union, types.UnionType)
ANY_TYPES: tuple[Any, ...] = (Any, object)
_MAPPING_ORIGINS: tuple[Any, ...] = (dict, Mapping)
_NO_TYPE = object()  # "no such type", where None would be ambiguous

# Cache of the root paths, kept on each document class (dunder names are never fields, and the
# cache lives and dies with the class). Their type adapters are built once, on first use.
_CACHE = "__mdocument_paths__"


# -- field paths ---------------------------------------------------------------------------------


def _declared_type(info: FieldInfo) -> Any:
    """The annotation of a field with all its metadata: what written values must satisfy."""
    if not info.metadata:
        return info.annotation
    annotated: Any = Annotated
    return annotated[tuple([info.annotation, *info.metadata])]


def _loose_metadata(item: Any) -> list[Any]:
    """The metadata of an ``Annotated`` that query values keep (constraints left out)."""
    if isinstance(item, FieldInfo):  # Annotated[str, Field(max_length=3)] inside a type
        return [kept for inner in item.metadata for kept in _loose_metadata(inner)]
    if isinstance(item, StringConstraints):
        if not (item.strip_whitespace or item.to_upper or item.to_lower):
            return []
        transforms = StringConstraints(
            strip_whitespace=item.strip_whitespace,
            to_upper=item.to_upper,
            to_lower=item.to_lower,
        )
        return [transforms]
    if isinstance(item, (annotated_types.BaseMetadata, annotated_types.GroupedMetadata, FieldSpec)):
        return []
    return [item]


def without_constraints(annotation: Any) -> Any:
    """``annotation`` with its constraints removed, at any depth; itself when it has none.

    What query values are validated against: the field's type, not its constraints (``gt=0``,
    ``max_length=3``, ``strict=True``, ``pattern=``...), however they are declared
    (``Field(max_length=3)``, ``Annotated[str, StringConstraints(...)]``, ``conint(gt=0)``, in
    a list or an optional). A query may compare a field with any value of its type (``views >
    -1``; ``name == "too long"`` matches nothing), and values from query strings arrive as
    text. Type-defining metadata (``ObjectId``'s validator, custom validators) and string
    transformations (``to_lower=True``: the stored values were transformed) are kept.
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        kept = [loose for item in metadata for loose in _loose_metadata(item)]
        bare = without_constraints(inner)
        if (
            bare is inner
            and len(kept) == len(metadata)
            and all(a is b for a, b in zip(kept, metadata, strict=True))
        ):
            return annotation
        if not kept:
            return bare
        annotated: Any = Annotated
        return annotated[tuple([bare, *kept])]
    args = get_args(annotation)
    if origin is None or origin is Literal or not args:
        return annotation
    loose = tuple(arg if arg is Ellipsis else without_constraints(arg) for arg in args)
    if all(a is b for a, b in zip(loose, args, strict=True)):
        return annotation
    if origin in UNION_ORIGINS:
        return Union[loose]  # noqa: UP007 - built from a runtime tuple
    try:
        return origin[loose]
    except TypeError:  # a generic that cannot be rebuilt from its origin: keep it whole
        return annotation


def naive_error(spec: PathSpec, value: Any, where: str) -> WrongValueType:
    """The error for a naive datetime in a value given for ``spec``."""
    at = f" (at {where})" if where else ""
    return WrongValueType(
        f"{spec.label}: {shown(value, spec.sensitive)}{at}: {NAIVE_DATETIME}",
        document=spec.document,
        field=spec.name,
    )


def is_operator_document(value: Any) -> bool:
    """Whether a value is a dict with a key starting with ``$``.

    MongoDB reads such a dict as operators wherever ``$eq`` does not wrap it (in ``$in``...).
    """
    return isinstance(value, Mapping) and any(
        isinstance(key, str) and key.startswith("$") for key in cast("Mapping[Any, Any]", value)
    )


def _item_of(annotation: Any) -> Any:
    """The element annotation of a list annotation, metadata kept; ``_NO_TYPE`` if not a list."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _item_of(get_args(annotation)[0])
    if origin in UNION_ORIGINS:
        for arg in get_args(annotation):
            item = _NO_TYPE if arg is type(None) else _item_of(arg)
            if item is not _NO_TYPE:
                return item
        return _NO_TYPE
    if annotation in _LIST_ORIGINS:
        return Any
    if origin in _LIST_ORIGINS:
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        return args[0] if args else Any
    return _NO_TYPE


# Types whose values pydantic validates into themselves, and the driver encodes as they are.
_SCALARS: frozenset[Any] = frozenset(
    {str, int, float, bool, bytes, bson.ObjectId, datetime.datetime, uuid.UUID, type(None)}
)


def _exact_type(annotation: Any) -> Any:
    """The class whose instances need no validation for this annotation, or ``None``."""
    if annotation in _SCALARS:
        return annotation
    if annotation == ObjectId:  # the validator only converts strings
        return bson.ObjectId
    return None


def _mapping_values(annotation: Any) -> Any:
    """The value annotation of a ``dict`` (or ``Any``) annotation; ``_NO_TYPE`` otherwise."""
    if annotation in ANY_TYPES or annotation in _MAPPING_ORIGINS:
        return Any
    if get_origin(annotation) in _MAPPING_ORIGINS:
        args = get_args(annotation)
        return args[1] if len(args) == 2 else Any
    return _NO_TYPE


def type_name(annotation: Any) -> str:
    """A short readable name of an annotation, for messages."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "").replace("bson.objectid.", "")


def shown(value: Any, sensitive: bool) -> str:
    """A value as a message may show it: masked when sensitive, cut when long."""
    if sensitive:
        return SENSITIVE_PLACEHOLDER
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


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
        item = _item_of(annotation) if shape.many else annotation
        self.item = annotation if item is _NO_TYPE else item
        declared_item = _item_of(self.declared) if shape.many else self.declared
        self.declared_item = self.declared if declared_item is _NO_TYPE else declared_item
        self._adapters: dict[tuple[bool, bool], TypeAdapter[Any]] = {}
        self._children: dict[str, PathSpec] = {}
        self._exact = _exact_type(annotation)
        self._item_exact = _exact_type(self.item) if shape.many else self._exact

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
        values = _mapping_values(shape_of(self.declared_item).item)
        if model is None and values is not _NO_TYPE:
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
            _declared_type(info),
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
        _declared_type(field.info),
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
    if type(value) in _SCALARS:
        return value
    if isinstance(value, (Mapping, re.Pattern, bson.Regex)):
        wrapped: dict[str, Any] = {"$eq": value}
        return wrapped
    return value
