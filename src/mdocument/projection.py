"""Projections: loading only the fields of a smaller pydantic model.

``Post.find(...).project(PostCard)`` asks the server for the fields ``PostCard`` declares and
returns ``PostCard`` instances. The model's fields are matched to the document's by name, and
checked when the projection is made (once per pair of classes): a field the document does not
have raises :class:`~mdocument.UnknownModelField`, a type that cannot hold the document's
values raises :class:`~mdocument.WrongModelFieldType`. A nested model may itself be a smaller
model of the nested one (``author: AuthorName``): only its fields are loaded. A field over a
sensitive one must be ``Field(sensitive=True)`` too (else ``WrongModelFieldType``): the
projected model is what gets serialized, and a plain field would show the real value.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeGuard, Union, cast, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mdocument.annotations import is_class, model_type, shape_of
from mdocument.exceptions import UnknownModelField, WrongModelFieldType, WrongValueType
from mdocument.fields import field_spec
from mdocument.masking import holds_sensitive
from mdocument.names import STORED_ID

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from mdocument.mapping import DocumentMapping

__all__ = ["Projection", "projection_of"]

_UNION_ORIGINS: tuple[Any, ...] = (Union, types.UnionType)
_ANY_TYPES: tuple[Any, ...] = (Any, object)


def _compatible(source: Any, target: Any) -> bool:
    """Whether every value of annotation ``source`` (the document's) fits ``target``."""
    if target in _ANY_TYPES or source == target:
        return True
    have, want = shape_of(source), shape_of(target)
    if (have.optional and not want.optional) or have.many != want.many:
        return False
    item, wanted = have.item, want.item
    if wanted in _ANY_TYPES or item == wanted:
        return True
    if get_origin(item) in _UNION_ORIGINS:
        return all(_compatible(arg, wanted) for arg in get_args(item))
    if get_origin(wanted) in _UNION_ORIGINS:
        return any(_compatible(item, arg) for arg in get_args(wanted))
    if get_origin(item) is Literal:
        return all(_compatible(type(value), wanted) for value in get_args(item))
    origin, wanted_origin = get_origin(item) or item, get_origin(wanted) or wanted
    if not (isinstance(origin, type) and isinstance(wanted_origin, type)):
        return False
    if get_args(item) and get_args(wanted):
        pairs = zip(get_args(item), get_args(wanted), strict=False)
        if len(get_args(item)) != len(get_args(wanted)) or not all(
            _compatible(a, b) for a, b in pairs
        ):
            return False
    # An int is a valid float to pydantic; everything else must be the type or a subclass.
    return issubclass(origin, wanted_origin) or (origin is int and wanted_origin is float)


def _type_name(annotation: Any) -> str:
    if is_class(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


class _Part:
    """One field of the projected model: where it is stored, and its own parts if nested."""

    __slots__ = ("name", "parts", "stored")

    def __init__(self, name: str, stored: str, parts: tuple[_Part, ...] | None) -> None:
        self.name = name
        self.stored = stored
        self.parts = parts


def _translate(parts: tuple[_Part, ...], raw: Mapping[str, Any]) -> dict[str, Any]:
    """A stored (sub)document keyed by the projected model's field names."""
    data: dict[str, Any] = {}
    for part in parts:
        if part.stored not in raw:
            continue  # the model's default applies, or validation reports the missing field
        value = raw[part.stored]
        if part.parts is not None:
            value = _translate_nested(part.parts, value)
        data[part.name] = value
    return data


def _translate_nested(parts: tuple[_Part, ...], value: Any) -> Any:
    if isinstance(value, Mapping):
        return _translate(parts, cast("Mapping[str, Any]", value))
    if _is_list(value):
        return [_translate_nested(parts, item) for item in value]
    return value


def _is_list(value: Any) -> TypeGuard[list[Any]]:
    return isinstance(value, list)


class Projection:
    """A checked projection of a document class onto a pydantic model."""

    __slots__ = ("_parts", "document", "fields", "model")

    document: type[BaseModel]
    model: type[BaseModel]
    fields: dict[str, int]
    """The projection sent to MongoDB: the stored paths of the model's fields."""

    def __init__(self, mapping: DocumentMapping, model: type[BaseModel]) -> None:
        self.document = mapping.document
        self.model = model
        sources = {name: (field.stored, field.info) for name, field in mapping.fields.items()}
        self._parts = self._plan(sources, model, "")
        # _id always comes back (MongoDB's default): errors about stored data name the document.
        self.fields = {}
        self._paths(self._parts, "")

    def _paths(self, parts: tuple[_Part, ...], prefix: str) -> None:
        for part in parts:
            if part.parts is None:
                self.fields[prefix + part.stored] = 1
            else:
                self._paths(part.parts, f"{prefix}{part.stored}.")

    def _plan(
        self,
        sources: dict[str, tuple[str, FieldInfo]],
        model: type[BaseModel],
        prefix: str,
    ) -> tuple[_Part, ...]:
        document = self.document.__name__
        parts: list[_Part] = []
        for name, info in model.__pydantic_fields__.items():
            path = prefix + name
            if name not in sources:
                raise UnknownModelField(
                    f"{model.__name__}.{name}: {document} has no field {path!r} to project",
                    document=self.document,
                    field=path,
                )
            stored, source = sources[name]
            nested, wanted = model_type(source.annotation), model_type(info.annotation)
            self._check_masked(model, name, info, source, nested if wanted is None else None, path)
            if nested is not None and wanted is not None and nested is not wanted:
                # A smaller model of the nested one: project its fields only.
                have, want = shape_of(source.annotation), shape_of(info.annotation)
                if have.many == want.many and (want.optional or not have.optional):
                    inner = {
                        key: (field.serialization_alias or field.alias or key, field)
                        for key, field in nested.__pydantic_fields__.items()
                    }
                    parts.append(_Part(name, stored, self._plan(inner, wanted, f"{path}.")))
                    continue
            elif _compatible(source.annotation, info.annotation):
                parts.append(_Part(name, stored, None))
                continue
            raise WrongModelFieldType(
                f"{model.__name__}.{name} is {_type_name(info.annotation)}, which cannot hold "
                f"the values of {document}.{path} ({_type_name(source.annotation)})",
                document=self.document,
                field=path,
            )
        return tuple(parts)

    def _check_masked(
        self,
        model: type[BaseModel],
        name: str,
        info: FieldInfo,
        source: FieldInfo,
        unmodelled: type[BaseModel] | None,
        path: str,
    ) -> None:
        """Refuse a field of the projected model that would show a sensitive value unmasked.

        A plain ``email: str`` over the document's sensitive ``email`` would serialize the real
        address; so would ``card: Any`` over a card holding a sensitive number (``unmodelled``:
        the document's model under a field the projection types as no model).
        """
        document = self.document.__name__
        if field_spec(source).sensitive and not field_spec(info).sensitive:
            raise WrongModelFieldType(
                f"{model.__name__}.{name} projects the sensitive {document}.{path}, and would "
                f"show its value unmasked; declare it Field(sensitive=True) in "
                f"{model.__name__} too",
                document=self.document,
                field=path,
            )
        if unmodelled is not None and holds_sensitive(unmodelled):
            raise WrongModelFieldType(
                f"{model.__name__}.{name} is {_type_name(info.annotation)}, which would show "
                f"the sensitive values of {document}.{path} ({unmodelled.__name__}) unmasked; "
                f"type it as a model whose sensitive fields are Field(sensitive=True)",
                document=self.document,
                field=path,
            )

    def load(self, raw: Mapping[str, Any]) -> Any:
        """A model instance from a projected stored document."""
        try:
            return self.model.model_validate(
                _translate(self._parts, raw), by_alias=False, by_name=True
            )
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise WrongValueType(
                f"{self.document.__name__} {raw.get(STORED_ID)}: the stored value of {where!r} "
                f"does not fit {self.model.__name__}: {first['msg']}",
                document=self.document,
                field=where,
                stored=True,
            ) from None

    def __repr__(self) -> str:
        return f"<Projection {self.document.__name__} -> {self.model.__name__}>"


@functools.lru_cache(maxsize=256)
def projection_of(mapping: DocumentMapping, model: type[BaseModel]) -> Projection:
    """The checked projection of a document onto ``model`` (built once per pair)."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"project() takes a pydantic model class, not {model!r}")
    return Projection(mapping, model)
