"""Round-trip budgets for users' tests: max_commands as a context manager and as a marker."""

import textwrap

import pytest
from pymongo import MongoClient

from mdocument import Document, Field, Ref, init
from mdocument.testing import CommandBudgetExceeded, max_commands, new_database_name

pytest_plugins = ["pytester"]


class Writer(Document):
    name: str
    password: str = Field(sensitive=True)


class Note(Document):
    writer_id: Ref[Writer]
    text: str


async def notes_with_writers_n_plus_one():
    notes = await Note.many()
    return [(note, await Writer.get(note.writer_id)) for note in notes]


async def test_within_the_budget_nothing_happens(database):
    await init(database, models=[Writer, Note])
    ada = await Writer.create(name="Ada", password="pa55-s3cret")
    async with max_commands(3) as budget:
        await Note.create(writer_id=ada.id, text="one")
    assert 1 <= budget.count <= 3  # a guard, the insert, the commit
    assert budget.limit == 3


async def test_an_n_plus_one_fails_and_lists_the_commands_masked(mongodb_database):
    await init(mongodb_database, models=[Writer, Note])
    writers = [await Writer.create(name=n, password=f"{n}-pa55-s3cret") for n in "ABC"]
    for writer in writers:
        await Note.create(writer_id=writer.id, text="hi")
    with pytest.raises(CommandBudgetExceeded) as caught:
        async with max_commands(2):
            await notes_with_writers_n_plus_one()
    failure = caught.value
    assert isinstance(failure, AssertionError)
    assert failure.limit == 2
    assert [name for name, _ in failure.commands] == ["find", "find", "find", "find"]
    message = str(failure)
    assert message.startswith("4 commands (round trips) were sent, over the budget of 2:")
    assert "  1. find {'find': 'note'" in message
    assert "lsid" not in message
    # Sensitive values never show, in filters nor in written documents.
    with pytest.raises(CommandBudgetExceeded) as caught:
        await create_and_find_over_budget()
    message = str(caught.value)
    assert "'password': '***'" in message
    assert "s3cret" not in message


async def create_and_find_over_budget():
    async with max_commands(0):
        await Writer.create(name="Dee", password="dee-pa55-s3cret")
        await Writer.find({"password": "dee-pa55-s3cret"}).to_list()


async def count_then_fail():
    async with max_commands(0):
        await Writer.count()
        raise ZeroDivisionError


async def test_an_error_inside_is_not_hidden_by_the_budget(mongodb_database):
    await init(mongodb_database, models=[Writer, Note])
    with pytest.raises(ZeroDivisionError):
        await count_then_fail()


def test_the_same_object_works_with_a_sync_client(mongodb_uri):
    client: MongoClient = MongoClient(mongodb_uri)
    name = new_database_name()
    try:
        budget = max_commands(1)
        with budget:
            client[name]["x"].insert_one({"password": "hunter2-s3cret"})
        assert budget.count == 1

        def two_reads():
            with budget:
                client[name]["x"].find_one({})
                client[name]["x"].find_one({"password": "hunter2-s3cret"})

        with pytest.raises(CommandBudgetExceeded, match="over the budget of 1") as caught:
            two_reads()
        assert "s3cret" not in str(caught.value)  # Writer.password is sensitive somewhere
    finally:
        client.drop_database(name)
        client.close()


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match="max_commands"):
        max_commands(-1)


def test_the_marker_fails_a_test_over_its_budget(pytester, mongodb_uri, monkeypatch):
    monkeypatch.setenv("MONGODB_URI", mongodb_uri)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_endpoint=textwrap.dedent(
            """
            import pytest
            from pymongo import MongoClient

            from mdocument.testing import new_database_name


            def read(uri, times):
                client = MongoClient(uri)
                try:
                    for _ in range(times):
                        client[new_database_name()]["x"].find_one({"token": "tok-s3cret"})
                finally:
                    client.close()


            @pytest.fixture
            def noisy(mongodb_uri):
                read(mongodb_uri, 5)  # fixtures are not counted


            @pytest.mark.max_commands(2)
            def test_within(mongodb_uri, noisy):
                read(mongodb_uri, 2)


            @pytest.mark.max_commands(2)
            def test_over(mongodb_uri):
                read(mongodb_uri, 3)
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*CommandBudgetExceeded*3 commands (round trips)*budget of 2*"])
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["*max_commands(limit)*"])
