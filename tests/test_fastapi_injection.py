"""NoSQL injection through the FastAPI example: the classic payloads in bodies and query strings.

Each payload is what a client can send: an operator document or a list in a JSON body, its text
in a query string, an operator as a sort key or an id. The API answers 4xx, or matches the text
literally in a free-form field; it never logs anyone in, never answers with another user's data
and never lets the payload act as an operator.
"""

import json
from typing import Any

import pytest

from blog_client import Blog, serve

# Classic payloads, as JSON decodes them.
OPERATORS: list[Any] = [
    {"$ne": None},
    {"$gt": ""},
    {"$regex": ".*"},
    {"$where": "1"},
    {"$where": "return true"},
    {"$exists": True},
    {"$in": ["ada", "bob"]},
    {"$nin": []},
    {"$expr": {"$eq": [1, 1]}},
]
PAYLOADS: list[Any] = [*OPERATORS, ["ada"], [{"$ne": None}]]


@pytest.fixture
async def api(mongodb_database):
    async for client in serve(mongodb_database):
        yield client


@pytest.fixture
async def blog(api: Blog) -> dict[str, Any]:
    """Ada and Bob, a post each, and a post whose title is the text of a payload."""
    ada, bob = await api.signup("ada"), await api.signup("bob")
    return {
        "ada": ada,
        "bob": bob,
        "ada_post": await api.post(ada, "Notes by ada", tags=["math"]),
        "bob_post": await api.post(bob, "Compilers by bob", tags=["code"]),
        "literal": await api.post(bob, '{"$ne": null}', tags=['{"$ne": null}']),
    }


def assert_refused(response: Any, *, status: int = 422) -> None:
    """A 4xx answer that holds no user's data."""
    assert response.status_code == status, response.text
    for leaked in ("Notes by ada", "Compilers by bob", "password_hash", '"items"'):
        assert leaked not in response.text


# -- JSON bodies -------------------------------------------------------------------------------


async def test_a_login_body_with_a_payload_logs_no_one_in(api, blog):
    for payload in PAYLOADS:
        for body in (
            {"name": "ada", "password": payload},
            {"name": payload, "password": "pw-ada-s3cret"},
            {"name": payload, "password": payload},
        ):
            response = await api.http.post("/users/login", json=body)
            assert_refused(response)
            assert blog["ada"]["id"] not in response.text
            assert response.json()["detail"][0]["loc"][0] == "body"


async def test_a_payload_sent_as_text_is_only_text(api, blog):
    # The same characters in a string: a name nobody has, a password nobody uses.
    for text in map(json.dumps, OPERATORS):
        for body in (
            {"name": "ada", "password": f"{text}-padded"},
            {"name": text[:40], "password": "pw-ada-s3cret"},
        ):
            response = await api.http.post("/users/login", json=body)
            assert_refused(response, status=401)
    login = {"name": "ada", "password": "pw-ada-s3cret"}
    assert (await api.http.post("/users/login", json=login)).status_code == 200


@pytest.mark.parametrize("field", ["title", "author", "tags", "sort"])
async def test_a_search_body_with_a_payload_is_422(api, blog, field):
    for payload in PAYLOADS:
        value = [payload] if field == "tags" else payload  # ["ada"] is a list of tags: wrap it
        response = await api.http.post("/posts/search", json={field: value})
        assert_refused(response)
        assert response.json()["detail"][0]["loc"][:2] == ["body", field]


async def test_a_search_body_matches_its_values_literally(api, blog):
    search = {"title": '{"$ne": null}'}
    page = (await api.http.post("/posts/search", json=search)).json()
    assert [post["id"] for post in page["items"]] == [blog["literal"]["id"]]
    page = (await api.http.post("/posts/search", json={"author": "ada"})).json()
    assert [post["id"] for post in page["items"]] == [blog["ada_post"]["id"]]
    page = (await api.http.post("/posts/search", json={"tags": ["math", "code"]})).json()
    assert page["items"] == []  # every tag must be there
    page = (await api.http.post("/posts/search", json={"sort": "title"})).json()
    assert page["total"] == 3


@pytest.mark.parametrize("sort", ["$where", "-$where", "nope", "author.$where", "title.$ne", ""])
async def test_a_search_body_sorting_by_what_is_not_a_field_is_422(api, blog, sort):
    assert_refused(await api.http.post("/posts/search", json={"sort": sort}))


