"""Moving a sequence to another mailbox, without a network: who may, where to, what the page
says first, the refusals in words, and the move as a step of the outbox protocol (claimed rows
return to the queue, rows on the wire finish from the old mailbox, nothing goes out twice)."""

import json
import re

import pytest

import clock
from models import outbox
from models.mailboxes import RECONNECT_REQUIRED, Mailbox
from models.outbox import CLAIMED, QUEUED, SENDING, SENT, TRANSMITTING, OutboxEmail
from models.sequences import Sequence, SequenceLog
from tests import factories
from tests.support import Accounts, post_form
from tests.test_outbox import box, owner, running  # noqa: F401 (fixtures)


@pytest.fixture
def other_box(owner):  # noqa: F811
    return factories.mailbox(email="sam@acme.test", daily_limit=50)


def move(client, sequence, to, reason="Alex is on holiday", seen=None, page=None):
    return post_form(client, f"/sequences/{sequence.id}/move",
                     {"mailbox": str(to.id), "reason": reason,
                      "from_mailbox": str(seen or sequence.mailbox_id)},
                     page=page or f"/sequences/{sequence.id}/move")


def test_the_page_says_what_happens_before_anyone_confirms(client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box)
    html = client.get(f"/sequences/{sequence.id}/move").get_data(as_text=True)
    for words in ("Waiting emails go from the new mailbox", "Follow-ups start a new thread",
                  "with the same subject", "daily limit applies",
                  "Replies still arriving at alex@acme.test", "still read while it stays connected"):
        assert words in html, words
    assert "sam@acme.test" in html
    assert "Move to another mailbox" in client.get(f"/sequences/{sequence.id}").get_data(as_text=True)


def test_a_blocked_sequence_moves_to_a_connected_mailbox_and_the_log_says_who_and_why(
        client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box)
    Mailbox.update(status=RECONNECT_REQUIRED).where(Mailbox.id == box.id).execute()
    assert Sequence.get_by_id(sequence.id).state == "blocked"
    response = move(client, sequence, other_box)
    assert response.status_code == 302
    moved = Sequence.get_by_id(sequence.id)
    assert moved.mailbox_id == other_box.id and moved.state == "active"
    entry = SequenceLog.get(SequenceLog.kind == "moved")
    assert entry.message.startswith("Moved from alex@acme.test to sam@acme.test by Owner: "
                                    "“Alex is on holiday”")
    assert json.loads(entry.details)["by"] == owner.id


def test_a_disconnected_or_removed_mailbox_is_refused_in_words_and_nothing_changes(
        client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box)
    Mailbox.update(status=RECONNECT_REQUIRED).where(Mailbox.id == other_box.id).execute()
    response = move(client, sequence, other_box)
    assert response.status_code == 422
    assert "sam@acme.test is not connected (reconnect required)" in response.get_data(as_text=True)
    Mailbox.update(status="connected", deleted_at=clock.now()).where(
        Mailbox.id == other_box.id).execute()
    assert "was removed" in move(client, sequence, other_box).get_data(as_text=True)
    assert "Say why" in move(client, sequence, box, reason="  ").get_data(as_text=True)
    assert Sequence.get_by_id(sequence.id).mailbox_id == box.id
    assert not SequenceLog.select().where(SequenceLog.kind == "moved").exists()


def test_another_teams_mailbox_or_sequence_is_a_404(app, client, owner, box):  # noqa: F811
    sequence = running(owner, box)
    evil = app.test_client()
    Accounts(evil).sign_up(email="eve@evil.test", team_name="Evil")
    theirs = factories.mailbox(owner_email="eve@evil.test", email="eve@evil.test")
    assert move(client, sequence, theirs).status_code == 404
    assert evil.get(f"/sequences/{sequence.id}/move").status_code == 404
    assert post_form(evil, f"/sequences/{sequence.id}/move", {"mailbox": str(theirs.id),
                     "reason": "x", "from_mailbox": str(box.id)}, page="/sequences").status_code == 404
    assert Sequence.get_by_id(sequence.id).mailbox_id == box.id


