"""Class hierarchies in one collection: Meta.polymorphic = True on a root document."""

import pytest

from mdocument import (
    Document,
    DocumentDoesntExist,
    DocumentException,
    Field,
    ObjectId,
    Synced,
    init,
)


class Person(Document):
    name: str


class Vehicle(Document):
    plate: str = Field(unique=True)
    owner_id: ObjectId | None = Field(default=None, related=Person)

    class Meta:
        polymorphic = True


class Car(Vehicle):
    seats: int = 4


class SportsCar(Car):
    top_speed: int = 300


class Truck(Vehicle):
    load: float = 10.0

    class Meta:
        kind = "lorry"


class Wheel(Document):
    vehicle_id: ObjectId = Field(related=Vehicle)


class CarCard(Synced[Car]):
    id: ObjectId
    plate: str
    seats: int


class Booking(Document):
    car: CarCard


class Seat(Document):
    car_id: ObjectId = Field(related=Car)


class Trailer(Document):
    truck_id: ObjectId = Field(related=Truck)


MODELS = [Person, Vehicle, Wheel, Booking, Seat, Trailer]


@pytest.fixture
async def fleet(database):
    await init(database, models=MODELS)
    ada = await Person.create(name="Ada")
    car = await Car.create(plate="C-1", owner_id=ada.id)
    sports = await SportsCar.create(plate="S-1", seats=2)
    truck = await Truck.create(plate="T-1", owner_id=ada.id)
    plain = await Vehicle.create(plate="V-1")
    return ada, car, sports, truck, plain


async def test_subclasses_share_the_root_collection_with_a_kind(fleet, database):
    raws = await database["vehicle"].find({}, {"_kind": 1, "plate": 1}).to_list(None)
    assert {raw["plate"]: raw["_kind"] for raw in raws} == {
        "C-1": "Car",
        "S-1": "SportsCar",
        "T-1": "lorry",
        "V-1": "Vehicle",
    }


async def test_root_queries_return_the_right_subclass(fleet):
    _, car, sports, truck, plain = fleet
    found = {vehicle.plate: vehicle for vehicle in await Vehicle.find().to_list()}
    assert type(found["C-1"]) is Car
    assert type(found["S-1"]) is SportsCar
    assert type(found["T-1"]) is Truck
    assert type(found["V-1"]) is Vehicle
    assert found["S-1"] == sports
    loaded = await Vehicle.get(truck.id)
    assert isinstance(loaded, Truck)
    assert loaded.load == 10.0
    assert await Vehicle.count() == 4


async def test_subclass_queries_match_their_subtree_only(fleet):
    _, car, sports, truck, _ = fleet
    assert {c.plate for c in await Car.find().to_list()} == {"C-1", "S-1"}
    assert [c.plate for c in await SportsCar.find().to_list()] == ["S-1"]
    assert await Car.count() == 2
    assert await Truck.count({"plate": "T-1"}) == 1
    assert await Car.find({"plate": "T-1"}).first() is None
    assert await Car.get(truck.id) is None
    assert await Car.one({"plate": "S-1"}) == sports


async def test_saving_a_loaded_subclass_keeps_its_kind(fleet, database):
    _, car, *_ = fleet
    loaded = await Vehicle.get(car.id)
    assert isinstance(loaded, Car)
    loaded.seats = 5
    await loaded.save()
    raw = await database["vehicle"].find_one({"_id": car.id})
    assert raw["seats"] == 5
    assert raw["_kind"] == "Car"


async def test_unique_fields_are_shared_across_the_hierarchy(fleet):
    with pytest.raises(Vehicle.DuplicateError):
        await Truck.create(plate="C-1")


async def test_a_unique_field_on_a_subclass_is_refused(database):
    class Base(Document):
        name: str

        class Meta:
            polymorphic = True

    class Special(Base):
        code: str = Field(unique=True)

    with pytest.raises(DocumentException, match="declare unique fields"):
        await init(database, models=[Base])


