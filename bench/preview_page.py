"""A sequence with 10,000 enrolled contacts: the CPU of pressing Start while a third of them
would get an empty subject (the start check reads every enrolled contact), of the start check
alone, and of its Preview page (the check's list plus each email rendered for one contact).
No target is set by the issue; 300 ms of CPU, a page's p95 budget in DESIGN §6, is the
yardstick printed beside each figure.

CPU is the process's own (`time.process_time`); wall time is printed beside it."""

import statistics
import time

from _setup import report  # noqa: I001 — sets the environment before Tether is imported

import clock
from app import create_app
from models import preview
from models.accounts import User
from models.base import db, migrate
from models.contacts import Contact
from models.mailboxes import CONNECTED, Mailbox
from models.sequences import Enrollment, Sequence, create_sequence, save_step

CONTACTS, RUNS = 10_000, 15


def _seed() -> Sequence:
    owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
    box = Mailbox.create(team=owner.team, connected_by=owner, email="alex@bench.test",
                         provider="other", status=CONNECTED)
    sequence = create_sequence(owner.team_id, owner, name="Bench", mailbox=box)
    save_step(sequence, owner, subject="{{first_name}}", body="Hi {{first_name|there}}, "
              "how is {{company}}?", delay_days=0, delay_hours=0)
    save_step(sequence, owner, subject="", body="Bumping this.", delay_days=3, delay_hours=0)
    save_step(sequence, owner, subject="{{company|Your team}} and Q4", body="Last one.",
              delay_days=5, delay_hours=0)
    now = clock.now()
    with db.atomic():
        rows = [{"team": owner.team_id, "email": f"c{n:05}@bench.test", "created_at": now,
                 "first_name": "" if n % 3 == 0 else f"Name{n}",
                 "company": f"Company {n % 97}"} for n in range(CONTACTS)]
        for start in range(0, CONTACTS, 500):
            Contact.insert_many(rows[start:start + 500]).execute()
        enrolled = [{"sequence": sequence.id, "contact": cid, "status": "active",
                     "step_index": 0, "next_due_at": now, "created_at": now,
                     "status_changed_at": now} for (cid,) in Contact.select(Contact.id).tuples()]
        for start in range(0, CONTACTS, 500):
            Enrollment.insert_many(enrolled[start:start + 500]).execute()
    return sequence


def _cpu(action, runs=RUNS):
    cpu, wall = [], []
    for _ in range(runs):
        start_cpu, start = time.process_time(), time.perf_counter()
        action()
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def main():
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False})
    migrate()
    with db.connection_context():
        sequence = _seed()
    client = app.test_client()
    client.post("/login", data={"email": "owner@bench.test", "password": "bench-password-1"})
    with db.connection_context():
        found, total = preview.start_problems(Sequence.get_by_id(sequence.id))
    assert total == (CONTACTS + 2) // 3, total

    def press_start():
        response = client.post(f"/sequences/{sequence.id}/toggle", headers={"HX-Request": "true"})
        assert "Not started" in response.get_data(as_text=True)

    def check_alone():
        with db.connection_context():
            preview.start_problems(Sequence.get_by_id(sequence.id))

    def preview_page():
        assert client.get(f"/sequences/{sequence.id}/preview").status_code == 200

    for name, action in (("Start pressed, refused (10,000 contacts), CPU p50", press_start),
                         ("start check alone, CPU p50", check_alone),
                         ("Preview page (10,000 contacts), CPU p50", preview_page)):
        cpu, wall = _cpu(action)
        report(name, cpu, 300, "ms")
        print(f"{'  wall p50':<48} {wall:10.2f} ms")


if __name__ == "__main__":
    main()
