"""What Tether writes in its instance folder is readable by the account it runs as, and no one
else: the database and queue (with their -wal/-shm files) hold every mailbox's encrypted
credentials, the generated keys file holds the key to them."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
SUITE_ONLY = ("DATABASE_URL", "REDIS_URL", "HUEY_SQLITE_PATH", "TETHER_CLOCK_FILE",
              "TETHER_SANDBOX_CONFIG", "TETHER_ALLOW_LOOPBACK_MAIL_HOSTS", "TETHER_ENV",
              "TETHER_ENCRYPTION_KEYS", "SECRET_KEY", "BASE_URL")

# Starts Tether as `make run` does (migrate, a sign-up, a queued task), then — while the
# connections are still open, so SQLite's -wal and -shm files exist — lists the folder.
START_AND_LIST = """
import json, os, sys
from app import create_app
from models.base import migrate
create_app()
migrate()
from models.accounts import User
User.sign_up("owner@acme.test", "correct-horse-9", name="Owner", team_name="Acme")
import tasks
tasks.huey.put("a-result", "stored")
folder = os.environ["TETHER_INSTANCE_DIR"]
found = {}
for top, dirs, files in os.walk(folder):
    for name in dirs + files:
        path = os.path.join(top, name)
        found[os.path.relpath(path, folder)] = os.stat(path).st_mode
found["."] = os.stat(folder).st_mode
print(json.dumps(found))
"""


def _start(instance: Path, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    clean.update(TETHER_INSTANCE_DIR=str(instance), PYTHONPATH=str(ROOT), **env)
    done = subprocess.run([sys.executable, "-c", START_AND_LIST], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _production():
    return {"TETHER_ENV": "production", "SECRET_KEY": "s" * 48,
            "TETHER_ENCRYPTION_KEYS": f"k1:{Fernet.generate_key().decode()}"}


def _files(found):
    return {name: stat.S_IMODE(mode) for name, mode in found.items() if stat.S_ISREG(mode)}


def test_a_production_instance_folder_is_the_service_accounts_alone(tmp_path):
    found = _start(tmp_path / "instance", **_production())
    files = _files(found)
    assert {"tether.db", "tether.db-wal", "tether.db-shm", "huey.db", "huey.db-wal"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)
    assert stat.S_IMODE(found["."]) == 0o700


def test_the_demos_generated_keys_are_private_and_its_folder_not_listable(tmp_path):
    found = _start(tmp_path / "instance", TETHER_ENV="development")
    files = _files(found)
    assert {"secret_key", "encryption_keys", "tether.db", "huey.db"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)
    # Others may pass through (the sandbox's Dovecot reaches its runtime folder inside it as
    # another user) but never list or read it.
    assert stat.S_IMODE(found["."]) & 0o077 in (0, 0o011)


def test_an_older_install_left_readable_is_closed_at_start(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    for name in ("tether.db", "huey.db"):
        (instance / name).touch()
        (instance / name).chmod(0o644)
    found = _start(instance, **_production())
    files = _files(found)
    assert files["tether.db"] == files["huey.db"] == 0o600
    assert files == dict.fromkeys(files, 0o600)
    assert stat.S_IMODE(found["."]) == 0o700


def test_a_shared_folder_named_as_the_instance_is_left_as_it_is(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    found = _start(shared, **_production())
    assert stat.S_IMODE(found["."]) == 0o1777
    assert _files(found)["tether.db"] == 0o600  # what Tether writes is private all the same
