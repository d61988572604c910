"""How a document class maps to a collection: stored names, metadata, indexes and paths.

A :class:`DocumentMapping` is built once, when the class is created, from pydantic's field
information and the class's ``Meta``; it does no I/O. The repository, the relation graph and the
query compiler all read it instead of inspecting the class again.
"""

from __future__ import annotations

import decimal
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, cast

from pydantic import AliasChoices, BaseModel

from mdocument.annotations import (
    Shape,
    mentions,
    model_type,
    shape_of,
)
from mdocument.exact import Check, equality_names, exact_check, stored_check
from mdocument.exceptions import (
    DocumentException,
    RelationNotSet,
    UnknownModelField,
    WrongModelFieldType,
)
from mdocument.fields import FieldSpec, field_spec
from mdocument.hierarchy import KIND_FIELD, kind_of, polymorphic_root
from mdocument.indexes import Index
from mdocument.instance_diff import Form, Walk, instance_form, instance_walk
from mdocument.kinds import TimeSeries, View, time_series_of, view_of
from mdocument.masking import sensitive_path
from mdocument.names import ARRAY_SEGMENT, ID_FIELD, STORED_ID
from mdocument.utc import Attach, utc_attacher

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = ["ARRAY_SEGMENT", "ID_FIELD", "DocumentMapping", "FieldMapping", "collection_name"]