def test_a_member_who_did_not_create_it_cannot_move_it(app, client, owner, box, other_box):  # noqa: F811
    from tests.test_team import _invite, _join

    sequence = running(owner, box)
    _, link = _invite(client, email="kim@acme.test", role="member")
    kim, _ = _join(app, link)
    assert kim.get(f"/sequences/{sequence.id}/move").status_code == 403
    assert "Move to another mailbox" not in kim.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    assert move(kim, sequence, other_box, page="/sequences").status_code == 403
    assert Sequence.get_by_id(sequence.id).mailbox_id == box.id


def test_two_people_moving_at_once_one_wins_and_the_other_is_told(client, owner, box, other_box):  # noqa: F811
    third = factories.mailbox(email="lee@acme.test")
    sequence = running(owner, box)
    assert move(client, sequence, other_box, reason="first").status_code == 302
    # The second person's page still showed alex@: their form names it.
    late = move(client, sequence, third, reason="second", seen=box.id)
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Owner moved this sequence to sam@acme.test while you were choosing" in html
    assert Sequence.get_by_id(sequence.id).mailbox_id == other_box.id
    assert SequenceLog.select().where(SequenceLog.kind == "moved").count() == 1


def test_a_claimed_row_returns_to_the_queue_and_a_row_on_the_wire_finishes_from_the_old_mailbox(
        client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box, contacts=("ada@client.test", "bob@client.test",
                                             "cy@client.test"))
    now = clock.now()
    outbox.plan(box, now)
    rows = outbox.claim(box, "old-sender", now)
    assert len(rows) == 3
    on_the_wire, claimed = rows[0], rows[1:]
    assert outbox.begin_transmit(on_the_wire, "old-sender", box.id, "Hi", now) == outbox.GO
    old_ids = {r.id: r.message_id for r in claimed}

    assert move(client, sequence, other_box).status_code == 302

    assert {(r.status, r.phase) for r in OutboxEmail.select().where(
        OutboxEmail.id.in_(list(old_ids)))} == {(QUEUED, "")}
    for row in OutboxEmail.select().where(OutboxEmail.id.in_(list(old_ids))):
        assert row.message_id is None  # never sent: the new mailbox names it
    wire = OutboxEmail.get_by_id(on_the_wire.id)
    assert (wire.status, wire.phase) == (SENDING, TRANSMITTING)
    # The old sender goes on: its row on the wire finishes; the rows it lost are not its own.
    assert outbox.begin_transmit(claimed[0], "old-sender", box.id, "Hi", now) == outbox.STOP
    assert outbox.mark_sent(wire, "old-sender", "250 OK", now)
    outbox.requeue("old-sender")
    # The new mailbox claims the two waiting rows, never the one the old mailbox sent.
    taken = outbox.claim(Mailbox.get_by_id(other_box.id), "new-sender", clock.now())
    assert sorted(r.id for r in taken) == sorted(old_ids)
    assert all(r.message_id.endswith("@acme.test>") and r.message_id not in old_ids.values()
               for r in taken)
    assert OutboxEmail.select().where(OutboxEmail.status == SENT).count() == 1
    entry = SequenceLog.get(SequenceLog.kind == "moved")
    assert "1 email already on its way from alex@acme.test finishes there" in entry.message


def test_a_move_that_commits_first_takes_back_a_row_the_old_sender_was_about_to_send(
        client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box)
    now = clock.now()
    outbox.plan(box, now)
    (row,) = outbox.claim(box, "old-sender", now)
    assert row.phase == CLAIMED
    assert move(client, sequence, other_box).status_code == 302
    # Even a sender that had read the old mailbox before the move cannot take it on the wire.
    assert outbox.begin_transmit(row, "old-sender", other_box.id, "Hi", now) == outbox.SKIP
    assert OutboxEmail.get_by_id(row.id).status == QUEUED


def test_after_a_move_the_next_follow_up_starts_a_new_thread_with_the_subject_kept(
        client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box, steps=(("Quick question", "One", 0), ("", "Two", 0)))
    now = clock.now()
    outbox.plan(box, now)
    (first,) = outbox.claim(box, "s", now)
    outbox.begin_transmit(first, "s", box.id, "Quick question", now)
    outbox.mark_sent(first, "s", "250 OK", now)
    assert move(client, sequence, other_box).status_code == 302
    new = Mailbox.get_by_id(other_box.id)
    outbox.plan(new, now)
    (second,) = outbox.claim(new, "t", now)
    email = outbox.outgoing(second, new, now)
    assert (email.from_address, email.subject) == ("sam@acme.test", "Quick question")
    assert email.in_reply_to == "" and email.references == ()


