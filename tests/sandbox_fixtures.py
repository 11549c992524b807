"""pytest fixtures that start the sandbox provider once per session and reset it per test.

``sandbox`` is what a test asks for: the running sandbox (Authlib server + Dovecot +
smarthost), reset to a blank state before the test — no users, tokens, faults or clock
changes left by another test. Mark such tests ``pytest.mark.sandbox``::

    pytestmark = pytest.mark.sandbox

    def test_something(sandbox):
        sandbox.control.create_user("ada@example.com", "pw", kind="google")
        tokens = sandbox.control.issue_tokens("ada@example.com")
        imap = IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False)

``sandbox_instance`` is the session-wide process itself, for a fixture that must not reset.
Without Dovecot installed the tests skip locally and fail with CI=true.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from sandbox.control import SandboxControl

ROOT = Path(__file__).resolve().parent.parent
START_DEADLINE = 30.0  # seconds; it is ready in well under one here


class Sandbox:
    """A running sandbox: its sandbox.json (``config``) and a control client (``control``)."""

    def __init__(self, proc: subprocess.Popen, config: dict, folder: Path):
        self.proc, self.config, self.folder = proc, config, folder
        self.control = SandboxControl(config["control_url"])

    def __getitem__(self, key):
        return self.config[key]

    @property
    def issuer(self) -> str:
        return self.config["issuer"]

    @property
    def imap_host(self) -> str:
        return self.config["imap_host"]

    @property
    def imap_port(self) -> int:
        return self.config["imap_port"]

    @property
    def smtp_host(self) -> str:
        return self.config["smtp_host"]

    @property
    def smtp_port(self) -> int:
        return self.config["smtp_port"]

    def client(self, key: str) -> dict:
        """A registered client (``google`` or ``microsoft``) as sandbox.json describes it."""
        return self.config["clients"][key]

    def metadata(self, key: str) -> dict:
        """The client's OpenID discovery document."""
        return requests.get(self.client(key)["metadata_url"], timeout=10).json()

    def log_tail(self, size: int = 3000) -> str:
        text = ""
        for name in ("sandbox.out", "runtime/dovecot.log"):
            path = self.folder / name
            if path.exists():
                text += f"--- {name}\n" + path.read_text(errors="replace")[-size:]
        return text


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_sandbox(folder: Path, tether_url: str = "http://127.0.0.1:5000") -> Sandbox:
    """Run ``python -m sandbox`` on free ports and wait (with a deadline) until it answers."""
    port, imap_port, smtp_port = free_ports(3)
    config_out = folder / "sandbox.json"
    command = [sys.executable, "-m", "sandbox", "--port", str(port),
               "--imap-port", str(imap_port), "--smtp-port", str(smtp_port),
               "--runtime-dir", str(folder / "runtime"), "--config-out", str(config_out),
               "--tether-url", tether_url]
    with open(folder / "sandbox.out", "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_DEADLINE
    while True:
        if proc.poll() is not None:
            text = (folder / "sandbox.out").read_text(errors="replace")
            raise RuntimeError(f"the sandbox exited with {proc.returncode}:\n{text}")
        if config_out.exists():
            config = json.loads(config_out.read_text())
            try:
                requests.get(config["control_url"] + "/health", timeout=2).raise_for_status()
                return Sandbox(proc, config, folder)
            except requests.RequestException:
                pass
        if time.monotonic() > deadline:
            stop_sandbox(proc)
            text = (folder / "sandbox.out").read_text(errors="replace")
            raise RuntimeError(f"the sandbox was not ready after {START_DEADLINE:.0f} s:\n{text}")
        time.sleep(0.05)


def stop_sandbox(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # it stops Dovecot and its own threads
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _dovecot_installed() -> bool:
    return bool(shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin"))


@pytest.fixture(scope="session")
def sandbox_instance():
    """The sandbox process, started once for the whole test session."""
    if not _dovecot_installed():
        message = "Dovecot is not installed (make system-packages)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Dovecot's unprivileged processes must reach the runtime folder: mkdtemp makes it 0700.
    folder = Path(tempfile.mkdtemp(prefix="tether-sandbox-"))
    folder.chmod(0o755)
    instance = start_sandbox(folder)
    try:
        yield instance
    finally:
        stop_sandbox(instance.proc)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def sandbox(sandbox_instance):
    """The running sandbox, reset to a blank state for this test."""
    sandbox_instance.control.reset()
    return sandbox_instance
