"""Tether's data: Peewee models, one module per domain, behind one DatabaseProxy."""

from models.accounts import Invite, Team, User
from models.base import db, init_db, migrate
from models.changes import TeamChange
from models.mailboxes import Mailbox

__all__ = ["db", "init_db", "migrate", "Team", "User", "Invite", "Mailbox", "TeamChange"]
