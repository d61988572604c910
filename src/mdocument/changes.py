"""Change tracking: the smallest ``$set``/``$unset`` that turns one stored form into another.

``save()`` compares the stored form of a document with the stored form it had when it was last
loaded or saved, and sends only the paths that changed. Values are compared as BSON stores
them, type and value: a change from ``1`` to ``True`` or from ``Decimal("1.0")`` to
``Decimal("1.00")`` is saved, an unchanged NaN is not rewritten. A changed nested value is one
``$set`` of its dotted path, a list whose length is the same is compared element by element,
and a list that grew or shrank is set whole.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, cast

import bson
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions, TypeRegistry
from pydantic import BaseModel

from mdocument.codec import fallback_encoder

__all__ = [
    "ABSENT",
    "REVISION_FIELD",
    "Changes",
    "RegistryRef",
    "diff",
    "diff_field",
    "inserted",
    "load_batch",
    "loaded",
    "mark_unvalidated",
    "registry_of",
    "remember",
    "revision_of",
    "same",
    "set_registry",
    "set_revision",
    "unvalidated",
]

# The tracking state of a document instance, kept in its `__pydantic_private__`: its stored form
# at the last load or save (None while it was never stored), whether that form is raw (the dict
# the driver returned, or the BSON insert_many sent), and whether the instance was built
# without validation.
STORED = "_mdocument_stored"
RAW = "_mdocument_raw"
UNVALIDATED = "_mdocument_unvalidated"
REVISION = "_mdocument_revision"
REGISTRY = "_mdocument_registry"

REVISION_FIELD = "_revision"
"""The stored name of the revision counter of documents with ``Meta.revision = True``."""


def _state(document: BaseModel) -> dict[str, Any]:
    private = document.__pydantic_private__
    if private is None:  # the class declares no private attributes of its own
        private = {}
        object.__setattr__(document, "__pydantic_private__", private)
    return private


def remember(document: BaseModel, stored: dict[str, Any] | None, *, raw: bool) -> None:
    """Record ``stored`` as the instance's stored form (``None``: not stored)."""
    state = _state(document)
    state[STORED] = stored
    state[RAW] = raw
    state.pop(UNVALIDATED, None)  # loaded, or checked before it was written


class RegistryRef:
    """The registry an instance belongs to, as kept in its private state.

    Copies of the instance share it (a registry holds a client: it is never copied), and a
    pickled instance forgets it: unpickled elsewhere, it uses the registry active there.
    """

    __slots__ = ("registry",)

    def __init__(self, registry: object) -> None:
        self.registry = registry

    def __copy__(self) -> RegistryRef:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> RegistryRef:
        return self

    def __reduce__(self) -> tuple[type[None], tuple[()]]:
        return type(None), ()


def loaded(
    document: BaseModel, raw: dict[str, Any], registry: RegistryRef, revision: int | None
) -> None:
    """Record the state of an instance just loaded: its raw baseline, registry and revision.

    One assignment of the private state, not one call per key: loading thousands of documents
    pays for this once each.
    """
    state: dict[str, Any] = {STORED: raw, RAW: True, REGISTRY: registry}
    if revision is not None:
        state[REVISION] = revision
    private = document.__pydantic_private__
    if private is None:
        object.__setattr__(document, "__pydantic_private__", state)
    else:
        private.update(state)


def load_batch(
    validate: Callable[[dict[str, Any]], Any],
    raws: list[dict[str, Any]],
    registry: RegistryRef,
    attach: Callable[[dict[str, Any]], None] | None,
) -> list[Any]:
    """Instances of stored documents, each with its raw baseline and registry, in one loop.

    ``attach``: what attaches UTC to datetimes read naive (see :mod:`mdocument.utc`), run on
    each raw document first. A ``ValidationError`` propagates as it is.
    """
    documents: list[Any] = []
    for raw in raws:
        if attach is not None:
            attach(raw)
        document = validate(raw)
        loaded(document, raw, registry, None)
        documents.append(document)
    return documents


