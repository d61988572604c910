"""The FastAPI example app, driven over HTTP against the real server, and mdocument.fastapi."""

import base64
import datetime
import json
import logging
from collections.abc import Iterator
from typing import Any

import bson
import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.errors import InvalidOperation

from blog_client import AuthorCard, Blog, Post, User, blog, passwords, serve
from mdocument import DeleteRestricted, DocumentDoesntExist, InvalidPageToken, WrongValueType
from mdocument.fastapi import add_exception_handlers, get_or_404, lifespan, public_errors
from mdocument.testing import new_database_name


@pytest.fixture
async def api(mongodb_database):
    async for client in serve(mongodb_database):
        yield client


# -- users -------------------------------------------------------------------------------------


async def test_signup_returns_the_user_with_sensitive_values_masked(api, mongodb_database):
    user = await api.signup("ada", bio="Countess")
    assert user["name"] == "ada"
    assert user["bio"] == "Countess"
    assert user["email"] == "***"
    assert user["password_hash"] == "***"
    assert "password" not in user
    stored = await mongodb_database["users"].find_one({"name": "ada"})
    assert str(stored["_id"]) == user["id"]
    assert stored["email"] == "ada.s3cret@example.org"  # the real value is stored
    assert passwords.verify_password("pw-ada-s3cret", stored["password_hash"])


async def test_read_a_user(api):
    ada = await api.signup("ada")
    response = await api.http.get(f"/users/{ada['id']}")
    assert response.status_code == 200
    assert response.json() == ada


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("collection", ["users", "posts"])
async def test_a_malformed_id_is_422_and_a_missing_one_404(api, method, collection):
    body = {} if method == "PATCH" else None
    response = await api.http.request(method, f"/{collection}/not-an-id", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] in ("user_id", "post_id")
    response = await api.http.request(method, f"/{collection}/{'0' * 24}", json=body)
    assert response.status_code == 404
    assert response.json()["detail"].endswith("000000000000000000000000 not found")


async def test_list_users_paginates_with_the_total(api):
    for name in ("eve", "bob", "dan", "ada", "cy"):
        await api.signup(name)
    response = await api.http.get("/users", params={"offset": 1, "limit": 2})
    assert response.status_code == 200
    page = response.json()
    assert [user["name"] for user in page["items"]] == ["bob", "cy"]
    assert (page["total"], page["offset"], page["limit"]) == (5, 1, 2)
    assert {user["email"] for user in page["items"]} == {"***"}
    last = (await api.http.get("/users", params={"offset": 4})).json()
    assert [user["name"] for user in last["items"]] == ["eve"]
    past = (await api.http.get("/users", params={"offset": 10})).json()
    assert past["items"] == []
    assert past["total"] == 5


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}])
async def test_list_refuses_bad_pagination(api, params):
    assert (await api.http.get("/users", params=params)).status_code == 422


async def test_patch_changes_only_the_fields_sent(api):
    ada = await api.signup("ada", bio="Countess")
    response = await api.http.patch(f"/users/{ada['id']}", json={"bio": "Mathematician"})
    assert response.status_code == 200
    assert response.json() == {**ada, "bio": "Mathematician"}
    assert (await api.http.get(f"/users/{ada['id']}")).json()["bio"] == "Mathematician"


async def test_patch_a_password_stores_a_new_hash(api):
    ada = await api.signup("ada")
    before = (await User.get(ada["id"])).password_hash
    new_password = api.secret("new-pw-s3cret")
    response = await api.http.patch(f"/users/{ada['id']}", json={"password": new_password})
    assert response.status_code == 200
    assert response.json()["password_hash"] == "***"
    assert (await User.get(ada["id"])).password_hash != before
    login = {"name": "ada", "password": new_password}
    assert (await api.http.post("/users/login", json=login)).status_code == 200
    login["password"] = "pw-ada-s3cret"
    assert (await api.http.post("/users/login", json=login)).status_code == 401


@pytest.mark.parametrize("body", [{"name": None}, {"email": None}, {"admin": True}, {"bio": 5}])
async def test_patch_refuses_nulls_and_unknown_fields(api, body):
    ada = await api.signup("ada")
    response = await api.http.patch(f"/users/{ada['id']}", json=body)
    assert response.status_code == 422
    assert (await api.http.get(f"/users/{ada['id']}")).json() == ada


