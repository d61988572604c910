"""Whether a document's dumped values are exactly what validating them would return.

Before a write, a document is validated as a whole, because values that hold lists, dicts or
models can change in place without pydantic seeing it (``doc.tags.append(1)``). For fields whose
annotations are plain (strings, numbers, booleans, bytes, aware datetimes, ObjectIds, enums, and
lists, ``dict[str, ...]``, optionals and models of them, with no constraint, validator or
serializer anywhere), validating a dumped value that already has exactly the declared types
returns it unchanged. A walk over the dumped values, checking exact types, then proves what the
second validation would: this module compiles that walk once per class.

The walk is conservative. It answers ``True`` only when validation would accept each value and
return an equal value of the same BSON type; anything else (``True`` in an ``int`` field, ``1`` in
a ``float`` field, a naive datetime, a missing key, a subclass) answers ``False``, and the caller
validates in full, which coerces or raises as usual. An annotation it does not know makes the
whole class take the full path (:func:`exact_check` returns ``None``).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

import bson
from pydantic import BaseModel

from mdocument.annotations import immutable, is_class
from mdocument.fields import FieldSpec
from mdocument.masks import SensitiveOutputSchema
from mdocument.types import ObjectId

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = [
    "Check",
    "Fields",
    "Items",
    "Leaf",
    "Maybe",
    "Node",
    "SourceWriter",
    "Values",
    "equality_names",
    "exact_check",
    "field_node",
    "stored_check",
]

Check = Callable[[Any], bool]
"""Whether one dumped value is exactly what validating it returns."""

# Configuration keys that change nothing about how an exactly-typed Python value validates or
# dumps in Python mode. Any other key (``str_strip_whitespace``, ``use_enum_values``...) sends
# the class down the full path.
_NEUTRAL_CONFIG = frozenset(
    {
        "alias_generator",
        "arbitrary_types_allowed",
        "cache_strings",
        "coerce_numbers_to_str",
        "defer_build",
        "field_title_generator",
        "from_attributes",
        "frozen",
        "hide_input_in_errors",
        "json_encoders",
        "json_schema_extra",
        "json_schema_mode_override",
        "json_schema_serialization_defaults_required",
        "loc_by_alias",
        "model_title_generator",
        "plugin_settings",
        "populate_by_name",
        "protected_namespaces",
        "regex_engine",
        "revalidate_instances",
        "ser_json_bytes",
        "ser_json_inf_nan",
        "ser_json_timedelta",
        "serialize_by_alias",
        "strict",
        "title",
        "use_attribute_docstrings",
        "validate_assignment",
        "validate_by_alias",
        "validate_by_name",
        "validate_default",
        "validation_error_cause",
    }
)

_UNIONS: tuple[Any, ...] = (Union, types.UnionType)
_OBJECT_ID_METADATA = get_args(ObjectId)[1:]


# -- what a value must be: a small tree, compiled to one generated function per class ------------


@dataclass(frozen=True)
class Leaf:
    """A value of exactly one of ``types`` (an aware one, for a datetime)."""

    types: frozenset[type[Any]]


@dataclass(frozen=True)
class Items:
    """A list of values of ``item``."""

    item: Node


@dataclass(frozen=True)
class Values:
    """A ``dict[str, ...]``."""

    value: Node


@dataclass(frozen=True)
class Maybe:
    """``None``, or a value of ``inner``."""

    inner: Node


@dataclass(frozen=True)
class Fields:
    """A nested model's dump: exactly these keys, each holding its field's value."""

    fields: tuple[tuple[str, Node], ...]
    model: type[BaseModel] | None = dataclasses.field(default=None, compare=False)
    """The model (an instance of exactly this class holds the values)."""
    names: tuple[str, ...] = dataclasses.field(default=(), compare=False)
    """The attribute name of each field, in the order of ``fields``."""


Node = Union[Leaf, Items, Values, Maybe, Fields]  # noqa: UP007 - a runtime alias

_LEAVES = frozenset({str, int, float, bool, bytes, bson.ObjectId, datetime.datetime, type(None)})


def _neutral_config(model: type[BaseModel]) -> bool:
    config = model.model_config
    if not config.keys() <= _NEUTRAL_CONFIG | {"extra", "allow_inf_nan"}:
        return False
    return config.get("extra") in (None, "ignore", "forbid") and config.get("allow_inf_nan", True)


def _hooked(model: type[BaseModel]) -> bool:
    """Whether a validator or a serializer of the model's own may change what it holds."""
    decorators = model.__pydantic_decorators__
    return any(
        (
            decorators.validators,
            decorators.field_validators,
            decorators.root_validators,
            decorators.field_serializers,
            decorators.model_serializers,
            decorators.model_validators,
        )
    )


