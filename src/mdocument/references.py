"""Typed references: ``Ref[User]``, ``OptionalRef[User]`` and ``RefList[Tag]``.

They declare a reference and its target in the annotation itself, which lets type checkers follow
it: ``post.author_id`` is an ``ObjectId``, while ``Post.author_id`` (on the class) is a field that
``await post.fetch(Post.author_id)`` resolves to a ``User``::

    class Post(Document):
        author_id: Ref[User]                               # = ObjectId + Field(related=User)
        reviewer_id: OptionalRef[User] = Field(default=None, on_delete=OnDelete.SET_NULL)
        tag_ids: RefList[Tag] = Field(default_factory=list)

At run time each is plain ``Annotated[ObjectId, FieldSpec(related=Target)]`` (or the optional
or list form): pydantic stores an ``ObjectId`` (or ``None``, or a list of them), exactly as with
``ObjectId = Field(related=Target)``. The target may be a class or its name as a string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Generic, Optional, TypeVar, overload

import bson

from mdocument.fields import FieldSpec
from mdocument.types import ObjectId

__all__ = ["OptionalRef", "Ref", "RefField", "RefList", "RefListField"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class RefField(Generic[T_co]):
    """What a type checker sees for ``Doc.<reference field>``: a field of ``T_co`` documents.

    At run time it is the field's query expression.
    """

    if TYPE_CHECKING:

        def __eq__(self, other: object) -> bool: ...
        def __ne__(self, other: object) -> bool: ...


class RefListField(Generic[T_co]):
    """What a type checker sees for ``Doc.<list of references>`` on the class."""

    if TYPE_CHECKING:

        def __eq__(self, other: object) -> bool: ...
        def __ne__(self, other: object) -> bool: ...


def _target_name(target: Any) -> Any:
    # Ref["User"] with postponed annotations hands over a ForwardRef: keep its name.
    return getattr(target, "__forward_arg__", target)


if TYPE_CHECKING:

    class Ref(Generic[T]):
        """A required reference to a ``T`` document (an ``ObjectId``)."""

        @overload
        def __get__(self, instance: None, owner: Any) -> RefField[T]: ...
        @overload
        def __get__(self, instance: object, owner: Any) -> bson.ObjectId: ...
        def __get__(self, instance: object, owner: Any) -> Any: ...
        def __set__(self, instance: object, value: bson.ObjectId) -> None: ...

    class OptionalRef(Generic[T]):
        """An optional reference to a ``T`` document (an ``ObjectId`` or ``None``)."""

        @overload
        def __get__(self, instance: None, owner: Any) -> RefField[T | None]: ...
        @overload
        def __get__(self, instance: object, owner: Any) -> bson.ObjectId | None: ...
        def __get__(self, instance: object, owner: Any) -> Any: ...
        def __set__(self, instance: object, value: bson.ObjectId | None) -> None: ...

    class RefList(Generic[T]):
        """A list of references to ``T`` documents (a list of ``ObjectId``)."""

        @overload
        def __get__(self, instance: None, owner: Any) -> RefListField[T]: ...
        @overload
        def __get__(self, instance: object, owner: Any) -> list[bson.ObjectId]: ...
        def __get__(self, instance: object, owner: Any) -> Any: ...
        def __set__(self, instance: object, value: list[bson.ObjectId]) -> None: ...

else:

    class Ref:
        """A required reference to a document (an ``ObjectId``)."""

        def __class_getitem__(cls, target: Any) -> Any:
            return Annotated[ObjectId, FieldSpec(related=_target_name(target))]

    class OptionalRef:
        """An optional reference to a document (an ``ObjectId`` or ``None``)."""

        def __class_getitem__(cls, target: Any) -> Any:
            return Annotated[Optional[ObjectId], FieldSpec(related=_target_name(target))]  # noqa: UP045

    class RefList:
        """A list of references to documents (a list of ``ObjectId``)."""

        def __class_getitem__(cls, target: Any) -> Any:
            return Annotated[list[ObjectId], FieldSpec(related=_target_name(target))]
