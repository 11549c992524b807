"""The sign-in limit holds for the whole deployment: every web process counts in one place
(the database, or Redis when REDIS_URL is set), not each in its own memory."""

import os
import re
import shlex
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support import stop_group, wait_for

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"no {name} line in the Procfile")


@pytest.fixture(params=["database", "redis"])
def deployment(request):
    """Tether as `make run` serves it — the Procfile's web command, two gunicorn workers —
    on a free port with its own instance folder; limits in SQLite, or in Redis."""
    if request.param == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("Redis is configured only for the PostgreSQL + Redis pass")
    folder = Path(tempfile.mkdtemp(prefix="tether-gunicorn-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(TETHER_INSTANCE_DIR=str(folder), TETHER_ENV="development",
               TETHER_CLOCK_FILE="", HUEY_SQLITE_PATH=str(folder / "huey.db"),
               TETHER_SANDBOX_CONFIG=str(folder / "sandbox.json"), PORT=str(_free_port()))
    env.pop("TETHER_LOGIN_RATE_LIMIT", None)  # the shipped default: 10 a minute
    if request.param == "redis":
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    flask = ROOT / ".venv" / "bin" / "flask"
    subprocess.run([str(flask), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    log = open(folder / "web.log", "w")  # noqa: SIM115 — closed below
    # Its own process group: the shell line, gunicorn's master and its workers stop together.
    proc = subprocess.Popen(["bash", "-c", _procfile_command("web")], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_for(lambda: _answers(url) and _workers_booted(folder / "web.log") == 2,
                 "gunicorn's two workers", deadline=60)
        yield url
    finally:
        stop_group(proc)
        wait_for(lambda: not _group_alive(proc.pid), "gunicorn to stop", deadline=30)
        log.close()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def _answers(url) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).ok
    except requests.RequestException:
        return False


def _workers_booted(log: Path) -> int:
    return len(re.findall(r"Booting worker with pid", log.read_text(errors="replace")))


def _sign_in_attempt(url) -> requests.Response:
    """A fresh browser: its own cookie and CSRF token from GET /login, then a wrong password.
    `Connection: close` makes each request a new connection that either worker may accept."""
    with requests.Session() as browser:
        browser.headers["Connection"] = "close"
        page = browser.get(url + "/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return browser.post(url + "/login", timeout=10, allow_redirects=False,
                            data={"email": "owner@acme.test", "password": "wrong-password-1",
                                  "csrf_token": token})


def test_the_eleventh_sign_in_in_a_minute_is_refused_by_whichever_worker_answers(deployment):
    started = time.monotonic()
    answers = [_sign_in_attempt(deployment) for _ in range(11)]
    assert time.monotonic() - started < 50, "the attempts must fall in one minute's window"

    assert [r.status_code for r in answers] == [401] * 10 + [429]
    assert "Too many attempts" in answers[10].text
    # One shared count: each worker saw the attempts the other one answered.
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in answers[:10]]
    assert remaining == list(range(9, -1, -1))


# --- the database storage itself --------------------------------------------------------------

def test_database_storage_counts_one_window_for_every_process(app):
    from models.base import db
    from models.rate_limits import DatabaseStorage

    web_1, web_2 = DatabaseStorage("tether-db://"), DatabaseStorage("tether-db://")
    counts = []

    def hit(storage):
        with db.connection_context():  # each thread its own connection, as each process has
            counts.append(storage.incr("login:x", 60))

    threads = [threading.Thread(target=hit, args=(s,)) for s in (web_1, web_2) * 10]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(counts) == list(range(1, 21))  # atomic: no two hits read the same count
    assert web_1.get("login:x") == web_2.get("login:x") == 20
    assert web_2.get_expiry("login:x") == pytest.approx(time.time() + 60, abs=5)
    web_1.clear("login:x")
    assert web_2.get("login:x") == 0


def test_database_storage_starts_a_new_window_once_the_old_one_expired(app):
    from models.rate_limits import DatabaseStorage, RateLimit

    storage = DatabaseStorage("tether-db://")
    assert storage.incr("signup:a", 1) == 1
    assert storage.incr("signup:a", 1) == 2
    storage.incr("signup:b", 1)
    wait_for(lambda: storage.get("signup:a") == 0, "the one-second window to pass")
    assert storage.incr("signup:a", 60) == 1  # a new window, counted from one
    storage.cleanup(force=True)
    assert [r.key for r in RateLimit.select()] == ["signup:a"]  # b's dead row is gone
    assert storage.check() is True
    assert storage.reset() == 1 and storage.get("signup:a") == 0


def test_the_app_keeps_limits_in_redis_when_configured_else_in_the_database(app):
    from limits.storage import RedisStorage

    from models.rate_limits import DatabaseStorage
    from views.limits import limiter

    expected = RedisStorage if os.environ.get("REDIS_URL") else DatabaseStorage
    assert isinstance(limiter.storage, expected)


def test_the_procfile_serves_the_app_with_more_than_one_worker():
    # The reason the limits must be shared at all.
    words = shlex.split(_procfile_command("web"))
    assert int(words[words.index("--workers") + 1]) >= 2