def _plain_model(model: type[BaseModel]) -> bool:
    """A model whose validation of its own dump is the identity: no hooks, nothing derived."""
    return (
        model.__pydantic_complete__
        and not model.__pydantic_root_model__
        and model.__pydantic_post_init__ is None
        and not model.__private_attributes__
        and not _hooked(model)
        and not model.__pydantic_decorators__.computed_fields
        and getattr(model.__get_pydantic_core_schema__, "__func__", None)
        is getattr(BaseModel.__get_pydantic_core_schema__, "__func__", None)
        and _neutral_config(model)
    )


def _annotation_node(annotation: Any, seen: frozenset[type[BaseModel]]) -> Node | None:
    """What a value of ``annotation`` must be; ``None`` when this module cannot tell."""
    if get_origin(annotation) is not None and get_args(annotation)[1:] == _OBJECT_ID_METADATA:
        return Leaf(frozenset({bson.ObjectId}))  # mdocument.ObjectId, Annotated with its schema
    if is_class(annotation):
        if annotation in _LEAVES or (
            issubclass(annotation, enum.Enum)
            and not hasattr(annotation, "__get_pydantic_core_schema__")
        ):
            # An enum field's value is dumped as the member itself in Python mode.
            return Leaf(frozenset({annotation}))
        if issubclass(annotation, BaseModel):
            return _model_node(annotation, seen)
        return None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and len(args) == 1:
        item = _annotation_node(args[0], seen)
        return None if item is None else Items(item)
    if origin is dict and len(args) == 2 and args[0] is str:
        value = _annotation_node(args[1], seen)
        return None if value is None else Values(value)
    if origin in _UNIONS and len(args) == 2 and type(None) in args:
        inner = _annotation_node(args[0] if args[1] is type(None) else args[1], seen)
        return None if inner is None else Maybe(inner)
    if origin in _UNIONS and all(is_class(arg) and arg in _LEAVES for arg in args):
        # Only unions of leaves: a model's dump validated against a union of models may come
        # back as another member. A smart union keeps a value of exactly one member's type.
        return Leaf(frozenset(args))
    return None


def field_node(info: FieldInfo, seen: frozenset[type[BaseModel]]) -> Node | None:
    """What a field's value must be: ``None`` if its metadata could constrain or convert it."""
    for item in info.metadata:
        # A sensitive field's mask serializes JSON only: its Python dump is the value itself.
        known = isinstance(item, (FieldSpec, SensitiveOutputSchema))
        if not (known or item in _OBJECT_ID_METADATA):
            return None  # a constraint, a validator, a discriminator...
    if info.discriminator is not None or info.exclude:
        return None
    return _annotation_node(info.annotation, seen)


def _key(name: str, info: FieldInfo) -> str | None:
    """The key a field is dumped under, when validation reads the same key back."""
    dumped = info.serialization_alias or info.alias or name
    read = info.validation_alias if info.validation_alias is not None else info.alias or name
    return dumped if read == dumped else None


def _model_node(model: type[BaseModel], seen: frozenset[type[BaseModel]]) -> Node | None:
    if model in seen or not _plain_model(model):
        return None  # a recursive model is left to validation
    seen = seen | {model}
    fields: list[tuple[str, Node]] = []
    for name, info in model.__pydantic_fields__.items():
        key, node = _key(name, info), field_node(info, seen)
        if key is None or node is None:
            return None
        fields.append((key, node))
    return Fields(tuple(fields), model, tuple(model.__pydantic_fields__))


