"""Declaring relations: what init() accepts, what it refuses, and the graph it builds."""

import pytest
from pydantic import BaseModel

from mdocument import (
    Document,
    Field,
    ObjectId,
    OnDelete,
    OptionalRef,
    PrimaryKeyNotInSyncedFields,
    Ref,
    RefList,
    Relation,
    RelationNotSet,
    Synced,
    UnknownModelField,
    WrongModelFieldType,
    init,
)


class User(Document):
    name: str
    email: str = Field(default="", sensitive=True)
    karma: int = 0


class Tag(Document):
    label: str


class AuthorCard(Synced[User]):
    id: ObjectId
    name: str


class PlainCard(Synced):
    id: ObjectId
    name: str


class Post(Document):
    author_id: Ref[User]
    author: AuthorCard
    reviewer_id: OptionalRef[User] = Field(default=None, on_delete=OnDelete.SET_NULL)
    tag_ids: RefList[Tag] = Field(default_factory=list, on_delete=OnDelete.PULL)
    editors: list[PlainCard] = Field(default_factory=list, synced=User)
    title: str


class Profile(Document):
    user_id: ObjectId = Field(related=User, unique=True)


class Board(Document):
    """A user sits on at most one board: many-to-one."""

    member_ids: list[ObjectId] = Field(default_factory=list, related=User, unique=True)


class Comment(Document):
    post_id: ObjectId = Field(related="Post")
    parent_id: ObjectId | None = Field(default=None, related="Comment")


MODELS = [User, Tag, Post, Profile, Board, Comment]


async def test_init_builds_the_graph_of_every_relation(database):
    registry = await init(database, models=MODELS)
    graph = registry.graph
    assert graph.nodes == tuple(MODELS)
    edges = {edge.label: edge for edge in graph.edges}
    assert set(edges) == {
        "Post.author_id",
        "Post.author",
        "Post.reviewer_id",
        "Post.tag_ids",
        "Post.editors",
        "Profile.user_id",
        "Board.member_ids",
        "Comment.post_id",
        "Comment.parent_id",
    }
    assert edges["Post.author_id"].parent is User
    assert edges["Comment.post_id"].parent is Post  # named by a string
    assert edges["Comment.parent_id"].parent is Comment  # a self reference
    assert edges["Post.author"].id_path == "author.id"
    assert {edge.label for edge in graph.incoming(User)} == {
        "Post.author_id",
        "Post.author",
        "Post.reviewer_id",
        "Post.editors",
        "Profile.user_id",
        "Board.member_ids",
    }


async def test_the_kind_follows_the_shape_and_uniqueness(database):
    registry = await init(database, models=MODELS)
    kinds = {edge.label: edge.kind for edge in registry.graph.edges}
    assert kinds["Profile.user_id"] is Relation.ONE_TO_ONE
    assert kinds["Post.author_id"] is Relation.ONE_TO_MANY
    assert kinds["Board.member_ids"] is Relation.MANY_TO_ONE
    assert kinds["Post.tag_ids"] is Relation.MANY_TO_MANY
    assert kinds["Post.editors"] is Relation.MANY_TO_MANY


async def test_on_delete_defaults_to_cascade_and_can_be_overridden(database):
    registry = await init(database, models=MODELS)
    rules = {edge.label: edge.on_delete for edge in registry.graph.edges}
    assert rules["Post.author_id"] is OnDelete.CASCADE
    assert rules["Post.reviewer_id"] is OnDelete.SET_NULL
    assert rules["Post.tag_ids"] is OnDelete.PULL


async def test_every_reference_gets_an_index_and_unique_kinds_a_unique_one(database):
    await init(database, models=MODELS)
    posts = await database["post"].index_information()
    assert {"author_id_1", "author.id_1", "reviewer_id_1", "tag_ids_1", "editors.id_1"} <= set(
        posts
    )
    assert not posts["author_id_1"].get("unique")
    profile = (await database["profile"].index_information())["user_id_1"]
    assert profile["unique"]
    board = (await database["board"].index_information())["member_ids_1"]
    assert board["unique"]
    assert board["partialFilterExpression"] == {"member_ids": {"$type": "objectId"}}


async def test_a_declared_kind_is_used_and_gets_its_unique_index(database):
    class Passport(Document):
        owner_id: ObjectId = Field(related=User, relation=Relation.ONE_TO_ONE)

    registry = await init(database, models=[User, Passport])
    assert registry.graph.edge(Passport, "owner_id").kind is Relation.ONE_TO_ONE
    assert (await database["passport"].index_information())["owner_id_1"]["unique"]


async def test_a_kind_that_contradicts_the_shape_is_refused(database):
    class Wrong(Document):
        owner_id: ObjectId = Field(related=User, relation=Relation.MANY_TO_MANY)

    with pytest.raises(WrongModelFieldType, match=r"Wrong\.owner_id is declared many_to_many"):
        await init(database, models=[User, Wrong])

    class WrongList(Document):
        owner_ids: list[ObjectId] = Field(related=User, relation=Relation.ONE_TO_MANY)

    with pytest.raises(WrongModelFieldType, match="holds a list"):
        await init(database, models=[User, WrongList])

    class WrongUnique(Document):
        owner_id: ObjectId = Field(related=User, unique=True, relation=Relation.ONE_TO_MANY)

    with pytest.raises(WrongModelFieldType, match="unique=True"):
        await init(database, models=[User, WrongUnique])


