"""A per-team change counter: what lets an open page ask "anything new?" in one cheap query.

Every change a person could see (a mailbox's status, a sequence's toggle, a log entry, a
notification) bumps the team's counter in the same transaction. A page remembers the counter
it was rendered at; its poll answers 204 "nothing changed" until the counter moves.
"""

from peewee import ForeignKeyField, IntegerField

from models.accounts import Team
from models.base import BaseModel


class TeamChange(BaseModel):
    team = ForeignKeyField(Team, primary_key=True, on_delete="CASCADE")
    version = IntegerField(default=0)


def bump(team_id: int) -> None:
    """Record that something visible changed for this team (call inside the change's txn)."""
    updated = (TeamChange.update(version=TeamChange.version + 1)
               .where(TeamChange.team == team_id).execute())
    if not updated:
        TeamChange.insert(team=team_id, version=1).on_conflict(
            conflict_target=[TeamChange.team],
            update={TeamChange.version: TeamChange.version + 1}).execute()


def version(team_id: int) -> int:
    row = (TeamChange.select(TeamChange.version).where(TeamChange.team == team_id)
           .tuples().first())
    return row[0] if row else 0