class SourceWriter:
    """Writes the source of a generated function: straight-line code, no call per value.

    The base of this module's checks and of :mod:`mdocument.instance_diff`'s walks: fresh local
    names, constants (the generated function's globals: see :meth:`bound`), and the test of a
    leaf.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {"datetime": datetime.datetime}
        self._named: dict[int, str] = {}  # id of a constant -> its name (constants holds it)
        self.names = 0

    def name(self, prefix: str) -> str:
        """A fresh local name."""
        self.names += 1
        return f"{prefix}{self.names}"

    def constant(self, value: Any) -> str:
        """The name the generated function knows ``value`` by (one name per object)."""
        name = self._named.get(id(value))
        if name is None:
            name = self.name("c")
            self.constants[name] = value
            self._named[id(value)] = name
        return name

    def bound(self) -> dict[str, Any]:
        """The names the generated code uses: the builtins it calls and its constants.

        They are the generated function's globals (the namespace it is executed in), not
        keyword defaults: a call binds every keyword default it is not passed, one dict lookup
        each, and a walk of a large document names hundreds of constants (3 µs a call for 300),
        where a global lookup is cached by the interpreter.
        """
        builtins = {"type": type, "list": list, "dict": dict, "str": str, "tuple": tuple}
        return {**builtins, "map": map, **self.constants}

    def define(self, source: str, name: str) -> Any:
        """The function ``name`` defined by ``source``, with :meth:`bound` as its globals."""
        namespace = self.bound()
        exec(source, namespace)  # the source is generated by this module's writers, from no input
        return namespace[name]

    def leaf(self, node: Leaf, value: str, pad: str, refuse: str) -> None:
        """Lines that run ``refuse`` unless ``value`` has exactly one of the leaf's types."""
        if len(node.types) == 1:
            (only,) = node.types
            self.lines.append(f"{pad}if type({value}) is not {self.constant(only)}: {refuse}")
        else:
            kinds = self.constant(node.types)
            self.lines.append(f"{pad}if type({value}) not in {kinds}: {refuse}")
        if datetime.datetime in node.types:  # naive datetimes are refused by validation
            self.lines.append(
                f"{pad}if type({value}) is datetime and {value}.utcoffset() is None: {refuse}"
            )

    def emit(self, node: Node, value: str, depth: int, refuse: str = "return False") -> None:
        """Lines that run ``refuse`` unless ``value`` (a local name) is a stored form of ``node``.

        Every value exactly of its declared type, a model's dict exactly its keys.
        """
        pad = "    " * depth
        if isinstance(node, Leaf):
            self.leaf(node, value, pad, refuse)
        elif isinstance(node, Maybe):
            self.lines.append(f"{pad}if {value} is not None:")
            self.emit(node.inner, value, depth + 1, refuse)
        elif isinstance(node, Items):
            self.lines.append(f"{pad}if type({value}) is not list: {refuse}")
            item = self.name("v")
            self.lines.append(f"{pad}for {item} in {value}:")
            self.emit(node.item, item, depth + 1, refuse)
        elif isinstance(node, Values):
            self.lines.append(f"{pad}if type({value}) is not dict: {refuse}")
            key, item = self.name("k"), self.name("v")
            self.lines.append(f"{pad}for {key}, {item} in {value}.items():")
            self.lines.append(f"{pad}    if type({key}) is not str: {refuse}")
            self.emit(node.value, item, depth + 1, refuse)
        else:
            self.emit_model(node, value, pad, depth, refuse)

    def emit_model(
        self, node: Fields, value: str, pad: str, depth: int, refuse: str = "return False"
    ) -> None:
        """:meth:`emit` for a model: its dict, its keys and each of its values."""
        kinds = [field.types for _, field in node.fields if isinstance(field, Leaf)]
        if len(kinds) == len(node.fields) and all(
            len(types) == 1 and datetime.datetime not in types for types in kinds
        ):
            # Scalars of one type each: the keys, in order, and their types in one C-level
            # comparison each. A dump lists a model's fields in order; a stored document written
            # in another order takes the full path.
            keys = self.constant(tuple(key for key, _ in node.fields))
            types = self.constant(tuple(next(iter(types)) for types in kinds))
            self.lines.append(
                f"{pad}if type({value}) is not dict or tuple({value}) != {keys} "
                f"or tuple(map(type, {value}.values())) != {types}: {refuse}"
            )
            return
        keys = self.constant(frozenset(key for key, _ in node.fields))
        self.lines.append(
            f"{pad}if type({value}) is not dict or {value}.keys() != {keys}: {refuse}"
        )
        for key, field in node.fields:
            item = self.name("v")
            self.lines.append(f"{pad}{item} = {value}[{key!r}]")
            self.emit(field, item, depth, refuse)


class _Compiler(SourceWriter):
    """Writes the source of one check function."""

    def function(self, fields: list[tuple[str, Node]]) -> Check:
        self.lines = ["    try:"]
        for key, node in fields:
            item = self.name("v")
            self.lines.append(f"        {item} = data[{key!r}]")
            self.emit(node, item, 2)
        self.lines += ["    except KeyError:", "        return False", "    return True"]
        self.lines.insert(0, "def check(data):")
        check: Check = self.define("\n".join(self.lines), "check")
        return check


