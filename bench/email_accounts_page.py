"""Email Accounts with 1,000 mailboxes: server time of the page (p50 ≤ 50 ms) and of the
poll that finds nothing changed (≤ 5 ms, a few hundred bytes at most)."""

import re
import statistics
import time

from _setup import report  # noqa: I001 — sets the environment before Tether is imported

from app import create_app
from models.accounts import User
from models.base import db, migrate
from models.mailboxes import CONNECTED, DEGRADED, RECONNECT_REQUIRED, Mailbox

MAILBOXES, PAGE_RUNS, POLL_RUNS = 1000, 100, 500


def main():
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    migrate()
    with db.connection_context():
        owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
        statuses = [CONNECTED] * 8 + [DEGRADED, RECONNECT_REQUIRED]
        with db.atomic():
            for n in range(MAILBOXES):
                Mailbox.create(team=owner.team, connected_by=owner, email=f"m{n:04}@bench.test",
                               provider="google-sandbox" if n % 3 else "other",
                               status=statuses[n % len(statuses)], status_cause="Bench cause.")
    client = app.test_client()
    client.post("/login", data={"email": "owner@bench.test", "password": "bench-password-1"})
    page = client.get("/settings/email-accounts").get_data(as_text=True)
    assert page.count("data-mailbox-id=") == MAILBOXES
    version = re.search(r'data-live-version="(\d+)"', page).group(1)

    timings = []
    for _ in range(PAGE_RUNS):
        start = time.perf_counter()
        client.get("/settings/email-accounts")
        timings.append((time.perf_counter() - start) * 1000)
    report("page with 1,000 mailboxes, p50", statistics.median(timings), 50, "ms")

    poll = {"since": version, "rendered_at": str(int(time.time()))}
    timings, size = [], 0
    for _ in range(POLL_RUNS):
        start = time.perf_counter()
        response = client.get("/settings/email-accounts", query_string=poll,
                              headers={"HX-Request": "true"})
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 204
        size = len(response.data) + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    report("'nothing changed' poll, p50", statistics.median(timings), 5, "ms")
    report("'nothing changed' answer, bytes incl. headers", size, 500, "B")


if __name__ == "__main__":
    main()
