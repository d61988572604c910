"""A client of the FastAPI example app for the tests: it remembers every response body and
every secret it sent, and checks at the end that no secret ever came back."""

import importlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx


def example(name: str) -> Any:
    """A module of examples/fastapi_app, importable however pytest was started."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(f"examples.fastapi_app.{name}")


blog = example("app")
models = example("models")
passwords = example("passwords")
User = models.User
Post = models.Post
AuthorCard = models.AuthorCard


class Blog:
    """An HTTP client of the app that remembers every response body and every secret sent."""

    def __init__(self) -> None:
        self.http: httpx.AsyncClient
        self.secrets: set[str] = set()
        self.bodies: list[str] = []

    async def remember(self, response: httpx.Response) -> None:
        await response.aread()
        self.bodies.append(response.text)

    def secret(self, value: str) -> str:
        self.secrets.add(value)
        return value

    async def signup(self, name: str, **fields: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "email": self.secret(f"{name}.s3cret@example.org"),
            "password": self.secret(f"pw-{name}-s3cret"),
            **fields,
        }
        response = await self.http.post("/users", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def post(self, author: dict[str, Any], title: str, **fields: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/posts", json={"title": title, "author_id": author["id"], **fields}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def assert_no_secret_was_sent_back(self) -> None:
        assert self.bodies
        for body in self.bodies:
            for secret in self.secrets:
                assert secret not in body


async def serve(database: Any) -> AsyncIterator[Blog]:
    app = blog.create_app(database)
    async with app.router.lifespan_context(app):
        client = Blog()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://blog.test",
            event_hooks={"response": [client.remember]},
        ) as http:
            client.http = http
            yield client
            # Every stored hash is a secret too: none was ever sent back either.
            async for user in User.find():
                client.secret(user.password_hash)
                client.secret(user.email)
            client.assert_no_secret_was_sent_back()