async def test_bodies_that_write_refuse_payloads_and_change_nothing(api, blog):
    ada, post = blog["ada"], blog["ada_post"]
    for payload in PAYLOADS:
        tags = [payload]  # ["ada"] is a list of tags: wrap it
        for field in ("name", "bio", "email", "password"):
            response = await api.http.patch(f"/users/{ada['id']}", json={field: payload})
            assert_refused(response)
        for field, value in (("title", payload), ("body", payload), ("tags", tags)):
            response = await api.http.patch(f"/posts/{post['id']}", json={field: value})
            assert_refused(response)
        for field, value in (("title", payload), ("author_id", payload), ("tags", tags)):
            body = {"title": "t", "author_id": ada["id"], field: value}
            assert_refused(await api.http.post("/posts", json=body))
    assert (await api.http.get(f"/users/{ada['id']}")).json() == ada
    assert (await api.http.get(f"/posts/{post['id']}")).json() == post
    assert (await api.http.get("/posts")).json()["total"] == 3


# -- query strings -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["title", "author", "tag"])
async def test_a_query_string_payload_is_matched_as_text(api, blog, name):
    for payload in OPERATORS:
        response = await api.http.get("/posts/search", params={name: json.dumps(payload)})
        assert response.status_code == 200, response.text
        titles = [post["title"] for post in response.json()["items"]]
        # Only the post whose title (and tag) is that very text, when there is one.
        literal = payload == {"$ne": None} and name != "author"
        assert titles == (['{"$ne": null}'] if literal else []), payload


async def test_query_string_filters_find_what_they_name(api, blog):
    page = (await api.http.get("/posts/search", params={"author": "bob", "sort": "title"})).json()
    assert [post["title"] for post in page["items"]] == ["Compilers by bob", '{"$ne": null}']
    page = (await api.http.get("/posts/search", params={"title": "Notes by ada"})).json()
    assert [post["id"] for post in page["items"]] == [blog["ada_post"]["id"]]
    page = (await api.http.get("/posts/search", params={"tag": "math"})).json()
    assert page["total"] == 1


async def test_bracketed_parameters_are_not_operators(api, blog):
    # PHP/Express-style "author[$ne]=x" is a parameter of another name: it is ignored.
    response = await api.http.get("/posts/search?author=bob&author[$ne]=x&title[$regex]=.*")
    assert response.status_code == 200
    assert {post["author"]["name"] for post in response.json()["items"]} == {"bob"}
    response = await api.http.get("/posts?author_id[$ne]=x&tag=math")
    assert [post["id"] for post in response.json()["items"]] == [blog["ada_post"]["id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"title": "x" * 201},  # longer than a title can be: a query for it finds nothing
        {"title": ""},
        {"author": "a" * 41},
        {"tag": "t" * 31},
        {"title": "User 1 in collection 'users': stored value " * 5},
    ],
    ids=["long-title", "empty-title", "long-name", "long-tag", "lookalike"],
)
async def test_query_string_values_no_document_can_hold_find_nothing(api, blog, params):
    # Query values are checked against the field's type, not its constraints
    # (docs/queries.md): a value no stored document can hold is a query that matches nothing.
    response = await api.http.get("/posts/search", params=params)
    assert response.status_code == 200
    assert response.json()["total"] == 0


@pytest.mark.parametrize(
    "sort", ["$where", "-$where", "nope", "author.$where", "_id.x", "tags.$", "tags.$[]"]
)
async def test_a_sort_from_the_query_string_that_is_not_a_field_is_422(api, blog, sort):
    response = await api.http.get("/posts/search", params={"sort": sort})
    assert_refused(response)
    assert response.json()["detail"].startswith("Post")


async def test_malformed_ids_are_422(api, blog):
    for text in [*map(json.dumps, OPERATORS), "ada", "g" * 24, "0x" + "0" * 22]:
        for path in ("/users", "/posts"):
            for method in ("GET", "PATCH", "DELETE"):
                response = await api.http.request(
                    method, f"{path}/{text}", json={} if method == "PATCH" else None
                )
                assert_refused(response)
        assert_refused(await api.http.get("/posts", params={"author_id": text}))
    assert (await api.http.get("/posts")).json()["total"] == 3  # nothing was deleted


async def test_a_payload_as_a_feed_token_is_400(api, blog):
    for text in map(json.dumps, OPERATORS):
        response = await api.http.get("/posts/feed", params={"after": text})
        assert_refused(response, status=400)
        assert text not in response.text


@pytest.mark.parametrize("name", ["offset", "limit"])
async def test_pagination_parameters_are_numbers(api, blog, name):
    for payload in OPERATORS[:3]:
        assert_refused(await api.http.get("/posts/search", params={name: json.dumps(payload)}))
