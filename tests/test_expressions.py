"""Field expressions: what ``Post.views > 10`` compiles to, and the mistakes it refuses."""

import datetime
import enum
import re

import bson
import pytest
from pydantic import BaseModel

from mdocument import (
    Document,
    Expression,
    Field,
    ObjectId,
    UnknownModelField,
    WrongValueType,
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
from mdocument.query import compile_filter, compile_sort


class Status(str, enum.Enum):
    DRAFT = "draft"
    LIVE = "live"


class Author(BaseModel):
    name: str
    nick: str | None = Field(default=None, alias="n")
    pin: str = Field(default="", sensitive=True)


class Comment(BaseModel):
    author: str
    likes: int = 0


class Post(Document):
    title: str
    views: int = Field(default=0, ge=0)
    score: float = 0.0
    slug: str = Field(default="", alias="s")
    author: Author | None = None
    comments: list[Comment] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    tag_ids: list[ObjectId] = Field(default_factory=list)
    status: Status = Status.DRAFT
    created: datetime.datetime | None = None
    meta: dict[str, int] = Field(default_factory=dict)
    extra: dict = Field(default_factory=dict)
    secret: str = Field(default="", sensitive=True)


class Other(Document):
    name: str


def compiled(query):
    return compile_filter(Post.__mdocument_mapping__, query)


def test_comparisons_compile_to_operators_on_stored_names():
    assert compiled(Post.title == "x") == {"title": "x"}
    assert compiled(Post.title != "x") == {"title": {"$ne": "x"}}
    assert compiled(Post.views > 10) == {"views": {"$gt": 10}}
    assert compiled(Post.views >= 10) == {"views": {"$gte": 10}}
    assert compiled(Post.views < 10) == {"views": {"$lt": 10}}
    assert compiled(Post.views <= 10) == {"views": {"$lte": 10}}
    assert compiled(10 < Post.views) == {"views": {"$gt": 10}}  # noqa: SIM300 - reflected
    assert compiled(Post.slug == "a") == {"s": "a"}  # the alias is the stored name
    oid = bson.ObjectId()
    assert compiled(Post.id == oid) == {"_id": oid}


def test_values_are_validated_and_coerced_like_the_field():
    oid = bson.ObjectId()
    assert compiled(Post.views > "10") == {"views": {"$gt": 10}}  # from a query string
    assert compiled(Post.score >= 2) == {"score": {"$gte": 2.0}}
    assert compiled(Post.id == str(oid)) == {"_id": oid}
    assert compiled(Post.status == "live") == {"status": Status.LIVE}
    assert compiled(Post.created < "2024-01-02T00:00:00Z") == {
        "created": {"$lt": datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)}
    }


def test_field_constraints_do_not_restrict_query_values():
    # views has ge=0, yet "more than -1" is a sensible question.
    assert compiled(Post.views > -1) == {"views": {"$gt": -1}}


def test_none_matches_null_or_missing_on_any_field():
    assert compiled(Post.title == None) == {"title": None}  # noqa: E711
    assert compiled(Post.title != None) == {"title": {"$ne": None}}  # noqa: E711


def test_a_value_that_does_not_fit_raises_wrong_value_type_naming_the_field():
    with pytest.raises(WrongValueType, match=r"Post\.views: 'many' does not fit the field \(int\)"):
        _ = Post.views > "many"
    with pytest.raises(WrongValueType) as error:
        _ = Post.id == "not an id"
    assert error.value.document is Post
    assert error.value.field == "id"


def test_a_sensitive_value_is_masked_in_errors_and_reprs():
    with pytest.raises(WrongValueType) as error:
        _ = Post.secret == 12345678
    assert "12345678" not in str(error.value)
    assert "***" in str(error.value)
    assert "hunter2" not in repr(Post.secret == "hunter2")
    assert "1234" not in repr(Post.author.pin == "1234")


def test_query_set_reprs_mask_sensitive_values_at_any_depth():
    class Card(BaseModel):
        title: str

    query = Post.find((Post.title == "t") | (Post.secret == "s3cr3t") | (Post.author.pin == "4321"))
    shown = repr(query.project(Card))
    assert "s3cr3t" not in shown
    assert "4321" not in shown
    assert shown == (
        "<QuerySet Post {'$or': [{'title': 't'}, {'secret': '***'}, {'author.pin': '***'}]}"
        " -> Card>"
    )


