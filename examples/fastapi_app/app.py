"""The blog API: users and posts, each with create, read, list, partial update and delete.

Every endpoint returns documents directly (``response_model=User``): sensitive values come out
as ``"***"``. Lists are offset/limit pages with the total (``mdocument.Page``); the feed is a
keyset page (``mdocument.KeysetPage``) that follows an opaque token. The searches build queries
from request input: values are compared with typed field expressions or put in a dict query by
name, so a value is always a value, and a sort key from the request must name a field.
``create_app`` builds the app on a database or a URI; ``app`` is the one that
``uvicorn examples.fastapi_app.app:app`` serves, on ``$MONGODB_URI`` (database ``$MONGODB_DB``).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Response, status

from mdocument import Document, Expression, KeysetPage, ObjectId, Page, and_, contains
from mdocument.fastapi import add_exception_handlers, get_or_404, lifespan

from .models import (
    AuthorCard,
    Login,
    Post,
    PostCreate,
    PostSearch,
    PostUpdate,
    User,
    UserCreate,
    UserUpdate,
)
from .passwords import hash_password, verify_password

MODELS: list[type[Document]] = [User, Post]

Offset = Annotated[int, Query(ge=0, description="How many items to skip.")]
Limit = Annotated[int, Query(ge=1, le=100, description="The largest number of items to return.")]

users = APIRouter(prefix="/users", tags=["users"])
posts = APIRouter(prefix="/posts", tags=["posts"])


# -- users --------------------------------------------------------------------------------------


@users.post("", response_model=User, status_code=status.HTTP_201_CREATED)
async def create_user(data: UserCreate) -> User:
    # The body's User fields, plus the server-owned hash (`joined` keeps its default).
    return await data.create(password_hash=hash_password(data.password))


@users.get("", response_model=Page[User])
async def list_users(offset: Offset = 0, limit: Limit = 20) -> Page[User]:
    return await User.find().sort("name").paginate(offset=offset, limit=limit)


@users.get("/{user_id}", response_model=User)
async def read_user(user_id: ObjectId) -> User:
    return await get_or_404(User, user_id)


@users.patch("/{user_id}", response_model=User)
async def update_user(user_id: ObjectId, data: UserUpdate) -> User:
    user = await get_or_404(User, user_id)
    data.apply(user)  # the User fields sent, and only those
    if "password" in data.model_fields_set:
        user.password_hash = hash_password(data.password)
    return await user.save()  # sends the changed fields only


@users.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: ObjectId) -> Response:
    user = await get_or_404(User, user_id)
    await user.delete()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users.get("/{user_id}/delete-preview")
async def preview_user_delete(user_id: ObjectId) -> dict[str, Any]:
    """What deleting the user would also delete, read without writing anything."""
    user = await get_or_404(User, user_id)
    preview = await user.delete(dry_run=True)
    deletes: dict[str, int] = {}
    for step in preview.steps:
        if step.level > 0 and step.operation == "delete" and step.count:
            deletes[step.collection] = deletes.get(step.collection, 0) + step.count
    also = ", ".join(f"{count} {collection}" for collection, count in deletes.items())
    return {
        "deletes": deletes,
        "refused": [restriction.to_dict() for restriction in preview.refused],
        "summary": f"this will also delete {also}" if also else "this deletes nothing else",
    }


@users.post("/login", response_model=User)
async def login(data: Login) -> User:
    user = await User.one({"name": data.name}, required=False)
    if user is None or not verify_password(data.password, user.password_hash):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong name or password")
    return user


# -- posts --------------------------------------------------------------------------------------


@posts.post("", response_model=Post, status_code=status.HTTP_201_CREATED)
async def create_post(data: PostCreate) -> Post:
    author = await User.get(data.author_id)
    if author is None:
        raise HTTPException(422, detail=f"author_id: there is no User {data.author_id}")
    # mdocument checks the reference again as it writes (a 422 if the user was deleted since).
    return await data.create(author=AuthorCard.of(author))


@posts.get("", response_model=Page[Post])
async def list_posts(
    offset: Offset = 0,
    limit: Limit = 20,
    author_id: Annotated[ObjectId | None, Query(description="Only this user's posts.")] = None,
    tag: Annotated[str | None, Query(description="Only posts with this tag.")] = None,
) -> Page[Post]:
    query: dict[str, Any] = {}
    if author_id is not None:
        query["author_id"] = author_id
    if tag is not None:
        query["tags"] = tag  # a query string value is text: it cannot hold an operator
    newest_first = Post.find(query).sort("-published", "-id")
    return await newest_first.paginate(offset=offset, limit=limit)


@posts.get("/feed", response_model=KeysetPage[Post])
async def feed(
    after: Annotated[
        str | None, Query(description="The `next_token` of the previous page.", max_length=512)
    ] = None,
    limit: Limit = 20,
) -> KeysetPage[Post]:
    """Every post, newest first, a page at a time; a token that was altered is a 400."""
    return await Post.find().sort("-published").keyset(size=limit, after=after)


@posts.get("/search", response_model=Page[Post])
async def search_posts(
    offset: Offset = 0,
    limit: Limit = 20,
    title: Annotated[str | None, Query(description="Exactly this title.")] = None,
    author: Annotated[str | None, Query(description="By the user of this name.")] = None,
    tag: Annotated[str | None, Query(description="With this tag.")] = None,
    sort: Annotated[
        str, Query(description="A field of Post to sort by (`-field`: descending).")
    ] = "-published",
) -> Page[Post]:
    """Posts matching every filter given, compared as values with the fields' types.

    The values are plain text here: mdocument checks them against the fields (a title longer
    than a title can be is a 422), and the sort must name a field of Post (else a 422).
    """
    conditions: list[Expression | bool] = []
    if title is not None:
        conditions.append(Post.title == title)
    if author is not None:
        conditions.append(Post.author.name == author)  # the copy in the post: no join
    if tag is not None:
        conditions.append(contains(Post.tags, tag))
    # Any field of Post may order the results: none is sensitive. (Sorting users by e-mail
    # would tell a client how the hidden e-mails compare: such an endpoint refuses that key.)
    return await Post.find(and_(*conditions)).sort(sort).paginate(offset=offset, limit=limit)


@posts.post("/search", response_model=Page[Post])
async def search_posts_by_body(
    search: PostSearch, offset: Offset = 0, limit: Limit = 20
) -> Page[Post]:
    """The search of ``GET /posts/search`` from a JSON body, as a dict query.

    A dict query is MongoDB syntax: its values may be operators. The body's fields are typed,
    so what reaches the query is a title, a name or a list of tags, never ``{"$ne": null}``.
    """
    query: dict[str, Any] = {}
    if search.title is not None:
        query["title"] = search.title
    if search.author is not None:
        query["author.name"] = search.author
    if search.tags:
        query["tags"] = {"$all": search.tags}
    found = Post.find(query).sort(search.sort)
    return await found.paginate(offset=offset, limit=limit)


@posts.get("/{post_id}", response_model=Post)
async def read_post(post_id: ObjectId) -> Post:
    return await get_or_404(Post, post_id)


@posts.patch("/{post_id}", response_model=Post)
async def update_post(post_id: ObjectId, data: PostUpdate) -> Post:
    if "author_id" in data.model_fields_set:
        raise HTTPException(422, detail="author_id: a post keeps its author")
    post = await get_or_404(Post, post_id)
    return await data.apply(post).save()


@posts.delete("/{post_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_post(post_id: ObjectId) -> Response:
    post = await get_or_404(Post, post_id)
    await post.delete()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- the app ------------------------------------------------------------------------------------


def create_app(database: Any = None, *, uri: str | None = None, db: str | None = None) -> FastAPI:
    """The blog on ``database`` (owned by the caller), or on a client made from ``uri``."""
    app = FastAPI(
        title="mdocument blog", version="1.0", lifespan=lifespan(MODELS, database, uri=uri, db=db)
    )
    add_exception_handlers(app)  # DuplicateError -> 409, NotFoundError -> 404, ...
    app.include_router(users)
    app.include_router(posts)
    return app


app = create_app(
    uri=os.environ.get("MONGODB_URI", "mongodb://localhost:27017"),
    db=os.environ.get("MONGODB_DB", "fastapi_app"),
)
