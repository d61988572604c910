"""mdocument in one page: declare documents, create, query, update, delete.

Runs on $MONGODB_URI when set, else on an embedded SecantusDB server started for the run.
"""

import asyncio

from pymongo import AsyncMongoClient

from mdocument import Document, Field, Index, init
from mdocument.embedded import server_uri


class User(Document):
    name: str = Field(unique=True)
    email: str = Field(unique=True, sensitive=True)
    password_hash: str = Field(sensitive=True)
    karma: int = 0

    class Meta:
        collection = "users"
        indexes = [Index([("karma", -1)])]


async def main(uri: str, database: str = "quickstart") -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri)
    await client.drop_database(database)
    await init(client[database], models=[User])  # indexes created, documents bound

    ada = await User.create(name="Ada", email="ada@example.com", password_hash="pbkdf2:...")
    others = [User(name=n, email=f"{n}@example.com", password_hash="x") for n in ("Grace", "Alan")]
    await User.insert_many(others)  # one round trip, all or nothing
    print("created:", repr(ada))  # sensitive values print as ***
    print("as JSON:", ada.model_dump_json())

    ada.karma += 10
    await ada.save()  # sends {"$set": {"karma": 10}} and nothing else
    print("top user:", (await User.many(sort="-karma", limit=1))[0].name)

    try:
        await User.create(name="Ada", email="other@example.com", password_hash="x")
    except User.DuplicateError as error:
        print("refused:", error)

    async for user in User.find({"karma": {"$lt": 5}}).sort("name"):
        print("quiet user:", user.name)

    await ada.delete()
    print("users left:", await User.count())
    await client.drop_database(database)
    await client.close()


if __name__ == "__main__":
    with server_uri() as uri:
        asyncio.run(main(uri))
