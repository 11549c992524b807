"""/metrics counts what the worker did, whichever web process answers: a real Huey consumer
checks N sandbox mailboxes, then two gunicorn workers — neither of which ran a check — are
each made to answer scrapes, and every answer reports N."""

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from models.check_history import CheckTotal
from models.mailboxes import CONNECTED, Mailbox
from tasks.checks import check_mailbox
from tests.integration.conftest import sandbox_mailbox
from tests.sandbox_fixtures import free_ports
from tests.support import stop_group, wait_for

pytestmark = pytest.mark.sandbox
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-0123456789abcdef"
N = 4


@pytest.fixture
def web(app, tmp_path):
    """`gunicorn -w 2` (sync workers: one request each at a time) on a free port, on this
    test's database and instance folder, with a metrics token, started with the product's
    gunicorn.conf.py (read from the checkout): Tether's access line names the pid of the
    worker that answered each request."""
    port = free_ports(1)[0]
    log_path = tmp_path / "web.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TETHER_METRICS_TOKEN=TOKEN)
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}", "-w", "2", "--threads", "1", "app:create_app()"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url) and log_path.read_text().count("Booting worker") == 2,
                 "gunicorn's two workers", deadline=60)
        yield port, log_path
    finally:
        stop_group(proc)


def _answers(url) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).ok
    except requests.RequestException:
        return False


def _scrape_in_both_workers(port: int, authorization: str) -> list[tuple[int, str]]:
    """Two scrapes held open at once: a sync worker busy reading the first request's headers
    cannot accept the second, so the other worker must. Returns (status, body) of each."""
    held = []
    for _ in range(2):
        conn = socket.create_connection(("127.0.0.1", port), timeout=30)
        conn.sendall(f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}".encode())
        held.append(conn)
    answers = []
    for conn in held:
        with conn:
            conn.sendall(b"Connection: close\r\n\r\n")
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        answers.append((int(head.split()[1]), body.decode()))
    return answers


def _checks_reported(body: str) -> int:
    return int(sum(float(v) for v in re.findall(r'^tether_checks_total\{outcome="\w+"\} (\S+)$',
                                               body, re.M)))


def test_every_web_process_reports_the_checks_the_worker_made(accounts, tether_sandbox, worker, web):
    port, log_path = web
    accounts.sign_up()
    boxes = [sandbox_mailbox(tether_sandbox, email=f"box{n}@acme.test") for n in range(N)]
    for box in boxes:
        check_mailbox(box.id, force=True)  # enqueued: the consumer process runs it
    wait_for(lambda: sum(t.timed for t in CheckTotal.select()) == N, f"{N} checks", deadline=60)
    assert {Mailbox.get_by_id(b.id).status for b in boxes} == {CONNECTED}

    for _ in range(3):
        answers = _scrape_in_both_workers(port, f"Authorization: Bearer {TOKEN}\r\n")
        assert [status for status, _ in answers] == [200, 200]
        assert [_checks_reported(body) for _, body in answers] == [N, N]
        assert all(f'tether_check_duration_seconds_count{{outcome="passed"}} {N}.0' in body
                   for _, body in answers)
    scrapes = re.findall(r'\[(\d+)\] tether\.access: \S+ "GET /metrics" 200 ', log_path.read_text())
    assert len(scrapes) == 6 and len(set(scrapes)) == 2  # both workers answered, alike

    refused = _scrape_in_both_workers(port, "")
    assert [status for status, _ in refused] == [401, 401]
    assert not any("tether_" in body for _, body in refused)
