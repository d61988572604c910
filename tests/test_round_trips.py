"""A cascade costs round trips bounded by edges and levels, not by the number of documents."""

import pytest

from mdocument import Document, Field, ObjectId, OnDelete, Synced, init


class Org(Document):
    name: str


class OrgCard(Synced[Org]):
    id: ObjectId
    name: str


class Team(Document):
    org: OrgCard


class Person(Document):
    team_id: ObjectId = Field(related=Team)
    mentor_id: ObjectId | None = Field(default=None, related=Team, on_delete=OnDelete.SET_NULL)


class Badge(Document):
    person_ids: list[ObjectId] = Field(default_factory=list, related=Person)


async def build(teams: int, people_per_team: int) -> Org:
    org = await Org.create(name="acme")
    team_docs = await Team.insert_many([Team(org=OrgCard.of(org)) for _ in range(teams)])
    people = await Person.insert_many(
        [
            Person(team_id=team.id, mentor_id=team.id)
            for team in team_docs
            for _ in range(people_per_team)
        ]
    )
    await Badge.insert_many([Badge(person_ids=[person.id]) for person in people])
    return org


# Org <- Team.org (copy) <- Person.team_id, Person.mentor_id <- Badge.person_ids: four edges
# over four levels. A find per level to learn the ids to recurse into (Badge, which nothing
# refers to, is deleted by filter), a delete or update per edge and level, the root, the commit;
# before all that, one write to the root (see mdocument.integrity.GUARD_FIELD).
EXPECTED = [
    "update",  # the org's guard, first: child creates under it now wait for this delete
    "find",  # teams of the org
    "find",  # people of the teams
    "delete",  # badges whose every person goes
    "update",  # the other badges pull those people
    "delete",  # people
    "update",  # Person.mentor_id set to null
    "delete",  # teams
    "delete",  # the org, last
    "commitTransaction",
]


@pytest.mark.parametrize(
    ("teams", "per_team"), [(2, 5), (10, 50), (20, 50)], ids=["31", "1011", "2021"]
)
async def test_round_trips_do_not_grow_with_the_number_of_descendants(
    mongodb_database, commands, teams, per_team
):
    # One transaction up to registry.cascade_chunk documents (1,000 by default): raised here
    # so that the largest case stays one; tests/test_chunked.py covers larger deletes.
    await init(mongodb_database, models=[Org, Team, Person, Badge], cascade_chunk=10_000)
    org = await build(teams, per_team)
    commands.clear()
    await org.delete()
    assert commands.names == EXPECTED
    for document in (Org, Team, Person, Badge):
        assert await document.count() == 0