async def test_a_reference_to_a_subclass_refuses_another_kind(fleet):
    _, car, _, truck, _ = fleet
    await Seat.create(car_id=car.id)
    with pytest.raises(DocumentDoesntExist):
        await Seat.create(car_id=truck.id)
    await Trailer.create(truck_id=truck.id)
    with pytest.raises(DocumentDoesntExist):
        await Trailer.create(truck_id=car.id)


async def test_a_reference_to_the_root_accepts_every_kind(fleet):
    _, car, sports, truck, plain = fleet
    for vehicle in (car, sports, truck, plain):
        await Wheel.create(vehicle_id=vehicle.id)
    assert await Wheel.count() == 4


async def test_deleting_a_root_owner_cascades_to_every_kind(fleet):
    ada, car, _, truck, _ = fleet
    await Seat.create(car_id=car.id)
    await Wheel.create(vehicle_id=truck.id)
    await ada.delete()
    assert {v.plate for v in await Vehicle.find().to_list()} == {"S-1", "V-1"}
    assert await Seat.count() == 0  # the car's seat went with the car
    assert await Wheel.count() == 0


async def test_deleting_a_subclass_applies_edges_to_the_root_and_to_it(fleet):
    _, car, sports, truck, _ = fleet
    await Wheel.create(vehicle_id=sports.id)
    await Wheel.create(vehicle_id=truck.id)
    await Seat.create(car_id=sports.id)
    await sports.delete()
    assert await Wheel.count() == 1
    assert await Seat.count() == 0
    assert await Vehicle.count() == 3


async def test_deleting_through_the_root_cascades_edges_to_subclasses(fleet):
    _, car, *_ = fleet
    await Seat.create(car_id=car.id)
    await Wheel.create(vehicle_id=car.id)
    loaded = await Vehicle.get(car.id)
    assert loaded is not None
    await loaded.delete()
    assert await Seat.count() == 0
    assert await Wheel.count() == 0
    deleted = await Vehicle.find({"plate": "S-1"}).delete()
    assert deleted == 1
    assert await Car.count() == 0


async def test_synced_copies_of_a_subclass_are_rewritten(fleet):
    _, car, sports, *_ = fleet
    booking = await Booking.create(car=CarCard.of(sports))
    sports.seats = 1
    sports.plate = "S-2"
    await sports.save()
    fresh = await Booking.get(booking.id)
    assert fresh is not None
    assert fresh.car.seats == 1
    assert fresh.car.plate == "S-2"
    loaded = await Vehicle.get(car.id)
    assert isinstance(loaded, Car)
    other = await Booking.create(car=CarCard.of(loaded))
    loaded.seats = 7
    await loaded.save()
    fresh = await Booking.get(other.id)
    assert fresh is not None
    assert fresh.car.seats == 7


async def test_registering_a_subclass_registers_the_hierarchy(database):
    registry = await init(database, models=[Person, Car, Wheel, Booking, Seat, Trailer])
    assert {Vehicle, Car, SportsCar, Truck} <= set(registry.documents)


async def test_inserting_many_through_the_root_stores_each_kind(database):
    await init(database, models=MODELS)
    await Vehicle.insert_many([Car(plate="A"), Truck(plate="B"), Vehicle(plate="C")])
    kinds = {type(v).__name__ for v in await Vehicle.find().to_list()}
    assert kinds == {"Car", "Truck", "Vehicle"}
    assert await Car.count() == 1


async def test_bulk_updates_of_a_subclass_touch_its_subtree_only(fleet):
    assert await Car.find().update({"$set": {"seats": 9}}) == 2
    assert {c.seats for c in await Car.find().to_list()} == {9}
    assert await Vehicle.find({"plate": "T-1"}).delete() == 1
    assert await Car.find({"plate": "T-1"}).delete() == 0
    assert await Vehicle.count() == 3
