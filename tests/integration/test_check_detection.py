"""A revocation made right after a check shows within interval + 5 s, for the worst jitter draw
(issue #17, "Detection guaranteed"): the clock is moved, not waited on."""

import os
from datetime import timedelta

import pytest

import clock
from models import checks
from models.checks import due_ids
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from tests.integration.conftest import sandbox_mailbox

pytestmark = pytest.mark.sandbox

INTERVAL = timedelta(minutes=5)  # the checker fixture's, the product's default
BOUND = INTERVAL + timedelta(seconds=5)


def _move_clock_to(moment):
    """Shift the injected clock so that clock.now() is `moment` (offsets add up)."""
    path = os.environ["TETHER_CLOCK_FILE"]
    offset = float(open(path).read() or 0) if os.path.exists(path) else 0.0
    clock.set_offset(path, offset + (moment - clock.now()).total_seconds())


@pytest.mark.parametrize("kind", ["google", "microsoft"])
def test_a_revocation_right_after_a_check_shows_within_the_interval_plus_5_s(
        accounts, tether_sandbox, checker, monkeypatch, kind):
    assert checker.settings.interval == INTERVAL
    monkeypatch.setattr(checks, "_draw", lambda: 0.0)  # the latest next check jitter can pick
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, kind)
    checked = clock.now()
    next_at = checker.check(box.id, force=True)
    revoked_at = clock.now()  # right after the check: the worst moment to be revoked
    assert Mailbox.get_by_id(box.id).status == CONNECTED
    # The worst draw: the whole interval, counted from when the check began (not its end).
    assert checked + INTERVAL <= next_at <= revoked_at + INTERVAL
    tether_sandbox.control.remove_access("alex@acme.test")

    # Time passes up to the next check; the mailbox is not due a moment before it.
    _move_clock_to(next_at - timedelta(seconds=2))
    assert box.id not in due_ids()
    _move_clock_to(next_at)
    assert box.id in due_ids()
    assert checker.check(box.id) is None  # the scheduled check (no force): a dead token waits
    detected_at = clock.now()

    row = Mailbox.get_by_id(box.id)
    assert row.status == RECONNECT_REQUIRED, (row.status, row.status_cause)
    assert detected_at - revoked_at <= BOUND, detected_at - revoked_at
