"""Data of the benchmark: the MongoDB ODM benchmark documents, and the shapes of their models.

The three documents of the ODM benchmark spec (``small_doc.json``, ``large_doc.json``,
``large_doc_nested.json``) are read from a data directory when it holds them. They are not
shipped with mdocument (their licence is not MIT): when a file is missing, a document of the
same shape (same field names, types and sizes, other values) is generated instead, and the run
says so.

Every contender builds its models from the same :class:`Shape` descriptions, so that the
documents stored by the raw driver and by each ODM are identical field for field.

This module runs in every contender's interpreter: it needs only the standard library and
``bson`` (part of PyMongo, which every contender has).
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import random
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bson

SMALL_FILE = "small_doc.json"
LARGE_FILE = "large_doc.json"
NESTED_FILE = "large_doc_nested.json"


class ObjectIdType:
    """Marker for an ``ObjectId`` field in a :class:`Shape` (each contender has its own type)."""


@dataclass(frozen=True)
class ListOf:
    """A list of embedded documents of one shape."""

    item: Shape


@dataclass(frozen=True)
class Shape:
    """The fields of a model, in order: a Python type, a nested shape or a list of one."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Data:
    """The three base documents, and where they came from."""

    small: dict[str, Any]
    large: dict[str, Any]
    nested: dict[str, Any]
    sources: dict[str, str]


def _random_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + "#$@*&", k=length))


def _synthetic(name: str) -> dict[str, Any]:
    """A document with the shape of the spec's file ``name`` (same sizes, other values)."""
    rng = random.Random(name)
    if name == SMALL_FILE:
        doc: dict[str, Any] = {f"field{i}": _random_text(rng, 8) for i in range(1, 8)}
        doc.update({f"field{i}": rng.randrange(10**8) for i in range(8, 14)})
        return doc
    if name == LARGE_FILE:
        doc = {f"field{i}": _random_text(rng, 30) for i in range(1, 126)}
        doc.update({f"field{i}": rng.randrange(10**8) for i in range(126, 251)})
        doc["image_field"] = rng.randbytes(2_413_218)
        return doc

    def strings() -> dict[str, Any]:
        return {f"field{i}": _random_text(rng, 30) for i in range(1, 16)}

    def ints() -> dict[str, Any]:
        return {f"field{i}": rng.randrange(10**8) for i in range(1, 16)}

    doc = {f"embedded_str_doc_{i}": strings() for i in range(1, 6)}
    doc["embedded_str_doc_array"] = [strings(), strings()]
    doc.update({f"embedded_int_doc_{i}": ints() for i in range(8, 15)})
    return doc


def _load(directory: Path | None, name: str) -> tuple[dict[str, Any], str]:
    path = directory / name if directory is not None else None
    if path is None or not path.is_file():
        return _synthetic(name), "generated (same shape as the spec's file)"
    raw = json.loads(path.read_text(encoding="utf-8"))
    image = raw.get("image_field")
    if isinstance(image, dict) and "$binary" in image:  # extended JSON, canonical form
        raw["image_field"] = base64.b64decode(image["$binary"]["base64"])
    return raw, str(path)


def load_data(directory: str | None) -> Data:
    """The base documents from ``directory``, generated where a file is missing."""
    folder = Path(directory) if directory else None
    small, small_src = _load(folder, SMALL_FILE)
    large, large_src = _load(folder, LARGE_FILE)
    nested, nested_src = _load(folder, NESTED_FILE)
    return Data(
        small,
        large,
        nested,
        {SMALL_FILE: small_src, LARGE_FILE: large_src, NESTED_FILE: nested_src},
    )


# -- shapes -------------------------------------------------------------------------------------


def _shape_of(name: str, doc: dict[str, Any], embedded: dict[str, Shape]) -> Shape:
    fields: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            fields[key] = embedded[_embedded_name(value)]
        elif isinstance(value, list):
            fields[key] = ListOf(embedded[_embedded_name(value[0])])
        else:
            fields[key] = type(value)
    return Shape(name, fields)


def _embedded_name(value: dict[str, Any]) -> str:
    return "StrDoc" if isinstance(value["field1"], str) else "IntDoc"


