"""Encoding documents for MongoDB and decoding them back.

The stored form of a document is pydantic's Python-mode dump by alias, with ``id`` stored as
``_id``. Values that BSON cannot hold natively (enums, sets, dates, ``Decimal``, paths, URLs,
secrets, nested models inside query values) are converted by the collection's codec options,
so the driver's C encoder does the walking and queries encode values exactly as documents do.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import ipaddress
import pathlib
from typing import TYPE_CHECKING, Any, cast

import bson
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions, TypeDecoder, TypeRegistry
from bson.decimal128 import Decimal128
from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic_core import Url

from mdocument.exceptions import RequiredFieldMissing, WrongValueType
from mdocument.hierarchy import KIND_FIELD
from mdocument.masking import mask_at
from mdocument.names import STORED_ID

if TYPE_CHECKING:
    from mdocument.mapping import DocumentMapping

__all__ = [
    "codec_options",
    "decode",
    "decode_bson",
    "encode",
    "encode_bson",
    "encode_value",
    "fallback_encoder",
]

_STRINGIFIED = (
    pathlib.PurePath,
    Url,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)


class _DecimalDecoder(TypeDecoder):
    """BSON ``decimal128`` → ``Decimal``, so a ``Decimal`` field reads back as one.

    Only the collections of documents with ``Decimal`` fields get it: any decoder sends every
    reply through the driver's slower, hooked decoding.
    """

    @property
    def bson_type(self) -> Any:
        return Decimal128

    def transform_bson(self, value: Any) -> Any:
        return value.to_decimal()


def fallback_encoder(value: Any) -> Any:
    """BSON form of the values pydantic's Python-mode dump leaves as Python objects."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return Decimal128(value)
    if isinstance(value, (set, frozenset)):
        return list(cast("set[Any]", value))
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (SecretStr, SecretBytes)):
        return value.get_secret_value()
    if isinstance(value, _STRINGIFIED):
        return str(value)
    if isinstance(value, BaseModel):
        return encode_value(value)
    return value  # the driver raises InvalidDocument naming the type


def codec_options(
    base: CodecOptions[Any], *, decimals: bool = False, aware: bool = True
) -> CodecOptions[dict[str, Any]]:
    """The codec options of mdocument's collections, derived from the database's own.

    Datetimes come back timezone-aware in UTC, so a loaded datetime equals the one saved; UUIDs
    use the standard representation unless the application chose one. ``decimals``: decode
    ``decimal128`` values into ``Decimal`` (for documents that hold some). ``aware=False``:
    naive datetimes, for the loads of classes that attach UTC themselves (see :mod:`utc`).
    """
    uuids = base.uuid_representation
    if uuids == UuidRepresentation.UNSPECIFIED:
        uuids = UuidRepresentation.STANDARD
    decoders = [_DecimalDecoder()] if decimals else []
    return base.with_options(
        document_class=dict,
        tz_aware=aware,
        tzinfo=datetime.timezone.utc if aware else None,
        uuid_representation=uuids,
        type_registry=TypeRegistry(decoders, fallback_encoder=fallback_encoder),
    )


def encode(document: BaseModel, mapping: DocumentMapping) -> dict[str, Any]:
    """The stored form of a document: a dict the driver can encode, ``_id`` included."""
    # A class of a polymorphic hierarchy stores its own fields and kind, not its root's.
    own: DocumentMapping = getattr(type(document), "__mdocument_mapping__", mapping)
    # pydantic's serializer, called as ``model_dump`` calls it, without the keyword handling
    # (a quarter of the dump's cost for a small document). No serializer warnings: they print
    # values (sensitive ones too), and a value of the wrong type is refused before a write.
    dumped = type(document).__pydantic_serializer__.to_python(
        document, by_alias=True, exclude=own.dump_exclude, warnings=False
    )
    # ``_id`` first, as the server stores it: the driver then encodes the document in one pass.
    # The id is the instance's ObjectId, which is what dumping it would give in Python mode.
    data: dict[str, Any] = {STORED_ID: document.id, **dumped}  # type: ignore[attr-defined]
    if own.kind is not None:
        data[KIND_FIELD] = own.kind
    return data


def encode_bson(form: dict[str, Any], options: CodecOptions[Any]) -> bytes:
    """A stored form encoded once, with its collection's codec options.

    Sent as a ``RawBSONDocument``, which the driver copies as it is, the bytes can serve as the
    instance's change baseline: one object the garbage collector never scans, instead of a dict
    and its lists and dicts, which made bulk inserts of thousands of instances trigger full
    collections.
    """
    return bson.encode(form, codec_options=options)


def decode_bson(data: bytes, options: CodecOptions[Any]) -> dict[str, Any]:
    """The raw stored document of :func:`encode_bson`'s bytes, as the collection reads it."""
    return bson.decode(data, codec_options=options)  # pyright: ignore[reportUnknownMemberType]


def encode_value(value: Any) -> Any:
    """The stored form of a value used in a query or an update (models become dicts)."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode_value(item) for item in cast("list[Any]", value)]
    if isinstance(value, dict):
        return {key: encode_value(item) for key, item in cast("dict[str, Any]", value).items()}
    return value


def decode(mapping: DocumentMapping, raw: dict[str, Any]) -> Any:
    """Validate a stored document into its class; a mismatch names the document id and field."""
    try:
        # The validator itself, as ``model_validate`` calls it, without its keyword handling.
        return mapping.document.__pydantic_validator__.validate_python(raw)
    except ValidationError as exc:
        raise stored_document_error(mapping, raw.get(STORED_ID), exc) from None


def stored_document_error(
    mapping: DocumentMapping, document_id: Any, exc: ValidationError
) -> RequiredFieldMissing | WrongValueType:
    """The error for a stored document that does not match its class (values masked)."""
    first = exc.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    field = str(first["loc"][0]) if first["loc"] else ""
    name = mapping.document.__name__
    where = f"{name} {document_id} in collection {mapping.collection!r}"
    more = f" (and {exc.error_count() - 1} more errors)" if exc.error_count() > 1 else ""
    if first["type"] == "missing":
        return RequiredFieldMissing(
            f"{where} has no value for required field {location!r}{more}",
            document=mapping.document,
            field=field,
        )
    stored = mapping.field_of_stored(field)
    # The input at the error's location may be a parent of sensitive values (a whole card, a
    # list of cards, the whole document for a model validator): only those values are masked.
    shown = _cut(repr(mask_at(mapping.document, first["loc"], first.get("input"))))
    return WrongValueType(
        f"{where}: stored value {shown} of field {location!r} does not match the class: "
        f"{first['msg']}{more}",
        document=mapping.document,
        field=stored.name if stored else field,
        stored=True,
    )


def _cut(text: str, limit: int = 80) -> str:
    """A value's text, cut to ``limit`` characters for a one-line message."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
