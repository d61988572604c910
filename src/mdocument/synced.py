"""``Synced``: a denormalized copy of chosen fields of another document.

A ``Synced`` subclass is a pydantic model with ``id`` plus the fields of the target to copy.
A document field of that type (or a list of them), declared with ``Field(synced=Target)``, holds
copies that mdocument keeps equal to their source: when the target's copied fields change, every
copy is rewritten; when the target is deleted, the field's on-delete rule applies::

    class AuthorCard(Synced[User]):     # or Synced, with Field(synced=User) on the field
        id: ObjectId
        name: str

    class Post(Document):
        author: AuthorCard = Field(synced=User)

    post = await Post.create(author=AuthorCard.of(ada), ...)

``Synced[User]`` names the target in the type, which also lets type checkers type
``await post.fetch(Post.author)`` as ``User``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from typing_extensions import Self

from mdocument.masking import masked_repr_args

if TYPE_CHECKING:
    from mdocument.model import DocumentBase as Document

__all__ = ["Synced"]

D = TypeVar("D", bound="Document")


class _SyncedBase(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, extra="ignore")

    __mdocument_synced_target__: ClassVar[type[Any] | str | None] = None
    """The document this card copies, when named in the type (``Synced[User]``)."""

    @classmethod
    def of(cls, document: BaseModel) -> Self:
        """A copy of ``document``'s fields that this model declares (``id`` included)."""
        values = document.__dict__
        missing = [name for name in cls.__pydantic_fields__ if name not in values]
        if missing:
            from mdocument.exceptions import UnknownModelField

            raise UnknownModelField(
                f"{cls.__name__} copies {', '.join(missing)}, which "
                f"{type(document).__name__} does not have",
                document=cls,
                field=missing[0],
            )
        return cls.model_validate({name: values[name] for name in cls.__pydantic_fields__})

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        from mdocument.fields import field_spec

        sensitive = frozenset(
            name
            for name, info in type(self).__pydantic_fields__.items()
            if field_spec(info).sensitive
        )
        return masked_repr_args(self, sensitive)


if TYPE_CHECKING:

    class Synced(_SyncedBase, Generic[D]):
        """Base of denormalized copies; ``Synced[Target]`` names the copied document."""

else:

    class Synced(_SyncedBase):
        """Base of denormalized copies; ``Synced[Target]`` names the copied document."""

        def __class_getitem__(cls, target: Any) -> Any:
            target = getattr(target, "__forward_arg__", target)
            name = target if isinstance(target, str) else target.__name__
            return type(
                f"Synced[{name}]",
                (cls,),
                {"__module__": cls.__module__, "__mdocument_synced_target__": target},
            )
