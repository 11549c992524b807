"""Short leases that hold while work goes on (a heartbeat) and are freed at once when the
process holding them has ended on this machine."""

import os
from datetime import timedelta

import clock
from models import leases
from models.mailboxes import Mailbox
from models.sender_lease import OutboxSender, acquire_sender, renew_sender
from tests import factories
from tests.support import wait_for

FAST = timedelta(milliseconds=50)


def _move(seconds: float) -> None:
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], clock._offset() + seconds)


def test_a_heartbeat_keeps_a_sender_lease_past_its_length_and_lets_go_after(accounts):
    accounts.sign_up()
    box = factories.mailbox()
    assert acquire_sender(box.id, "a", clock.now())
    with leases.Heartbeat(lambda: renew_sender(box.id, "a", clock.now()), every=FAST):
        _move((leases.LEASE + timedelta(seconds=1)).total_seconds())
        wait_for(lambda: OutboxSender.get_by_id(box.id).lease_until > clock.now(), "a beat")
        assert not acquire_sender(box.id, "b", clock.now())  # still held: the work goes on
    _move((leases.LEASE + timedelta(seconds=1)).total_seconds())
    assert acquire_sender(box.id, "b", clock.now())  # no beat after the work ended


def test_leases_of_ended_processes_here_are_freed_and_others_kept(accounts):
    accounts.sign_up()
    dead = f"{leases.MACHINE}/{2**22 + 12345}/dead"  # beyond pid_max: no such process
    alive = f"{leases.MACHINE}/{os.getpid()}/live"
    elsewhere = "other-host/12345678/1/far"
    until = clock.now() + timedelta(seconds=20)
    boxes = {}
    for name, owner in (("dead", dead), ("alive", alive), ("elsewhere", elsewhere)):
        box = factories.mailbox(email=f"{name}@acme.test", lease_owner=owner, lease_until=until)
        OutboxSender.create(mailbox=box, lease_owner=owner, lease_until=until)
        boxes[name] = box.id
    checks, sending = leases.free_dead_owners(clock.now())
    assert checks == {boxes["dead"]} and sending == {boxes["dead"]}
    assert Mailbox.get_by_id(boxes["dead"]).lease_until < clock.now()
    for name in ("alive", "elsewhere"):
        assert Mailbox.get_by_id(boxes[name]).lease_until == until
        assert OutboxSender.get_by_id(boxes[name]).lease_until == until


def test_an_owner_names_this_process():
    owner = leases.new_owner()
    assert owner.startswith(f"{leases.MACHINE}/{os.getpid()}/")
    assert not leases.dead_here(owner) and leases.dead_here(f"{leases.MACHINE}/4194400/x")
