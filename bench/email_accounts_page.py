"""Email Accounts with 1,000 mailboxes: the page's size (≤ 300 KB) and the server CPU of a
render (p50 ≤ 50 ms), both cold (a mailbox's status changed since the last render, so nothing
rendered before can be reused) and warm (the same page again); every one of the 1,000
mailboxes reachable through the page links; and the poll that finds nothing changed (≤ 5 ms,
a few hundred bytes at most).

CPU is the process's own (`time.process_time`), so a loaded machine cannot flatter the page;
wall time is printed beside it for comparison."""

import re
import statistics
import time

from _setup import report  # noqa: I001 — sets the environment before Tether is imported

from app import create_app
from models.accounts import User
from models.base import db, migrate
from models.health import transition
from models.mailboxes import CONNECTED, DEGRADED, RECONNECT_REQUIRED, Mailbox

MAILBOXES, PAGE_RUNS, POLL_RUNS = 1000, 60, 500
URL = "/settings/email-accounts"


def _seed():
    owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
    statuses = [CONNECTED] * 8 + [DEGRADED, RECONNECT_REQUIRED]
    with db.atomic():
        for n in range(MAILBOXES):
            Mailbox.create(team=owner.team, connected_by=owner, email=f"m{n:04}@bench.test",
                           provider="google-sandbox" if n % 3 else "other",
                           status=statuses[n % len(statuses)], status_cause="Bench cause.")


def _reachable(client) -> int:
    """Follow "Next →" from the first page to the last; count the distinct mailboxes seen."""
    seen, url = set(), URL
    while url:
        page = client.get(url).get_data(as_text=True)
        seen.update(re.findall(r'data-mailbox-id="(\d+)"', page))
        following = re.search(r'href="([^"]+)" rel="next"', page)
        url = following.group(1).replace("&amp;", "&") if following else None
    return len(seen)


def _timed(client, runs, before=None):
    """CPU and wall ms of `runs` renders of the first page; `before` runs untimed before each."""
    cpu, wall, size = [], [], 0
    for n in range(runs):
        if before:
            before(n)
        start_cpu, start = time.process_time(), time.perf_counter()
        response = client.get(URL)
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
        size = len(response.data)
    return statistics.median(cpu), statistics.median(wall), size


def main():
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    migrate()
    with db.connection_context():
        _seed()
    client = app.test_client()
    client.post("/login", data={"email": "owner@bench.test", "password": "bench-password-1"})
    assert _reachable(client) == MAILBOXES, "every mailbox reachable through the page links"
    first = Mailbox.select().order_by(Mailbox.email).first().id

    def status_change(n):  # the first page shows it: whatever was rendered before is stale
        transition(first, DEGRADED if n % 2 else CONNECTED, cause="Bench status change.")

    cold_cpu, cold_wall, size = _timed(client, PAGE_RUNS, status_change)
    warm_cpu, warm_wall, _ = _timed(client, PAGE_RUNS)
    report("page bytes (first of the pages)", size / 1000, 300, "KB")
    report("page CPU p50, cold (a status changed)", cold_cpu, 50, "ms")
    report("page CPU p50, warm (same page again)", warm_cpu, 50, "ms")
    print(f"{'  wall p50 cold / warm':<48} {cold_wall:10.2f} / {warm_wall:.2f} ms")

    page = client.get(URL).get_data(as_text=True)
    version = re.search(r'data-live-version="(\d+)"', page).group(1)
    poll = {"since": version, "rendered_at": str(int(time.time()))}
    timings, size = [], 0
    for _ in range(POLL_RUNS):
        start = time.perf_counter()
        response = client.get(URL, query_string=poll, headers={"HX-Request": "true"})
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 204
        size = len(response.data) + sum(len(k) + len(v) + 4 for k, v in response.headers.items())
    report("'nothing changed' poll, p50", statistics.median(timings), 5, "ms")
    report("'nothing changed' answer, bytes incl. headers", size, 500, "B")


if __name__ == "__main__":
    main()
