"""Lifecycle hooks: before_save, after_save, before_delete, after_delete."""

import datetime

import pytest

from mdocument import Document, init

calls: list[str] = []


class Journal(Document):
    text: str
    updated: datetime.datetime | None = None

    async def before_save(self) -> None:
        calls.append(f"before_save {self.text}")
        self.updated = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    async def after_save(self) -> None:
        calls.append(f"after_save {self.text}")

    async def before_delete(self) -> None:
        calls.append(f"before_delete {self.text}")
        if self.text == "keep":
            raise PermissionError("this entry is kept")

    async def after_delete(self) -> None:
        calls.append(f"after_delete {self.text}")


@pytest.fixture
async def journal(database):
    calls.clear()
    await init(database, models=[Journal])


async def test_save_hooks_run_around_the_write(journal, commands):
    entry = await Journal.create(text="a")
    assert calls == ["before_save a", "after_save a"]
    assert (await Journal.get(entry.id)).updated is not None


async def test_a_failing_before_hook_stops_the_write(journal):
    entry = await Journal.create(text="keep")
    with pytest.raises(PermissionError):
        await entry.delete()
    assert await Journal.get(entry.id) is not None
    assert "after_delete keep" not in calls


async def test_delete_hooks_run_around_the_delete(journal):
    entry = await Journal.create(text="b")
    calls.clear()
    await entry.delete()
    assert calls == ["before_delete b", "after_delete b"]


async def test_insert_many_runs_the_save_hooks_of_each_document(journal):
    await Journal.insert_many([Journal(text="x"), Journal(text="y")])
    assert calls == ["before_save x", "before_save y", "after_save x", "after_save y"]


class Plain(Document):
    text: str


async def test_hooks_a_class_does_not_override_are_not_awaited(database):
    registry = await init(database, models=[Plain, Journal])
    assert registry.repository(Plain).hooks == frozenset()
    assert registry.repository(Journal).hooks == {
        "before_save",
        "after_save",
        "before_delete",
        "after_delete",
    }
