"""Deleting a parent applies every incoming edge's rule: each kind with each rule, self
references, cycles, deep chains and documents with several incoming edges."""

import pytest

from mdocument import (
    DeleteRestricted,
    Document,
    Field,
    ObjectId,
    OnDelete,
    Relation,
    Synced,
    init,
)

# -- the matrix: each kind x each rule it admits, as a reference and as a synced copy ---------

KIND_RULES = [
    (Relation.ONE_TO_ONE, OnDelete.CASCADE),
    (Relation.ONE_TO_ONE, OnDelete.SET_NULL),
    (Relation.ONE_TO_ONE, OnDelete.RESTRICT),
    (Relation.ONE_TO_ONE, OnDelete.NOTHING),
    (Relation.ONE_TO_MANY, OnDelete.CASCADE),
    (Relation.ONE_TO_MANY, OnDelete.SET_NULL),
    (Relation.ONE_TO_MANY, OnDelete.RESTRICT),
    (Relation.ONE_TO_MANY, OnDelete.NOTHING),
    (Relation.MANY_TO_ONE, OnDelete.CASCADE),
    (Relation.MANY_TO_ONE, OnDelete.PULL),
    (Relation.MANY_TO_ONE, OnDelete.RESTRICT),
    (Relation.MANY_TO_ONE, OnDelete.NOTHING),
    (Relation.MANY_TO_MANY, OnDelete.CASCADE),
    (Relation.MANY_TO_MANY, OnDelete.PULL),
    (Relation.MANY_TO_MANY, OnDelete.RESTRICT),
    (Relation.MANY_TO_MANY, OnDelete.NOTHING),
]


class Parent(Document):
    name: str


class ParentCard(Synced[Parent]):
    id: ObjectId
    name: str


def child_class(kind: Relation, rule: OnDelete, synced: bool) -> type[Document]:
    """A child document whose field `ref` refers to Parent with this kind and rule."""
    many = kind in (Relation.MANY_TO_ONE, Relation.MANY_TO_MANY)
    unique = kind in (Relation.ONE_TO_ONE, Relation.MANY_TO_ONE)
    item = ParentCard if synced else ObjectId
    annotation = list[item] if many else item | None
    options = {"synced": Parent} if synced else {"related": Parent}
    default = (
        Field(default_factory=list, unique=unique, on_delete=rule, **options)
        if many
        else Field(default=None, unique=unique, on_delete=rule, **options)
    )
    name = f"Child_{kind.value}_{rule.value}_{'card' if synced else 'id'}"
    return type(
        name,
        (Document,),
        {"__annotations__": {"ref": annotation}, "ref": default, "__module__": __name__},
    )


def value(parent: Parent, synced: bool):
    return ParentCard.of(parent) if synced else parent.id


@pytest.mark.parametrize("synced", [False, True], ids=["id", "card"])
@pytest.mark.parametrize(("kind", "rule"), KIND_RULES, ids=lambda v: v.value)
async def test_each_kind_with_each_rule(mongodb_database, kind, rule, synced):
    child = child_class(kind, rule, synced)
    await init(mongodb_database, models=[Parent, child])
    first, second, kept = [await Parent.create(name=name) for name in ("1st", "2nd", "kept")]
    many = kind in (Relation.MANY_TO_ONE, Relation.MANY_TO_MANY)
    if many:  # `only` refers to `first` alone; `shared` to `second` and `kept`
        only = await child.create(ref=[value(first, synced)])
        shared = await child.create(ref=[value(second, synced), value(kept, synced)])
    else:
        only = await child.create(ref=value(first, synced))
        shared = await child.create(ref=value(kept, synced))

    if rule is OnDelete.RESTRICT:
        with pytest.raises(DeleteRestricted) as caught:
            await first.delete()
        assert caught.value.blocking is child
        assert caught.value.count == 1
        assert caught.value.ids == (only.id,)
        assert str(only.id) in str(caught.value)
        assert await Parent.count() == 3
        assert await child.count() == 2
        return

    await first.delete()
    await second.delete()
    assert await Parent.count() == 1
    only_now, shared_now = await child.get(only.id), await child.get(shared.id)
    if rule is OnDelete.NOTHING:
        assert only_now == only
        assert shared_now == shared
    elif rule is OnDelete.SET_NULL:
        assert only_now.ref is None
        assert shared_now == shared
    elif rule is OnDelete.PULL:
        assert only_now.ref == []
        assert shared_now.ref == [value(kept, synced)]
    elif many:  # CASCADE on a list: pull, and delete the child whose list became empty
        assert only_now is None
        assert shared_now.ref == [value(kept, synced)]
    else:
        assert only_now is None
        assert shared_now == shared


