"""Declaring documents: names, metadata, ids and the errors found when a class is built."""

from typing import Annotated

import bson
import pytest
from pydantic import Field as PydanticField
from pydantic import ValidationError

from mdocument import (
    Document,
    Field,
    FieldSpec,
    Index,
    NotInitializedError,
    ObjectId,
    OnDelete,
    Relation,
    RelationNotSet,
    UnknownModelField,
    WrongModelFieldType,
)
from mdocument.fields import field_spec


class BlogPost(Document):
    title: str
    views: int = 0


class Account(Document):
    name: str = Field(unique=True)
    token: str = Field(sensitive=True)
    nickname: str | None = Field(default=None, alias="nick")

    class Meta:
        collection = "accounts"
        indexes = [Index([("name", 1), ("nickname", -1)])]


def test_collection_name_defaults_to_the_class_name_in_snake_case():
    assert BlogPost.__mdocument_mapping__.collection == "blog_post"


def test_meta_collection_overrides_the_default():
    assert Account.__mdocument_mapping__.collection == "accounts"


def test_every_document_gets_an_object_id_stored_as_underscore_id():
    post = BlogPost(title="x")
    assert isinstance(post.id, bson.ObjectId)
    assert BlogPost(title="y").id != post.id
    assert BlogPost.__mdocument_mapping__.fields["id"].stored == "_id"


def test_id_accepts_its_hex_string_and_the_stored_name():
    oid = bson.ObjectId()
    assert BlogPost(id=str(oid), title="x").id == oid
    assert BlogPost.model_validate({"_id": oid, "title": "x"}).id == oid


def test_id_rejects_a_malformed_string():
    with pytest.raises(ValidationError, match="24 hexadecimal"):
        BlogPost(id="not-an-id", title="x")


def test_id_cannot_be_reassigned():
    post = BlogPost(title="x")
    with pytest.raises(ValidationError):
        post.id = bson.ObjectId()


def test_aliases_are_the_stored_names():
    mapping = Account.__mdocument_mapping__
    assert mapping.fields["nickname"].stored == "nick"
    assert mapping.stored_path("nickname") == "nick"
    assert Account(name="a", token="t", nickname="n").nickname == "n"
    assert Account(name="a", token="t", nick="n").nickname == "n"


def test_field_records_mdocument_metadata_next_to_pydantic_options():
    info = Account.model_fields["name"]
    assert field_spec(info).unique
    assert not field_spec(info).sensitive
    assert field_spec(Account.model_fields["token"]).sensitive


def test_field_passes_pydantic_options_through():
    class Limited(Document):
        label: str = Field(max_length=3, description="short")

    assert Limited.model_fields["label"].description == "short"
    with pytest.raises(ValidationError):
        Limited(label="toolong")


def test_field_spec_also_works_as_an_annotation():
    class Annotated_(Document):
        secret: Annotated[str, FieldSpec(sensitive=True, unique=True)]

    assert Annotated_.__mdocument_mapping__.sensitive == {"secret"}
    assert Annotated_(secret="s").model_dump(mode="json")["secret"] == "***"


def test_field_rejects_contradictory_relation_arguments():
    with pytest.raises(RelationNotSet):
        Field(related=BlogPost, synced=BlogPost)
    with pytest.raises(TypeError):
        Field(related=BlogPost, relation="one_to_one")
    with pytest.raises(TypeError):
        Field(related=42)


def test_on_delete_without_a_target_fails_when_the_class_is_built():
    with pytest.raises(RelationNotSet, match=r"Orphan\.parent"):

        class Orphan(Document):
            parent: ObjectId = Field(on_delete=OnDelete.CASCADE)


def test_field_stores_relation_arguments():
    spec = field_spec(Field(related="Tag", relation=Relation.MANY_TO_MANY, on_delete=OnDelete.PULL))
    assert (spec.related, spec.relation, spec.on_delete) == (
        "Tag",
        Relation.MANY_TO_MANY,
        OnDelete.PULL,
    )


def test_an_index_on_an_unknown_field_fails_when_the_class_is_built():
    with pytest.raises(UnknownModelField, match="titel"):

        class Bad(Document):
            title: str

            class Meta:
                indexes = [Index("titel")]


def test_an_excluded_field_is_refused_because_it_would_not_be_stored():
    with pytest.raises(WrongModelFieldType, match="sensitive=True"):

        class Bad(Document):
            secret: str = PydanticField(exclude=True)


def test_an_abstract_base_has_no_collection_but_its_subclasses_do():
    class Timestamped(Document):
        created: int = 0

        class Meta:
            abstract = True

    class Note(Timestamped):
        text: str

    assert Timestamped.__mdocument_mapping__.abstract
    assert not Note.__mdocument_mapping__.abstract
    assert Note.__mdocument_mapping__.collection == "note"
    assert set(Note.model_fields) == {"id", "created", "text"}


def test_each_document_class_has_its_own_error_subclasses():
    assert issubclass(Account.DuplicateError, Document.DuplicateError)
    assert Account.DuplicateError is not BlogPost.DuplicateError
    assert not issubclass(Account.DuplicateError, BlogPost.DuplicateError)
    assert Account.NotFoundError.__qualname__ == "Account.NotFoundError"

    class Admin(Account):
        class Meta:
            collection = "admins"

    assert issubclass(Admin.DuplicateError, Account.DuplicateError)


async def test_io_before_init_names_the_document():
    class Lonely(Document):
        pass

    with pytest.raises(NotInitializedError, match="Lonely is not initialised"):
        await Lonely.get(bson.ObjectId())
    with pytest.raises(NotInitializedError, match="Lonely"):
        await Lonely().save()


def test_object_id_type_serializes_to_hex_in_json_and_stays_an_object_id_in_python():
    class Holder(Document):
        ref: ObjectId

    oid = bson.ObjectId()
    holder = Holder(ref=oid)
    assert holder.model_dump()["ref"] is oid
    assert holder.model_dump(mode="json")["ref"] == str(oid)
    schema = Holder.model_json_schema()["properties"]["ref"]
    assert schema["type"] == "string"
    assert schema["pattern"] == "^[0-9a-fA-F]{24}$"


def test_a_field_named_like_a_class_method_keeps_both():
    class Counter(Document):
        count: int = 0
        one: str = ""

    counter = Counter(count=3, one="x")
    assert counter.count == 3
    assert counter.one == "x"
    assert callable(Counter.count)


def test_a_field_named_like_an_instance_method_is_refused():
    with pytest.raises(WrongModelFieldType, match=r"Bad\.save: a field cannot be named"):

        class Bad(Document):
            save: bool = False
