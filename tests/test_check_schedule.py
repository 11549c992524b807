"""When a mailbox is checked next: jitter only ever brings a check forward, so a check never
comes later than the interval after the one before (issue #17, "Detection guaranteed")."""

from datetime import datetime, timedelta
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

import clock
from models import checks
from models.checks import JITTER, Settings, next_check_at, spread_first_check
from models.mailboxes import Mailbox
from tests import factories

MOMENTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1))
INTERVALS = st.integers(min_value=1, max_value=7 * 24 * 3600).map(lambda s: timedelta(seconds=s))
# Whatever the random source returns, in range or not: the bound must not rest on it.
DRAWS = st.one_of(st.floats(min_value=0, max_value=1), st.floats(allow_nan=False))


@given(checked_at=MOMENTS, interval=INTERVALS, draw=DRAWS)
def test_the_next_check_is_never_beyond_the_interval_and_spreads_over_its_last_tenth(checked_at, interval, draw):
    with mock.patch.object(checks, "_draw", lambda: draw):
        at = next_check_at(checked_at, interval)
    assert checked_at + interval * (1 - JITTER) <= at <= checked_at + interval


def test_many_real_draws_stay_within_the_interval_and_still_spread_the_load():
    checked_at, interval = datetime(2026, 12, 3, 15, 0), timedelta(minutes=5)
    times = [next_check_at(checked_at, interval) for _ in range(20_000)]
    assert max(times) <= checked_at + interval
    assert min(times) >= checked_at + interval * (1 - JITTER)
    # Spread, not bunched: ten thousand mailboxes checked together do not stay together.
    assert max(times) - min(times) > interval * JITTER * 0.9
    assert len(set(times)) > 19_000


def test_the_worst_draw_is_exactly_the_interval(monkeypatch):
    checked_at, interval = datetime(2026, 12, 3, 15, 0), timedelta(minutes=5)
    monkeypatch.setattr(checks, "_draw", lambda: 0.0)
    assert next_check_at(checked_at, interval) == checked_at + interval
    monkeypatch.setattr(checks, "_draw", lambda: 1.0)
    assert next_check_at(checked_at, interval) == checked_at + interval * (1 - JITTER)


def test_a_first_check_is_spread_over_the_whole_interval_and_never_beyond_it(accounts, monkeypatch):
    accounts.sign_up()
    box = factories.mailbox()
    interval = timedelta(minutes=5)
    for draw, earliest, latest in ((0.0, interval, interval), (0.999, timedelta(0), interval * 0.01)):
        monkeypatch.setattr(checks, "_draw", lambda d=draw: d)
        before = clock.now()
        spread_first_check(box.id, Settings(interval=interval))
        after = clock.now()
        first = Mailbox.get_by_id(box.id).next_check_at
        assert before + earliest <= first <= after + latest


def test_a_degraded_mailbox_is_retried_within_the_interval_however_long_it_has_failed():
    for interval in (timedelta(seconds=10), timedelta(minutes=5), timedelta(hours=3)):
        checker = checks.Checker(catalog=None, settings=Settings(interval=interval))
        assert all(checker._backoff(n) <= interval for n in range(1, 40))


def test_a_forced_check_that_meets_a_check_under_way_tries_again_soon(accounts):
    """A push signal or a failed send forces a check; a routine check holding the lease may
    not refresh its still-valid token, so the forced one must not simply be dropped."""
    from models.checks import Checker, LeaseHeld
    from models.credentials import acquire
    from tasks import URGENT, huey
    from tasks.checks import check_mailbox

    accounts.sign_up()
    box = factories.mailbox()
    assert acquire(box.id, "another-worker")  # a routine check is under way
    checker = Checker(catalog=None)

    assert checker.check(box.id) is None  # a routine duplicate just ends
    try:
        checker.check(box.id, force=True)
        raise AssertionError("a forced check must say the lease was held")
    except LeaseHeld:
        pass

    huey.flush()
    check_mailbox.call_local(box.id, force=True)
    (again,) = huey.pending()  # queued with its eta; the consumer holds it until then
    assert again.name.endswith("check_mailbox") and again.args == (box.id,)
    assert again.eta is not None and again.priority == URGENT
    assert again.kwargs == {"force": True}
    huey.flush()
