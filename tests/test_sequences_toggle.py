"""The toggle follows its mailbox: orange (blocked) while it needs reconnecting, is disabled or
was removed; green again by itself afterwards; a person's Pause always wins. The log says so,
once per transition, and the open page learns of it through its one live poll."""

import re

import clock
from models import changes
from models.mailboxes import CONNECTED, DEGRADED, DISABLED, RECONNECT_REQUIRED, Mailbox
from models.sequence_log import REMOVED
from models.sequences import Sequence, SequenceLog, log_mailbox_transition
from tests.support import post_form
from tests.test_sequences import (
    TOKEN_REVOKED,
    add_mailbox,
    log_messages,
    running_sequence,
    set_status,
    team_of,
    toggle,
    toggle_of,
)


def test_toggle_pauses_and_starts_a_sequence_with_htmx(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    paused = toggle(client, sequence)
    html = paused.get_data(as_text=True)
    assert html.strip().startswith(f'<div class="toggle-wrap" id="toggle-{sequence.id}"')
    state, label, tip = toggle_of(html, sequence)
    assert state == "paused" and label.startswith("Paused") and "Paused by Owner" in tip
    assert ">Paused<" in html, "the state is written out, never colour alone"
    started = toggle(client, sequence)
    assert toggle_of(started.get_data(as_text=True), sequence)[0] == "active"
    assert log_messages(sequence)[-2:] == ["Paused by Owner", "Started by Owner"]


def test_toggle_works_without_javascript_too(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    response = toggle(client, sequence, htmx=False, next="/sequences")
    assert response.status_code == 302 and response.location.endswith("/sequences")
    assert Sequence.get_by_id(sequence.id).state == "paused"
    response = toggle(client, sequence, htmx=False, next="https://evil.test/")
    assert response.location.endswith(f"/sequences/{sequence.id}"), "no open redirect"


def test_blocked_mailbox_turns_toggle_orange_with_reason(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    set_status(mailbox, RECONNECT_REQUIRED, TOKEN_REVOKED)

    html = client.get("/sequences").get_data(as_text=True)
    state, label, tip = toggle_of(html, sequence)
    assert state == "blocked" and ">Blocked<" in html
    assert "alex@acme.test needs reconnecting (token expired or revoked)" in label
    assert "alex@acme.test needs reconnecting (token expired or revoked)" in tip
    assert "once the mailbox is reconnected" in tip
    page = client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    assert "Settings → Email Accounts" in page and toggle_of(page, sequence)[0] == "blocked"


def test_clicking_a_blocked_toggle_explains_and_does_not_start_it(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    set_status(mailbox, DISABLED)
    before = len(log_messages(sequence))

    response = toggle(client, sequence)
    html = response.get_data(as_text=True)
    assert toggle_of(html, sequence)[0] == "blocked"
    assert 'role="alert"' in html and "alex@acme.test is disabled" in html
    assert 'href="/settings/email-accounts"' in html
    assert len(log_messages(sequence)) == before and not Sequence.get_by_id(sequence.id).paused

    paused = toggle(client, sequence, action="pause")  # "Pause it instead"
    assert toggle_of(paused.get_data(as_text=True), sequence)[0] == "paused"


def test_revoked_token_blocks_each_active_sequence_once_with_the_cause(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    first = running_sequence(client, mailbox, "First")
    second = running_sequence(client, mailbox, "Second")
    elsewhere = running_sequence(client, add_mailbox(team_of(), email="sam@acme.test"), "Other")
    version = changes.version(team_of())

    set_status(mailbox, RECONNECT_REQUIRED, TOKEN_REVOKED)

    for sequence in (first, second):
        assert Sequence.get_by_id(sequence.id).state == "blocked"
        blocked = [m for m in log_messages(sequence) if "needs reconnecting" in m]
        assert blocked == ["Mailbox alex@acme.test needs reconnecting (token expired or revoked)"
                           " — sequence blocked"]
    assert Sequence.get_by_id(elsewhere.id).state == "active"
    assert not [m for m in log_messages(elsewhere) if "Mailbox" in m]
    assert changes.version(team_of()) > version, "open pages learn of it"

    set_status(mailbox, CONNECTED)
    assert Sequence.get_by_id(first.id).state == "active"
    assert log_messages(first)[-1] == "Mailbox alex@acme.test reconnected — sequence unblocked"


def test_person_pause_survives_reconnect(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    toggle(client, sequence)  # a person pauses it

    set_status(mailbox, RECONNECT_REQUIRED, TOKEN_REVOKED)
    assert Sequence.get_by_id(sequence.id).state == "paused", "a paused sequence stays grey"
    set_status(mailbox, CONNECTED)
    assert Sequence.get_by_id(sequence.id).state == "paused", "a reconnect never undoes a Pause"
    assert log_messages(sequence)[-2:] == [
        "Mailbox alex@acme.test needs reconnecting (token expired or revoked) — sequence stays paused",
        "Mailbox alex@acme.test reconnected — sequence stays paused"]
    tip = toggle_of(client.get("/sequences").get_data(as_text=True), sequence)[2]
    assert "Paused by Owner" in tip


def test_degraded_mailbox_blocks_nothing(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    before = log_messages(sequence)
    set_status(mailbox, DEGRADED, "Google is not answering (HTTP 503)")
    assert Sequence.get_by_id(sequence.id).state == "active"
    assert log_messages(sequence) == before
    html = client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    assert toggle_of(html, sequence)[0] == "active" and "emails wait" in html
    set_status(mailbox, CONNECTED)
    assert log_messages(sequence) == before


def test_delete_blocks_and_re_adding_the_address_unblocks(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)

    Mailbox.update(deleted_at=clock.now()).where(Mailbox.id == mailbox.id).execute()
    log_mailbox_transition(Mailbox.get_by_id(mailbox.id), CONNECTED, REMOVED)
    state, label, tip = toggle_of(client.get("/sequences").get_data(as_text=True), sequence)
    assert state == "blocked" and "alex@acme.test was removed" in tip
    assert log_messages(sequence)[-1] == "Mailbox alex@acme.test removed — sequence blocked"

    # Re-adding the same address in the team brings back the same mailbox row.
    Mailbox.update(deleted_at=None, status=CONNECTED).where(Mailbox.id == mailbox.id).execute()
    log_mailbox_transition(Mailbox.get_by_id(mailbox.id), REMOVED, CONNECTED)
    assert Sequence.get_by_id(sequence.id).state == "active"
    assert log_messages(sequence)[-1] == "Mailbox alex@acme.test added back — sequence unblocked"


def test_a_disabled_then_removed_mailbox_keeps_the_sequence_blocked(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    set_status(mailbox, DISABLED)
    Mailbox.update(deleted_at=clock.now()).where(Mailbox.id == mailbox.id).execute()
    log_mailbox_transition(Mailbox.get_by_id(mailbox.id), DISABLED, REMOVED)
    assert log_messages(sequence)[-2:] == ["Mailbox alex@acme.test disabled — sequence blocked",
                                           "Mailbox alex@acme.test removed — sequence stays blocked"]


def test_unblocking_says_how_many_waiting_emails_will_be_sent(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    set_status(mailbox, RECONNECT_REQUIRED, TOKEN_REVOKED)
    Mailbox.update(status=CONNECTED).where(Mailbox.id == mailbox.id).execute()
    written = log_mailbox_transition(Mailbox.get_by_id(mailbox.id), RECONNECT_REQUIRED,
                                     CONNECTED, waiting={sequence.id: 3})
    assert written == 1
    assert log_messages(sequence)[-1] == ("Mailbox alex@acme.test reconnected — sequence "
                                          "unblocked, 3 waiting emails will be sent")


def test_choosing_another_mailbox_unblocks_and_is_logged(accounts, client):
    accounts.sign_up()
    broken = add_mailbox(team_of())
    sequence = running_sequence(client, broken)
    set_status(broken, RECONNECT_REQUIRED, TOKEN_REVOKED)
    other = add_mailbox(team_of(), email="sam@acme.test")
    post_form(client, f"/sequences/{sequence.id}/edit",
              {"name": "Q3 outreach", "mailbox": other.id, "days": ["0", "1"],
               "window_start": "08:00", "window_end": "18:00", "timezone": "Europe/Berlin"},
              page="/sequences/new")
    assert Sequence.get_by_id(sequence.id).state == "active"
    assert ("Moved from alex@acme.test to sam@acme.test by Owner: “Changed in the sequence's "
            "settings” — waiting emails go from sam@acme.test, follow-ups start a new thread"
            in log_messages(sequence))  # a new mailbox in the settings is a move


def test_the_log_lists_what_happened_newest_first(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    set_status(mailbox, RECONNECT_REQUIRED, TOKEN_REVOKED)
    set_status(mailbox, CONNECTED)
    html = client.get(f"/sequences/{sequence.id}/log").get_data(as_text=True)
    shown = re.findall(r'<span class="log-message">([^<]*)</span>', html)
    assert shown[0] == "Mailbox alex@acme.test reconnected — sequence unblocked"
    assert shown[1].startswith("Mailbox alex@acme.test needs reconnecting")
    assert shown[-1].startswith("Created by Owner")
    assert len(shown) == SequenceLog.select().count()


def _poll(client, url, html):
    version = re.search(r'data-live-version="(\d+)"', html).group(1)
    rendered_at = re.search(r'"rendered_at": "(\d+)"', html).group(1)
    return client.get(url, query_string={"since": version, "rendered_at": rendered_at},
                      headers={"HX-Request": "true"})


def test_open_pages_poll_cheaply_and_update_when_the_mailbox_changes(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    for url in ("/sequences", f"/sequences/{sequence.id}", f"/sequences/{sequence.id}/log"):
        html = client.get(url).get_data(as_text=True)
        assert html.count("hx-trigger=\"every") == 1, f"one poll per page: {url}"
        nothing = _poll(client, url, html)
        assert nothing.status_code == 204 and nothing.data == b"", url
    pages = {url: client.get(url).get_data(as_text=True)
             for url in ("/sequences", f"/sequences/{sequence.id}", f"/sequences/{sequence.id}/log")}

    set_status(mailbox, RECONNECT_REQUIRED, TOKEN_REVOKED)

    for url, html in pages.items():
        fresh = _poll(client, url, html)
        body = fresh.get_data(as_text=True)
        assert fresh.status_code == 200 and "<html" not in body, url
        if "/log" in url:
            assert "needs reconnecting" in body
        else:
            assert toggle_of(body, sequence)[0] == "blocked", url


def test_a_retried_event_handler_logs_the_transition_once(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    Mailbox.update(status=RECONNECT_REQUIRED).where(Mailbox.id == mailbox.id).execute()
    fresh = Mailbox.get_by_id(mailbox.id)
    first = log_mailbox_transition(fresh, CONNECTED, RECONNECT_REQUIRED, TOKEN_REVOKED, event_id=41)
    again = log_mailbox_transition(fresh, CONNECTED, RECONNECT_REQUIRED, TOKEN_REVOKED, event_id=41)
    assert (first, again) == (1, 0)
    assert len([m for m in log_messages(sequence) if "needs reconnecting" in m]) == 1


def test_a_disable_event_of_a_deleted_mailbox_reads_as_removed(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    # Deleting disables and hides the mailbox in one transaction; the event says "disabled".
    Mailbox.update(status=DISABLED, deleted_at=clock.now()).where(Mailbox.id == mailbox.id).execute()
    log_mailbox_transition(Mailbox.get_by_id(mailbox.id), CONNECTED, DISABLED, "Removed by Owner.")
    assert log_messages(sequence)[-1] == "Mailbox alex@acme.test removed — sequence blocked"


def test_starting_a_sequence_whose_mailbox_is_broken_says_it_is_blocked(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    sequence = running_sequence(client, mailbox)
    toggle(client, sequence)  # paused
    set_status(mailbox, RECONNECT_REQUIRED, TOKEN_REVOKED)
    started = toggle(client, sequence).get_data(as_text=True)
    assert toggle_of(started, sequence)[0] == "blocked"
    assert 'role="alert"' in started and "needs reconnecting" in started
    assert log_messages(sequence)[-1] == ("Started by Owner — blocked: mailbox alex@acme.test "
                                          "needs reconnecting (token expired or revoked)")
    set_status(mailbox, CONNECTED)
    assert Sequence.get_by_id(sequence.id).state == "active"
