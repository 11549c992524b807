"""Every page and action added in issues #18–#20 answers ids that cannot exist, non-ASCII
digits, huge numbers and odd query values with a 404, a 400 or a page in words — never a 500."""

import pytest

from tests.support import csrf_token

GETS = ["/contacts/{x}/edit", "/contacts/{x}/delete", "/contacts/imports/{x}",
        "/sequences/{x}/preview", "/sequences/{x}/move", "/sequences/{x}/test-sends/{x}",
        "/settings/suppression-list/{x}/remove", "/u/{x}"]
POSTS = ["/contacts/{x}/edit", "/contacts/{x}/delete", "/sequences/{x}/move",
         "/sequences/{x}/steps/{x}/move", "/sequences/{x}/steps/{x}/delete",
         "/sequences/{x}/steps/{x}/test-send", "/settings/alerts/{x}/delete",
         "/settings/alerts/{x}/resume", "/settings/alerts/{x}/test",
         "/mailbox-health/{x}/remind-owner", "/settings/suppression-list/{x}/remove", "/u/{x}"]
IDS = ["999999", "0", "-1", "١٢", "9" * 40, "abc", "%00"]
QUERIES = ["/contacts?page=١", "/contacts?page=-5", "/contacts?page=" + "9" * 40,
           "/contacts?q=" + "x" * 5000, "/mailbox-health?status=nonsense&period=١٢&person=" + "9" * 40,
           "/settings/suppression-list?q=%00&page=abc", "/settings/alerts?x=1",
           "/sequences/{s}/preview?contact=١٢&step=" + "9" * 40]


@pytest.fixture
def signed_in(accounts, client):
    accounts.sign_up()
    return client


@pytest.mark.parametrize("x", IDS)
def test_bad_ids_are_not_found_or_refused_in_words(signed_in, x):
    token = csrf_token(signed_in, "/contacts")
    for pattern in GETS:
        url = pattern.format(x=x)
        assert signed_in.get(url).status_code < 500, url
    for pattern in POSTS:
        url = pattern.format(x=x)
        answer = signed_in.post(url, data={"csrf_token": token, "reason": "x" * 10000,
                                           "to_mailbox": x, "contact": x, "direction": x})
        assert answer.status_code < 500, url


def test_odd_query_values_never_break_a_page(signed_in):
    from models.accounts import User
    from models.sequences import create_sequence, save_step
    from tests import factories

    owner = User.get()
    sequence = create_sequence(owner.team_id, owner, name="Q3", mailbox=factories.mailbox())
    save_step(sequence, owner, subject="Hi {{first_name}}", body="Hello")
    assert signed_in.get(f"/sequences/{sequence.id}/preview").status_code == 200
    for url in QUERIES:
        url = url.replace("{s}", str(sequence.id))
        assert signed_in.get(url).status_code < 500, url


def test_the_signal_endpoint_answers_junk_in_words(client):
    for body, kind in ((b"", "application/secevent+jwt"), (b"\xff" * 100, "application/secevent+jwt"),
                       (b"a.b.c", "text/plain"), (b"x" * 100_000, "application/secevent+jwt")):
        answer = client.post("/signals/push", data=body, content_type=kind)
        assert 400 <= answer.status_code < 500
