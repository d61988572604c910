"""Request bodies made from documents: ``Input[Doc]`` (create) and ``Patch[Doc]`` (PATCH)."""

import json
from typing import Any

import bson
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError, field_validator, model_validator

from blog_client import serve
from mdocument import Document, Field, ObjectId, UnknownModelField
from mdocument.fastapi import (
    Input,
    Patch,
    add_exception_handlers,
    get_or_404,
    input_model,
    lifespan,
    patch_model,
    server_owned,
)


class Address(BaseModel):
    city: str
    street: str = Field(sensitive=True)


class Member(Document):
    name: str = Field(unique=True, min_length=1, max_length=20)
    pin: str = Field(sensitive=True, pattern=r"^\d{4}$")
    karma: int = Field(default=0, ge=0)
    address: Address | None = None
    tags: list[str] = Field(default_factory=list)
    nick: str | None = Field(default=None, alias="nickname")
    token: str = Field(default="", sensitive=True)
    minimum: int = 0
    maximum: int = 10

    @field_validator("tags")
    @classmethod
    def _lower(cls, tags: list[str]) -> list[str]:
        return [tag.lower() for tag in tags]

    @model_validator(mode="after")
    def _ordered(self) -> "Member":
        if self.minimum > self.maximum:
            raise ValueError("minimum is above maximum")
        return self

    class Meta:
        server_owned = ("token",)


def members_app(database: Any) -> FastAPI:
    app = FastAPI(lifespan=lifespan([Member], database))
    add_exception_handlers(app)

    @app.post("/members", response_model=Member, status_code=201)
    async def create(data: Input[Member]) -> Member:
        return await data.create(token="server-made-s3cret")

    @app.patch("/members/{member_id}", response_model=Member)
    async def update(member_id: ObjectId, data: Patch[Member]) -> Member:
        member = await get_or_404(Member, member_id)
        return await data.apply(member).save()

    return app


@pytest.fixture
async def http(mongodb_database):
    app = members_app(mongodb_database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def create(http, **body: Any) -> dict[str, Any]:
    response = await http.post("/members", json={"name": "ada", "pin": "1234", **body})
    assert response.status_code == 201, response.text
    return response.json()


# -- the generated models -----------------------------------------------------------------------


def test_the_models_are_generated_once_per_class_without_server_owned_fields():
    assert Input[Member] is Input[Member] is input_model(Member)
    assert Patch[Member] is patch_model(Member)
    assert Input[Member].__name__ == "MemberInput"
    assert Patch[Member].__name__ == "MemberPatch"
    assert issubclass(Input[Member], Input)
    assert issubclass(Patch[Member], Patch)
    assert server_owned(Member) == {"id", "token"}
    for model in (Input[Member], Patch[Member]):
        assert "id" not in model.model_fields
        assert "token" not in model.model_fields
        assert "pin" in model.model_fields  # sensitive fields are accepted on input
    assert Input[Member].model_fields["name"].is_required()
    assert not Input[Member].model_fields["karma"].is_required()
    assert not any(info.is_required() for info in Patch[Member].model_fields.values())


def test_an_input_keeps_the_document_constraints_validators_and_aliases():
    body = Input[Member](name="ada", pin="1234", tags=["A"], nickname="countess")
    assert body.values()["nick"] == "countess"
    member = body.document(token="t")
    assert isinstance(member, Member)
    assert (member.name, member.nick, member.token) == ("ada", "countess", "t")
    assert member.tags == ["a"]  # the document's validators run as it is built
    for bad in ({"pin": "12"}, {"name": ""}, {"karma": -1}, {"id": str(bson.ObjectId())}):
        with pytest.raises(ValidationError):
            Input[Member](**{"name": "ada", "pin": "1234", **bad})


def test_an_input_never_shows_a_sensitive_value():
    body = Input[Member](name="ada", pin="9876")
    assert "9876" not in repr(body)
    assert "pin='***'" in repr(body)
    with pytest.raises(ValidationError) as caught:
        Input[Member](name="ada", pin="98765-s3cret")
    assert "s3cret" not in str(caught.value)


def test_server_owned_must_name_fields():
    class Typo(Document):
        joined: int = 0

        class Meta:
            server_owned = ("joind",)

    with pytest.raises(UnknownModelField, match=r"Typo\.Meta\.server_owned: 'joind'.*'joined'"):
        Input[Typo]


def test_a_subclass_adds_fields_of_its_own():
    class MemberCreate(Input[Member]):
        password: str = Field(sensitive=True, min_length=8)

    body = MemberCreate(name="ada", pin="1234", password="long enough")
    assert "password" not in body.values()  # not a field of Member
    assert body.password == "long enough"
    with pytest.raises(ValidationError):
        MemberCreate(name="ada", pin="1234", password="short")


# -- through HTTP -------------------------------------------------------------------------------


async def test_create_refuses_an_id_and_unknown_fields(http):
    for extra in ({"id": str(bson.ObjectId())}, {"_id": str(bson.ObjectId())}, {"admin": True}):
        response = await http.post("/members", json={"name": "ada", "pin": "1234", **extra})
        assert response.status_code == 422, extra
        assert response.json()["detail"][0]["type"] == "extra_forbidden"
    response = await http.post("/members", json={"name": "ada", "pin": "1234", "token": "x"})
    assert response.status_code == 422  # server-owned
    member = await create(http)
    assert member["pin"] == member["token"] == "***"  # masked in the response
    stored = await Member.get(member["id"])
    assert stored is not None
    assert (stored.pin, stored.token) == ("1234", "server-made-s3cret")


async def test_create_validation_errors_do_not_echo_the_input(http):
    response = await http.post("/members", json={"name": "ada", "pin": "12-s3cret"})
    assert response.status_code == 422
    assert "s3cret" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "pin"]


