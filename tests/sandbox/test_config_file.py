"""sandbox.json, which the demo and the tests read the sandbox's addresses and secrets from."""

import os
import stat

import pytest

pytestmark = pytest.mark.sandbox


def test_sandbox_json_is_readable_by_its_owner_only(sandbox):
    config = sandbox.folder / "sandbox.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # client secrets, the mailer's password
    assert sandbox["system_smtp"]["password"] and sandbox.client("google")["client_secret"]
    if os.geteuid() == 0:  # Dovecot's unprivileged processes still reach the runtime folder
        assert stat.S_IMODE((sandbox.folder / "runtime").stat().st_mode) == 0o755