# -- shapes of graphs ------------------------------------------------------------------------


class Comment(Document):
    text: str
    parent_id: ObjectId | None = Field(default=None, related="Comment")


async def test_a_comment_tree_is_deleted_from_its_root(database):
    await init(database, models=[Comment])
    root = await Comment.create(text="root")
    level = [root]
    for depth in range(4):
        level = [
            await Comment.create(text=f"{depth}-{i}", parent_id=parent.id)
            for parent in level
            for i in range(2)
        ]
    other = await Comment.create(text="another thread")
    assert await Comment.count() == 1 + 2 + 4 + 8 + 16 + 1
    await root.delete()
    assert [c.text for c in await Comment.many()] == [other.text]


async def test_deleting_a_subtree_keeps_the_rest_of_the_tree(database):
    await init(database, models=[Comment])
    root = await Comment.create(text="root")
    left = await Comment.create(text="left", parent_id=root.id)
    await Comment.create(text="left.1", parent_id=left.id)
    right = await Comment.create(text="right", parent_id=root.id)
    await left.delete()
    assert sorted(c.text for c in await Comment.many()) == ["right", "root"]
    assert (await Comment.get(right.id)).parent_id == root.id


class Hen(Document):
    egg_id: ObjectId | None = Field(default=None, related="Egg")


class Egg(Document):
    hen_id: ObjectId | None = Field(default=None, related=Hen)


async def test_a_cycle_ends(database):
    await init(database, models=[Hen, Egg])
    hen = await Hen.create()
    egg = await Egg.create(hen_id=hen.id)
    hen.egg_id = egg.id
    await hen.save()
    chick = await Hen.create(egg_id=egg.id)
    unrelated = await Hen.create()
    await hen.delete()
    assert await Egg.count() == 0
    assert [h.id for h in await Hen.many()] == [unrelated.id]
    assert await Hen.get(chick.id) is None


class A(Document):
    pass


class B(Document):
    a_id: ObjectId = Field(related=A)


class C(Document):
    b_id: ObjectId = Field(related=B)


class D(Document):
    c_id: ObjectId = Field(related=C)


class E(Document):
    d_id: ObjectId = Field(related=D)


async def test_a_deep_chain_is_deleted_to_its_end(database):
    await init(database, models=[A, B, C, D, E])
    a, spare = await A.create(), await A.create()
    for owner in (a, spare):
        b = await B.create(a_id=owner.id)
        c = await C.create(b_id=b.id)
        d = await D.create(c_id=c.id)
        await E.create(d_id=d.id)
    await a.delete()
    for document in (A, B, C, D, E):
        assert await document.count() == 1, document


class Author(Document):
    name: str


class AuthorCard(Synced[Author]):
    id: ObjectId
    name: str


class Book(Document):
    author_id: ObjectId = Field(related=Author)
    author: AuthorCard
    editor_id: ObjectId | None = Field(default=None, related=Author, on_delete=OnDelete.SET_NULL)
    translator_ids: list[ObjectId] = Field(
        default_factory=list, related=Author, on_delete=OnDelete.PULL
    )


class Award(Document):
    author_id: ObjectId = Field(related=Author, on_delete=OnDelete.RESTRICT)
    book_id: ObjectId | None = Field(default=None, related=Book)


async def test_a_document_with_several_incoming_edges(database):
    await init(database, models=[Author, Book, Award])
    ada, grace = await Author.create(name="Ada"), await Author.create(name="Grace")
    by_ada = await Book.create(author_id=ada.id, author=AuthorCard.of(ada))
    by_grace = await Book.create(
        author_id=grace.id,
        author=AuthorCard.of(grace),
        editor_id=ada.id,
        translator_ids=[ada.id, grace.id],
    )
    await ada.delete()
    assert await Book.get(by_ada.id) is None
    kept = await Book.get(by_grace.id)
    assert kept.editor_id is None
    assert kept.translator_ids == [grace.id]


