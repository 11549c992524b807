"""Who hears of what: a mailbox's people, a team's admins, the instance's operators."""

from dataclasses import dataclass

from models.accounts import User


def recipients(mailbox) -> list[User]:
    """The person who connected the mailbox; the team's admins if they have left (DESIGN §2)."""
    person = mailbox.connected_by
    if person is not None and person.active and person.team_id == mailbox.team_id:
        return [person]
    return admins(mailbox.team_id)


def admins(team_id: int) -> list[User]:
    return list(User.select().where((User.team == team_id) & User.active
                                    & User.role.in_(("owner", "admin"))).order_by(User.id))


@dataclass(frozen=True)
class Operator:
    """An instance operator named by address only (TETHER_OPERATOR_EMAILS) with no account
    here: they get the email, and there is no bell to ring."""

    email: str
    name: str = ""

    @property
    def id(self) -> str:  # what dedupe keys name the recipient by
        return self.email


def operators(listed: str) -> list:
    """Who runs this instance and so hears of app-level problems (a rejected client secret, a
    missing encryption key, no system mailer) — not each team's admins, who cannot change the
    deployment. `listed` is TETHER_OPERATOR_EMAILS; unset, the instance's first owner."""
    addresses = list(dict.fromkeys(a.strip().lower() for a in (listed or "").split(",") if a.strip()))
    if not addresses:
        first = (User.select().where((User.role == "owner") & User.active)
                 .order_by(User.id).first())
        return [first] if first else []
    users = {u.email: u for u in User.select().where(User.email.in_(addresses) & User.active)}
    return [users.get(a) or Operator(a) for a in addresses]


def is_operator(user, listed: str) -> bool:
    """Is this signed-in person one of the instance's operators?"""
    return any(isinstance(person, User) and person.id == user.id for person in operators(listed))
