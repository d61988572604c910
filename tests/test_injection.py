"""Injection: a value meant for a field is always a value, never query operators.

The payloads are what a JSON body or a query string can carry (``{"$ne": null}``...). They reach
the API here as an endpoint would pass them; the FastAPI example tests the HTTP side.
"""

import json
import re
from typing import Any

import pytest

from mdocument import (
    Document,
    Field,
    UnknownModelField,
    WrongValueType,
    contains,
    in_,
    init,
    regex,
)


class Account(Document):
    name: str
    password_hash: str = Field(sensitive=True)
    karma: int = 0
    roles: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    data: Any = None


# Classic NoSQL injection payloads, as JSON decodes them.
PAYLOADS = [
    {"$ne": None},
    {"$gt": ""},
    {"$regex": ".*"},
    {"$where": "return true"},
    {"$exists": True},
    {"$in": ["admin", "root"]},
    {"$nin": []},
    ["admin"],
]


@pytest.fixture
async def accounts(database):
    await init(database, models=[Account])
    return await Account.insert_many(
        [
            Account(name="ada", password_hash="h1", roles=["admin"], data={"$ne": None}),
            Account(name="bob", password_hash="h2", karma=3, data="plain"),
        ]
    )


@pytest.mark.parametrize("payload", PAYLOADS, ids=json.dumps)
async def test_operator_payloads_for_a_text_field_raise_wrong_value_type(accounts, payload):
    with pytest.raises(WrongValueType, match=r"Account\.name: .* does not fit the field \(str\)"):
        await Account.one(Account.name == payload)
    with pytest.raises(WrongValueType):
        await Account.many(Account.name != payload)
    with pytest.raises(WrongValueType):
        await Account.count(in_(Account.name, [payload]))
    with pytest.raises(WrongValueType):
        await Account.count(contains(Account.roles, payload))


@pytest.mark.parametrize("payload", PAYLOADS, ids=json.dumps)
async def test_operator_payloads_for_a_number_field_raise_wrong_value_type(accounts, payload):
    with pytest.raises(WrongValueType, match=r"Account\.karma"):
        await Account.many(Account.karma > payload)


@pytest.mark.parametrize("payload", PAYLOADS, ids=json.dumps)
async def test_a_login_check_cannot_be_bypassed(accounts, payload):
    # The classic: {"name": "ada", "password": {"$ne": null}} logs in without a password.
    with pytest.raises(WrongValueType) as error:
        await Account.one(
            (Account.name == "ada") & (Account.password_hash == payload), required=False
        )
    assert repr(payload) not in str(error.value)  # the value of a sensitive field is masked
    assert "Account.password_hash: ***" in str(error.value)


async def test_payloads_are_matched_literally_in_fields_that_take_any_value(accounts, commands):
    commands.clear()
    found = await Account.many(Account.data == {"$ne": None})
    assert [account.name for account in found] == ["ada"]  # the one holding that very dict
    assert commands.of("find")[0]["filter"] == {"data": {"$eq": {"$ne": None}}}
    assert await Account.many(Account.settings == {"$gt": ""}) == []
    assert await Account.many(Account.data == re.compile(".*")) == []


async def test_payload_text_is_only_text(accounts):
    text = json.dumps({"$ne": None})
    assert await Account.one(Account.name == text, required=False) is None
    assert await Account.one(Account.karma == "3") == accounts[1]  # a query string's number


async def test_escaped_text_in_a_pattern_matches_literally(accounts):
    assert len(await Account.many(regex(Account.name, ".*"))) == 2  # a pattern is a pattern
    assert await Account.many(regex(Account.name, re.escape(".*"))) == []


async def test_ids_from_requests_are_ids(accounts):
    for payload in ({"$ne": None}, ["x"], "x" * 24):
        with pytest.raises(WrongValueType, match=r"Account ids|Account\.id"):
            await Account.get(payload)
        with pytest.raises(WrongValueType):
            await Account.one(Account.id == payload)
    assert await Account.one(Account.id == str(accounts[0].id)) == accounts[0]


@pytest.mark.parametrize("payload", PAYLOADS, ids=json.dumps)
async def test_update_payloads_are_values(accounts, payload, commands):
    commands.clear()
    with pytest.raises(WrongValueType):
        await Account.find(Account.name == "ada").update({"$set": {"name": payload}})
    with pytest.raises(WrongValueType):
        await Account.find(Account.name == "ada").update({"$pull": {"roles": payload}})
    with pytest.raises(WrongValueType):
        await Account.find(Account.name == "ada").update({"$inc": {"karma": payload}})
    assert commands.count == 0
    assert (await Account.one(Account.name == "ada")).roles == ["admin"]


async def test_names_from_requests_are_checked(accounts):
    # A sort or field name taken from a query string must name a field.
    for name in ("$where", "password_hash.$ne", "nope"):
        with pytest.raises(UnknownModelField):
            await Account.find().sort(name).to_list()
        with pytest.raises(UnknownModelField):
            await Account.find().distinct(name)
