"""The relation graph: documents as nodes, reference and synced fields as edges.

:func:`mdocument.init` builds a :class:`Graph` from the registered documents, validating every
``related=`` and ``synced=`` declaration (unknown targets, copies naming fields the target lacks,
copies without ``id``, kinds that contradict the field's shape, rules the field cannot hold), and
answers what must happen to whom when a document changes or goes. It does no I/O.

Parent and child are as in the design table: the parent is the document referred to, the child
the one holding the field.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import bson

from mdocument.annotations import is_class, model_type, shape_of, strip_annotated
from mdocument.exceptions import (
    PrimaryKeyNotInSyncedFields,
    RelationNotSet,
    UnknownModelField,
    WrongModelFieldType,
)
from mdocument.fields import OnDelete, Relation, field_spec
from mdocument.hierarchy import in_line, inherited_fields
from mdocument.names import ID_FIELD
from mdocument.synced import Synced

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic import BaseModel

    from mdocument.mapping import FieldMapping
    from mdocument.model import DocumentBase as Document

__all__ = ["Edge", "Graph"]

_KIND_OF_SHAPE = {
    (False, True): Relation.ONE_TO_ONE,
    (False, False): Relation.ONE_TO_MANY,
    (True, True): Relation.MANY_TO_ONE,
    (True, False): Relation.MANY_TO_MANY,
}
_LIST_KINDS = frozenset({Relation.MANY_TO_ONE, Relation.MANY_TO_MANY})
_UNIQUE_KINDS = frozenset({Relation.ONE_TO_ONE, Relation.MANY_TO_ONE})


@dataclass(frozen=True)
class Edge:
    """One reference or synced field: ``child.field`` refers to (or copies) ``parent``."""

    child: type[Document]
    field: FieldMapping
    parent: type[Document]
    kind: Relation
    on_delete: OnDelete
    card: type[Synced[Any]] | None
    """The ``Synced`` model of a synced field; ``None`` for a plain reference."""
    optional: bool

    @property
    def many(self) -> bool:
        """Whether the field holds a list."""
        return self.kind in _LIST_KINDS

    @property
    def unique(self) -> bool:
        """Whether a parent is referred to by at most one child through this field."""
        return self.kind in _UNIQUE_KINDS

    @property
    def id_path(self) -> str:
        """The stored path of the referred ids in the child (``author.id`` for a copy)."""
        return f"{self.field.stored}.id" if self.card is not None else self.field.stored

    @property
    def copied(self) -> dict[str, str]:
        """Parent stored name → card stored name of the fields a synced copy holds (no id)."""
        if self.card is None:
            return {}
        mapping = self.parent.__mdocument_mapping__
        return {
            mapping.fields[name].stored: (info.alias or name)
            for name, info in self.card.__pydantic_fields__.items()
            if name != ID_FIELD
        }

    @property
    def label(self) -> str:
        """``Post.author_id``."""
        return f"{self.child.__name__}.{self.field.name}"

    def __repr__(self) -> str:
        return (
            f"<Edge {self.label} -> {self.parent.__name__} "
            f"{self.kind.value} on_delete={self.on_delete.value}>"
        )


class _Builder:
    """Reads the registered documents' fields into edges, raising on bad declarations."""

    def __init__(self, documents: Sequence[type[Document]]) -> None:
        self.documents = documents
        self.by_name: dict[str, list[type[Document]]] = {}
        for document in documents:
            self.by_name.setdefault(document.__name__, []).append(document)

    def resolve(self, owner: type[Document], name: str, target: Any) -> type[Document]:
        if isinstance(target, str):
            found = self.by_name.get(target, [])
            if len(found) > 1:
                raise RelationNotSet(
                    f"{owner.__name__}.{name} refers to {target!r}, a name shared by several "
                    "registered documents; pass the class instead",
                    document=owner,
                    field=name,
                )
            if found:
                return found[0]
        elif target in self.documents:
            return target  # type: ignore[no-any-return]
        shown = target if isinstance(target, str) else target.__name__
        raise RelationNotSet(
            f"{owner.__name__}.{name} refers to {shown}, which is not registered: "
            "add it to init(models=[...])",
            document=owner,
            field=name,
        )

    def edge(self, child: type[Document], field: FieldMapping) -> Edge | None:
        spec = field.spec
        shape = shape_of(field.info.annotation)
        if spec.synced is not None:
            card = self.check_card(child, field, shape.item)
            parent = self.resolve(child, field.name, spec.synced)
            if card.__mdocument_synced_target__ is not None:
                named = self.resolve(child, field.name, card.__mdocument_synced_target__)
                if named is not parent:
                    raise WrongModelFieldType(
                        f"{child.__name__}.{field.name} is synced with {parent.__name__} but "
                        f"its type {card.__name__} copies {named.__name__}",
                        document=child,
                        field=field.name,
                    )
            self.check_copies(child, field, card, parent)
        elif spec.related is not None:
            card = None
            parent = self.resolve(child, field.name, spec.related)
            if strip_annotated(shape.item) is not bson.ObjectId:
                raise WrongModelFieldType(
                    f"{child.__name__}.{field.name} refers to {parent.__name__}: it must hold "
                    f"an ObjectId or a list of them, not {field.info.annotation!r}",
                    document=child,
                    field=field.name,
                )
        else:
            card = self.synced_without_declaration(child, field, shape.item)
            if card is None:
                return None
            parent = self.resolve(child, field.name, card.__mdocument_synced_target__)
            self.check_copies(child, field, card, parent)
        kind = self.kind(child, field, shape.many)
        on_delete = self.rule(child, field, kind, shape.optional)
        return Edge(child, field, parent, kind, on_delete, card, shape.optional)

    def synced_without_declaration(
        self, child: type[Document], field: FieldMapping, item: Any
    ) -> type[Synced[Any]] | None:
        # A field typed Synced[Target] is synced with Target even without Field(synced=...).
        if is_class(item) and issubclass(item, Synced):
            if item.__mdocument_synced_target__ is None:
                raise RelationNotSet(
                    f"{child.__name__}.{field.name} holds a {item.__name__} copy but does not "
                    "say of which document: declare Field(synced=Target) or derive the card "
                    "from Synced[Target]",
                    document=child,
                    field=field.name,
                )
            return cast("type[Synced[Any]]", item)
        return None

    def check_card(
        self, child: type[Document], field: FieldMapping, item: Any
    ) -> type[Synced[Any]]:
        if not (is_class(item) and issubclass(item, Synced)):
            raise WrongModelFieldType(
                f"{child.__name__}.{field.name} is synced=: its type must be a Synced model "
                f"(or a list of them), not {field.info.annotation!r}",
                document=child,
                field=field.name,
            )
        return cast("type[Synced[Any]]", item)

    def check_copies(
        self,
        child: type[Document],
        field: FieldMapping,
        card: type[Synced[Any]],
        parent: type[Document],
    ) -> None:
        where = f"{child.__name__}.{field.name} ({card.__name__} of {parent.__name__})"
        card_fields = card.__pydantic_fields__
        if ID_FIELD not in card_fields:
            raise PrimaryKeyNotInSyncedFields(
                f"{where}: {card.__name__} must declare `id: ObjectId`, the id of the "
                f"{parent.__name__} it copies",
                document=card,
                field=ID_FIELD,
            )
        source = parent.__pydantic_fields__
        for name, info in card_fields.items():
            if name not in source:
                raise UnknownModelField(
                    f"{where}: {card.__name__}.{name} is not a field of {parent.__name__}",
                    document=card,
                    field=name,
                )
            copied, original = (
                strip_annotated(info.annotation),
                strip_annotated(source[name].annotation),
            )
            if copied != original:
                raise WrongModelFieldType(
                    f"{where}: {card.__name__}.{name} is {copied!r} but "
                    f"{parent.__name__}.{name} is {original!r}",
                    document=card,
                    field=name,
                )
            if field_spec(source[name]).sensitive and not field_spec(info).sensitive:
                raise WrongModelFieldType(
                    f"{where}: {card.__name__}.{name} copies the sensitive "
                    f"{parent.__name__}.{name}; declare it Field(sensitive=True) too",
                    document=card,
                    field=name,
                )

    def kind(self, child: type[Document], field: FieldMapping, many: bool) -> Relation:
        derived = _KIND_OF_SHAPE[(many, field.spec.unique)]
        declared = field.spec.relation
        if declared is None:
            return derived
        if (declared in _LIST_KINDS) != many:
            shape = "a list" if many else "a single reference"
            raise WrongModelFieldType(
                f"{child.__name__}.{field.name} is declared {declared.value} but holds {shape}",
                document=child,
                field=field.name,
            )
        if field.spec.unique and declared not in _UNIQUE_KINDS:
            raise WrongModelFieldType(
                f"{child.__name__}.{field.name} is unique=True, which makes it "
                f"{derived.value}, but is declared {declared.value}",
                document=child,
                field=field.name,
            )
        return declared

    def rule(
        self, child: type[Document], field: FieldMapping, kind: Relation, optional: bool
    ) -> OnDelete:
        rule = field.spec.on_delete or OnDelete.CASCADE
        many = kind in _LIST_KINDS
        if rule is OnDelete.SET_NULL and (many or not optional):
            raise WrongModelFieldType(
                f"{child.__name__}.{field.name}: on_delete=SET_NULL needs an optional single "
                f"reference (`... | None`), not {field.info.annotation!r}",
                document=child,
                field=field.name,
            )
        if rule is OnDelete.PULL and not many:
            raise WrongModelFieldType(
                f"{child.__name__}.{field.name}: on_delete=PULL needs a list of references",
                document=child,
                field=field.name,
            )
        return rule


