"""Logs an operator can use: a time on every line, JSON for shippers, one line per mailbox
transition (never a secret), the worker's own INFO lines, and every setting in .env.example."""

import io
import json
import logging
import re
import socket
from pathlib import Path

import pytest

import config
import logs
from config import ConfigError
from models.mailboxes import CONNECTED, DEGRADED, DISABLED, Mailbox
from tests import factories
from tests.support import wait_for

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "hunter2-mailbox-pw"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def captured():
    """Tether's own handler (logs.handler) on the root logger, writing into a buffer."""
    def attach(fmt):
        buffer = io.StringIO()
        handler = logs.handler(fmt, buffer)
        root.addHandler(handler)
        attached.append(handler)
        return buffer

    root, attached, level = logging.getLogger(), [], logging.getLogger().level
    root.setLevel(logging.INFO)
    yield attach
    for handler in attached:
        root.removeHandler(handler)
    root.setLevel(level)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unreachable_mailbox():
    """An Other Provider mailbox whose servers refuse connections: its next check degrades it."""
    port = _closed_port()
    return factories.mailbox(email="pat@example.com", provider="other", access_token=None,
                             refresh_token=None, password=PASSWORD, username="pat@example.com",
                             imap_host="127.0.0.1", imap_port=port, imap_security="none",
                             smtp_host="127.0.0.1", smtp_port=port, smtp_security="none")


def test_a_transition_is_one_line_with_its_states_and_no_secret(accounts, caplog):
    from models.accounts import User
    from models.health import transition

    accounts.sign_up()
    box = factories.mailbox(password=PASSWORD)
    with caplog.at_level(logging.INFO, logger="models.health"):
        transition(box.id, DISABLED, actor=User.get(), cause="Disabled by owner@acme.test")
        transition(box.id, DISABLED, actor=User.get())  # not allowed from disabled: no line
    lines = [r.getMessage() for r in caplog.records if r.name == "models.health"]
    assert lines == [f"mailbox {box.id}: connected -> disabled (cause person, code -)"]
    for secret in (PASSWORD, "at-alex@acme.test", "rt-alex@acme.test", "owner@acme.test"):
        assert secret not in caplog.text


def test_json_lines_parse_and_carry_the_access_and_transition_fields(accounts, client,
                                                                    captured):
    from models.health import transition

    accounts.sign_up()
    box = factories.mailbox(password=PASSWORD)
    out = captured("json")
    client.get("/oauth/callback?code=SECRETCODE&state=SECRETSTATE")
    transition(box.id, DEGRADED, cause="The server is busy.")
    logging.getLogger("werkzeug").info("GET /join?token=SECRETTOKEN")  # redacted, JSON too

    entries = [json.loads(line) for line in out.getvalue().splitlines()]  # each line parses
    assert all(ISO_UTC.match(e["time"]) and e["level"] and e["logger"] for e in entries)
    access = [e for e in entries if e["logger"] == "tether.access"]
    callback = next(e for e in access if e["path"] == "/oauth/callback")
    assert callback["client_ip"] == "127.0.0.1" and callback["method"] == "GET"
    assert isinstance(callback["status"], int) and isinstance(callback["ms"], int)
    moved = next(e for e in entries if e["logger"] == "models.health")
    assert (moved["mailbox_id"], moved["from"], moved["to"]) == (box.id, CONNECTED, DEGRADED)
    assert "SECRET" not in out.getvalue() and PASSWORD not in out.getvalue()


def test_text_lines_start_with_a_utc_time_and_redact_links(captured):
    out = captured("text")
    logging.getLogger("tasks.anything").warning("opened /reconnect/SECRETTOKEN?x=1")
    line = out.getvalue().strip()
    assert ISO_UTC.match(line), line
    assert " WARNING " in line and "tasks.anything: opened /reconnect/[redacted]?x=1" in line


def test_the_worker_logs_the_apps_info_lines_as_json(accounts, app, monkeypatch):
    from tasks import huey
    from tasks.checks import check_mailbox
    from tests.conftest import _start_consumer, _stop_consumer

    accounts.sign_up()
    box = _unreachable_mailbox()
    huey.flush()
    monkeypatch.setenv("TETHER_LOG_FORMAT", "json")
    proc, log = _start_consumer("json-worker")
    try:
        check_mailbox(box.id, force=True)
        wait_for(lambda: Mailbox.get_by_id(box.id).status == DEGRADED, "the check to degrade it")
        output = Path(log.name)
        wait_for(lambda: f'"mailbox_id": {box.id}' in output.read_text(), "the transition line")
    finally:
        _stop_consumer(proc, log)
        huey.flush()
    lines = output.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # Huey's lines too: one format, no doubles
    moved = [e for e in entries if e["logger"] == "models.health"]
    assert [(e["from"], e["to"], e["cause"]) for e in moved] == [(CONNECTED, DEGRADED, "transient")]
    assert any(e["logger"].startswith("huey") and e["level"] == "INFO" for e in entries)
    assert len(lines) == len(set(lines))
    assert PASSWORD not in output.read_text()


@pytest.mark.parametrize("name, value, words", [
    ("TETHER_TRUSTED_PROXIES", "two", "TETHER_TRUSTED_PROXIES must be a whole number"),
    ("TETHER_TRUSTED_PROXIES", "-1", "TETHER_TRUSTED_PROXIES must be a whole number"),
    ("TETHER_LOG_FORMAT", "xml", "TETHER_LOG_FORMAT must be text or json")])
def test_a_malformed_proxy_or_log_setting_refuses_to_start(monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=words):
        config.load()


class _Reads(dict):
    """os.environ, remembering every name asked for."""

    def __init__(self, base):
        super().__init__(base)
        self.asked = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def test_env_example_names_every_setting_config_reads(monkeypatch):
    import os

    reads = _Reads({k: v for k, v in os.environ.items()
                    if not k.startswith(("TETHER_", "GOOGLE_", "MICROSOFT_"))})
    monkeypatch.setattr(os, "environ", reads)
    monkeypatch.setattr(config, "load_dotenv", lambda *a, **k: None)  # no .env of this machine
    config.read()
    example = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    assert len(reads.asked) > 20  # the recording saw read() at work
    assert sorted(reads.asked - named) == []