async def test_set_null_needs_an_optional_single_reference(database):
    class Required(Document):
        owner_id: ObjectId = Field(related=User, on_delete=OnDelete.SET_NULL)

    with pytest.raises(WrongModelFieldType, match=r"Required\.owner_id: on_delete=SET_NULL"):
        await init(database, models=[User, Required])

    class Listed(Document):
        owner_ids: list[ObjectId] = Field(related=User, on_delete=OnDelete.SET_NULL)

    with pytest.raises(WrongModelFieldType, match="SET_NULL"):
        await init(database, models=[User, Listed])


async def test_pull_needs_a_list(database):
    class Single(Document):
        owner_id: ObjectId = Field(related=User, on_delete=OnDelete.PULL)

    with pytest.raises(WrongModelFieldType, match=r"Single\.owner_id: on_delete=PULL"):
        await init(database, models=[User, Single])


async def test_a_reference_must_hold_object_ids(database):
    class Named(Document):
        owner: str = Field(related=User)

    with pytest.raises(WrongModelFieldType, match=r"Named\.owner refers to User"):
        await init(database, models=[User, Named])


async def test_a_target_must_be_registered(database):
    with pytest.raises(RelationNotSet, match="which is not registered"):
        await init(database, models=[Post, Tag])

    class Loose(Document):
        owner_id: ObjectId = Field(related="Nobody")

    with pytest.raises(RelationNotSet, match=r"Loose\.owner_id refers to Nobody"):
        await init(database, models=[Loose])


async def test_a_synced_copy_without_id_is_refused_naming_both_classes(database):
    class NoId(Synced):
        name: str

    class Holder(Document):
        card: NoId = Field(synced=User)

    with pytest.raises(PrimaryKeyNotInSyncedFields) as caught:
        await init(database, models=[User, Holder])
    assert "Holder.card" in str(caught.value)
    assert "NoId" in str(caught.value)
    assert "User" in str(caught.value)


async def test_a_copy_of_a_field_the_target_lacks_is_refused(database):
    class Ghost(Synced):
        id: ObjectId
        nickname: str

    class Holder(Document):
        card: Ghost = Field(synced=User)

    with pytest.raises(UnknownModelField, match=r"Ghost\.nickname is not a field of User"):
        await init(database, models=[User, Holder])


async def test_a_copy_of_another_type_is_refused(database):
    class Mistyped(Synced):
        id: ObjectId
        karma: str

    class Holder(Document):
        card: Mistyped = Field(synced=User)

    with pytest.raises(WrongModelFieldType) as caught:
        await init(database, models=[User, Holder])
    assert "Mistyped.karma" in str(caught.value)
    assert "User.karma" in str(caught.value)


async def test_a_copy_of_a_sensitive_field_must_be_sensitive(database):
    class Leaky(Synced):
        id: ObjectId
        email: str

    class Holder(Document):
        card: Leaky = Field(synced=User)

    with pytest.raises(WrongModelFieldType, match="sensitive"):
        await init(database, models=[User, Holder])


async def test_a_synced_field_needs_a_synced_type(database):
    class Holder(Document):
        card: dict = Field(synced=User)

    with pytest.raises(WrongModelFieldType, match="must be a Synced model"):
        await init(database, models=[User, Holder])


async def test_a_card_typed_for_another_document_is_refused(database):
    class Holder(Document):
        card: AuthorCard = Field(synced=Tag)

    with pytest.raises(WrongModelFieldType, match="AuthorCard copies User"):
        await init(database, models=[User, Tag, Holder])


async def test_a_card_without_a_target_needs_synced(database):
    class Holder(Document):
        card: PlainCard

    with pytest.raises(RelationNotSet, match="does not say of which document"):
        await init(database, models=[User, Holder])


async def test_relations_inside_embedded_models_are_refused(database):
    class Embedded(BaseModel):
        owner_id: ObjectId = Field(related=User)

    class Holder(Document):
        inner: Embedded

    with pytest.raises(RelationNotSet, match=r"Holder\.inner\.owner_id"):
        await init(database, models=[User, Holder])


def test_ref_and_field_declarations_merge():
    class Both(Document):
        owner_id: Ref[User] = Field(unique=True)

    spec = Both.__mdocument_mapping__.fields["owner_id"].spec
    assert spec.related is User
    assert spec.unique


def test_conflicting_targets_are_refused():
    with pytest.raises(RelationNotSet, match="keep one"):

        class Both(Document):
            owner_id: Ref[User] = Field(related=Tag)


async def test_the_graph_renders_as_mermaid(database):
    registry = await init(database, models=[User, Tag, Post])
    diagram = registry.graph.to_mermaid()
    assert diagram.startswith("flowchart LR")
    assert 'Post -->|"author_id: one_to_many, cascade"| User' in diagram
    assert 'Post -->|"tag_ids: many_to_many, pull"| Tag' in diagram
    assert 'Post -->|"author copy: one_to_many, cascade"| User' in diagram


def test_card_of_copies_the_declared_fields():
    user = User(name="Ada", karma=3)
    card = AuthorCard.of(user)
    assert card == AuthorCard(id=user.id, name="Ada")
    with pytest.raises(UnknownModelField, match="Tag does not have"):
        AuthorCard.of(Tag(label="x"))