def inserted(
    document: BaseModel,
    stored: dict[str, Any] | bytes,
    registry: RegistryRef,
    revision: int | None,
) -> None:
    """Record the state of an instance just inserted (one update of its private state).

    ``stored``: its stored form, or the BSON that was sent, which the first save decodes and
    normalizes like a loaded document's raw baseline.
    """
    state: dict[str, Any] = {STORED: stored, RAW: type(stored) is bytes, REGISTRY: registry}
    if revision is not None:
        state[REVISION] = revision
    private = document.__pydantic_private__
    if private is None:  # one assignment: thousands of documents of a batch pay for it once each
        object.__setattr__(document, "__pydantic_private__", state)
    else:
        private.pop(UNVALIDATED, None)
        private.update(state)


def set_revision(document: BaseModel, revision: int) -> None:
    """Record the stored revision the instance was loaded or saved at."""
    _state(document)[REVISION] = revision


def set_registry(document: BaseModel, registry: RegistryRef) -> None:
    """Record the registry (the database) the instance was loaded from or created in."""
    _state(document)[REGISTRY] = registry


def registry_of(document: BaseModel) -> Any:
    """The registry the instance was loaded from or created in (``None``: neither yet)."""
    private = document.__pydantic_private__
    ref = private.get(REGISTRY) if private else None
    return ref.registry if isinstance(ref, RegistryRef) else None


def revision_of(document: BaseModel) -> int | None:
    """The stored revision the instance was loaded or saved at (``None``: never stored)."""
    private = document.__pydantic_private__
    return private.get(REVISION) if private else None


def mark_unvalidated(document: BaseModel) -> None:
    """Record that the instance was built without validation, so a write validates it."""
    _state(document)[UNVALIDATED] = True


def unvalidated(document: BaseModel) -> bool:
    """Whether the instance was built without validation since it was last stored."""
    private = document.__pydantic_private__
    return bool(private and private.get(UNVALIDATED))


class Changes:
    """The ``$set`` and ``$unset`` of one update."""

    __slots__ = ("set", "unset")

    def __init__(self) -> None:
        self.set: dict[str, Any] = {}
        self.unset: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.set or self.unset)

    def update_spec(self) -> dict[str, Any]:
        """The update document for the driver."""
        spec: dict[str, Any] = {}
        if self.set:
            spec["$set"] = self.set
        if self.unset:
            spec["$unset"] = self.unset
        return spec

    def top_level(self) -> set[str]:
        """The top-level stored names under which something changed."""
        return {path.split(".", 1)[0] for path in (*self.set, *self.unset)}


def _addressable(keys: Iterable[object]) -> bool:
    """Whether MongoDB can address every key in a dotted path (else the parent is set whole)."""
    for key in keys:  # noqa: SIM110 - a loop: all() over a generator is slower here
        if type(key) is not str or not key or "." in key or key[0] == "$":
            return False
    return True


# Types whose Python equality is BSON equality when both sides have exactly that type. Any other
# pair is compared by its BSON encoding: ``1 == 1.0 == True`` in Python but not in BSON, NaN is
# unequal to itself in Python but stored identically, ``Decimal("1.0") == Decimal("1.00")`` but
# they are different decimal128 values, and a datetime is stored to the millisecond.
_EXACT: frozenset[type[object]] = frozenset({str, int, bool, bytes, type(None), bson.ObjectId})

# Uuids compare in the standard representation: a ``UUID`` and the binary it is stored as are the
# same value. The fallback encoder turns the Python values a dump leaves (enums, ``Decimal``,
# sets, dates...) into what the collection stores.
_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(
    document_class=dict,
    tz_aware=True,
    uuid_representation=UuidRepresentation.STANDARD,
    type_registry=TypeRegistry(fallback_encoder=fallback_encoder),
)


def _encoded(value: Any) -> bytes:
    return bson.encode({"": value}, codec_options=_OPTIONS)


