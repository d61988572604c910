"""Declared indexes against existing ones: missing, extra, differing; applied only when asked."""

import pytest

from mdocument import Document, DocumentException, Field, Index, Ref, init
from mdocument.index_diff import IndexSpec, apply_indexes, diff_indexes


class Author(Document):
    name: str = Field(unique=True)
    country: str = ""

    class Meta:
        indexes = [Index([("country", 1), ("name", -1)], name="by_country")]


class Book(Document):
    author_id: Ref[Author]
    title: str


async def test_a_fresh_init_leaves_nothing_to_do(mongodb_database):
    registry = await init(mongodb_database, models=[Author, Book])
    diffs = await diff_indexes(registry)
    assert [diff.collection for diff in diffs] == ["author", "book"]
    assert all(diff.clean and not diff.unindexed for diff in diffs)
    assert await apply_indexes(registry, diffs, drop_extra=True) == []


async def test_missing_extra_and_differing_are_reported_then_applied(mongodb_database):
    registry = await init(mongodb_database, models=[Author, Book], create_indexes=False)
    await mongodb_database["author"].create_index("country", name="old_country")
    await mongodb_database["author"].create_index("name")  # name_1, but not unique
    diffs = await diff_indexes(registry)
    author, book = diffs
    assert [spec.name for spec in author.missing] == ["by_country"]
    assert [spec.name for spec in author.extra] == ["old_country"]
    assert [(c.existing.options, c.declared.options) for c in author.differing] == [
        ({}, {"unique": True})
    ]
    assert [spec.name for spec in book.missing] == ["author_id_1"]
    # The reference field has no index: a warning of its own.
    assert [ref.edge.label for ref in book.unindexed] == ["Book.author_id"]
    assert "has no index" in str(book.unindexed[0])
    assert author.lines() == [
        "+ by_country {country: 1, name: -1}",
        "- old_country {country: 1}",
        "~ name_1 {name: 1} -> declared name_1 {name: 1}, unique=True",
    ]

    done = await apply_indexes(registry, diffs)  # no drop_extra: old_country stays
    assert done == [
        "rebuilt author.name_1",
        "created author.by_country",
        "created book.author_id_1",
    ]
    indexes = await mongodb_database["author"].index_information()
    assert indexes["name_1"]["unique"] is True
    assert "old_country" in indexes
    again = await diff_indexes(registry)
    assert [spec.name for spec in again[0].extra] == ["old_country"]
    assert not again[0].missing
    assert not again[0].differing
    assert again[1].clean
    assert not again[1].unindexed

    assert await apply_indexes(registry, again, drop_extra=True) == ["dropped author.old_country"]
    assert all(diff.clean for diff in await diff_indexes(registry))


async def test_init_never_drops_an_index(mongodb_database):
    await mongodb_database["author"].create_index("country", name="kept")
    await init(mongodb_database, models=[Author, Book])
    assert "kept" in await mongodb_database["author"].index_information()


async def test_a_rebuild_that_fails_restores_the_old_index(mongodb_database):
    registry = await init(mongodb_database, models=[Author, Book], create_indexes=False)
    await mongodb_database["author"].create_index("name")
    await mongodb_database["author"].insert_many([{"name": "Ada"}, {"name": "Ada"}])
    diffs = await diff_indexes(registry)
    with pytest.raises(DocumentException, match=r"rebuilding index 'name_1'.*restored"):
        await apply_indexes(registry, diffs)
    indexes = await mongodb_database["author"].index_information()
    assert "name_1" in indexes
    assert not indexes["name_1"].get("unique")


def test_specs_compare_values_not_number_types():
    one = IndexSpec.of_server("a_1", {"key": [("a", 1.0)], "v": 2, "unique": False})
    assert one.keys == (("a", 1),)
    assert one.options == {}
