"""mdocument: a typed, async Object-Document Mapper for MongoDB, built on pydantic v2.

Documents are pydantic models; field metadata declares uniqueness, sensitivity, references and
synced copies, and :func:`init` binds the documents to a database::

    from mdocument import Document, Field, init

    class User(Document):
        name: str = Field(unique=True)
        password_hash: str = Field(sensitive=True)

    await init(database, models=[User])
    ada = await User.create(name="Ada", password_hash="...")
"""

from mdocument.document import Document
from mdocument.exceptions import (
    DeleteRestricted,
    DocumentDoesntExist,
    DocumentException,
    DuplicateError,
    FieldIsNotJsonEncodable,
    NotFoundError,
    NotInitializedError,
    PrimaryKeyNotInSyncedFields,
    RelationNotSet,
    RequiredFieldMissing,
    UnknownModelField,
    WrongModelFieldType,
    WrongValueType,
)
from mdocument.export import export
from mdocument.fields import Field, FieldSpec, OnDelete, Relation
from mdocument.indexes import Index
from mdocument.masking import REVEAL, SENSITIVE_PLACEHOLDER, reveal
from mdocument.query import QuerySet
from mdocument.graph import Edge, Graph
from mdocument.references import OptionalRef, Ref, RefList
from mdocument.registry import Registry, init
from mdocument.synced import Synced
from mdocument.types import ObjectId
from mdocument.expressions import (
    Expression,
    SortKey,
    and_,
    asc,
    contains,
    desc,
    exists,
    in_,
    not_,
    not_in,
    or_,
    raw,
    regex,
)
from mdocument.pagination import InvalidPageToken, KeysetPage, Page

__version__ = "0.1.0"

__all__ = [
    "Edge",
    "Graph",
    "OptionalRef",
    "Ref",
    "RefList",
    "Synced",
    "REVEAL",
    "SENSITIVE_PLACEHOLDER",
    "DeleteRestricted",
    "Document",
    "DocumentDoesntExist",
    "DocumentException",
    "DuplicateError",
    "Field",
    "FieldIsNotJsonEncodable",
    "FieldSpec",
    "Index",
    "NotFoundError",
    "NotInitializedError",
    "ObjectId",
    "OnDelete",
    "PrimaryKeyNotInSyncedFields",
    "QuerySet",
    "Registry",
    "Relation",
    "RelationNotSet",
    "RequiredFieldMissing",
    "UnknownModelField",
    "WrongModelFieldType",
    "WrongValueType",
    "export",
    "init",
    "reveal",
    "Expression",
    "InvalidPageToken",
    "KeysetPage",
    "Page",
    "SortKey",
    "and_",
    "asc",
    "contains",
    "desc",
    "exists",
    "in_",
    "not_",
    "not_in",
    "or_",
    "raw",
    "regex",
]