def collection_name(document_name: str) -> str:
    """The default collection of a document class: ``BlogPost`` is stored in ``blog_post``."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", document_name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


@dataclass(frozen=True)
class FieldMapping:
    """One field of a document: its Python name, stored name and metadata."""

    name: str
    stored: str
    info: FieldInfo
    spec: FieldSpec

    @property
    def shape(self) -> Shape:
        """Single or list, optional or not, and the value type."""
        return shape_of(self.info.annotation)


def _stored_name(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    stored = info.serialization_alias or info.alias or name
    accepted = info.validation_alias
    if accepted is None or stored == name:
        return stored
    choices = accepted.choices if isinstance(accepted, AliasChoices) else [accepted]
    if stored not in choices:
        raise WrongModelFieldType(
            f"{model.__name__}.{name}: it is stored as {stored!r} (its serialization alias) but "
            f"read back through {accepted!r}; give it one alias= instead",
            document=model,
            field=name,
        )
    return stored


@cache
def _model_fields(model: type[BaseModel]) -> dict[str, str]:
    """Name → stored name of every field of a (nested) pydantic model, aliases included."""
    names: dict[str, str] = {}
    for name, info in model.__pydantic_fields__.items():
        stored = _stored_name(model, name, info)
        names[name] = stored
        names.setdefault(stored, stored)
    return names


def _unknown_field(model: type[BaseModel], path: str, segment: str) -> UnknownModelField:
    known = [name for name in model.__pydantic_fields__ if not name.startswith("_")]
    close = difflib.get_close_matches(segment, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (fields: {', '.join(known)})"
    return UnknownModelField(
        f"{model.__name__} has no field {segment!r} in {path!r}{hint}", document=model, field=path
    )


def resolve_path(model: type[BaseModel] | None, path: str, segments: list[str]) -> list[str]:
    """Translate path segments of field names, inside ``model``, into stored names.

    Segments that address list elements (``0``, ``$``, ``$[]``, ``$[name]``) are kept; below a
    field typed ``dict`` or ``Any`` (``model`` is ``None``) the rest of the path is free.
    ``path`` is the whole path, for error messages.
    """
    current = model
    stored: list[str] = []
    for position, segment in enumerate(segments):
        if current is None:
            stored.extend(segments[position:])
            break
        if ARRAY_SEGMENT.match(segment):
            stored.append(segment)
            continue
        names = _model_fields(current)
        if segment not in names:
            raise _unknown_field(current, path, segment)
        stored.append(names[segment])
        info = current.__pydantic_fields__.get(segment)
        if info is None:  # addressed by its stored name
            info = next(
                field
                for name, field in current.__pydantic_fields__.items()
                if _stored_name(current, name, field) == segment
            )
        current = model_type(info.annotation)
    return stored


class DocumentMapping:
    """Everything mdocument knows about one document class, computed without I/O."""

    def __init__(self, document: type[BaseModel]) -> None:
        self.document = document
        meta: Any = document.__dict__.get("Meta")
        own: Mapping[str, Any] = meta.__dict__ if meta is not None else {}
        self.abstract: bool = bool(own.get("abstract", False))
        self.collection: str = getattr(meta, "collection", None) or collection_name(
            document.__name__
        )
        root = polymorphic_root(document)
        self.kind: str | None = kind_of(document) if root is not None else None
        """The stored discriminator of a class of a hierarchy (see :mod:`mdocument.hierarchy`)."""
        if root is not None and root is not document:  # a subclass shares the root's collection
            self.collection = root.__dict__["__mdocument_mapping__"].collection
        self.fields: dict[str, FieldMapping] = {}
        for name, info in document.__pydantic_fields__.items():
            if info.exclude:
                raise WrongModelFieldType(
                    f"{document.__name__}.{name} has exclude=True, but mdocument stores every "
                    "field; use Field(sensitive=True) to keep a value out of JSON output",
                    document=document,
                    field=name,
                )
            stored = STORED_ID if name == ID_FIELD else _stored_name(document, name, info)
            spec = field_spec(info)
            if (spec.relation or spec.on_delete) and spec.target is None:
                raise RelationNotSet(
                    f"{document.__name__}.{name}: relation= and on_delete= need related= or "
                    "synced= (or a Ref[...] type)",
                    document=document,
                    field=name,
                )
            self.fields[name] = FieldMapping(name, stored, info, spec)
        self.by_stored: dict[str, FieldMapping] = {f.stored: f for f in self.fields.values()}
        self.sensitive: frozenset[str] = frozenset(
            name for name, field in self.fields.items() if field.spec.sensitive
        )
        self.unique_fields: tuple[FieldMapping, ...] = tuple(
            field for field in self.fields.values() if field.spec.unique
        )
        declared: list[object] = list(getattr(meta, "indexes", None) or ())
        for index in declared:
            if not isinstance(index, Index):
                raise TypeError(f"{document.__name__}.Meta.indexes holds {index!r}, not an Index")
            for key, _ in index.keys:
                self.stored_path(key)
        self.indexes: tuple[Index, ...] = tuple(cast("list[Index]", declared))
        shard_key: object = getattr(meta, "shard_key", None) or ()
        if isinstance(shard_key, str) or not isinstance(shard_key, (tuple, list)):
            raise TypeError(
                f"{document.__name__}.Meta.shard_key is a tuple of field names, not {shard_key!r}"
            )
        self.shard_key: tuple[str, ...] = tuple(
            self.stored_path(str(name)) for name in cast("tuple[object, ...]", shard_key)
        )
        """``Meta.shard_key``: the stored paths of the shard key (see :mod:`mdocument.shards`)."""
        self.view: View | None = view_of(document, meta)
        """``Meta.view_on``: a read-only view defined by a pipeline over another document."""
        self.timeseries: TimeSeries | None = time_series_of(document, meta, self.stored_path)
        """``Meta.timeseries``: the collection is a time-series collection."""
        if self.view is not None and self.timeseries is not None:
            raise DocumentException(
                f"{document.__name__}: a view (Meta.view_on) cannot be a time series",
                document=document,
            )
        # Computed fields are derived: they are shown in JSON but never stored.
        self.not_stored: set[str] | None = set(document.__pydantic_computed_fields__) or None
        # A set, not a frozenset: pydantic-core reads a set directly (a frozenset is slower).
        self.dump_exclude: set[str] = {ID_FIELD, *(self.not_stored or ())}
        """What :func:`mdocument.codec.encode` leaves out of the dump: the id is put in first, as
        ``_id``, by hand (faster to dump, and to encode with ``_id`` in front)."""
        self.decimals: bool = any(
            mentions(field.info.annotation, decimal.Decimal) for field in self.fields.values()
        )
        """Whether a field may hold a ``Decimal`` (its collection then decodes decimal128)."""

    @cached_property
    def exact_check(self) -> Check | None:
        """The check that proves a stored form needs no second validation (see :mod:`exact`).

        ``None`` when only a full validation can tell. Built on first use: forward references
        are resolved by then.
        """
        return exact_check(
            self.document,
            [(field.name, field.stored, field.info) for field in self.fields.values()],
        )

    @cached_property
    def stored_check(self) -> Check | None:
        """The check that a raw stored document is its own stored form (see :mod:`exact`)."""
        fields = self.fields.values()
        return stored_check(
            self.document, [(field.name, field.stored, field.info) for field in fields]
        )

    @cached_property
    def equality_names(self) -> frozenset[str]:
        """Top-level names a diff may compare with ``==`` (see :func:`exact.equality_names`)."""
        if self.stored_check is None:
            return frozenset()
        return equality_names(
            (field.name, field.stored, field.info) for field in self.fields.values()
        )

    @cached_property
    def instance_walk(self) -> Walk | None:
        """The walk that diffs an instance against its baseline (see :mod:`instance_diff`).

        ``None`` for a class only the full path can save: not plain, or a hierarchy's.
        """
        if self.kind is not None or self.exact_check is None or self.stored_check is None:
            return None
        fields = [(field.name, field.stored, field.info) for field in self.fields.values()]
        return instance_walk(fields, self.equality_names)

    @cached_property
    def instance_raw_walk(self) -> Walk | None:
        """The walk of a first save after a load, against the raw document (``raw=True``).

        ``None`` for the same classes as :attr:`instance_walk`.
        """
        if self.instance_walk is None:
            return None
        fields = [(field.name, field.stored, field.info) for field in self.fields.values()]
        return instance_walk(fields, self.equality_names, raw=True)

    @cached_property
    def instance_form(self) -> Form | None:
        """What reads a stored form from an instance (see :func:`instance_diff.instance_form`).

        ``None`` for the same classes as :attr:`instance_walk`: their writes dump and check.
        """
        if self.instance_walk is None:
            return None
        fields = [(field.name, field.stored, field.info) for field in self.fields.values()]
        return instance_form(fields)

    @cached_property
    def utc_attacher(self) -> Attach | None:
        """What attaches UTC to this class's documents read naive (see :mod:`utc`).

        ``None`` when they must be read aware (a hierarchy's subclasses store fields of their
        own).
        """
        if self.kind is not None:
            return None
        fields = [
            (field.name, field.stored, field.info.annotation) for field in self.fields.values()
        ]
        return utc_attacher(self.document, fields)

    @cached_property
    def stored_names(self) -> tuple[str, ...]:
        """The top-level names of a stored form: ``_id``, every field, the kind in a hierarchy."""
        names = tuple(field.stored for field in self.fields.values())
        return names if self.kind is None else (*names, KIND_FIELD)

    def stored_path(self, path: str) -> str:
        """The stored form of a dotted field path; raises :class:`UnknownModelField`."""
        field = self.fields.get(path) or self.by_stored.get(path)
        if field is not None:
            return field.stored
        first, *rest = path.split(".")
        field = self.fields.get(first) or self.by_stored.get(first)
        if field is None:
            raise _unknown_field(self.document, path, first)
        nested = model_type(field.info.annotation)
        return ".".join([field.stored, *resolve_path(nested, path, rest)])

    def field_of_stored(self, stored: str) -> FieldMapping | None:
        """The field stored under a top-level name, if any."""
        return self.by_stored.get(stored)

    def is_sensitive_path(self, stored_path: str) -> bool:
        """Whether a value at a stored path may show a sensitive value (nested ones included)."""
        return sensitive_path(self.document, stored_path)

    def __repr__(self) -> str:
        return f"<DocumentMapping {self.document.__name__} -> {self.collection!r}>"
