"""rotate-keys cannot strand a process: while a running web or worker process lacks the new
first key, it refuses, names the process and says the safe order; nothing is re-encrypted.
Processes report the keys they start with; a process killed on this machine is seen gone."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from models import crypto
from models.mailboxes import Mailbox
from models.processes import ProcessReport
from tests import factories
from tests.support import wait_for

ROOT = Path(__file__).resolve().parent.parent
K2 = f"k2:{Fernet.generate_key().decode()}"


@pytest.fixture
def keep_vault():
    previous = crypto.vault()
    yield
    crypto.use_vault(previous)


def _flask(*args, keys):
    """`flask --app app …` as an operator runs it, with TETHER_ENCRYPTION_KEYS=`keys`."""
    env = {**os.environ, "TETHER_ENCRYPTION_KEYS": keys, "PYTHONPATH": str(ROOT)}
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run([str(flask), "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def _key_ids_stored():
    return {str(v).split(":")[0] for b in Mailbox.select() for v in (b.access_token, b.refresh_token)}


def _reported(pid):
    return ProcessReport.get_or_none(ProcessReport.pid == pid)


def test_rotation_is_refused_while_a_running_worker_lacks_the_new_key(app, accounts, worker):
    accounts.sign_up()
    factories.mailbox()
    report = wait_for(lambda: _reported(worker.pid), "the worker's report of its keys")
    assert report.keys == ["k1"] and report.program == "huey_consumer"

    refused = _flask("rotate-keys", keys=f"{K2},{app.config['TETHER_ENCRYPTION_KEYS']}")

    assert refused.returncode == 1
    assert "Not rotated: these processes run without the key k2" in refused.stderr
    assert f"huey_consumer (pid {worker.pid} on " in refused.stderr and "keys k1)" in refused.stderr
    assert "add the new key second" in refused.stderr and "Nothing was changed." in refused.stderr
    assert _key_ids_stored() == {"k1"}

    worker.send_signal(signal.SIGINT)  # stopped the ordinary way: it takes its report back
    worker.wait(20)
    assert _reported(worker.pid) is None
    done = _flask("rotate-keys", keys=f"{K2},{app.config['TETHER_ENCRYPTION_KEYS']}")
    assert done.returncode == 0 and "Re-encrypted 2 secret(s)." in done.stdout, done.stderr
    assert _key_ids_stored() == {"k2"}


def test_a_worker_killed_outright_on_this_machine_holds_nothing_back(app, accounts, worker, keep_vault):
    accounts.sign_up()
    factories.mailbox()
    wait_for(lambda: _reported(worker.pid), "the worker's report of its keys")
    worker.kill()  # SIGKILL: no exit hook runs, its report stays
    worker.wait(20)
    assert _reported(worker.pid) is not None

    crypto.use_vault(crypto.Vault.from_config(f"{K2},{app.config['TETHER_ENCRYPTION_KEYS']}"))
    result = app.test_cli_runner().invoke(args=["rotate-keys"])

    assert result.exit_code == 0 and "Re-encrypted 2 secret(s)." in result.output
    assert _reported(worker.pid) is None


def test_a_process_on_another_machine_without_the_key_needs_the_operators_yes(app, accounts, keep_vault):
    import clock

    accounts.sign_up()
    factories.mailbox()
    ProcessReport.create(process="web-2:4242", host="web-2", pid=4242, program="gunicorn",
                         key_ids="k1", reported_at=clock.now())
    ProcessReport.create(process="web-3:77", host="web-3", pid=77, program="gunicorn",
                         key_ids="k2,k1", reported_at=clock.now())
    crypto.use_vault(crypto.Vault.from_config(f"{K2},{app.config['TETHER_ENCRYPTION_KEYS']}"))
    runner = app.test_cli_runner()

    refused = runner.invoke(args=["rotate-keys"])
    assert refused.exit_code == 1
    assert "gunicorn (pid 4242 on web-2" in refused.output and "web-3" not in refused.output
    assert "--yes" in refused.output and _key_ids_stored() == {"k1"}

    done = runner.invoke(args=["rotate-keys", "--yes"])
    assert done.exit_code == 0 and "Re-encrypted 2 secret(s)." in done.output
    assert _key_ids_stored() == {"k2"}