def test_nested_models_give_paths_with_stored_names():
    assert compiled(Post.author.name == "Ada") == {"author.name": "Ada"}
    assert compiled(Post.author.nick == "A") == {"author.n": "A"}
    assert compiled(Post.comments.likes > 2) == {"comments.likes": {"$gt": 2}}
    assert compiled(Post.comments[0].author == "Ada") == {"comments.0.author": "Ada"}
    assert compiled(Post.tags[1] == "b") == {"tags.1": "b"}
    assert compiled(Post.meta.visits > "3") == {"meta.visits": {"$gt": 3}}
    assert compiled(Post.extra.anything.below == [1]) == {"extra.anything.below": [1]}


def test_a_nested_model_value_is_encoded_and_matched_as_a_whole():
    assert compiled(Post.author == {"name": "Ada"}) == {
        "author": {"$eq": {"name": "Ada", "n": None, "pin": ""}}
    }
    assert compiled(Post.author == Author(name="Ada", n="A")) == {
        "author": {"$eq": {"name": "Ada", "n": "A", "pin": ""}}
    }


def test_unknown_nested_fields_raise_with_a_hint():
    with pytest.raises(UnknownModelField, match="did you mean 'name'"):
        _ = Post.author.nmae
    with pytest.raises(UnknownModelField, match=r"Post\.views holds int values"):
        _ = Post.views.count
    with pytest.raises(UnknownModelField, match="not a list"):
        _ = Post.title[0]


def test_list_fields_match_elements():
    oid = bson.ObjectId()
    assert compiled(Post.tags == "a") == {"tags": "a"}
    assert compiled(Post.tags == ["a", "b"]) == {"tags": ["a", "b"]}
    assert compiled(contains(Post.tag_ids, str(oid))) == {"tag_ids": oid}
    assert compiled(Post.tag_ids.contains(oid)) == {"tag_ids": oid}
    with pytest.raises(WrongValueType, match=r"Post\.tag_ids"):
        contains(Post.tag_ids, "x")
    with pytest.raises(TypeError, match="is not a list"):
        contains(Post.title, "x")


def test_membership_existence_and_patterns():
    assert compiled(in_(Post.views, [1, "2"])) == {"views": {"$in": [1, 2]}}
    assert compiled(Post.status.in_(["live"])) == {"status": {"$in": [Status.LIVE]}}
    assert compiled(not_in(Post.tags, ["x", None])) == {"tags": {"$nin": ["x", None]}}
    assert compiled(exists(Post.created)) == {"created": {"$exists": True}}
    assert compiled(exists(Post.created, False)) == {"created": {"$exists": False}}
    assert compiled(regex(Post.title, "^a")) == {"title": {"$regex": "^a"}}
    assert compiled(regex(Post.tags, "^a", "i")) == {"tags": {"$regex": "^a", "$options": "i"}}
    assert compiled(regex(Post.title, re.compile("^a", re.I))) == {
        "title": {"$regex": "^a", "$options": "i"}
    }


def test_membership_and_patterns_refuse_misuse():
    with pytest.raises(TypeError, match="takes a list of values, not str"):
        in_(Post.title, "abc")
    with pytest.raises(WrongValueType, match=r"Post\.views"):
        in_(Post.views, [1, "x"])
    with pytest.raises(TypeError, match=r"Post\.views holds int values, not text"):
        regex(Post.views, "^1")
    with pytest.raises(ValueError, match="regex options"):
        regex(Post.title, "a", "q")


def test_combinators_merge_or_nest_filters():
    assert compiled((Post.views > 1) & (Post.title == "x")) == {
        "views": {"$gt": 1},
        "title": "x",
    }
    # Operators on one field merge into one operand.
    assert compiled((Post.views > 1) & (Post.views < 5)) == {"views": {"$gt": 1, "$lt": 5}}
    # A collision keeps both conditions.
    assert compiled((Post.title != "a") & (Post.title != "b")) == {
        "$and": [{"title": {"$ne": "a"}}, {"title": {"$ne": "b"}}]
    }
    assert compiled((Post.views > 1) | (Post.title == "x") | (Post.slug == "y")) == {
        "$or": [{"views": {"$gt": 1}}, {"title": "x"}, {"s": "y"}]
    }
    assert compiled(~(Post.views > 1)) == {"$nor": [{"views": {"$gt": 1}}]}
    assert compiled(~~(Post.views > 1)) == {"views": {"$gt": 1}}


