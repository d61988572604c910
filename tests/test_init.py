"""init(): registering documents, creating indexes, rebinding to another database."""

import decimal

import pytest
from pydantic import BaseModel

from mdocument import Document, DocumentException, Field, Index, Registry, init
from mdocument.testing import new_database_name


class City(Document):
    name: str = Field(unique=True)
    country: str

    class Meta:
        indexes = [Index([("country", 1), ("name", -1)], name="by_country")]


class Abstract(Document):
    class Meta:
        abstract = True


async def test_init_returns_a_registry_and_creates_declared_indexes(database):
    registry = await init(database, models=[City])
    assert isinstance(registry, Registry)
    assert registry.documents == (City,)
    indexes = await database["city"].index_information()
    assert indexes["by_country"]["key"] == [("country", 1), ("name", -1)]
    assert indexes["name_1"]["unique"]


async def test_init_detects_transactions_on_a_replica_set(mongodb_database):
    registry = await init(mongodb_database, models=[City])
    assert registry.supports_transactions


async def test_init_detects_a_standalone_server(standalone_database):
    registry = await init(standalone_database, models=[City])
    assert not registry.supports_transactions


async def test_init_again_rebinds_documents_to_the_new_database(mongodb_database):
    client = mongodb_database.client
    other = client[new_database_name()]
    try:
        await init(mongodb_database, models=[City])
        await City.create(name="Paris", country="FR")
        await init(other, models=[City])
        assert await City.count() == 0
        await City.create(name="Paris", country="FR")
        assert await other["city"].count_documents({}) == 1
        assert await mongodb_database["city"].count_documents({}) == 1
    finally:
        await client.drop_database(other.name)


async def test_init_is_idempotent_on_the_same_database(database):
    await init(database, models=[City])
    await init(database, models=[City])
    await City.create(name="Rome", country="IT")
    assert await City.count() == 1


async def test_init_can_leave_indexes_alone(database):
    await init(database, models=[City], create_indexes=False)
    assert await database["city"].index_information() == {}


async def test_init_refuses_abstract_documents_and_non_documents(database):
    with pytest.raises(DocumentException, match="abstract"):
        await init(database, models=[Abstract])
    with pytest.raises(TypeError, match="Document subclasses"):
        await init(database, models=[dict])
    with pytest.raises(TypeError, match="Document subclasses"):
        await init(database, models=[Document])


async def test_init_refuses_two_documents_in_one_collection(database):
    class Town(Document):
        class Meta:
            collection = "city"

    with pytest.raises(DocumentException, match="both stored in collection 'city'"):
        await init(database, models=[City, Town])


async def test_init_refuses_something_that_is_not_an_async_database():
    with pytest.raises(TypeError, match="async database"):
        await init(object(), models=[City])


async def test_an_existing_index_with_other_options_is_reported(database):
    await database["city"].create_index(
        [("country", 1), ("name", -1)], name="by_country", unique=True
    )
    with pytest.raises(DocumentException, match="exists with other options"):
        await init(database, models=[City])


async def test_a_document_completed_by_init_maps_its_late_annotations(database):
    class Early(Document):
        late: "Late | None" = None

    class Late(BaseModel):
        price: decimal.Decimal

    assert not Early.__pydantic_complete__
    Early.model_rebuild(_types_namespace={"Late": Late})
    await init(database, models=[Early])
    assert Early.__mdocument_mapping__.decimals
    saved = await Early.create(late=Late(price=decimal.Decimal("1.5")))
    assert (await Early.get(saved.id)).late.price == decimal.Decimal("1.5")