def _nested_declarations(model: type[BaseModel], path: str, seen: set[type[Any]]) -> str | None:
    """The path of a relation declared inside an embedded model, if any (unsupported)."""
    for name, info in model.__pydantic_fields__.items():
        if field_spec(info).target is not None:
            return f"{path}.{name}"
        nested = model_type(info.annotation)
        if nested is not None and nested not in seen and not issubclass(nested, Synced):
            seen.add(nested)
            found = _nested_declarations(nested, f"{path}.{name}", seen)
            if found:
                return found
    return None


class Graph:
    """The relations between registered documents.

    Attributes:
        nodes: the registered document classes.
        edges: every reference and synced field, as :class:`Edge`.
    """

    def __init__(self, documents: Sequence[type[Document]]) -> None:
        builder = _Builder(documents)
        edges: list[Edge] = []
        for document in documents:
            inherited = inherited_fields(document, documents)
            for field in document.__mdocument_mapping__.fields.values():
                if field.name in inherited:
                    continue  # the edge of the hierarchy's class that declares it covers it
                edge = builder.edge(document, field)
                if edge is not None:
                    edges.append(edge)
                    continue
                nested = model_type(field.info.annotation)
                if nested is not None:
                    found = _nested_declarations(nested, f"{document.__name__}.{field.name}", set())
                    if found:
                        raise RelationNotSet(
                            f"{found} declares a relation inside an embedded model; relations "
                            "are declared on a document's own fields",
                            document=document,
                            field=field.name,
                        )
        self.nodes: tuple[type[Document], ...] = tuple(documents)
        self.edges: tuple[Edge, ...] = tuple(edges)
        # In a class hierarchy, a class also has the edges of its ancestors' fields, and a
        # relation to any class of its line covers it (see mdocument.hierarchy).
        self._incoming: dict[type[Document], tuple[Edge, ...]] = {
            node: tuple(
                edge if edge.parent is node else replace(edge, parent=node)
                for edge in edges
                if edge.parent is node or in_line(node, edge.parent)
            )
            for node in self.nodes
        }
        self._outgoing: dict[type[Document], tuple[Edge, ...]] = {
            node: tuple(
                edge for edge in edges if edge.child is node or in_line(edge.child, node, up=True)
            )
            for node in self.nodes
        }
        self._synced: dict[type[Document], tuple[Edge, ...]] = {
            node: tuple(
                edge if edge.parent is node else replace(edge, parent=node)
                for edge in edges
                if edge.card is not None
                and (edge.parent is node or in_line(edge.parent, node, up=True))
            )
            for node in self.nodes
        }

    def incoming(self, parent: type[Document]) -> tuple[Edge, ...]:
        """The edges whose children refer to ``parent``."""
        return self._incoming.get(parent, ())

    def plain(self, document: type[Document]) -> bool:
        """Whether an update of ``document`` involves no relation: no reference, no copy of it."""
        return not self.outgoing(document) and not any(e.copied for e in self.incoming(document))

    def outgoing(self, child: type[Document]) -> tuple[Edge, ...]:
        """The edges of ``child``'s reference and synced fields."""
        return self._outgoing.get(child, ())

    def synced(self, parent: type[Document]) -> tuple[Edge, ...]:
        """The edges holding copies of ``parent`` (or of a class it is a subclass of)."""
        return self._synced.get(parent, ())

    def edge(self, child: type[Document], field: str) -> Edge:
        """The edge of ``child.field``; :class:`RelationNotSet` if it is no relation."""
        for edge in self.outgoing(child):
            if field in (edge.field.name, edge.field.stored):
                return edge
        raise RelationNotSet(
            f"{child.__name__}.{field} is not a reference or synced field "
            f"(relations of {child.__name__}: "
            f"{', '.join(e.field.name for e in self.outgoing(child)) or 'none'})",
            document=child,
            field=field,
        )

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart: an arrow from each child to its parent."""
        lines = ["flowchart LR"]
        lines.extend(f"    {node.__name__}" for node in self.nodes)
        for edge in self.edges:
            copy = " copy" if edge.card is not None else ""
            label = f"{edge.field.name}{copy}: {edge.kind.value}, {edge.on_delete.value}"
            lines.append(f'    {edge.child.__name__} -->|"{label}"| {edge.parent.__name__}')
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Graph {len(self.nodes)} documents, {len(self.edges)} relations>"
