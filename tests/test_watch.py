"""Change streams: ``Doc.watch()`` yields typed, decoded, masked events, and resumes."""

from __future__ import annotations

import asyncio
import json

import pytest

from mdocument import Change, Document, DocumentException, Field, init


class Member(Document):
    name: str
    email: str = Field(sensitive=True)
    level: int = 0


async def next_change(changes):
    return await asyncio.wait_for(anext(changes), timeout=10)


async def test_events_are_typed_and_decoded(database):
    await init(database, models=[Member])
    async with Member.watch() as changes:
        ada = await Member.create(name="Ada", email="ada@example.com")
        inserted = await next_change(changes)
        assert isinstance(inserted, Change)
        assert inserted.operation == "insert"
        assert inserted.document_id == ada.id
        assert isinstance(inserted.document, Member)
        assert inserted.document == ada

        ada.level = 2
        await ada.save()
        updated = await next_change(changes)
        assert updated.operation == "update"
        assert updated.document is None  # no full_document: only what changed
        assert updated.updated == {"level": 2}
        assert updated.removed == []

        await Member.find(Member.id == ada.id).update({"$set": {"email": "a@b.c"}})
        masked = await next_change(changes)
        assert masked.updated == {"email": "a@b.c"}  # the Python form is the stored one
        assert "a@b.c" not in repr(masked)
        assert json.loads(masked.model_dump_json())["updated"] == {"email": "***"}
        assert masked.model_dump(mode="json", context={"reveal": True})["updated"] == {
            "email": "a@b.c"
        }

        await database["member"].replace_one(
            {"_id": ada.id}, {"name": "Ada L", "email": "x@y.z", "level": 3}
        )
        replaced = await next_change(changes)
        assert replaced.operation == "replace"
        assert replaced.document is not None
        assert replaced.document.name == "Ada L"
        assert "x@y.z" not in repr(replaced)
        assert "x@y.z" not in replaced.model_dump_json()

        await replaced.document.delete()
        deleted = await next_change(changes)
        assert deleted.operation == "delete"
        assert deleted.document_id == ada.id
        assert deleted.document is None
        assert json.loads(deleted.model_dump_json())["document_id"] == str(ada.id)


async def test_full_document_on_updates(database):
    await init(database, models=[Member])
    ada = await Member.create(name="Ada", email="ada@example.com")
    async with Member.watch(full_document=True) as changes:
        ada.level = 5
        await ada.save()
        change = await next_change(changes)
    assert change.operation == "update"
    assert change.document is not None
    assert change.document.level == 5


async def test_resume_after_a_token_continues_with_the_next_event(database):
    await init(database, models=[Member])
    async with Member.watch() as changes:
        for name in ("a", "b", "c"):
            await Member.create(name=name, email=f"{name}@x.y")
        first = await next_change(changes)
        assert first.document is not None
        assert first.document.name == "a"
    token = json.loads(json.dumps(first.resume_token))  # JSON-safe: stored and read back
    async with Member.watch(resume_after=token) as resumed:
        names = [(await next_change(resumed)).document.name for _ in range(2)]  # type: ignore[union-attr]
    assert names == ["b", "c"]


async def test_a_filter_and_operations_select_events(database):
    await init(database, models=[Member])
    async with Member.watch(Member.level >= 3, operations=["insert"]) as changes:
        await Member.create(name="low", email="l@x.y", level=1)
        high = await Member.create(name="high", email="h@x.y", level=4)
        await high.delete()
        await Member.create(name="higher", email="h2@x.y", level=9)
        first = await next_change(changes)
        second = await next_change(changes)
    assert [first.document_id, second.operation] == [high.id, "insert"]
    assert second.document is not None
    assert second.document.name == "higher"


async def test_a_filter_on_the_id_matches_deletes(database):
    await init(database, models=[Member])
    ada = await Member.create(name="Ada", email="ada@example.com")
    other = await Member.create(name="Bob", email="bob@example.com")
    async with Member.watch({"id": ada.id}) as changes:
        await other.delete()
        await ada.delete()
        change = await next_change(changes)
    assert (change.operation, change.document_id) == ("delete", ada.id)


async def test_a_filter_with_other_operators_is_refused(database):
    await init(database, models=[Member])
    with pytest.raises(DocumentException, match=r"\$where"):
        Member.watch({"$where": "true"})