def shapes(data: Data) -> dict[str, Shape]:
    """The shape of every model of the benchmark, by kind.

    - ``small``: the small document; ``small_fk``: the same plus ``fk``, the id of a ``target``;
    - ``large``: the large document (``image_field`` is ``bytes``);
    - ``nested``: the nested document; its string sub-documents get a ``unique_id`` (an int),
      by which the "find nested" tasks filter.
    """
    nested = with_unique_ids(data.nested, 0)
    str_doc = nested["embedded_str_doc_1"]
    int_doc = next(v for k, v in nested.items() if k.startswith("embedded_int_doc"))
    embedded = {
        "StrDoc": _shape_of("StrDoc", str_doc, {}),
        "IntDoc": _shape_of("IntDoc", int_doc, {}),
    }
    small = _shape_of("Small", data.small, {})
    return {
        "small": small,
        "small_fk": Shape("SmallFk", {**small.fields, "fk": ObjectIdType}),
        "target": Shape("Target", {"name": str}),
        "large": _shape_of("Large", data.large, {}),
        "nested": _shape_of("Nested", nested, embedded),
        "user": USER,
    }


# The mixed document: ten fields of the kinds a real application stores (an independent
# harness's ``User``), none of them from the spec.
ADDRESS = Shape("Address", {"street": str, "city": str, "zip": str})
USER = Shape(
    "User",
    {
        "name": str,
        "email": str,
        "age": int,
        "score": float,
        "created": datetime.datetime,
        "active": bool,
        "tags": list[str],
        "address": ADDRESS,
        "bio": str | None,  # type: ignore[dict-item]
        "counters": dict[str, int],
    },
)
# UTC, whole milliseconds: as BSON stores it (mdocument refuses naive datetimes).
_CREATED = datetime.datetime(2024, 1, 1, 9, 30, tzinfo=datetime.timezone.utc)
_CITIES = ["Lyon", "Porto", "Turku", "Graz", "Leeds", "Bergen", "Cork"]
_TAGS = ["admin", "beta", "staff", "trial", "pro", "legacy", "eu", "us"]


def user_doc(number: int) -> dict[str, Any]:
    """The mixed document number ``number``: every value varies with it, sizes stay close."""
    return {
        "name": f"user {number:07d}",
        "email": f"user{number:07d}@example.com",
        "age": 18 + number % 70,
        "score": number * 0.37 % 100,
        "created": _CREATED + datetime.timedelta(seconds=number, milliseconds=number % 1000),
        "active": number % 3 != 0,
        "tags": [_TAGS[number % 8], _TAGS[(number * 3 + 1) % 8]],
        "address": {
            "street": f"{number % 300} Long Street",
            "city": _CITIES[number % 7],
            "zip": f"{number % 100000:05d}",
        },
        "bio": None if number % 4 == 0 else f"Biography of user {number}, who likes {number % 9}.",
        "counters": {"logins": number % 50, "posts": number % 13, "likes": number % 101},
    }


# -- documents ----------------------------------------------------------------------------------

# unique_id of the first item of embedded_str_doc_array: apart from embedded_str_doc_1's.
ARRAY_ID_OFFSET = 1_000_000_000


def with_unique_ids(base: dict[str, Any], number: int) -> dict[str, Any]:
    """A fresh copy of the nested document, its string sub-documents numbered from ``number``.

    Every ``unique_id`` in a run is distinct: ``embedded_str_doc_1`` gets ``number``, the first
    item of ``embedded_str_doc_array`` gets ``ARRAY_ID_OFFSET + number``.
    """
    doc = copy.deepcopy(base)
    others = 0
    for key, value in doc.items():
        if key == "embedded_str_doc_1":
            value["unique_id"] = number
        elif key == "embedded_str_doc_array":
            for position, item in enumerate(value):
                item["unique_id"] = ARRAY_ID_OFFSET * (position + 1) + number
        elif isinstance(value, dict) and isinstance(value.get("field1"), str):
            others += 1
            value["unique_id"] = -(number * 10 + others)
    return doc


def new_id() -> bson.ObjectId:
    """A new ``ObjectId`` (for foreign keys)."""
    return bson.ObjectId()
