"""The errors mdocument raises: one small hierarchy under :class:`DocumentException`.

The names are those of the 2020 library. Every error carries the document class it is about
(``error.document``) and, where there is one, the field (``error.field``). Values of sensitive
fields never appear in a message or an attribute: they are replaced by the placeholder ``***``.

Each document class also has its own ``DuplicateError`` and ``NotFoundError`` subclasses, so
``except User.DuplicateError`` catches only the duplicates of ``User`` (and of its subclasses).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "CopiedFieldWrite",
    "DeleteRestricted",
    "DocumentDoesntExist",
    "DocumentException",
    "DuplicateError",
    "FieldIsNotJsonEncodable",
    "InvalidPageToken",
    "NotFoundError",
    "NotInitializedError",
    "ParentBeingDeleted",
    "ParentSoftDeleted",
    "PrimaryKeyNotInSyncedFields",
    "ReadOnlyDocument",
    "RelationNotSet",
    "RequiredFieldMissing",
    "RevisionConflict",
    "ShardKeyChange",
    "TransactionConflict",
    "UnknownModelField",
    "WrongModelFieldType",
    "WrongQueryType",
    "WrongValueType",
]


class DocumentException(Exception):
    """Base class of every mdocument error.

    Attributes:
        document: the document (or model) class the error is about, when there is one.
        field: the field name the error is about, when there is one.
    """

    def __init__(
        self, message: str, *, document: type[Any] | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.document = document
        self.field = field

    def __str__(self) -> str:
        return self.message


class DuplicateError(DocumentException):
    """A write conflicts with a unique index; nothing was written.

    Attributes:
        fields: the fields of the unique index (one for a ``unique=True`` field).
        value: the conflicting value (a dict for several fields); ``"***"`` when sensitive.
    """

    def __init__(
        self,
        message: str,
        *,
        document: type[Any] | None = None,
        fields: Sequence[str] = (),
        value: Any = None,
    ) -> None:
        super().__init__(message, document=document, field=fields[0] if fields else None)
        self.fields = tuple(fields)
        self.value = value


class NotFoundError(DocumentException):
    """A query that had to find a document found none.

    Attributes:
        query: the filter that matched nothing, sensitive values masked.
    """

    def __init__(
        self, message: str, *, document: type[Any] | None = None, query: Any = None
    ) -> None:
        super().__init__(message, document=document)
        self.query = query


class DocumentDoesntExist(DocumentException):
    """A reference points to a document that does not exist (or no longer does).

    Attributes:
        ids: the ids that were not found.
    """

    def __init__(
        self,
        message: str,
        *,
        document: type[Any] | None = None,
        field: str | None = None,
        ids: Sequence[Any] = (),
    ) -> None:
        super().__init__(message, document=document, field=field)
        self.ids = tuple(ids)


class ParentBeingDeleted(DocumentDoesntExist):
    """A reference points to a document whose chunked delete is running (see ``Large cascades``).

    A delete larger than ``registry.cascade_chunk`` documents marks its roots as being deleted
    before its first chunk; a child create, or a reference written to such a parent, is refused
    with this error instead of racing the job. It is a :class:`DocumentDoesntExist`: the parent
    is as good as gone. ``field`` names the reference, ``ids`` the parents being deleted.
    """


class ParentSoftDeleted(DocumentDoesntExist):
    """A reference points to a soft-deleted document (``Meta.soft_delete = True``).

    A child create, a reference written to a soft-deleted parent, or the restore of a document
    whose parent was soft-deleted by another deletion is refused with this error; nothing is
    written. It is a :class:`DocumentDoesntExist`: ``field`` names the reference, ``ids`` the
    soft-deleted parents.
    """


class ShardKeyChange(DocumentException):
    """A ``save()`` would change a value of the class's ``Meta.shard_key``; nothing was sent.

    MongoDB routes a document by its shard key: a changed value moves the document to another
    shard, which mdocument does not do behind a ``save()``. Delete and create it instead.
    """


class RequiredFieldMissing(DocumentException):
    """A required field has no value (for example in a document stored by another program)."""


class UnknownModelField(DocumentException):
    """A name used as a field (in a query, an index, a synced copy) is not a field of the model."""


class WrongModelFieldType(DocumentException):
    """A field's type does not fit its metadata (found when the class is built or at ``init``)."""


class WrongQueryType(DocumentException, TypeError):
    """A query that is neither a field expression, a dict in MongoDB syntax, nor ``None``.

    The 2020 client's ``WrongQueryType``; a ``TypeError`` too. ``error.document`` is the class
    queried; the message names the type given (a list, a str, a bool built from an instance...).
    """


class WrongValueType(DocumentException):
    """A value does not fit its field: in a stored document, a query or an id.

    Attributes:
        stored: ``True`` when the value was read from the database (a stored document, a
            projected one, an aggregation result) and does not fit its class: a fault of the
            data or of the code, where ``False`` is a value given to a query, an update or
            ``get`` (a fault of the caller, a 422 in a web app).
    """

    def __init__(
        self,
        message: str,
        *,
        document: type[Any] | None = None,
        field: str | None = None,
        stored: bool = False,
    ) -> None:
        super().__init__(message, document=document, field=field)
        self.stored = stored


class InvalidPageToken(DocumentException, ValueError):
    """A keyset page token was altered, truncated, or made for a query with another sort.

    Its message never holds the token: a web app can answer 400 with it.
    """


class RelationNotSet(DocumentException):
    """A relation is used that was not declared, or points to a document that is not registered."""


class PrimaryKeyNotInSyncedFields(DocumentException):
    """A ``Synced`` copy does not declare the ``id`` of the document it copies."""


class FieldIsNotJsonEncodable(DocumentException):
    """A value cannot be written as JSON (during an export)."""


class NotInitializedError(DocumentException):
    """A document class was used for I/O before ``await mdocument.init(...)`` registered it."""


class DeleteRestricted(DocumentException):
    """An ``OnDelete.RESTRICT`` relation refused a delete; nothing was changed.

    Attributes:
        blocking: the class of the documents that still refer to the deleted one.
        count: how many of them there are.
        ids: the ids of a few of them.
    """

    def __init__(
        self,
        message: str,
        *,
        document: type[Any] | None = None,
        field: str | None = None,
        blocking: type[Any] | None = None,
        count: int = 0,
        ids: Sequence[Any] = (),
    ) -> None:
        super().__init__(message, document=document, field=field)
        self.blocking = blocking
        self.count = count
        self.ids = tuple(ids)


class RevisionConflict(DocumentException):
    """A save from a stale instance (``Meta.revision = True``); nothing was written.

    The stored document changed since this instance was loaded or saved. Reload it and apply
    the change again.

    Attributes:
        document_id: the id of the document.
        expected: the revision the instance had; the stored one is newer.
    """

    def __init__(
        self, message: str, *, document: type[Any], document_id: Any, expected: int
    ) -> None:
        super().__init__(message, document=document)
        self.document_id = document_id
        self.expected = expected


class TransactionConflict(DocumentException):
    """A transaction kept conflicting with concurrent writers until its retry deadline passed.

    Nothing of it was written. Retrying later is safe; a hot parent document (one that very
    many concurrent writes refer to) is the usual cause.
    """


class CopiedFieldWrite(DocumentException):
    """A bulk update wrote a path inside a synced copy: copies belong to their source.

    Change the source document instead (its copies follow), or set the whole copy or its id.
    """


class ReadOnlyDocument(DocumentException):
    """A write was asked of a view document (``Meta.view_on``); nothing was sent."""
