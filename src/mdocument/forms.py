"""A document's stored form: encoded, validated before a write, and kept as the change baseline.

The stored form is what :mod:`mdocument.codec` encodes. Before a write the whole document is
validated again where something could have changed unseen (``doc.tags.append(1)``), and a
loaded document's raw form is normalized to a stored form only when a save needs the baseline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from copy import deepcopy
from typing import TYPE_CHECKING, Any, cast, get_args

import bson
from bson.raw_bson import RawBSONDocument
from pydantic import BaseModel, TypeAdapter, ValidationError

from mdocument.annotations import is_class, strip_annotated
from mdocument.changes import (
    ABSENT,
    RAW,
    STORED,
    UNVALIDATED,
    Changes,
    diff_field,
    same,
    unvalidated,
)
from mdocument.codec import decode, decode_bson, encode, encode_bson
from mdocument.exceptions import WrongValueType
from mdocument.soft import is_soft, marked
from mdocument.types import ObjectId

if TYPE_CHECKING:
    from bson.codec_options import CodecOptions

    from mdocument.instance_diff import Walk
    from mdocument.mapping import DocumentMapping

__all__ = ["baseline", "checked_form", "dumped_form", "normalized", "parse_id", "shared_names"]

_OBJECT_ID: TypeAdapter[bson.ObjectId] = TypeAdapter(ObjectId)


def shares_input(annotation: Any, seen: set[type[BaseModel]] | None = None) -> bool:
    """Whether validating a value of ``annotation`` may keep mutable objects of the input.

    Pydantic copies the lists and dicts it validates item by item, but an ``Any`` (or bare
    ``dict``/``list``) value is kept as the very object it was given.
    """
    annotation = strip_annotated(annotation)
    if annotation is Any or annotation is object or annotation in (dict, list):
        return True
    if is_class(annotation) and issubclass(annotation, BaseModel):
        seen = set() if seen is None else seen
        if annotation in seen:
            return False
        seen.add(annotation)
        return any(
            shares_input(info.annotation, seen) for info in annotation.__pydantic_fields__.values()
        )
    return any(shares_input(arg, seen) for arg in get_args(annotation))


def shared_names(mapping: DocumentMapping) -> tuple[str, ...]:
    """Stored names of the fields whose validated values may be the loaded objects."""
    return tuple(
        field.stored for field in mapping.fields.values() if shares_input(field.info.annotation)
    )


def baseline(raw: dict[str, Any], shared: tuple[str, ...]) -> dict[str, Any]:
    """The change baseline of a loaded document: the raw dict, copied where the instance shares it.

    Validation keeps the dicts and lists of ``Any`` values as they are: the instance holds the
    raw dict's objects, and a change made through it would change the baseline too and never be
    saved.
    """
    if not shared:
        return raw
    return {**raw, **{name: deepcopy(raw[name]) for name in shared if name in raw}}


def normalized(
    mapping: DocumentMapping,
    raw: dict[str, Any] | bytes,
    options: CodecOptions[Any] | None = None,
) -> dict[str, Any]:
    """The stored form of a raw stored document (done lazily, by the first save after a load).

    ``raw`` may be the BSON an ``insert_many`` sent (see :func:`insert_rows`), then read with
    the collection's codec ``options``.
    """
    if isinstance(raw, bytes):
        if options is None:
            raise TypeError("the codec options of the collection are needed to read BSON")
        raw = decode_bson(raw, options)
    check = mapping.stored_check
    if check is not None and check(raw):
        # Every value has exactly the type validation gives it: validating and dumping it
        # again would return the same values. (A document stored before its class joined a
        # hierarchy has no kind yet: the full path adds it.)
        with contextlib.suppress(KeyError):
            return {name: raw[name] for name in mapping.stored_names}
    return encode(decode(mapping, raw), mapping)


def checked_form(mapping: DocumentMapping, document: BaseModel) -> dict[str, Any]:
    """Validate ``document`` as a whole and return its stored form.

    Assignments are validated as they happen, but nested values (``doc.tags.append(1)``) are
    not: this is where invalid data is stopped before it reaches the server. Values that
    validation coerces (``"5"`` into an ``int`` field) are adopted by the instance.

    A plain class's form is read from the instance, every value checked for exactly its declared
    type (:func:`mdocument.instance_diff.instance_form`); anything else, or any value that is not,
    takes :func:`dumped_form`.
    """
    if type(document) is mapping.document and not unvalidated(document):
        form = mapping.instance_form
        data = None if form is None else form(document.__dict__)
        if data is not None:
            return data
    return dumped_form(mapping, document)


def dumped_form(mapping: DocumentMapping, document: BaseModel) -> dict[str, Any]:
    """:func:`checked_form` from a dump: proved exact (:mod:`exact`), or validated again."""
    data = encode(document, mapping)
    if not unvalidated(document):
        # A subclass of a hierarchy is checked against its own fields, not its root's.
        own: DocumentMapping = getattr(type(document), "__mdocument_mapping__", mapping)
        check = own.exact_check
        if check is not None and check(data):
            # Validated when built and at every assignment, and what changed in place still
            # has exactly the declared types: validating again would return the same values.
            return data
    checked = type(document).model_validate(data)
    stored = encode(checked, mapping)
    if stored != data:
        # The instance adopts what validation coerced. A coercion that Python calls equal
        # (True into 1) is left in the instance: the stored form written is the coerced one,
        # and the next save validates again.
        for name, field in mapping.fields.items():
            if not same(data.get(field.stored), stored.get(field.stored)):
                vars(document)[name] = vars(checked)[name]
    return stored


def parse_id(document: type[BaseModel], value: Any) -> bson.ObjectId:
    """An ``ObjectId`` from an ``ObjectId`` or its hex string; a clear error otherwise."""
    if isinstance(value, bson.ObjectId):
        return value
    try:
        return _OBJECT_ID.validate_python(value)
    except ValidationError:
        raise WrongValueType(
            f"{document.__name__} ids are ObjectIds or 24-character hex strings, not {value!r}",
            document=document,
            field="id",
        ) from None


def insert_rows(
    mapping: DocumentMapping,
    batch: list[Any],
    options: CodecOptions[Any],
    revision: str | None,
    keep_forms: bool,
) -> tuple[list[tuple[Any, dict[str, Any]]], list[RawBSONDocument], list[bytes]]:
    """The rows of one ``insert_many``: each document checked, marked and encoded (BSON).

    Each stored form is encoded as soon as it is checked, and dropped unless ``keep_forms``
    (references to check). Returns the (document, form) pairs kept, the rows, and their bytes,
    which become the instances' baselines (see :func:`mdocument.codec.encode_bson`).
    ``revision``: the counter's stored name, started at 1.
    """
    pairs: list[tuple[Any, dict[str, Any]]] = []
    rows: list[RawBSONDocument] = []
    baselines: list[bytes] = []
    mark = revision is not None or is_soft(mapping.document)
    for document in batch:
        form = checked_form(mapping, document)
        if keep_forms:
            pairs.append((document, form))
        if mark:
            form = marked(mapping.document, {**form, revision: 1} if revision else form)
        data = encode_bson(form, options)
        rows.append(RawBSONDocument(data))
        baselines.append(data)
    return pairs, rows, baselines


def instances(document: type[Any], documents: Iterable[Any]) -> list[Any]:
    """The documents of an ``insert_many``, in a list; a clear error for any other object."""
    batch = list(documents)
    for item in batch:
        if not isinstance(item, document):
            raise TypeError(
                f"{document.__name__}.insert_many takes {document.__name__} instances, "
                f"not {type(item).__name__}"
            )
    return batch


def quick_changes(
    mapping: DocumentMapping, document: BaseModel
) -> tuple[Changes, dict[str, Any]] | None:
    """The changes of saving a stored ``document`` and its new baseline; ``None``: full path.

    Read from the instance by the class's walk (:mod:`mdocument.instance_diff`), without a dump.

    Only for an instance of exactly the mapped class, validated (not built with
    ``model_construct`` or copied with an update), whose baseline is a stored form or the raw
    document it was loaded from (walked by the raw walk, which proves the raw values it relies
    on: see :func:`mdocument.instance_diff.instance_walk`).
    """
    walk = mapping.instance_walk
    private = document.__pydantic_private__
    if walk is None or type(document) is not mapping.document or not private:
        return None
    baseline: dict[str, Any] | bytes | None = private.get(STORED)
    if baseline is None or private.get(UNVALIDATED):
        return None
    if private.get(RAW):
        if not isinstance(baseline, dict):
            return None  # the BSON insert_many sent
        names = mapping.stored_names
        # With as many keys as the stored form, the raw dict is walked as it is: the raw walk
        # proves every value it reads, and a missing key (absent) is never proved, so it steps
        # aside unless the keys are exactly the stored names. Rebuilding it cost a lookup of
        # every key (16 µs for 250 fields). With other keys (another client's), the stored
        # form's keys only: any other is dropped, a missing one takes the full path.
        if len(baseline) != len(names):
            try:
                baseline = {name: baseline[name] for name in names}
            except KeyError:
                return None
        # Proves the raw values it compares, and steps aside where one is not a stored form.
        walk = cast("Walk", mapping.instance_raw_walk)  # there is a walk: so is there a raw one
    before = cast("dict[str, Any]", baseline)  # bytes are always raw: refused above
    changes = Changes()
    tops = walk(cast("dict[str, Any]", document.__dict__), before, changes, diff_field, ABSENT)
    if tops is None:
        return None
    return changes, {**before, **tops} if tops else before
