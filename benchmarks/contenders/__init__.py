"""One module per contender; each is imported only in the interpreter that runs it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _data import Shape
    from _harness import Contender

# name → module of this package defining ``CONTENDER``.
MODULES = {
    "raw": "pymongo_raw",
    "raw+pydantic": "pymongo_pydantic",
    "mdocument": "mdocument_odm",
    "mdocument+motor": "mdocument_motor",
    "beanie": "beanie_odm",
    "odmantic": "odmantic_odm",
    "motor": "motor_raw",
    "motor+pydantic": "motor_pydantic",
}


def load(name: str, shapes: dict[str, Shape]) -> Contender:
    """A new instance of the contender called ``name``, for models of these shapes."""
    module = importlib.import_module(f"contenders.{MODULES[name]}")
    contender: Contender = module.CONTENDER(shapes)
    return contender
