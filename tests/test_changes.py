"""save() sends only what changed, checked through the driver's command monitoring."""

import copy

import pytest
from pydantic import BaseModel, field_validator

from mdocument import Document, Field, init
from mdocument.changes import diff


class Address(BaseModel):
    city: str
    street: str = ""


class Line(BaseModel):
    sku: str
    quantity: int


class Order(Document):
    customer: str
    address: Address
    lines: list[Line] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, int] = Field(default_factory=dict)
    note: str | None = None


@pytest.fixture
async def order(database):
    await init(database, models=[Order])
    return await Order.create(
        customer="Ada",
        address=Address(city="London", street="St James's Square"),
        lines=[Line(sku="a", quantity=1), Line(sku="b", quantity=2)],
        tags=["new"],
        meta={"a": 1},
    )


def updates(commands):
    return [update["u"] for command in commands.of("update") for update in command["updates"]]


async def test_changing_one_nested_value_sends_one_set_of_that_path(order, commands):
    commands.clear()
    order.address.city = "Paris"
    await order.save()
    assert commands.names == ["update"]
    assert updates(commands) == [{"$set": {"address.city": "Paris"}}]


async def test_nothing_changed_sends_nothing(order, commands):
    commands.clear()
    await order.save()
    loaded = await Order.get(order.id)
    commands.clear()
    await loaded.save()
    assert commands.count == 0


async def test_a_loaded_document_is_diffed_against_what_was_loaded(order, commands):
    loaded = await Order.get(order.id)
    loaded.lines[1].quantity = 5
    commands.clear()
    await loaded.save()
    assert updates(commands) == [{"$set": {"lines.1.quantity": 5}}]


async def test_list_element_and_dict_key_changes(order, commands):
    order.tags[0] = "old"
    order.meta["b"] = 2
    commands.clear()
    await order.save()
    assert updates(commands) == [{"$set": {"tags.0": "old", "meta.b": 2}}]


async def test_a_list_that_grew_is_set_whole(order, commands):
    order.tags.append("vip")
    commands.clear()
    await order.save()
    assert updates(commands) == [{"$set": {"tags": ["new", "vip"]}}]


async def test_a_removed_dict_key_is_unset(order, commands):
    del order.meta["a"]
    commands.clear()
    await order.save()
    assert updates(commands) == [{"$unset": {"meta.a": ""}}]
    stored = await Order.get(order.id)
    assert stored.meta == {}


async def test_consecutive_saves_send_only_the_new_changes(order, commands):
    order.note = "first"
    await order.save()
    order.customer = "Grace"
    commands.clear()
    await order.save()
    assert updates(commands) == [{"$set": {"customer": "Grace"}}]


def test_diff_keeps_bson_types_apart():
    assert diff({"a": 1}, {"a": 1.0}).set == {"a": 1.0}
    assert diff({"a": True}, {"a": 1}).set == {"a": 1}
    assert not diff({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]})


def test_diff_sets_keys_that_cannot_be_addressed_through_their_parent():
    changes = diff({"m": {"a.b": 1}}, {"m": {"a.b": 2}})
    assert changes.set == {"m": {"a.b": 2}}
    changes = diff({"m": {"$x": 1}}, {"m": {"$x": 2}})
    assert changes.set == {"m": {"$x": 2}}


def test_diff_of_nested_lists_and_new_keys():
    changes = diff({"a": {"b": [1, 2]}, "c": 1}, {"a": {"b": [1, 3], "d": 4}})
    assert changes.set == {"a.b.1": 3, "a.d": 4}
    assert changes.unset == {"c": ""}
    assert changes.update_spec() == {"$set": {"a.b.1": 3, "a.d": 4}, "$unset": {"c": ""}}


class Flat(Document):
    name: str
    hits: int = 0


@pytest.mark.parametrize("model", [Flat, Order], ids=["native fields", "nested models"])
async def test_fields_the_class_does_not_know_are_kept_by_save(database, model):
    await init(database, models=[model])
    collection = model._repository().collection
    if model is Flat:
        document = await Flat.create(name="a")
    else:
        document = await Order.create(customer="Ada", address=Address(city="London"))
    await collection.update_one(
        {"_id": document.id}, {"$set": {"legacy": 1, "from_another_app": {"x": 1}}}
    )
    loaded = await model.get(document.id)
    if model is Flat:
        loaded.hits = 5
    else:
        loaded.address.city = "Paris"
    await loaded.save()
    stored = await collection.find_one({"_id": document.id})
    assert stored["legacy"] == 1
    assert stored["from_another_app"] == {"x": 1}


