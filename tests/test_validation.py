"""Invalid data never reaches the server; stored data that no longer fits is reported clearly."""

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from mdocument import Document, Field, RequiredFieldMissing, WrongValueType, init


class Dimensions(BaseModel):
    width: int
    height: int = Field(gt=0)


class Product(Document):
    name: str = Field(max_length=20)
    price: int = Field(ge=0)
    tags: list[str] = Field(default_factory=list)
    size: Dimensions | None = None
    pin: str | None = Field(default=None, sensitive=True)


@pytest.fixture
async def products(database):
    await init(database, models=[Product])
    return database


async def test_invalid_input_raises_pydantic_validation_error_and_writes_nothing(products):
    with pytest.raises(ValidationError):
        await Product.create(name="x", price=-1)
    assert await products["product"].count_documents({}) == 0


async def test_invalid_assignment_is_refused_at_once(products):
    product = await Product.create(name="x", price=1)
    with pytest.raises(ValidationError):
        product.price = -5
    assert product.price == 1


async def test_invalid_nested_mutation_is_stopped_at_save(products, commands):
    product = await Product.create(name="x", price=1, size=Dimensions(width=1, height=1))
    product.tags.append(42)  # type: ignore[arg-type]
    commands.clear()
    with pytest.raises(ValidationError):
        await product.save()
    product.tags.pop()
    product.size.height = 0
    with pytest.raises(ValidationError, match="height"):
        await product.save()
    assert commands.count == 0
    stored = await products["product"].find_one({"_id": product.id})
    assert stored["size"]["height"] == 1


async def test_a_coerced_value_is_adopted_by_the_instance(products):
    product = await Product.create(name="x", price=1, size=Dimensions(width=1, height=1))
    product.size.width = "7"  # type: ignore[assignment]
    await product.save()
    assert product.size.width == 7
    stored = await products["product"].find_one({"_id": product.id})
    assert stored["size"]["width"] == 7


async def test_model_construct_cannot_smuggle_invalid_data(products):
    product = Product.model_construct(name="x" * 50, price=1, tags=[])
    with pytest.raises(ValidationError):
        await product.save()
    assert await products["product"].count_documents({}) == 0


async def test_stored_value_of_the_wrong_type_names_the_document_id_and_field(products):
    product = await Product.create(name="x", price=1)
    await products["product"].update_one({"_id": product.id}, {"$set": {"price": "ten"}})
    with pytest.raises(WrongValueType) as caught:
        await Product.get(product.id)
    message = str(caught.value)
    assert str(product.id) in message
    assert "'price'" in message
    assert "'product'" in message
    assert caught.value.field == "price"
    assert caught.value.document is Product


async def test_stored_document_missing_a_required_field(products):
    product = await Product.create(name="x", price=1)
    await products["product"].update_one({"_id": product.id}, {"$unset": {"price": ""}})
    with pytest.raises(RequiredFieldMissing, match=f"Product {product.id}.*'price'"):
        await Product.one({"name": "x"})


async def test_stored_sensitive_value_of_the_wrong_type_is_not_shown(products):
    product = await Product.create(name="x", price=1, pin="1234")
    await products["product"].update_one({"_id": product.id}, {"$set": {"pin": 98765}})
    with pytest.raises(WrongValueType) as caught:
        await Product.get(product.id)
    assert "98765" not in str(caught.value)
    assert "***" in str(caught.value)


async def test_validation_errors_of_documents_with_sensitive_fields_hide_inputs(products):
    with pytest.raises(ValidationError) as caught:
        Product(name="x", price="hunter2-price", pin="hunter2")
    assert "hunter2" not in str(caught.value)


class Normalized(Document):
    email: str

    @field_validator("email")
    @classmethod
    def lower(cls, value: str) -> str:
        return value.lower()


async def test_validators_run_on_create_and_assignment(database):
    await init(database, models=[Normalized])
    doc = await Normalized.create(email="ADA@Example.com")
    assert doc.email == "ada@example.com"
    doc.email = "GRACE@Example.com"
    assert doc.email == "grace@example.com"
    await doc.save()
    assert (await Normalized.get(doc.id)).email == "grace@example.com"


validated_names: list[str] = []


class Scalar(Document):
    """Only immutable values: they change by assignment alone, which is validated."""

    name: str = Field(max_length=10)
    rank: int = Field(default=0, ge=0)

    @field_validator("name")
    @classmethod
    def remember_name(cls, value: str) -> str:
        validated_names.append(value)
        return value


async def test_documents_of_immutable_fields_are_not_validated_twice(database):
    await init(database, models=[Scalar])
    assert Scalar.__mdocument_mapping__.exact_check is not None
    # Constrained lists can change in place: only a full validation can check them.
    assert Product.__mdocument_mapping__.exact_check is None
    validated_names.clear()
    document = Scalar(name="a")
    await document.save()
    document.rank = 3
    await document.save()
    await Scalar.insert_many([Scalar(name="b")])
    assert validated_names == ["a", "b"]  # when built, never again on the way to the server
    assert (await Scalar.get(document.id)).rank == 3


async def test_unvalidated_construction_is_validated_before_a_write(database):
    await init(database, models=[Scalar])
    with pytest.raises(ValidationError):
        await Scalar.model_construct(name="far too long a name").save()
    stored = await Scalar.create(name="ok")
    with pytest.raises(ValidationError):
        await stored.model_copy(update={"rank": -1}).save()
    assert await database["scalar"].count_documents({}) == 1
    assert (await Scalar.get(stored.id)).rank == 0
    copy = stored.model_copy(update={"rank": 2})
    await copy.save()
    assert (await Scalar.get(stored.id)).rank == 2
