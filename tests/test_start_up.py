"""Importing Tether writes nothing and does no slow work; starting it is explicit. The web app
imports `tasks` only to enqueue, so secrets, databases and the queue's file appear when a
process starts (create_app, tasks.worker) or first uses them, never at import. The worker's
start-up refuses a missing encryption key before it runs anything, however it was started."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from models import accounts as accounts_module
from tests import factories
from tests.argon2_calls import counting

ROOT = Path(__file__).resolve().parent.parent
SUITE_ONLY = ("DATABASE_URL", "REDIS_URL", "HUEY_SQLITE_PATH", "TETHER_CLOCK_FILE",
              "TETHER_SANDBOX_CONFIG", "TETHER_ALLOW_LOOPBACK_MAIL_HOSTS", "TETHER_ENV",
              "TETHER_ENCRYPTION_KEYS", "SECRET_KEY", "BASE_URL")
MISSING = "encryption key k1 is in use in the database but missing from TETHER_ENCRYPTION_KEYS"


def _python(code: str, instance: Path, **env) -> subprocess.CompletedProcess:
    """`code` in a new interpreter, as a development install with `instance` as its folder."""
    clean = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    clean.update(TETHER_INSTANCE_DIR=str(instance), TETHER_ENV="development",
                 PYTHONPATH=str(ROOT), **env)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_importing_the_app_and_the_tasks_creates_no_file(tmp_path):
    """Development used to write its secret files and both databases at `import tasks`."""
    instance = tmp_path / "instance"
    instance.mkdir()
    _python("import app, tasks, tasks.checks, tasks.sending", instance)
    assert sorted(p.name for p in instance.iterdir()) == []


def test_importing_the_models_computes_no_password_hash(tmp_path):
    done = _python("""
from tests.argon2_calls import counting
with counting() as calls:
    import app, tasks, models.accounts
print("at import:", dict(calls))
with counting() as calls:
    first, again = models.accounts._dummy_hash(), models.accounts._dummy_hash()
print("after two uses:", dict(calls), first == again)
""", tmp_path / "instance")
    assert done.stdout.splitlines() == ["at import: {}",
                                        "after two uses: {'hash_secret': 1} True"]


def _argon2_work(login) -> dict:
    """What Argon2 did during `login()`, in a process where no login has happened yet."""
    accounts_module._dummy = None  # as in a process that has just started
    with counting() as calls:
        assert login() is None
    return dict(calls)


def test_a_first_login_costs_the_same_for_an_unknown_address_and_a_wrong_password(
        accounts, monkeypatch):
    """The dummy hash is made on first use; made before the look-up, both paths pay for it."""
    from models.accounts import User

    monkeypatch.setattr(accounts_module, "_dummy", None)
    accounts.sign_up()
    known = User.get().email
    unknown = _argon2_work(lambda: User.authenticate("nobody@acme.test", "wrong-password-1"))
    wrong = _argon2_work(lambda: User.authenticate(known, "wrong-password-1"))
    assert unknown == wrong == {"hash_secret": 1, "verify_secret": 1}


def test_a_worker_started_as_plain_tasks_huey_refuses_a_missing_key_too(accounts, app):
    """`huey_consumer tasks.worker.huey` refuses before Huey starts (test_keys_at_start); a
    consumer started the older way, `tasks.huey`, ends itself before its first task."""
    accounts.sign_up()
    factories.mailbox()  # a secret written with the suite's key, k1
    consumer = Path(sys.executable).with_name("huey_consumer")
    env = {**os.environ, "TETHER_ENCRYPTION_KEYS": f"k2:{Fernet.generate_key().decode()}",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(consumer), "tasks.huey", "-k", "thread", "-w", "2", "-n"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert MISSING in done.stderr
    assert "tasks.system.worker_status" in done.stderr  # it got as far as Huey's start
