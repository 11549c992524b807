"""The demo team that `make run` seeds, with a login the README documents."""

from models.accounts import User
from models.base import db

DEMO_EMAIL = "demo@tether.test"
DEMO_PASSWORD = "tether-demo"  # noqa: S105 — documented in the README; demo only


def seed() -> tuple[str, str]:
    """Create the demo team and its owner unless they exist. Returns the login."""
    with db.atomic():
        if not User.get_or_none(User.email == DEMO_EMAIL):
            User.sign_up(DEMO_EMAIL, DEMO_PASSWORD, name="Alex Demo", team_name="Acme Outreach")
    return DEMO_EMAIL, DEMO_PASSWORD
