"""Views: a read-only document defined by a pipeline over a source document; init creates it."""

from __future__ import annotations

import pytest

from mdocument import Document, DocumentException, Field, ReadOnlyDocument, Ref, init
from mdocument.collections_setup import view_pipeline


class Account(Document):
    name: str
    active: bool = True
    secret: str = Field(default="s", sensitive=True)


class ActiveAccount(Document):
    name: str

    class Meta:
        view_on = Account
        pipeline = [{"$match": Account.active == True}, {"$project": {"name": 1}}]  # noqa: E712


async def view_info(database, name):
    found = [info async for info in await _list(database, name)]
    return found[0] if found else None


async def _list(database, name):
    cursor = database.list_collections(filter={"name": name})
    return await cursor if hasattr(cursor, "__await__") else cursor


async def test_init_creates_the_view_and_reads_work(database):
    await init(database, models=[Account, ActiveAccount])
    ada = await Account.create(name="Ada")
    await Account.create(name="Bob", active=False)
    assert [a.name for a in await ActiveAccount.find().to_list()] == ["Ada"]
    assert await ActiveAccount.count() == 1
    assert (await ActiveAccount.one(ActiveAccount.name == "Ada")).id == ada.id
    fetched = await ActiveAccount.get(ada.id)
    assert fetched is not None
    assert fetched.name == "Ada"
    info = await view_info(database, "active_account")
    assert info["type"] == "view"
    assert info["options"]["viewOn"] == "account"
    assert info["options"]["pipeline"][0] == {"$match": {"active": True}}


async def test_init_is_idempotent_and_changes_a_different_definition(database):
    await init(database, models=[Account, ActiveAccount])
    await init(database, models=[Account, ActiveAccount])  # same definition: left alone

    class ActiveAccountV2(Document):
        name: str

        class Meta:
            collection = "active_account"
            view_on = Account
            pipeline = [{"$match": {"active": False}}, {"$project": {"name": 1}}]

    await init(database, models=[Account, ActiveAccountV2])
    await Account.create(name="Ada")
    await Account.create(name="Bob", active=False)
    assert [a.name for a in await ActiveAccountV2.find().to_list()] == ["Bob"]
    info = await view_info(database, "active_account")
    assert info["options"]["pipeline"][0] == {"$match": {"active": False}}


async def test_a_view_refuses_writes(database):
    await init(database, models=[Account, ActiveAccount])
    ada = await Account.create(name="Ada")
    view = await ActiveAccount.get(ada.id)
    assert view is not None
    attempts = [
        lambda: ActiveAccount.create(name="x"),
        lambda: ActiveAccount.insert_many([ActiveAccount(name="x")]),
        lambda: view.save(),
        lambda: view.delete(),
        lambda: ActiveAccount.find().update({"$set": {"name": "y"}}),
        lambda: ActiveAccount.find().delete(),
    ]
    for attempt in attempts:
        with pytest.raises(ReadOnlyDocument, match="ActiveAccount is a view on Account"):
            await attempt()
    assert (await Account.get(ada.id)).name == "Ada"  # type: ignore[union-attr]


async def test_a_view_takes_no_part_in_relations(database):
    class AccountNote(Document):
        account_id: Ref[Account]
        text: str

        class Meta:
            view_on = Account

    with pytest.raises(DocumentException, match="cannot take part in a relation"):
        await init(database, models=[Account, AccountNote])


async def test_a_view_has_no_indexes_and_no_validator(database):
    class UniqueView(Document):
        name: str = Field(unique=True)

        class Meta:
            view_on = Account

    await init(database, models=[Account, UniqueView], validators=True)
    await Account.create(name="Ada")
    assert await UniqueView.count() == 1


def test_the_view_declaration_is_checked():
    with pytest.raises(DocumentException, match="not a Document class"):

        class Bad(Document):
            class Meta:
                view_on = dict

    with pytest.raises(DocumentException, match=r"needs Meta\.view_on"):

        class Bad2(Document):
            class Meta:
                pipeline = [{"$match": {}}]


def test_match_stages_are_compiled_against_the_source():
    view = ActiveAccount.__mdocument_mapping__.view
    assert view is not None
    assert view_pipeline(view) == [{"$match": {"active": True}}, {"$project": {"name": 1}}]
