"""Fixtures shared by every test: an isolated instance folder, the app, a clean database.

The backends come from the environment exactly as in production: DATABASE_URL and REDIS_URL
unset means SQLite + SqliteHuey in a temporary folder; set, they point at PostgreSQL and Redis.
"""

import os
import tempfile

import pytest
from peewee import PostgresqlDatabase

# Everything the app and the worker read must be in the environment before they are imported.
_tmp = tempfile.mkdtemp(prefix="tether-test-")
os.environ["TETHER_INSTANCE_DIR"] = _tmp
os.environ["TETHER_CLOCK_FILE"] = os.path.join(_tmp, "clock-offset")
os.environ["TETHER_ENV"] = "testing"
os.environ.setdefault("HUEY_SQLITE_PATH", os.path.join(_tmp, "huey.db"))
# The sandbox fixture copies its sandbox.json here, so the web app and any worker process find
# the sandbox's providers and system mailer the way a demo install does.
os.environ["TETHER_SANDBOX_CONFIG"] = os.path.join(_tmp, "sandbox.json")
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = f"sqlite:///{os.path.join(_tmp, 'tether.db')}"

pytest_plugins = ["tests.sandbox_fixtures", "tests.chromium_fixtures", "tests.smtp_relay",
                  "tests.alert_receivers"]

import clock  # noqa: E402
import config  # noqa: E402
from mail import providers  # noqa: E402
from models import base  # noqa: E402
from tests.support import Accounts  # noqa: E402


def _check_services():
    """With CI=true a configured but unreachable service fails the run; locally it skips."""
    problems = []
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgres"):
        import psycopg2

        try:
            psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"), connect_timeout=3).close()
        except psycopg2.OperationalError as e:
            problems.append(f"PostgreSQL at {url}: {e}".strip())
    if os.environ.get("REDIS_URL"):
        import redis

        try:
            redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
        except redis.RedisError as e:
            problems.append(f"Redis at {os.environ['REDIS_URL']}: {e}")
    if problems:
        message = "unreachable: " + "; ".join(problems)
        pytest.exit(message, returncode=1 if os.environ.get("CI") else 0)


def _reset_schema():
    """Start each run from an empty database so the migrations themselves are exercised."""
    database = base.db.obj
    if isinstance(database, PostgresqlDatabase):
        database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    base.migrate()


@pytest.fixture(scope="session")
def app():
    _check_services()
    from app import create_app

    # Sign-up open to anyone (TETHER_SIGNUP=open): many tests make a second team the way an
    # open instance does, to prove one team cannot see another's. tests/test_signup_policy.py
    # sets each policy itself, the default ("first") included.
    application = create_app({"TESTING": True, "LOGIN_RATE_LIMIT": "5 per minute",
                              "SIGNUP": "open"})
    application.extensions["tests_catalog"] = providers.current()
    _reset_schema()
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    yield application


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test starts with empty tables, an unmoved clock and a fresh rate limiter, and
    with the session app's settings and provider catalog (a test may start another app)."""
    if "app" in request.fixturenames:
        application = request.getfixturevalue("app")
        config.use(application.config)
        providers.use(application.extensions["tests_catalog"])
    yield
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], 0)
    if "app" not in request.fixturenames:
        return
    database = base.db.obj
    tables = [t for t in database.get_tables() if t != "schema_migration"]
    with database.connection_context():
        if isinstance(database, PostgresqlDatabase):
            if tables:
                names = ", ".join(f'"{t}"' for t in tables)
                database.execute_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            with database.atomic():
                database.execute_sql("PRAGMA defer_foreign_keys = ON")
                for t in tables:
                    database.execute_sql(f'DELETE FROM "{t}"')
    from views.limits import limiter

    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def accounts(client):
    return Accounts(client)


def _start_consumer(name, periodic=False):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    consumer = Path(sys.executable).with_name("huey_consumer")
    log = open(os.path.join(_tmp, f"{name}.log"), "w")  # noqa: SIM115 — closed by _stop
    # A test that SIGKILLs a consumer at a named point of a send gets one that stops there.
    entry = "tests.pausing_worker.huey" if os.environ.get("TETHER_TEST_PAUSE_AT") else "tasks.worker.huey"
    command = [str(consumer), entry, "-k", "thread", "-w", "2"] + ([] if periodic else ["-n"])
    # This checkout's code, whatever checkout the virtualenv's editable install points at.
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc, log


def _stop_consumer(proc, log):
    import signal
    import subprocess

    proc.send_signal(signal.SIGINT)  # Huey's graceful stop
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def worker(app):
    """A real Huey consumer process on the configured queue (SqliteHuey or Redis), for one
    test: later tests must not have a consumer acting on the tasks they enqueue."""
    from tasks import huey

    huey.flush()
    proc, log = _start_consumer("worker")
    yield proc
    _stop_consumer(proc, log)
    huey.flush()  # what the test left queued or scheduled goes with it


@pytest.fixture
def second_worker(worker):
    """Another consumer beside `worker`, for the tests about concurrency."""
    proc, log = _start_consumer("second-worker")
    yield proc
    _stop_consumer(proc, log)