async def test_a_duplicate_sensitive_value_is_409_without_the_value(api):
    await api.signup("ada")
    response = await api.http.post(
        "/users",
        json={"name": "bob", "email": "ada.s3cret@example.org", "password": "pw-bob-s3cret"},
    )
    assert response.status_code == 409
    error = response.json()
    assert error["fields"] == ["email"]
    assert "email" in error["detail"]
    assert "***" in error["detail"]
    assert "ada.s3cret@example.org" not in response.text
    assert await User.count() == 1


async def test_a_duplicate_by_update_is_409_too(api):
    await api.signup("ada")
    bob = await api.signup("bob")
    response = await api.http.patch(f"/users/{bob['id']}", json={"email": "ada.s3cret@example.org"})
    assert response.status_code == 409
    assert "ada.s3cret" not in response.text
    response = await api.http.patch(f"/users/{bob['id']}", json={"name": "ada"})
    assert response.status_code == 409
    assert "'ada'" in response.json()["detail"]  # a value that is not sensitive is named


async def test_validation_errors_never_echo_sensitive_input(api):
    bad_email, short_password = api.secret("no-at-sign-s3cret"), api.secret("s3cr")
    response = await api.http.post(
        "/users", json={"name": "ada", "email": bad_email, "password": short_password}
    )
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert locations == [["body", "email"], ["body", "password"]]
    assert response.json()["detail"][1]["ctx"] == {"min_length": 8}
    assert bad_email not in response.text
    assert short_password not in response.text
    whole = api.secret("a-whole-body-s3cret")
    response = await api.http.post("/users", json=whole)
    assert response.status_code == 422
    assert whole not in response.text
    response = await api.http.post(
        "/users/login",
        content=b'{"name": "ada", "password": "broken-s3cret',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "broken-s3cret" not in response.text


async def test_delete_a_user(api):
    ada = await api.signup("ada")
    response = await api.http.delete(f"/users/{ada['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await api.http.get(f"/users/{ada['id']}")).status_code == 404
    assert (await api.http.delete(f"/users/{ada['id']}")).status_code == 404


async def test_login_returns_the_user_masked(api):
    await api.signup("ada")
    response = await api.http.post(
        "/users/login", json={"name": "ada", "password": "pw-ada-s3cret"}
    )
    assert response.status_code == 200
    assert response.json()["email"] == "***"
    wrong = {"name": "nobody", "password": "whatever-123"}
    assert (await api.http.post("/users/login", json=wrong)).status_code == 401


# -- posts -------------------------------------------------------------------------------------


async def test_create_and_read_a_post(api):
    ada = await api.signup("ada")
    post = await api.post(ada, "  Notes on the engine ", body="...", tags=["math"])
    assert post["title"] == "Notes on the engine"
    assert post["author_id"] == ada["id"]
    assert post["author"] == {"id": ada["id"], "name": "ada"}  # the card: public fields only
    assert post["tags"] == ["math"]
    assert post["published"].endswith("Z")
    response = await api.http.get(f"/posts/{post['id']}")
    assert response.status_code == 200
    assert response.json()["title"] == post["title"]


async def test_a_post_needs_an_existing_author(api):
    response = await api.http.post("/posts", json={"title": "t", "author_id": "0" * 24})
    assert response.status_code == 422
    assert "no User" in response.json()["detail"]
    response = await api.http.post("/posts", json={"title": "t", "author_id": "ada"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "author_id"]
    assert await Post.count() == 0


async def test_list_posts_newest_first_filtered_and_paginated(api):
    ada, bob = await api.signup("ada"), await api.signup("bob")
    for number in range(5):
        await api.post(ada, f"ada {number}", tags=["even"] if number % 2 == 0 else [])
    await api.post(bob, "bob 0", tags=["even"])
    page = (await api.http.get("/posts", params={"author_id": ada["id"], "limit": 2})).json()
    assert [post["title"] for post in page["items"]] == ["ada 4", "ada 3"]
    assert page["total"] == 5
    page = (await api.http.get("/posts", params={"tag": "even"})).json()
    assert [post["title"] for post in page["items"]] == ["bob 0", "ada 4", "ada 2", "ada 0"]
    page = (await api.http.get("/posts", params={"author_id": bob["id"], "tag": "even"})).json()
    assert page["total"] == 1
    response = await api.http.get("/posts", params={"author_id": "bob"})
    assert response.status_code == 422


async def test_patch_and_delete_a_post(api):
    ada = await api.signup("ada")
    post = await api.post(ada, "Draft", tags=["a"])
    response = await api.http.patch(f"/posts/{post['id']}", json={"title": "Final"})
    assert response.status_code == 200
    assert response.json() == {**post, "title": "Final"}
    response = await api.http.patch(f"/posts/{post['id']}", json={"author_id": bob_id()})
    assert response.status_code == 422  # the author of a post does not change
    assert (await api.http.delete(f"/posts/{post['id']}")).status_code == 204
    assert (await api.http.get(f"/posts/{post['id']}")).status_code == 404


def bob_id() -> str:
    return "5eb7cf5a86d9755df3a6c593"


async def test_renaming_a_user_renames_them_in_their_posts(api):
    ada, bob = await api.signup("ada"), await api.signup("bob")
    first, second = await api.post(ada, "Notes"), await api.post(ada, "Sketch")
    other = await api.post(bob, "Compilers")
    response = await api.http.patch(f"/users/{ada['id']}", json={"name": "lovelace"})
    assert response.status_code == 200
    page = (await api.http.get("/posts", params={"author_id": ada["id"]})).json()
    assert {post["id"] for post in page["items"]} == {first["id"], second["id"]}
    assert [post["author"] for post in page["items"]] == [{"id": ada["id"], "name": "lovelace"}] * 2
    assert (await api.http.get(f"/posts/{first['id']}")).json() == {
        **first,
        "author": {"id": ada["id"], "name": "lovelace"},
    }
    assert (await api.http.get(f"/posts/{other['id']}")).json() == other  # bob's is untouched
    found = (await api.http.get("/posts/search", params={"author": "lovelace"})).json()
    assert found["total"] == 2
    assert (await api.http.get("/posts/search", params={"author": "ada"})).json()["total"] == 0


async def test_a_change_to_fields_the_card_does_not_copy_leaves_the_posts_alone(api, commands):
    ada = await api.signup("ada")
    post = await api.post(ada, "Notes")
    commands.clear()
    response = await api.http.patch(f"/users/{ada['id']}", json={"bio": "Countess"})
    assert response.status_code == 200
    assert [command["update"] for command in commands.of("update")] == ["users"]
    assert (await api.http.get(f"/posts/{post['id']}")).json() == post


async def test_deleting_a_user_deletes_their_posts(api):
    ada, bob = await api.signup("ada"), await api.signup("bob")
    hers = [await api.post(ada, f"ada {number}") for number in range(3)]
    his = await api.post(bob, "bob 0")
    assert (await api.http.delete(f"/users/{ada['id']}")).status_code == 204
    for post in hers:
        assert (await api.http.get(f"/posts/{post['id']}")).status_code == 404
    page = (await api.http.get("/posts")).json()
    assert [post["id"] for post in page["items"]] == [his["id"]]
    assert page["total"] == 1
    assert (await api.http.get(f"/posts/{his['id']}")).json() == his


async def test_delete_preview_says_what_would_go_and_writes_nothing(api, commands):
    ada, bob = await api.signup("ada"), await api.signup("bob")
    for number in range(3):
        await api.post(ada, f"ada {number}")
    await api.post(bob, "bob 0")
    commands.clear()
    response = await api.http.get(f"/users/{ada['id']}/delete-preview")
    assert response.status_code == 200
    assert response.json() == {
        "deletes": {"posts": 3},
        "refused": [],
        "summary": "this will also delete 3 posts",
    }
    assert set(commands.names) <= {"find", "aggregate", "listIndexes"}
    assert (await api.http.get("/posts")).json()["total"] == 4
    bobs = (await api.http.get(f"/users/{bob['id']}/delete-preview")).json()
    assert bobs["deletes"] == {"posts": 1}
    assert (await api.http.get(f"/users/{'0' * 24}/delete-preview")).status_code == 404


# -- the keyset feed ---------------------------------------------------------------------------


START = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)


async def publish(author: dict[str, Any], hours: list[int]) -> list[str]:
    """Posts by ``author`` published ``hours`` after START (equal hours: equal dates), as ids."""
    user = await User.get(author["id"])
    posts = await Post.insert_many(
        [
            Post(
                title=f"post {number}",
                author_id=user.id,
                author=AuthorCard.of(user),
                published=START + datetime.timedelta(hours=hour),
            )
            for number, hour in enumerate(hours)
        ]
    )
    return [str(post.id) for post in posts]


async def read_feed(api: Blog, limit: int) -> list[dict[str, Any]]:
    """Every page of the feed, following the tokens."""
    pages = [(await api.http.get("/posts/feed", params={"limit": limit})).json()]
    while pages[-1]["next_token"] is not None:
        after = pages[-1]["next_token"]
        response = await api.http.get("/posts/feed", params={"limit": limit, "after": after})
        assert response.status_code == 200, response.text
        pages.append(response.json())
        assert len(pages) < 20
    return pages


async def test_the_feed_of_no_post_is_one_empty_last_page(api):
    response = await api.http.get("/posts/feed")
    assert response.status_code == 200
    assert response.json() == {"items": [], "size": 20, "next_token": None}


@pytest.mark.parametrize(
    ("hours", "sizes"),
    [
        ([0, 1, 2, 3, 4, 5], [3, 3]),  # an exact multiple: no empty page at the end
        ([0, 1, 1, 1, 2, 3, 3], [3, 3, 1]),  # a last partial page, and equal dates
        ([5, 5, 5, 5, 5], [3, 2]),  # every date equal: the id breaks the ties
        ([0, 1], [2]),  # one page, exactly full
    ],
)
async def test_the_feed_pages_newest_first_at_the_boundaries(api, hours, sizes):
    ada = await api.signup("ada")
    ids = await publish(ada, hours)
    pages = await read_feed(api, limit=3 if len(hours) > 2 else 2)
    assert [len(page["items"]) for page in pages] == sizes
    assert pages[-1]["next_token"] is None
    seen = [post for page in pages for post in page["items"]]
    # Newest first, equal dates in the order of their ids; every post once.
    expected = sorted(
        zip(hours, ids, strict=True), key=lambda pair: (-pair[0], bson.ObjectId(pair[1]))
    )
    assert [post["id"] for post in seen] == [post_id for _, post_id in expected]
    assert {post["author"]["name"] for post in seen} == {"ada"}


async def test_a_post_published_between_two_pages_does_not_shift_the_feed(api):
    ada = await api.signup("ada")
    ids = await publish(ada, [4, 3, 2, 1])
    first = (await api.http.get("/posts/feed", params={"limit": 2})).json()
    await publish(ada, [10])  # newer than every post: it belongs before the first page
    after = first["next_token"]
    second = (await api.http.get("/posts/feed", params={"limit": 2, "after": after})).json()
    assert [post["id"] for post in first["items"] + second["items"]] == ids
    assert second["next_token"] is None


def tampered(token: str) -> list[str]:
    """Tokens a client could make from a real one, and some it could make up."""
    # An unsealed position that holds an operator (tokens are sealed with the app's key).
    data = {"k": bytes(8), "v": [{"$ne": None}, bson.ObjectId()]}
    forged = base64.urlsafe_b64encode(bson.encode(data)).decode().rstrip("=")
    flipped = token[:12] + ("A" if token[12] != "A" else "B") + token[13:]
    return [token[:-4], flipped, forged, token + "AAAA", '{"$ne": null}', "@@@@", ""]


async def test_an_altered_feed_token_is_a_400_that_does_not_show_it(api):
    ada = await api.signup("ada")
    await publish(ada, [1, 2, 3])
    token = (await api.http.get("/posts/feed", params={"limit": 1})).json()["next_token"]
    for bad in tampered(token):
        response = await api.http.get("/posts/feed", params={"limit": 1, "after": bad})
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["detail"].startswith("Post: the page token ")
        if len(bad) > 4:
            assert bad not in response.text
        assert "post 0" not in response.text
    response = await api.http.get("/posts/feed", params={"after": "A" * 513})
    assert response.status_code == 422  # longer than any token of this feed


# -- OpenAPI -----------------------------------------------------------------------------------


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from walk(value, (*path, str(position)))


async def test_openapi_marks_sensitive_fields_write_only_and_shows_no_value(api):
    await api.signup("ada")
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    schemas = document["components"]["schemas"]
    write_only = {
        (name, field)
        for name, schema in schemas.items()
        for field, prop in schema.get("properties", {}).items()
        if prop.get("writeOnly")
    }
    assert write_only == {
        ("User", "email"),
        ("User", "password_hash"),
        ("UserCreate", "email"),
        ("UserCreate", "password"),
        ("UserUpdate", "email"),
        ("UserUpdate", "password"),
        ("Login", "password"),
    }
    for path, node in walk(document):
        if isinstance(node, dict) and node.get("writeOnly"):
            assert not {"example", "examples", "default"} & set(node), path
        if path and path[-1] in ("example", "examples"):
            assert "s3cret" not in json.dumps(node)
    assert schemas["User"]["properties"]["name"]["examples"] == ["ada"]  # others keep theirs
    for secret in api.secrets:
        assert secret not in response.text


# -- the helpers of mdocument.fastapi ----------------------------------------------------------


def test_public_errors_keep_constraints_and_drop_inputs():
    errors = [
        {
            "type": "string_too_short",
            "loc": ("body", "password"),
            "msg": "String should have at least 8 characters",
            "input": "s3cret",
            "ctx": {"min_length": 8},
        },
        {
            "type": "value_error",
            "loc": ("body",),
            "msg": "Value error, bad",
            "input": {"password": "s3cret"},
            "ctx": {"error": ValueError("s3cret")},
        },
    ]
    assert public_errors(errors) == [
        {
            "type": "string_too_short",
            "loc": ["body", "password"],
            "msg": "String should have at least 8 characters",
            "ctx": {"min_length": 8},
        },
        {"type": "value_error", "loc": ["body"], "msg": "Value error, bad"},
    ]


def helpers_app(database: Any) -> FastAPI:
    app = FastAPI(lifespan=lifespan([User, Post], database))
    add_exception_handlers(app)

    @app.get("/bad-response", response_model=User)
    async def bad_response() -> Any:
        return {"name": "ada", "email": "bad-response-s3cret", "password_hash": None}

    @app.get("/find-by-email")
    async def find_by_email(email: str) -> Any:
        return await User.one({"email": email})

    @app.get("/restricted")
    async def restricted() -> Any:
        raise DeleteRestricted("User 1 still has 2 posts", document=User, blocking=Post, count=2)

    @app.get("/dangling")
    async def dangling() -> Any:
        raise DocumentDoesntExist("Post.author_id: no User 1", document=Post, field="author_id")

    @app.get("/get/{user_id}")
    async def get_user(user_id: str) -> Any:
        return await get_or_404(User, user_id)

    @app.get("/users-by-email")
    async def users_by_email(email: str) -> Any:
        return await User.many(User.email == email)  # a str: no pattern check on queries

    @app.get("/users-sorted")
    async def users_sorted(by: str) -> Any:
        return await User.find().sort(by).to_list()

    @app.get("/users-where")
    async def users_where(field: str, value: str) -> Any:
        return await User.many({field: value})

    @app.get("/user-names")
    async def user_names() -> Any:
        return await User.find().project(NameOnly).to_list()

    @app.get("/user-total")
    async def user_total() -> Any:
        return await User.aggregate([{"$group": {"_id": None, "count": {"$sum": 1}}}], NameOnly)

    @app.get("/page-of-users")
    async def page_of_users(after: str) -> Any:
        return await User.find().sort("name").keyset(after=after)

    @app.get("/raise-invalid-page-token")
    async def raise_invalid_page_token() -> Any:
        raise InvalidPageToken("User: the page token is not valid", document=User)

    return app


class NameOnly(BaseModel):
    name: str


@pytest.fixture
async def helpers(mongodb_database):
    app = helpers_app(mongodb_database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def test_a_response_that_fails_validation_is_logged_without_its_values(helpers, caplog):
    with caplog.at_level(logging.ERROR, logger="mdocument.fastapi"):
        response = await helpers.get("/bad-response")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "does not match its response model" in caplog.text
    assert "password_hash" in caplog.text
    assert "bad-response-s3cret" not in caplog.text


async def test_not_found_is_404_with_sensitive_query_values_masked(helpers):
    response = await helpers.get("/find-by-email", params={"email": "lookup-s3cret@x.org"})
    assert response.status_code == 404
    assert "User" in response.json()["detail"]
    assert "lookup-s3cret" not in response.text


async def test_relation_errors_have_their_status(helpers):
    response = await helpers.get("/restricted")
    assert response.status_code == 409
    assert response.json() == {"detail": "User 1 still has 2 posts"}
    response = await helpers.get("/dangling")
    assert response.status_code == 422
    assert response.json() == {"detail": "Post.author_id: no User 1"}


async def test_get_or_404_parses_a_string_id(helpers):
    response = await helpers.get("/get/nope")
    assert response.status_code == 422
    assert "24-character hex" in response.json()["detail"]
    response = await helpers.get(f"/get/{'a' * 24}")
    assert response.status_code == 404
    with pytest.raises(HTTPException) as caught:
        await get_or_404(User, "nope")
    assert caught.value.status_code == 422


async def test_a_value_from_the_request_that_breaks_a_constraint_finds_nothing(helpers):
    # Query values are checked against the field's type only (docs/queries.md): a value that
    # no stored e-mail can be matches nothing, and is echoed nowhere.
    response = await helpers.get("/users-by-email", params={"email": "no-at-sign-s3cret"})
    assert response.status_code == 200
    assert response.json() == []
    lookalike = "User 1 in collection 'users': stored value x@y.z"
    response = await helpers.get("/users-by-email", params={"email": lookalike})
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("by", ["$where", "nope", "-password", "name.$ne", "email.x"])
async def test_a_sort_key_from_the_request_that_is_not_a_field_is_422(helpers, by):
    response = await helpers.get("/users-sorted", params={"by": by})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("User")
    assert (await helpers.get("/users-sorted", params={"by": "-name"})).status_code == 200


async def test_a_dict_query_key_from_the_request_that_is_not_a_field_is_422(helpers):
    response = await helpers.get("/users-where", params={"field": "nmae", "value": "ada"})
    assert response.status_code == 422
    assert "did you mean 'name'?" in response.json()["detail"]
    response = await helpers.get("/users-where", params={"field": "name", "value": "ada"})
    assert (response.status_code, response.json()) == (200, [])


async def test_an_invalid_page_token_is_400_without_the_token(helpers):
    response = await helpers.get("/raise-invalid-page-token")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "User: the page token is not valid"},
    )
    response = await helpers.get("/page-of-users", params={"after": "tampered-t0ken-s3cret"})
    assert response.status_code == 400
    assert "s3cret" not in response.text


async def test_stored_data_that_does_not_fit_its_class_stays_a_500(helpers, mongodb_database):
    # Written by another program: a name that is not a string. The client did nothing wrong.
    inserted = await mongodb_database["users"].insert_one(
        {"name": 7, "email": "e@x.org", "password_hash": "h", "bio": "", "joined": None}
    )
    for path in (f"/get/{inserted.inserted_id}", "/user-names", "/user-total"):
        response = await helpers.get(path)
        assert response.status_code == 500, (path, response.text)
        assert response.text == "Internal Server Error"
    with pytest.raises(WrongValueType) as stored:
        await User.get(inserted.inserted_id)
    assert stored.value.stored
    with pytest.raises(WrongValueType) as given:
        await User.get("nope")
    assert not given.value.stored


async def test_lifespan_with_a_uri_owns_its_client(mongodb_uri):
    name = new_database_name()
    app = blog.create_app(uri=mongodb_uri, db=name)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.post(
                    "/users", json={"name": "ada", "email": "a@b.co", "password": "12345678"}
                )
                assert response.status_code == 201
            registry = app.state.mdocument
            assert registry.database.name == name
        with pytest.raises(InvalidOperation):
            await registry.database.command("ping")  # closed at shutdown
    finally:
        cleanup: AsyncMongoClient = AsyncMongoClient(mongodb_uri)
        await cleanup.drop_database(name)
        await cleanup.close()


def test_lifespan_takes_a_database_or_a_uri():
    with pytest.raises(TypeError, match="database or a uri"):
        lifespan([User])
    with pytest.raises(TypeError, match="not both"):
        lifespan([User], object(), uri="mongodb://localhost")


async def test_the_app_runs_on_motor_too(motor_database):
    async for api in serve(motor_database):
        ada = await api.signup("ada")
        assert (await api.http.get(f"/users/{ada['id']}")).json()["email"] == "***"
        assert (await api.http.get("/users")).json()["total"] == 1