def same(before: Any, after: Any) -> bool:
    """Whether two values are stored as the same BSON value (type included), at every depth."""
    if before is after:
        return True
    kind = cast("type[object]", type(before))
    if kind is type(after) and kind in _EXACT:
        return bool(before == after)
    try:
        return _encoded(before) == _encoded(after)
    except Exception:  # not encodable: the write reports it, so it counts as a change
        return False


_ABSENT: Any = object()


def _diff(before: Any, after: Any, path: str, changes: Changes) -> None:
    if before is after:
        return
    kind: type[Any] = before.__class__
    if kind is type(after):
        if _diff_alike(kind, before, after, path, changes):
            return
    elif isinstance(before, Mapping) and isinstance(after, Mapping):
        old_map = cast("Mapping[str, Any]", before)
        new_map = cast("Mapping[str, Any]", after)
        if _addressable(new_map) and _addressable(old_map):
            _diff_mapping(old_map, new_map, f"{path}.", changes)
            return
    if not same(before, after):
        changes.set[path] = after


def _diff_alike(kind: type[Any], before: Any, after: Any, path: str, changes: Changes) -> bool:
    """Compare two values of one type without encoding them: the common cases.

    ``False`` when not decided here: the caller compares the values as BSON.
    """
    if kind in _EXACT:
        if before != after:
            changes.set[path] = after
        return True
    if kind is float or kind is datetime.datetime:
        # Equal non-zero floats have the same bits (0.0 and -0.0 are equal but stored apart);
        # equal datetimes, both aware or both naive, are the same instant, stored to the same
        # millisecond.
        return bool(before == after and (before or kind is datetime.datetime))
    if kind is dict:
        if _addressable(after) and _addressable(before):
            _diff_mapping(before, after, f"{path}.", changes)
            return True
    elif kind is list and before and len(before) == len(after):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            if old is not new:
                item: type[Any] = old.__class__
                if item is not type(new) or item not in _EXACT:
                    _diff(old, new, f"{path}.{index}", changes)
                elif old != new:
                    changes.set[f"{path}.{index}"] = new
        return True
    return False


_NOTHING: frozenset[str] = frozenset()


def _diff_mapping(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    prefix: str,
    changes: Changes,
    equal_is_same: AbstractSet[str] = _NOTHING,
) -> None:
    for key, value in after.items():
        old: Any = before.get(key, _ABSENT)
        if old is value or (key in equal_is_same and old == value):
            continue
        kind: type[Any] = old.__class__
        if kind is type(value) and kind in _EXACT:  # most values: no call per value
            if old != value:
                changes.set[prefix + key] = value
        elif old is _ABSENT:
            changes.set[prefix + key] = value
        else:
            _diff(old, value, prefix + key, changes)
    for key in before:
        if key not in after:
            changes.unset[prefix + key] = ""


def diff_field(before: Any, after: Any, key: str, changes: Changes) -> None:
    """Add the changes of one top-level value to ``changes``, as :func:`diff` finds them.

    For a caller that compares values itself and calls this only where they are not the same
    object (and not equal, for a name of ``equal_is_same``); ``before`` may be absent.
    """
    kind: type[Any] = before.__class__
    if kind is type(after) and kind in _EXACT:
        if before != after:
            changes.set[key] = after
    elif before is _ABSENT:
        changes.set[key] = after
    else:
        _diff(before, after, key, changes)


ABSENT: Any = _ABSENT
"""What :func:`diff_field` takes for a value absent before."""


def diff(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    equal_is_same: AbstractSet[str] = _NOTHING,
) -> Changes:
    """The changes from one stored form of a document to another (``_id`` never changes).

    ``equal_is_same``: top-level names whose values, in both forms, are known to hold exactly
    their declared types, none of them a float (see :func:`mdocument.exact.equality_names`).
    There Python's equality is BSON's, and a whole unchanged value is skipped with one ``==``
    instead of being walked.
    """
    changes = Changes()
    _diff_mapping(before, after, "", changes, equal_is_same)
    return changes
