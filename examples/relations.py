"""Relations in mdocument: the four kinds, on-delete rules and a synced copy.

Runs on $MONGODB_URI when set, else on an embedded SecantusDB server started for the run.
"""

import asyncio

from pymongo import AsyncMongoClient

from mdocument import (
    DeleteRestricted,
    Document,
    DocumentDoesntExist,
    Field,
    ObjectId,
    OnDelete,
    OptionalRef,
    Ref,
    RefList,
    Synced,
    init,
)
from mdocument.embedded import server_uri


class User(Document):
    name: str = Field(unique=True)


class AuthorCard(Synced[User]):
    """The part of a user a post shows without loading the user: kept equal to its source."""

    id: ObjectId
    name: str


class Tag(Document):
    label: str = Field(unique=True)


class Profile(Document):  # one-to-one: a unique single reference
    user_id: Ref[User] = Field(unique=True)
    bio: str = ""


class Post(Document):  # one-to-many: one user, many posts
    author_id: Ref[User]
    author: AuthorCard  # renaming the user rewrites this copy in every post
    reviewer_id: OptionalRef[User] = Field(default=None, on_delete=OnDelete.SET_NULL)
    tag_ids: RefList[Tag] = Field(default_factory=list, on_delete=OnDelete.PULL)  # many-to-many
    title: str


class Team(Document):  # many-to-one: a user sits in at most one team's list
    member_ids: RefList[User] = Field(default_factory=list, unique=True)
    name: str


class Invoice(Document):  # a user with invoices cannot be deleted
    user_id: Ref[User] = Field(on_delete=OnDelete.RESTRICT)
    amount: int


async def main(uri: str, database: str = "relations") -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri)
    await client.drop_database(database)
    registry = await init(client[database], models=[User, Tag, Profile, Post, Team, Invoice])
    print("The relation graph (Mermaid):")
    print(registry.graph.to_mermaid())

    ada, grace, alan = [await User.create(name=n) for n in ("Ada", "Grace", "Alan")]
    engines, math = await Tag.create(label="engines"), await Tag.create(label="math")
    await Profile.create(user_id=ada.id, bio="Analyst")
    for title in ("Notes", "Sketch of the Analytical Engine"):
        await Post.create(
            author_id=ada.id,
            author=AuthorCard.of(ada),
            reviewer_id=grace.id,
            tag_ids=[engines.id, math.id],
            title=title,
        )
    await Team.create(name="pioneers", member_ids=[ada.id, grace.id])
    await Team.create(name="solo", member_ids=[alan.id])

    try:
        await Post.create(author_id=ObjectId(), author=AuthorCard.of(ada), title="?")
    except DocumentDoesntExist as error:
        print("\nrefused:", error)

    ada.name = "Ada Lovelace"
    await ada.save()  # one update_many rewrites the card in every post
    post = await Post.one({"title": "Notes"})
    print("\ncopy after the rename:", post.author.name)
    print("fetched author:", (await post.fetch(Post.author_id)).name)
    print("posts of Ada:", [p.title for p in await ada.children(Post, Post.author_id)])

    await math.delete()  # PULL: posts keep going without the tag
    print("\ntags of the post after deleting 'math':", (await post.reload()).tag_ids)

    await grace.delete()  # SET_NULL on reviewer_id, pulled from the team's list
    print("reviewer after deleting Grace:", (await post.reload()).reviewer_id)
    print("pioneers:", (await Team.one({"name": "pioneers"})).member_ids == [ada.id])

    await Invoice.create(user_id=alan.id, amount=12)
    try:
        await alan.delete()
    except DeleteRestricted as error:
        print("\nrefused:", error)

    await ada.delete()  # cascade: her profile, her posts; her team empties and goes too
    for document in (User, Profile, Post, Team):
        print(f"{document.__name__}s left:", await document.count())
    await client.drop_database(database)
    await client.close()


if __name__ == "__main__":
    with server_uri() as uri:
        asyncio.run(main(uri))
