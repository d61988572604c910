"""Keyset page tokens: sealed with the application's keys, so unreadable and tamper-proof."""

import base64
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from mdocument import (
    Document,
    Field,
    InvalidPageToken,
    PageTokenKeys,
    PageTokensNotConfigured,
    asc,
    configure_page_tokens,
    init,
)
from mdocument.pagination import PAGE_TOKEN_KEYS_VARIABLE

SECRET = "4970-s3cret-1234"
KEY = "a-key-of-the-application-0001"
OLD_KEY = "an-older-key-of-the-app-0000"


class Card(BaseModel):
    number: str = Field(sensitive=True)
    holder: str


class Member(Document):
    name: str
    rank: int
    card: Card


@pytest.fixture
def keys() -> Iterator[None]:
    configure_page_tokens([KEY])
    yield
    configure_page_tokens(None)  # back to the environment's keys


@pytest.fixture
async def members(mongodb_database, keys):
    await init(mongodb_database, models=[Member])
    for rank in range(5):
        card = Card(number=f"{SECRET}-{rank}", holder=f"holder-{rank}")
        await Member.create(name=f"member-{rank}", rank=rank, card=card)


def raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def edited(token: str, position: int) -> str:
    data = bytearray(raw(token))
    data[position] ^= 0x01
    return base64.urlsafe_b64encode(bytes(data)).decode().rstrip("=")


async def test_a_token_holds_no_value_of_the_documents(members):
    for query in (Member.find().sort("card"), Member.find().sort("name"), Member.find()):
        page = await query.keyset(size=2)
        assert page.next_token is not None
        data = raw(page.next_token)
        for text in (SECRET, "holder-1", "member-1"):
            assert text.encode() not in data
        following = await query.keyset(size=2, after=page.next_token)
        assert len(following.items) == 2


async def test_every_edited_byte_is_refused(members):
    query = Member.find().sort(asc(Member.rank))
    token = (await query.keyset(size=2)).next_token
    assert token is not None
    # Each byte: the version, the nonce, each encrypted value and the signature.
    for position in range(len(raw(token))):
        with pytest.raises(InvalidPageToken, match="Member: the page token is not valid"):
            await query.keyset(size=2, after=edited(token, position))
    for bad in (token[:-1], token[:-10], token[: len(token) // 2], token + "AA", "", "@@@@"):
        with pytest.raises(InvalidPageToken):
            await query.keyset(size=2, after=bad)


async def test_a_token_sealed_with_another_key_is_refused(members):
    query = Member.find().sort(asc(Member.rank))
    foreign = PageTokenKeys(["someone-else-s-key-000000000"])
    token = (await query.keyset(size=2)).next_token
    assert token is not None
    payload = PageTokenKeys([KEY]).open(token)
    assert payload is not None
    with pytest.raises(InvalidPageToken):
        await query.keyset(size=2, after=foreign.seal(payload))


async def test_rotation_keeps_old_tokens_while_the_old_key_is_listed(members):
    query = Member.find().sort(asc(Member.rank))
    configure_page_tokens([OLD_KEY])
    old = (await query.keyset(size=2)).next_token
    configure_page_tokens([KEY, OLD_KEY])  # the new key seals, both open
    assert [m.rank for m in (await query.keyset(size=2, after=old)).items] == [2, 3]
    new = (await query.keyset(size=2)).next_token
    assert new is not None
    assert PageTokenKeys([KEY]).open(new) is not None  # sealed with the first key
    configure_page_tokens([KEY])  # the old key removed
    with pytest.raises(InvalidPageToken):
        await query.keyset(size=2, after=old)
    assert [m.rank for m in (await query.keyset(size=2, after=new)).items] == [2, 3]


async def test_processes_with_the_same_key_accept_each_other_s_tokens(members):
    query = Member.find().sort(asc(Member.rank))
    first = (await query.keyset(size=2)).next_token
    configure_page_tokens([KEY])  # another process, configured alike
    assert [m.rank for m in (await query.keyset(size=2, after=first)).items] == [2, 3]
    one, other = PageTokenKeys([KEY]), PageTokenKeys([KEY.encode()])
    assert other.open(one.seal(b"position")) == b"position"
    assert one.seal(b"position") != one.seal(b"position")  # a fresh nonce for each token


async def test_without_a_key_tokens_are_neither_made_nor_read(members, monkeypatch):
    query = Member.find().sort(asc(Member.rank))
    token = (await query.keyset(size=2)).next_token
    assert token is not None
    configure_page_tokens(None)
    monkeypatch.delenv(PAGE_TOKEN_KEYS_VARIABLE, raising=False)
    how = r"configure_page_tokens\(keys=\[\.\.\.\]\).*MDOCUMENT_PAGE_TOKEN_KEYS"
    with pytest.raises(PageTokensNotConfigured, match=how):
        await query.keyset(size=2)
    with pytest.raises(PageTokensNotConfigured, match=how):
        await query.keyset(size=2, after=token)
    # The environment variable is read when a token is made or read, not at import.
    monkeypatch.setenv(PAGE_TOKEN_KEYS_VARIABLE, f" {KEY} , {OLD_KEY}")
    assert [m.rank for m in (await query.keyset(size=2, after=token)).items] == [2, 3]


def test_keys_must_be_long_enough():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        PageTokenKeys(["short"])
    with pytest.raises(ValueError, match="non-empty list"):
        PageTokenKeys([])
    with pytest.raises(ValueError, match="non-empty list"):
        configure_page_tokens(KEY)  # type: ignore[arg-type]  # a str, not a list
    assert KEY not in repr(PageTokenKeys([KEY]))