# --- the mailbox in the sequence's settings: the same rule, the same move ----------------------

def _settings(client, sequence, page=None, **changes):
    """Post the sequence's settings as saved, with `changes`; `mailbox=None` leaves the
    field out, as a browser does with a disabled select."""
    data = {"name": sequence.name, "mailbox": str(sequence.mailbox_id), "sender_name": "",
            "days": sequence.window_days.split(","), "window_start": "09:00",
            "window_end": "17:00", "timezone": sequence.timezone,
            "unsubscribe_footer": sequence.unsubscribe_footer, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    return post_form(client, f"/sequences/{sequence.id}/edit", data,
                     page=page or f"/sequences/{sequence.id}/edit")


def _member(app, client, email="kim@acme.test"):
    from tests.test_team import _invite, _join

    _, link = _invite(client, email=email, role="member")
    member, _ = _join(app, link)
    return member


def test_a_member_who_did_not_create_it_cannot_change_its_mailbox_in_the_settings(
        app, client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box)
    kim = _member(app, client)
    page = kim.get(f"/sequences/{sequence.id}/edit").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="mailbox"[^>]*>', page).group(0)
    assert "disabled" in select
    assert "Only an owner, an admin or the person who created this sequence can move it" in page
    logged = SequenceLog.select().count()

    refused = _settings(kim, sequence, mailbox=str(other_box.id), name="Renamed by Kim")

    assert refused.status_code == 422
    assert ("Only an owner, an admin or the person who created this sequence can move it to "
            "another mailbox. Nothing was changed.") in refused.get_data(as_text=True)
    after = Sequence.get_by_id(sequence.id)
    assert (after.mailbox_id, after.name) == (box.id, "Outreach")
    assert SequenceLog.select().count() == logged
    # The rest of the settings stay hers to change: the disabled select is not posted.
    assert _settings(kim, sequence, mailbox=None, name="Renamed by Kim").status_code == 302
    after = Sequence.get_by_id(sequence.id)
    assert (after.mailbox_id, after.name) == (box.id, "Renamed by Kim")


def test_the_member_who_created_it_may_change_its_mailbox_in_the_settings(
        app, client, owner, box, other_box):  # noqa: F811
    from models.accounts import User

    kim = _member(app, client)
    sequence = running(User.get(User.email == "kim@acme.test"), box)
    assert "disabled" not in re.search(r'<select[^>]*name="mailbox"[^>]*>', kim.get(
        f"/sequences/{sequence.id}/edit").get_data(as_text=True)).group(0)
    assert _settings(kim, sequence, mailbox=str(other_box.id)).status_code == 302
    assert Sequence.get_by_id(sequence.id).mailbox_id == other_box.id


def test_a_new_mailbox_in_the_settings_is_a_move_claimed_rows_return_and_the_log_says_so(
        client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box)
    now = clock.now()
    outbox.plan(box, now)
    (row,) = outbox.claim(box, "old-sender", now)

    assert _settings(client, sequence, mailbox=str(other_box.id)).status_code == 302

    assert Sequence.get_by_id(sequence.id).mailbox_id == other_box.id
    assert outbox.begin_transmit(row, "old-sender", other_box.id, "Hi", now) == outbox.SKIP
    assert OutboxEmail.get_by_id(row.id).status == QUEUED  # the new mailbox sends it, once
    entry = SequenceLog.get(SequenceLog.kind == "moved")
    assert entry.message.startswith("Moved from alex@acme.test to sam@acme.test by Owner: "
                                    "“Changed in the sequence's settings”")


def test_a_disconnected_mailbox_in_the_settings_is_refused_in_words_and_nothing_is_saved(
        client, owner, box, other_box):  # noqa: F811
    sequence = running(owner, box)
    Mailbox.update(status=RECONNECT_REQUIRED).where(Mailbox.id == other_box.id).execute()

    refused = _settings(client, sequence, mailbox=str(other_box.id), name="Renamed")

    assert refused.status_code == 409
    assert "sam@acme.test is not connected (reconnect required)" in refused.get_data(as_text=True)
    after = Sequence.get_by_id(sequence.id)
    assert (after.mailbox_id, after.name) == (box.id, "Outreach")
    assert not SequenceLog.select().where(SequenceLog.kind == "moved").exists()