def test_the_function_forms_match_the_operators():
    a, b = Post.views > 1, Post.title == "x"
    assert compiled(and_(a, b)) == compiled(a & b)
    assert compiled(or_(a, b)) == compiled(a | b)
    assert compiled(not_(a)) == compiled(~a)
    assert compiled(and_()) == {}  # no condition: every document
    assert compiled(or_()) == {"$nor": [{}]}  # no alternative: no document


def test_expressions_refuse_to_be_used_as_bools():
    def branch_on(condition):
        return "yes" if condition else "no"

    with pytest.raises(TypeError, match="not a bool"):
        branch_on(Post.views > 3)
    with pytest.raises(TypeError, match="chained comparisons"):
        1 < Post.views < 5  # noqa: B015
    with pytest.raises(TypeError, match="not a bool"):
        _ = (Post.views > 3) and (Post.title == "x")
    with pytest.raises(TypeError, match="parentheses"):
        Post.views > 3 & Post.title == "x"  # noqa: B015
    with pytest.raises(TypeError, match="contains"):
        "a" in Post.tags  # noqa: B015
    with pytest.raises(TypeError):
        hash(Post.views)


def test_an_instance_value_is_not_a_condition():
    post = Post(title="x", views=5)
    with pytest.raises(TypeError, match="not from an instance"):
        compiled(post.views > 3)
    with pytest.raises(TypeError, match="not from an instance"):
        (Post.views > 3) & (post.views > 3)
    with pytest.raises(TypeError, match=r"expected a field of a document class .* not 5"):
        in_(post.views, [1])


def test_conditions_on_another_document_are_refused():
    with pytest.raises(TypeError, match="Other cannot be combined with one on Post"):
        (Other.name == "x") & (Post.title == "x")
    with pytest.raises(TypeError, match="condition on Other cannot query Post"):
        compiled(Other.name == "x")
    with pytest.raises(TypeError, match="comparing two fields"):
        _ = Post.views == Post.score


def test_raw_filters_are_sent_as_written_and_combine():
    assert compiled(raw({"legacy": {"$exists": True}})) == {"legacy": {"$exists": True}}
    assert compiled(raw({"legacy": 1}) & (Post.views > 1)) == {
        "legacy": 1,
        "views": {"$gt": 1},
    }


def test_sort_keys_from_fields():
    mapping = Post.__mdocument_mapping__
    assert compile_sort(mapping, [desc(Post.created), asc(Post.slug)]) == [
        ("created", -1),
        ("s", 1),
    ]
    assert compile_sort(mapping, -Post.views) == [("views", -1)]
    assert compile_sort(mapping, [+Post.views, Post.author.name]) == [
        ("views", 1),
        ("author.name", 1),
    ]
    assert compile_sort(mapping, ["-created", ("title", 1)]) == [("created", -1), ("title", 1)]
    assert compile_sort(mapping, -desc(Post.views)) == [("views", 1)]
    with pytest.raises(ValueError, match="1 or -1"):
        compile_sort(mapping, ("title", 2))
    with pytest.raises(TypeError, match="cannot query Post"):
        compile_sort(mapping, asc(Other.name))


def test_expressions_are_plain_objects():
    condition = Post.views > 3
    assert isinstance(condition, Expression)
    assert repr(condition) == "<Expression {'views': {'$gt': 3}}>"
    assert repr(Post.author.name) == "Post.author.name"
    # What a path knows (stored names, validators) is built once per class and field.
    assert Post.views.__mdocument_path__ is Post.views.__mdocument_path__
    assert not hasattr(Post.views, "__deepcopy__")


def test_a_subclass_query_accepts_conditions_on_its_base():
    class Featured(Post):
        rank: int = 0

    assert compile_filter(Featured.__mdocument_mapping__, Post.views > 1) == {"views": {"$gt": 1}}
    assert compile_filter(Featured.__mdocument_mapping__, Featured.rank > 1) == {"rank": {"$gt": 1}}
    with pytest.raises(TypeError, match="cannot query Post"):
        compiled(Featured.rank > 1)


def test_pydantic_still_builds_classes_with_defaults():
    # While a class is built, pydantic looks up field names on it: it must not get expressions.
    class Defaults(Document):
        views: int = 3
        tags: list[str] = Field(default_factory=list)

    assert Defaults().views == 3
    assert compile_filter(Defaults.__mdocument_mapping__, Defaults.views == 3) == {"views": 3}
