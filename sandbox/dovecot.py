"""Dovecot, the sandbox's real IMAP and submission server: its generated config and its process.

Facts that shaped the config (../shared/DESIGN.md §5): the auth cache is off and every
XOAUTH2/OAUTHBEARER login is checked through the introspection endpoint, so a revoke counts at
the very next login; the anvil auth-penalty listener is off and auth_failure_delay is 0, or
failed logins from 127.0.0.1 back off for seconds (Dovecot 2.3 still batches failure replies on
a 0.5 s timer); it listens on loopback only, without TLS.
"""

import ctypes
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import store

MASTER_USER = "sandbox-master"  # lets the smarthost file Sent copies (user*sandbox-master)


@dataclass
class DovecotSettings:
    runtime: Path
    host: str
    imap_port: int
    submission_port: int  # internal: clients reach it through the relay (relay.py)
    smarthost_port: int
    introspection_url: str  # with the mail server's client credentials in it
    master_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))


class DovecotError(RuntimeError):
    pass


def find_binary() -> str:
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise DovecotError("dovecot is not installed: run `make system-packages` "
                           "(Debian: dovecot-imapd dovecot-submissiond dovecot-lmtpd)")
    return found


class Dovecot:
    def __init__(self, settings: DovecotSettings):
        self.settings = settings
        self.dir = settings.runtime / "dovecot"
        self.conf = self.dir / "dovecot.conf"
        self.passwd_file = self.dir / "users.passwd"
        self.master_file = self.dir / "master.passwd"
        self.mail_root = settings.runtime / "mail"
        self.log = settings.runtime / "dovecot.log"
        # Unix socket paths are limited to ~107 bytes; a deep runtime folder gets a short one.
        base = self.dir / "run"
        self._short_base = None
        if len(str(base)) > 60:
            self._short_base = Path(tempfile.mkdtemp(prefix="sbx-dovecot-"))
            base = self._short_base
        self.base_dir = base
        self.proc: subprocess.Popen | None = None

    @property
    def lmtp_socket(self) -> str:
        return str(self.base_dir / "lmtp")

    # -- configuration --------------------------------------------------------------------------

    def _identity(self) -> dict:
        """Who runs what. As root (this machine, CI): Debian's dovecot/dovenull users and a
        static unprivileged owner for mail; otherwise everything runs as the current user."""
        if os.geteuid() == 0:
            try:
                nobody = pwd.getpwnam("nobody")
                uid, gid = nobody.pw_uid, nobody.pw_gid
            except KeyError:
                uid = gid = 65534
            return {"uid": uid, "gid": gid, "root": True, "user": None}
        me = pwd.getpwuid(os.getuid())
        return {"uid": me.pw_uid, "gid": me.pw_gid, "root": False, "user": me.pw_name,
                "group": grp.getgrgid(me.pw_gid).gr_name}

    def write_config(self) -> None:
        s, who = self.settings, self._identity()
        for path in (s.runtime, self.dir, self.mail_root):
            path.mkdir(parents=True, exist_ok=True)
        if who["root"]:
            # Dovecot's auth process (user "dovecot") reads the passwd-files, and mail is
            # written as an unprivileged user: both need to reach the runtime folder.
            _check_traversable(s.runtime)
            for path in (s.runtime, self.dir):
                path.chmod(0o755)
            os.chown(self.mail_root, who["uid"], who["gid"])
        if not self.passwd_file.exists():
            self.passwd_file.write_text("")
            self.passwd_file.chmod(0o644)
        self.master_file.write_text(
            f"{MASTER_USER}:{store.hash_password(s.master_password)}::::::\n")
        self.master_file.chmod(0o644)
        (self.dir / "oauth2.conf.ext").write_text(_OAUTH2.format(url=s.introspection_url))
        users = "" if who["root"] else _AS_USER.format(user=who["user"], group=who["group"],
                                                        uid=who["uid"])
        self.conf.write_text(_CONF.format(
            base_dir=self.base_dir, state_dir=self.dir / "state", log=self.log, dir=self.dir,
            host=s.host, imap_port=s.imap_port, submission_port=s.submission_port,
            smarthost_port=s.smarthost_port, uid=who["uid"], gid=who["gid"],
            mail_root=self.mail_root, master_user=MASTER_USER, as_user=users))

    # -- process --------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> None:
        binary = find_binary()
        self.write_config()
        out = open(self.settings.runtime / "dovecot.out", "ab")  # closed in stop()
        self._out = out
        self.proc = subprocess.Popen(  # noqa: S603 — fixed arguments
            [binary, "-F", "-c", str(self.conf)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise DovecotError(f"dovecot exited ({self.proc.returncode}):\n{self._tail()}")
            if self._ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise DovecotError(f"dovecot was not ready after {timeout:.0f} s:\n{self._tail()}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        s = self.settings
        if not os.path.exists(self.lmtp_socket):
            return False
        for port in (s.imap_port, s.submission_port):
            try:
                with socket.create_connection((s.host, port), timeout=1) as conn:
                    if not conn.recv(64):
                        return False
            except OSError:
                return False
        return True

    def _tail(self) -> str:
        text = ""
        for path in (self.settings.runtime / "dovecot.out", self.log):
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()  # the master stops its children, then exits
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            # Anything left of its process group (a child still closing) goes too.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            self._out.close()
        if self._short_base is not None:
            shutil.rmtree(self._short_base, ignore_errors=True)


def _die_with_parent() -> None:
    """Ask Linux to stop Dovecot if the sandbox dies without cleaning up (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def _check_traversable(path: Path) -> None:
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            if parent == path:
                continue  # made traversable by write_config
            raise DovecotError(
                f"{parent} is not traversable by other users; Dovecot's unprivileged processes "
                f"need to reach {path}. Use another --runtime-dir or chmod o+x {parent}.")


_OAUTH2 = """\
# Every XOAUTH2/OAUTHBEARER login asks the sandbox's RFC 7662 endpoint; nothing is cached.
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = email
active_attribute = mail_login
active_value = allowed
timeout_msecs = 5000
"""

_AS_USER = """\
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
service imap-login {{
  chroot =
}}
service submission-login {{
  chroot =
}}
service anvil {{
  chroot =
}}
"""

_CONF = """\
# Generated by the sandbox (sandbox/dovecot.py) for this run; edits are overwritten.
base_dir = {base_dir}
state_dir = {state_dir}
instance_name = tether-sandbox
listen = {host}
protocols = imap submission lmtp
log_path = {log}
auth_verbose = yes
ssl = no
disable_plaintext_auth = no
hostname = sandbox.test
postmaster_address = postmaster@sandbox.test

auth_mechanisms = plain login xoauth2 oauthbearer
auth_cache_size = 0
auth_failure_delay = 0
auth_master_user_separator = *

mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
mail_fsync = never
mail_max_userip_connections = 1000

submission_relay_host = 127.0.0.1
submission_relay_port = {smarthost_port}
# XCLIENT tells the smarthost who logged in, so it files the Sent copy in the right mailbox.
submission_relay_trusted = yes

passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=SSHA512 {dir}/users.passwd
}}
passdb {{
  driver = passwd-file
  master = yes
  args = scheme=SSHA512 {dir}/master.passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail_root}/%Lu allow_all_users=yes
}}

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}

service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  service_count = 0
}}
service submission-login {{
  inet_listener submission {{
    address = {host}
    port = {submission_port}
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
{as_user}"""
