"""A new user's first hour: the traps between reading the docs and a working application.

- ``mdocument.ObjectId`` is ``bson.ObjectId`` for ``isinstance``, calls and annotations, and a
  field annotated with plain ``bson.ObjectId`` is refused with the fix when it is declared;
- the install lines of the docs install this project (PyPI's ``mdocument`` is another, older
  library), and its version is above that one's;
- ``mdocument --help`` without the ``cli`` extra says what to install;
- the example of docs/testing.md runs as written.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated

import bson
import pytest
from pydantic import BaseModel, ConfigDict, PlainSerializer

import mdocument
from mdocument import Document, Field, ObjectId, Ref, RefList, Synced, WrongModelFieldType, init

ROOT = Path(__file__).parent.parent

# -- ObjectId -----------------------------------------------------------------------------------


class Owner(Document):
    name: str


class OwnerCard(Synced[Owner]):
    id: ObjectId
    name: str


class Link(BaseModel):
    target: ObjectId
    others: list[ObjectId] = []


class Thing(Document):
    owner_id: Ref[Owner]
    owner: OwnerCard
    watcher_ids: RefList[Owner] = Field(default_factory=list)
    maybe: ObjectId | None = None
    link: Link
    links: list[Link] = Field(default_factory=list)


def test_object_id_is_the_bson_class_for_isinstance_and_calls():
    value = bson.ObjectId()
    assert isinstance(value, ObjectId)
    assert isinstance(value, mdocument.ObjectId)
    assert not isinstance(str(value), ObjectId)
    assert issubclass(bson.ObjectId, ObjectId)
    assert not issubclass(str, ObjectId)
    made = ObjectId()
    assert type(made) is bson.ObjectId
    assert ObjectId(str(value)) == value
    assert type(ObjectId(str(value))) is bson.ObjectId
    assert ObjectId.is_valid(str(value))


async def test_every_object_id_the_driver_returns_is_an_object_id(mongodb_database):
    await init(mongodb_database, models=[Owner, Thing])
    ada = await Owner.create(name="Ada")
    assert isinstance(ada.id, ObjectId)
    other = bson.ObjectId()
    thing = await Thing.create(
        owner_id=ada.id,
        owner=OwnerCard.of(ada),
        watcher_ids=[ada.id],
        maybe=str(other),  # a hex string is converted on input
        link=Link(target=ada.id, others=[ada.id]),
        links=[Link(target=str(ada.id))],
    )
    assert isinstance(thing.maybe, ObjectId)
    assert isinstance(thing.links[0].target, ObjectId)

    loaded = await Thing.get(thing.id)
    assert loaded is not None
    values = [
        loaded.id,
        loaded.owner_id,
        loaded.owner.id,
        *loaded.watcher_ids,
        loaded.maybe,
        loaded.link.target,
        *loaded.link.others,
        loaded.links[0].target,
    ]
    assert all(isinstance(value, ObjectId) for value in values)
    # The driver's objects are kept as they are: no conversion on load.
    raw = await mongodb_database["thing"].find_one({"_id": thing.id})
    assert type(raw["owner_id"]) is bson.ObjectId
    assert all(type(value) is bson.ObjectId for value in values)
    async for raw in mongodb_database["thing"].find():
        assert isinstance(raw["_id"], ObjectId)

    data = json.loads(loaded.model_dump_json())
    assert data["id"] == str(thing.id)
    assert data["owner_id"] == data["owner"]["id"] == str(ada.id)
    assert data["watcher_ids"] == [str(ada.id)]
    assert data["maybe"] == str(other)
    assert data["link"] == {"target": str(ada.id), "others": [str(ada.id)]}
    assert loaded.model_dump()["maybe"] == other  # Python mode: the ObjectId itself


def test_a_field_annotated_with_plain_bson_object_id_is_refused_with_the_fix():
    with pytest.raises(WrongModelFieldType) as caught:

        class Plain(Document):
            owner_id: bson.ObjectId

    message = str(caught.value)
    assert "Plain.owner_id" in message
    assert "from mdocument import ObjectId" in message
    assert caught.value.field == "owner_id"
    assert "arbitrary_types_allowed" in message  # why pydantic's own advice is no fix


@pytest.mark.parametrize(
    "annotation", ["list[bson.ObjectId]", "bson.ObjectId | None", "dict[str, bson.ObjectId]"]
)
def test_plain_bson_object_id_is_refused_inside_other_types(annotation):
    namespace: dict = {"bson": bson, "Document": Document}
    code = f"class Plain(Document):\n    ids: {annotation}\n"
    with pytest.raises(WrongModelFieldType, match=r"Plain\.ids: bson\.ObjectId"):
        exec(code, namespace)


def test_plain_bson_object_id_is_refused_in_a_postponed_annotation(tmp_path, monkeypatch):
    module = tmp_path / "postponed_models.py"
    module.write_text(
        textwrap.dedent(
            """
            from __future__ import annotations
            from bson import ObjectId
            from mdocument import Document

            class Plain(Document):
                owner_id: ObjectId | None = None
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(WrongModelFieldType, match=r"Plain\.owner_id: bson\.ObjectId"):
        __import__("postponed_models")
    sys.modules.pop("postponed_models", None)