async def test_patch_changes_only_the_fields_sent(http):
    member = await create(http, karma=3, tags=["x"])
    response = await http.patch(f"/members/{member['id']}", json={"karma": 5})
    assert response.status_code == 200, response.text
    assert response.json() == {**member, "karma": 5}
    stored = await Member.get(member["id"])
    assert stored is not None
    assert (stored.pin, stored.tags, stored.token) == ("1234", ["x"], "server-made-s3cret")
    response = await http.patch(f"/members/{member['id']}", json={"nickname": "countess"})
    assert response.json()["nickname"] == "countess"
    response = await http.patch(f"/members/{member['id']}", json={"nickname": None})
    assert response.status_code == 200
    assert response.json()["nickname"] is None  # a field that takes None may be set to None


@pytest.mark.parametrize(
    "body",
    [
        {"karma": -1},  # a constraint of the field
        {"pin": "12"},
        {"name": None},  # null is not a name
        {"id": str(bson.ObjectId())},  # the id is the server's
        {"token": "mine"},  # server-owned
        {"admin": True},  # unknown
        {"minimum": 50},  # the document's own validator (minimum > maximum)
    ],
)
async def test_patch_refuses_what_the_document_refuses_and_changes_nothing(http, body):
    member = await create(http)
    response = await http.patch(f"/members/{member['id']}", json=body)
    assert response.status_code == 422, response.text
    stored = await Member.get(member["id"])
    assert stored is not None
    assert json.loads(stored.model_dump_json(by_alias=True)) == member


async def test_patch_of_a_document_validator_names_the_problem_without_the_input(http):
    member = await create(http)
    response = await http.patch(f"/members/{member['id']}", json={"minimum": 123456})
    assert response.status_code == 422
    assert "minimum is above maximum" in response.text
    assert "123456" not in response.text


async def test_create_refused_by_a_document_validator_is_a_422(http):
    response = await http.post(
        "/members", json={"name": "ada", "pin": "1234", "minimum": 99, "maximum": 1}
    )
    assert response.status_code == 422
    assert "minimum is above maximum" in response.text
    assert await Member.count() == 0


async def test_patch_a_sensitive_field_is_accepted_and_masked(http):
    member = await create(http)
    response = await http.patch(f"/members/{member['id']}", json={"pin": "4321"})
    assert response.status_code == 200
    assert response.json()["pin"] == "***"
    stored = await Member.get(member["id"])
    assert stored is not None
    assert stored.pin == "4321"


async def test_openapi_describes_the_bodies(http):
    schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
    created, patch = schemas["MemberInput"], schemas["MemberPatch"]
    assert created["additionalProperties"] is False
    assert "id" not in created["properties"]
    assert "token" not in created["properties"]
    assert created["properties"]["pin"]["writeOnly"] is True
    assert set(created["required"]) == {"name", "pin"}
    assert "required" not in patch


# -- the example app ----------------------------------------------------------------------------


@pytest.fixture
async def api(mongodb_database):
    async for client in serve(mongodb_database):
        yield client


async def test_the_example_refuses_an_id_or_a_server_owned_field_on_create(api):
    for extra in ({"id": str(bson.ObjectId())}, {"password_hash": "x"}, {"joined": "2020-01-01"}):
        response = await api.http.post(
            "/users", json={"name": "ada", "email": "a@x.org", "password": "long-enough", **extra}
        )
        assert response.status_code == 422, extra
    ada = await api.signup("ada")
    for extra in ({"id": str(bson.ObjectId())}, {"author": {"id": ada["id"], "name": "x"}}):
        response = await api.http.post(
            "/posts", json={"title": "t", "author_id": ada["id"], **extra}
        )
        assert response.status_code == 422, extra
    api.assert_no_secret_was_sent_back()


async def test_the_example_patches_only_what_is_sent(api):
    ada = await api.signup("ada", bio="Countess")
    response = await api.http.patch(f"/users/{ada['id']}", json={"name": "lovelace"})
    assert response.status_code == 200
    assert response.json() == {**ada, "name": "lovelace"}
    response = await api.http.patch(f"/users/{ada['id']}", json={"password_hash": "x"})
    assert response.status_code == 422
    api.assert_no_secret_was_sent_back()
