"""Importing a CSV of 10,000 rows, 3,000 of them already contacts (2,000 that the file changes,
1,000 it leaves alone): under 10 s from the upload to the last chunk written, the way the
page does it (the preview, then one request per chunk). Prints each phase and the counts."""

import argparse
import io
import os
import time

from _setup import backend_flags, report, use_backend  # noqa: I001 — sets the environment first

ROWS, EXISTING, UNCHANGED = 10_000, 3_000, 1_000


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    backend_flags(parser)
    label, drop = use_backend(parser.parse_args())
    try:
        import clock
        from app import create_app
        from models.accounts import User
        from models.base import db, migrate
        from models.contacts import Contact, ContactImport

        app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
        migrate()
        with db.connection_context():
            owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
            now = clock.now()
            with db.atomic():
                for start in range(0, EXISTING, 1000):
                    Contact.insert_many([
                        {"team": owner.team_id, "email": f"p{i:05d}@example.com",
                         "first_name": f"P{i}", "company": "Same" if i < UNCHANGED else "Old",
                         "created_at": now} for i in range(start, start + 1000)]).execute()
        lines = ["email,first_name,last_name,company,title"] + [
            f"p{i:05d}@example.com,P{i},Last{i},{'Same' if i < UNCHANGED else 'New'},"
            if i >= UNCHANGED else f"p{i:05d}@example.com,P{i},,Same," for i in range(ROWS)]
        data = ("\n".join(lines) + "\n").encode()
        client = app.test_client()
        client.post("/login", data={"email": "owner@bench.test", "password": "bench-password-1"})

        start = time.perf_counter()
        answer = client.post("/contacts/import", data={"file": (io.BytesIO(data), "bench.csv")},
                             content_type="multipart/form-data")
        assert answer.status_code == 302, answer.status_code
        previewed = time.perf_counter()
        with db.connection_context():
            contact_import = ContactImport.get()
        url = f"/contacts/imports/{contact_import.id}/run"
        requests = 0
        while True:
            requests += 1
            page = client.post(url, headers={"HX-Request": "true"}).get_data(as_text=True)
            if "import-done" in page:
                break
        done = time.perf_counter()
        with db.connection_context():
            result = ContactImport.get_by_id(contact_import.id)
            total = Contact.select().count()
        print(f"CSV import, {ROWS:,} rows ({EXISTING:,} existing), {label}; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'  preview (read, check, sort)':<48} {previewed - start:10.2f} s")
        print(f"{f'  writing ({requests} chunk requests)':<48} {done - previewed:10.2f} s")
        report("upload to done", done - start, 10, "s")
        print(f"  new {result.imported:,}, updated {result.updated:,}, skipped "
              f"{result.skipped:,} (unchanged {result.unchanged:,}, bad {result.bad_count:,}); "
              f"contacts now {total:,}")
        assert (result.imported, result.updated, result.unchanged) == (
            ROWS - EXISTING, EXISTING - UNCHANGED, UNCHANGED)
    finally:
        drop()


if __name__ == "__main__":
    main()