async def test_a_loaded_document_of_native_fields_saves_only_its_change(database, commands):
    await init(database, models=[Flat])
    document = await Flat.create(name="a")
    loaded = await Flat.get(document.id)
    loaded.hits = 2
    commands.clear()
    await loaded.save()
    assert updates(commands) == [{"$set": {"hits": 2}}]


class CheckedOrder(Document):
    """``Order`` with a validator: its saves dump and diff (the full path), not the walk."""

    customer: str
    address: Address
    lines: list[Line] = Field(default_factory=list)
    meta: dict[str, int] = Field(default_factory=dict)

    @field_validator("customer")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()


# save() compares the instance with its baseline; it never trusts a record of assignments. These
# are the changes an assignment-tracking ODM has lost (a field of an embedded model, a deep copy),
# or never sees (a write past __setattr__): each must reach the server, on both save paths.
CHANGES = {
    "a field of a nested model": lambda d: setattr(d.address, "city", "Paris"),
    "a model in a list, in place": lambda d: setattr(d.lines[0], "quantity", 9),
    "a dict, in place": lambda d: d.meta.update(b=2),
    "__dict__, past validation": lambda d: d.__dict__.update(customer="Grace"),
    "object.__setattr__": lambda d: object.__setattr__(d, "customer", "Grace"),
}
EXPECTED = {
    "a field of a nested model": {"$set": {"address.city": "Paris"}},
    "a model in a list, in place": {"$set": {"lines.0.quantity": 9}},
    "a dict, in place": {"$set": {"meta.b": 2}},
    "__dict__, past validation": {"$set": {"customer": "Grace"}},
    "object.__setattr__": {"$set": {"customer": "Grace"}},
}
COPIES = {
    "the instance": lambda d: d,
    "copy.deepcopy": copy.deepcopy,
    "model_copy(deep=True)": lambda d: d.model_copy(deep=True),
}


def test_the_two_classes_take_the_two_save_paths():
    assert Order.__mdocument_mapping__.instance_walk is not None
    assert CheckedOrder.__mdocument_mapping__.instance_walk is None


@pytest.mark.parametrize("model", [Order, CheckedOrder], ids=["walk", "full path"])
@pytest.mark.parametrize("how", list(COPIES))
@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("baseline", ["loaded", "saved"])
async def test_a_change_made_any_way_reaches_the_server(
    database, commands, model, how, change, baseline
):
    await init(database, models=[model])
    created = await model.create(
        customer="Ada", address=Address(city="London"), lines=[Line(sku="a", quantity=1)]
    )
    document = await model.get(created.id) if baseline == "loaded" else created
    target = COPIES[how](document)
    CHANGES[change](target)
    commands.clear()
    await target.save()
    assert updates(commands) == [EXPECTED[change]]
    stored = await model.get(created.id)
    assert stored.model_dump() == target.model_dump()
    commands.clear()
    await target.save()  # the change is now its baseline: nothing more to send
    assert commands.count == 0


@pytest.mark.parametrize("model", [Order, CheckedOrder], ids=["walk", "full path"])
async def test_a_deep_copy_and_its_original_each_save_only_their_own_change(
    database, commands, model
):
    await init(database, models=[model])
    original = await model.create(customer="Ada", address=Address(city="London"))
    twin = copy.deepcopy(original)
    twin.address.city = "Paris"
    original.customer = "Grace"
    commands.clear()
    await twin.save()
    await original.save()  # its baseline still says London: it must not send the city back
    assert updates(commands) == [
        {"$set": {"address.city": "Paris"}},
        {"$set": {"customer": "Grace"}},
    ]
    stored = await model.get(original.id)
    assert (stored.customer, stored.address.city) == ("Grace", "Paris")


@pytest.mark.parametrize("model", [Order, CheckedOrder], ids=["walk", "full path"])
async def test_a_value_changed_and_changed_back_sends_nothing(database, commands, model):
    await init(database, models=[model])
    document = await model.get(
        (await model.create(customer="Ada", address=Address(city="London"))).id
    )
    document.address.city = "Paris"
    document.address.city = "London"
    document.address = Address(city="London")  # another object, equal: no change either
    commands.clear()
    await document.save()
    assert commands.count == 0