def test_following_pydantic_advice_is_refused_too():
    # arbitrary_types_allowed makes pydantic accept bson.ObjectId; JSON output would then fail.
    class Loose(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        ref: bson.ObjectId

    with pytest.raises(WrongModelFieldType, match=r"Holder\.loose \(at ref\)") as caught:

        class Holder(Document):
            loose: list[Loose]

    assert caught.value.field == "loose"
    with pytest.raises(WrongModelFieldType, match=r"Allowed\.ref: bson\.ObjectId"):

        class Allowed(Document):
            model_config = ConfigDict(arbitrary_types_allowed=True)
            ref: bson.ObjectId


def test_a_bson_object_id_with_its_own_schema_is_accepted():
    class Own(Document):
        ref: Annotated[bson.ObjectId, PlainSerializer(str)] | None = None
        model_config = ConfigDict(arbitrary_types_allowed=True)

    assert Own(ref=bson.ObjectId("5eb7cf5a86d9755df3a6c593")).model_dump_json().count("5eb7") == 1


def test_a_local_name_shadowing_a_bson_import_is_not_mistaken_for_it():
    # The module imports bson's class as `ObjectId` at top level; the function uses mdocument's.
    namespace: dict = {}
    code = textwrap.dedent(
        """
        from __future__ import annotations
        from bson import ObjectId
        from mdocument import Document

        def declare():
            from mdocument import ObjectId

            class Fine(Document):
                ref: ObjectId

            return Fine
        """
    )
    exec(compile(code, "<shadow>", "exec"), namespace)
    fine = namespace["declare"]()
    assert fine(ref="5eb7cf5a86d9755df3a6c593").model_dump(mode="json")["ref"].startswith("5eb7")


# -- installing this project --------------------------------------------------------------------

PYPI_OLD_VERSION = "4.0.1612576120"  # the unrelated 2020 library that PyPI's `mdocument` is
# `pip install mdocument`, `pip install "mdocument[cli]"`, `pip install -U mdocument`...: a name
# resolved on PyPI. Installing from a path (`-e ".[cli]"`, `.`) or a URL is this project.
_PYPI_INSTALL = re.compile(
    r"pip3?\s+install\b[^\n`]*?(?<![\w./@-])[\"']?mdocument(\[[^\]]*\])?(?![\w.-]|\s*@)"
)


def _install_lines() -> list[tuple[str, str]]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    paths += sorted(p for p in (ROOT / "examples").rglob("*") if p.suffix in (".py", ".md"))
    return [
        (str(path.relative_to(ROOT)), line)
        for path in paths
        for line in path.read_text().splitlines()
        if "pip" in line and "install" in line
    ]


def test_no_install_line_fetches_the_other_mdocument_from_pypi():
    wrong = [(path, line) for path, line in _install_lines() if _PYPI_INSTALL.search(line)]
    assert not wrong, f"these install PyPI's mdocument 4.0 (2020), not this project: {wrong}"
    assert any("-e" in line for _, line in _install_lines())  # from a clone


def test_the_install_line_pattern():
    pypi = ["pip install mdocument", 'pip install "mdocument[cli]"', "pip install -U mdocument"]
    for line in pypi:
        assert _PYPI_INSTALL.search(line), line
    for line in ['pip install -e ".[cli]"', "pip install -e .", 'pip install "mdocument @ ./"']:
        assert not _PYPI_INSTALL.search(line), line


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+")[0])[:3])


def test_the_version_is_above_the_old_pypi_release():
    try:
        from packaging.version import Version
    except ImportError:  # pragma: no cover - packaging comes with pip and pytest
        assert _version_tuple(mdocument.__version__) > _version_tuple(PYPI_OLD_VERSION)
    else:
        version = Version(mdocument.__version__)
        assert version > Version(PYPI_OLD_VERSION)
        assert not version.is_prerelease  # pip skips pre-releases unless asked
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{mdocument.__version__}"' in pyproject


# -- the command line without its extra ---------------------------------------------------------

_WITHOUT_CLI_EXTRA = """
import sys
for name in ("click", "rich"):
    sys.modules[name] = None  # `import click` raises ModuleNotFoundError, as if not installed
from mdocument.cli import main
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["export", "x:Y"], []])
def test_the_command_without_the_cli_extra_says_what_to_install(args):
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_CLI_EXTRA, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        'mdocument: the command line needs the cli extra: pip install "mdocument[cli]"'
    ]


# -- docs/testing.md ----------------------------------------------------------------------------


def _files_of(markdown: str) -> dict[str, str]:
    """The code blocks of a page that are preceded by ``<!-- file: PATH -->``."""
    pattern = re.compile(r"<!-- file: (\S+) -->\s*\n```\w*\n(.*?)```", re.S)
    return {path: code for path, code in pattern.findall(markdown)}


def test_the_testing_docs_example_runs_as_written(tmp_path, mongodb_uri):
    files = _files_of((ROOT / "docs" / "testing.md").read_text())
    assert "pyproject.toml" in files  # the configuration the page asks for
    assert any(path.startswith("tests/test_") for path in files)
    for path, code in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    env = {**os.environ, "MONGODB_URI": mongodb_uri}  # the session's server: no second start
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b[1-9]\d* passed\b", result.stdout), result.stdout
    assert "skipped" not in result.stdout


def test_tests_of_the_database_fixtures_run_in_strict_mode_without_a_marker(tmp_path, mongodb_uri):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nasyncio_mode = "strict"\n'
        'asyncio_default_fixture_loop_scope = "function"\n'
    )
    (tmp_path / "test_strict.py").write_text(
        textwrap.dedent(
            """
            from mdocument import Document, Field, init


            class Item(Document):
                name: str = Field(unique=True)


            async def test_on_both_drivers(database):
                await init(database, models=[Item])
                await Item.create(name="a")
                assert await Item.count() == 1


            async def test_on_pymongo(mongodb_database, commands):
                await init(mongodb_database, models=[Item])
                commands.clear()
                await Item.create(name="a")
                assert commands.names == ["insert"]
            """
        )
    )
    env = {**os.environ, "MONGODB_URI": mongodb_uri}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout, result.stdout
