"""The Contacts page with 10,000 contacts in the team: p50 ≤ 50 ms for the first page, a later
page, a search that matches a few and one that matches most, as a full page and as the htmx
partial the search box and the pager ask for.

Wall time is the target (on PostgreSQL the database's own work runs in another process, which
the web process's CPU would not show); the web process's CPU is printed beside it."""

import argparse
import os
import statistics
import time

from _setup import backend_flags, report, use_backend  # noqa: I001 — sets the environment first

CONTACTS, RUNS = 10_000, 60
CASES = (("first page", "/contacts", {}),
         ("page 150", "/contacts?page=150", {}),
         ("search, 20 match (partial)", "/contacts?q=initech", {"HX-Request": "true"}),
         ("search, most match, page 3 (partial)", "/contacts?q=globex&page=3",
          {"HX-Request": "true"}),
         ("search by full name", "/contacts?q=first00042+jones", {}))


def _seed():
    import clock
    from models.accounts import User
    from models.base import db
    from models.contacts import Contact

    owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
    other = User.sign_up("other@bench.test", "bench-password-1", team_name="Other")
    now = clock.now()
    for team in (owner.team_id, other.team_id):  # another team's 10,000 must not slow ours
        rows = [{"team": team, "email": f"person{i:05d}@example.com",
                 "first_name": f"First{i:05d}", "last_name": "Jones",
                 "company": "Initech" if i % 500 == 0 else "Globex", "created_at": now}
                for i in range(CONTACTS)]
        with db.atomic():
            for start in range(0, len(rows), 1000):
                Contact.insert_many(rows[start:start + 1000]).execute()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    backend_flags(parser)
    label, drop = use_backend(parser.parse_args())
    try:
        from app import create_app
        from models.base import db, migrate

        app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
        migrate()
        with db.connection_context():
            _seed()
            # What autovacuum does within a minute of a bulk load: without statistics the
            # planner guesses a handful of rows and sorts 10,000 instead of reading the index.
            db.execute_sql("ANALYZE contact")
        client = app.test_client()
        client.post("/login", data={"email": "owner@bench.test", "password": "bench-password-1"})
        print(f"Contacts page, {CONTACTS:,} contacts, {label}; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall time waits for the CPU)")
        for name, url, headers in CASES:
            assert client.get(url, headers=headers).status_code == 200
            cpu, wall = [], []
            for _ in range(RUNS):
                start_cpu, start = time.process_time(), time.perf_counter()
                client.get(url, headers=headers)
                cpu.append((time.process_time() - start_cpu) * 1000)
                wall.append((time.perf_counter() - start) * 1000)
            report(f"{name}, p50", statistics.median(wall), 50, "ms")
            print(f"{'  CPU p50 / wall p95':<48} {statistics.median(cpu):10.2f} / "
                  f"{sorted(wall)[int(RUNS * .95)]:.2f} ms")
    finally:
        drop()


if __name__ == "__main__":
    main()
