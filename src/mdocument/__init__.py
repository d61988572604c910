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

from mdocument.binding import CrossRegistryWrite
from mdocument.bulk import Bulk, bulk
from mdocument.check import Report, check
from mdocument.collection import Collection, collection
from mdocument.document import Document
from mdocument.exceptions import (
    CopiedFieldWrite,
    DeleteRestricted,
    DocumentDoesntExist,
    DocumentException,
    DuplicateError,
    FieldIsNotJsonEncodable,
    InvalidPageToken,
    NotFoundError,
    NotInitializedError,
    ParentBeingDeleted,
    ParentSoftDeleted,
    PrimaryKeyNotInSyncedFields,
    ReadOnlyDocument,
    RelationNotSet,
    RequiredFieldMissing,
    RevisionConflict,
    ShardKeyChange,
    TransactionConflict,
    UnknownModelField,
    WrongModelFieldType,
    WrongQueryType,
    WrongValueType,
)
from mdocument.export import export
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
from mdocument.fields import Field, FieldSpec, OnDelete, Relation
from mdocument.graph import Edge, Graph
from mdocument.indexes import Index
from mdocument.masking import REVEAL, SENSITIVE_PLACEHOLDER, reveal
from mdocument.pagination import (
    KeysetPage,
    Page,
    PageTokenKeys,
    PageTokensNotConfigured,
    configure_page_tokens,
)
from mdocument.plans import DeletePreview
from mdocument.query import QuerySet
from mdocument.references import OptionalRef, Ref, RefList
from mdocument.registry import Registry, init
from mdocument.synced import Synced
from mdocument.types import ObjectId
from mdocument.watch import Change, ChangeStream

__version__ = "5.0.0"  # the same as pyproject.toml; PyPI's unrelated `mdocument` is 4.0

__all__ = [
    "REVEAL",
    "SENSITIVE_PLACEHOLDER",
    "Bulk",
    "Change",
    "ChangeStream",
    "Collection",
    "CopiedFieldWrite",
    "CrossRegistryWrite",
    "DeletePreview",
    "DeleteRestricted",
    "Document",
    "DocumentDoesntExist",
    "DocumentException",
    "DuplicateError",
    "Edge",
    "Expression",
    "Field",
    "FieldIsNotJsonEncodable",
    "FieldSpec",
    "Graph",
    "Index",
    "InvalidPageToken",
    "KeysetPage",
    "NotFoundError",
    "NotInitializedError",
    "ObjectId",
    "OnDelete",
    "OptionalRef",
    "Page",
    "PageTokenKeys",
    "PageTokensNotConfigured",
    "ParentBeingDeleted",
    "ParentSoftDeleted",
    "PrimaryKeyNotInSyncedFields",
    "QuerySet",
    "ReadOnlyDocument",
    "Ref",
    "RefList",
    "Registry",
    "Relation",
    "RelationNotSet",
    "Report",
    "RequiredFieldMissing",
    "RevisionConflict",
    "ShardKeyChange",
    "SortKey",
    "Synced",
    "TransactionConflict",
    "UnknownModelField",
    "WrongModelFieldType",
    "WrongQueryType",
    "WrongValueType",
    "and_",
    "asc",
    "bulk",
    "check",
    "collection",
    "configure_page_tokens",
    "contains",
    "desc",
    "exists",
    "export",
    "in_",
    "init",
    "not_",
    "not_in",
    "or_",
    "raw",
    "regex",
    "reveal",
]
