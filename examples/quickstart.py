"""mdocument in one page: declare documents, create, query, update, relate, delete.

Runs on $MONGODB_URI when set, else on an embedded SecantusDB server started for the run.
"""

import asyncio

from pymongo import AsyncMongoClient

from mdocument import Document, Field, Index, ObjectId, Ref, Synced, desc, init
from mdocument.embedded import server_uri


class User(Document):
    name: str = Field(unique=True)
    email: str = Field(unique=True, sensitive=True)
    password_hash: str = Field(sensitive=True)
    karma: int = 0

    class Meta:
        collection = "users"
        indexes = [Index([("karma", -1)])]


class AuthorCard(Synced[User]):
    """A copy of the author's name in each post, kept equal to the user's."""

    id: ObjectId
    name: str


class Post(Document):
    author_id: Ref[User]  # deleting a user deletes their posts
    author: AuthorCard
    title: str


async def main(uri: str, database: str = "quickstart") -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri)
    await client.drop_database(database)
    await init(client[database], models=[User, Post])  # indexes created, relations checked

    ada = await User.create(name="Ada", email="ada@example.com", password_hash="pbkdf2:...")
    others = [User(name=n, email=f"{n}@example.com", password_hash="x") for n in ("Grace", "Alan")]
    await User.insert_many(others)  # one round trip, all or nothing
    print("created:", repr(ada))  # sensitive values print as ***
    print("as JSON:", ada.model_dump_json())

    ada.karma += 10
    await ada.save()  # sends {"$set": {"karma": 10}} and nothing else
    top = await User.find(User.karma > 5).sort(desc(User.karma)).first()  # a typed query
    print("top user:", top.name if top else None)

    try:
        await User.create(name="Ada", email="other@example.com", password_hash="x")
    except User.DuplicateError as error:
        print("refused:", error)

    await Post.create(author_id=ada.id, author=AuthorCard.of(ada), title="Notes on the Engine")
    ada.name = "Ada Lovelace"
    await ada.save()  # the copy in every post of hers follows, in the same transaction
    post = await Post.one(Post.author.name == "Ada Lovelace")
    print("post by:", post.author.name, "-", post.title)

    async for user in User.find({"karma": {"$lt": 5}}).sort("name"):
        print("quiet user:", user.name)

    await ada.delete()  # her posts go with her
    print("users left:", await User.count(), "- posts left:", await Post.count())
    await client.drop_database(database)
    await client.close()


if __name__ == "__main__":
    with server_uri() as uri:
        asyncio.run(main(uri))