async def test_restrict_refuses_and_changes_nothing(database):
    await init(database, models=[Author, Book, Award])
    ada = await Author.create(name="Ada")
    book = await Book.create(author_id=ada.id, author=AuthorCard.of(ada))
    awards = [await Award.create(author_id=ada.id) for _ in range(7)]
    with pytest.raises(DeleteRestricted) as caught:
        await ada.delete()
    error = caught.value
    assert error.document is Author
    assert error.blocking is Award
    assert error.field == "author_id"
    assert error.count == 7
    assert len(error.ids) == 5
    assert set(error.ids) <= {award.id for award in awards}
    assert "7 Award" in str(error)
    assert "and 2 more" in str(error)
    assert await Author.get(ada.id) is not None
    assert await Book.get(book.id) is not None
    assert await Award.count() == 7


async def test_restrict_allows_children_that_are_deleted_anyway(database):
    class Prize(Document):
        book_id: ObjectId = Field(related=Book)
        author_id: ObjectId = Field(related=Author, on_delete=OnDelete.RESTRICT)

    await init(database, models=[Author, Book, Prize])
    ada = await Author.create(name="Ada")
    book = await Book.create(author_id=ada.id, author=AuthorCard.of(ada))
    await Prize.create(book_id=book.id, author_id=ada.id)  # goes with the book
    await ada.delete()
    assert await Prize.count() == 0


async def test_restrict_after_a_cascade_blocks_the_whole_delete(database):
    await init(database, models=[Author, Book, Award])
    ada = await Author.create(name="Ada")
    grace = await Author.create(name="Grace")
    book = await Book.create(author_id=ada.id, author=AuthorCard.of(ada))

    class Review(Document):
        book_id: ObjectId = Field(related=Book, on_delete=OnDelete.RESTRICT)

    await init(database, models=[Author, Book, Award, Review])
    await Review.create(book_id=book.id)
    ada = await Author.get(ada.id)  # an instance keeps the registry it was loaded in
    with pytest.raises(DeleteRestricted, match="Review"):
        await ada.delete()
    assert await Author.count() == 2
    assert await Book.get(book.id) is not None
    assert grace.id in [a.id for a in await Author.many()]


class Group(Document):
    name: str


class Membership(Document):
    group_ids: list[ObjectId] = Field(default_factory=list, related=Group)


async def test_a_list_child_is_deleted_when_all_its_parents_go_in_one_cascade(database):
    class Org(Document):
        pass

    class Team(Document):
        org_id: ObjectId = Field(related=Org)

    class Member(Document):
        team_ids: list[ObjectId] = Field(default_factory=list, related=Team)

    await init(database, models=[Org, Team, Member])
    org = await Org.create()
    t1, t2 = await Team.create(org_id=org.id), await Team.create(org_id=org.id)
    other_org = await Org.create()
    t3 = await Team.create(org_id=other_org.id)
    both = await Member.create(team_ids=[t1.id, t2.id])
    mixed = await Member.create(team_ids=[t1.id, t3.id])
    await org.delete()
    assert await Member.get(both.id) is None
    assert (await Member.get(mixed.id)).team_ids == [t3.id]


async def test_bulk_delete_of_a_parent_class_runs_the_cascade(database):
    await init(database, models=[Group, Membership])
    g1, g2, g3 = [await Group.create(name=n) for n in ("a", "b", "c")]
    lone = await Membership.create(group_ids=[g1.id])
    pair = await Membership.create(group_ids=[g2.id, g3.id])
    deleted = await Group._repository().delete_many({"name": {"$in": ["a", "b"]}}, None)
    assert deleted == 2
    assert await Membership.get(lone.id) is None
    assert (await Membership.get(pair.id)).group_ids == [g3.id]


async def test_deleting_a_missing_parent_raises_not_found_and_changes_nothing(database):
    await init(database, models=[Group, Membership])
    ghost = Group(name="ghost")
    dangling = await Membership._repository().collection.insert_one({"group_ids": [ghost.id]})
    with pytest.raises(Group.NotFoundError):
        await ghost.delete()
    assert await Membership.get(dangling.inserted_id) is not None