def exact_check(
    document: type[BaseModel], fields: Iterable[tuple[str, str, FieldInfo]]
) -> Check | None:
    """The check of a document's stored form; ``None`` when only full validation can tell.

    ``fields`` are the document's stored fields, as (name, stored name, field info). Fields that
    cannot change in place are left out of the check: ``validate_assignment`` validated them.
    Called once per class, on first use, when its forward references are resolved.
    """
    if not document.model_config.get("validate_assignment") or not _neutral_config(document):
        return None
    decorators = document.__pydantic_decorators__
    if decorators.model_serializers or decorators.root_validators or decorators.validators:
        return None
    mutable = [field for field in fields if not immutable(field[2].annotation)]
    if not mutable:
        return lambda data: True  # every field is validated at assignment
    if decorators.model_validators:
        return None  # an invariant across fields may be broken by a change in place
    hooked = {
        name
        for decorators_of_kind in (decorators.field_validators, decorators.field_serializers)
        for decorator in decorators_of_kind.values()
        for name in decorator.info.fields
    }
    if "*" in hooked:
        return None
    nodes: list[tuple[str, Node]] = []
    for name, stored, info in mutable:
        node = None if name in hooked else field_node(info, frozenset())
        if node is None:
            return None
        nodes.append((stored, node))
    return _Compiler().function(nodes)


def assignable(document: type[BaseModel]) -> dict[str, frozenset[type[Any]]]:
    """The fields an assignment of an exact value may set without validation, and those types.

    Validating a value of exactly one of a leaf's types returns that very object (a datetime
    must also be aware: the caller tests it), so setting it needs no call to pydantic-core,
    whose ``validate_assignment`` copies the instance's whole ``__dict__`` to validate one
    field: 3 µs for 250 fields, ten times that with the caches cold, on every assignment. Only
    for leaves and optional leaves, with no validator, constraint or ``frozen`` on the field,
    on a class whose configuration is neutral and that has no model validator; every other
    assignment, and any other value, goes to pydantic as before.
    """
    config = document.model_config
    if not config.get("validate_assignment") or config.get("frozen"):
        return {}
    if not _neutral_config(document):
        return {}
    decorators = document.__pydantic_decorators__
    if decorators.model_validators or decorators.root_validators or decorators.validators:
        return {}
    hooked = {
        name for decorator in decorators.field_validators.values() for name in decorator.info.fields
    }
    if "*" in hooked:
        return {}
    types: dict[str, frozenset[type[Any]]] = {}
    for name, info in document.__pydantic_fields__.items():
        if name in hooked or info.frozen:
            continue
        node = field_node(info, frozenset())
        if isinstance(node, Maybe) and isinstance(node.inner, Leaf):
            types[name] = node.inner.types | {type(None)}
        elif isinstance(node, Leaf):
            types[name] = node.types
    return types


def stored_check(
    document: type[BaseModel], fields: Iterable[tuple[str, str, FieldInfo]]
) -> Check | None:
    """The check that a raw stored document is its own stored form, field by field.

    A document read from the database validated when it was loaded. Where every stored value
    already has exactly the type validation returns (and no validator or serializer could
    change it), validating and dumping it again, to get the baseline of the next save, would
    return the same values: the raw values are that baseline. ``None`` when only validation
    can tell.
    """
    if not _neutral_config(document) or _hooked(document):
        return None
    nodes: list[tuple[str, Node]] = []
    for _, stored, info in fields:
        node = field_node(info, frozenset())
        if node is None:
            return None
        nodes.append((stored, node))
    return _Compiler().function(nodes)


def _numbers_apart(node: Node) -> bool:
    """Whether Python's ``==`` on values of ``node`` is BSON's equality.

    It is unless a float may be there (``0.0 == -0.0``) or a position may hold two kinds of
    number (``1 == 1.0 == True``).
    """
    if isinstance(node, Leaf):
        numbers = node.types & {int, float, bool}
        return float not in node.types and len(numbers) <= 1
    if isinstance(node, Maybe):
        return _numbers_apart(node.inner)
    if isinstance(node, Items):
        return _numbers_apart(node.item)
    if isinstance(node, Values):
        return _numbers_apart(node.value)
    return all(_numbers_apart(field) for _, field in node.fields)


def equality_names(fields: Iterable[tuple[str, str, FieldInfo]]) -> frozenset[str]:
    """The stored names whose values may be compared with ``==`` when diffing two stored forms.

    Only for a document that has a :func:`stored_check`: no validator, serializer or
    configuration can change its stored forms, which then hold exactly the declared types (the
    check proves it for a loaded one, validation returns them for every annotation this module
    knows). Two values Python calls equal are then stored alike, except where a float or two
    kinds of number may be.
    """
    names: set[str] = set()
    for _, stored, info in fields:
        node = field_node(info, frozenset())
        if node is not None and _numbers_apart(node):
            names.add(stored)
    return frozenset(names)
