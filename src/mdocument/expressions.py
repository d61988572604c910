"""Field expressions: ``Post.title == "x"`` builds a filter (see issue 5 for the full DSL)."""

from __future__ import annotations

from typing import Any

__all__ = ["field_expression"]


def field_expression(document: type[Any], name: str) -> Any:
    """The query expression of a document field, as returned by ``Document.<field>``."""
    raise AttributeError(f"field expressions on {document.__name__}.{name} are not built yet")
