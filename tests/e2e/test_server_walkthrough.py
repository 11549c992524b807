"""README "Run it on a server", followed step by step in a clean folder, then used the way its
first owner uses it — through nginx, over https only.

Steps 3–7 as written: the checkout, `.env` made from `.env.example` with the values step 4
names (the two secrets made by step 4's own commands), step 5's `db upgrade` and `mail test`,
the web and worker units' ExecStart lines run in the checkout, deploy/nginx/tether in front.
Then step 8 (the first sign-up owns the instance; no demo login, ever), step 10 (a Google
mailbox connected through the consent pages) and what the README promises after it: Remove
access at Google's account pages turns the mailbox red, and the owner gets a reconnect email
whose link is the public https one.

Where this machine differs, and why:
- the checkout is a copy of this one's files, not a clone in /srv/tether, run by whoever runs
  the suite rather than a `tether` account; the suite's .venv stands in for a new one;
- no systemd here: each unit's ExecStart runs as written, in its WorkingDirectory;
- nginx listens on free ports with a self-signed certificate for 127.0.0.1 instead of
  certbot's (as tests/e2e/test_behind_nginx.py does);
- Google is the sandbox provider (`TETHER_SANDBOX_CONFIG`), started as the Procfile starts it
  but told the production address; its system account is the "transactional relay" of
  `TETHER_MAIL_SMTP_*`, and its Dovecot holds the owner's inbox.
"""

import email
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from email import policy
from pathlib import Path

import pytest
import requests
from imapclient import IMAPClient

from sandbox.control import SandboxControl, sign_in_and_consent
from tests.e2e.conftest import ROOT, SUITE_ONLY, copy_checkout, unit_command
from tests.e2e.test_behind_nginx import BROWSER_ADDRESS, FromAddress, _nginx, _site
from tests.e2e.test_make_run import row_status
from tests.sandbox_fixtures import _dovecot_installed, free_ports
from tests.support import stop_group, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]

OWNER, OWNER_PW = "owner@acme.test", "correct-horse-9"
SALES, MAILBOX_PW = "sales@acme.test", "mailbox-pw-1"  # the Google mailbox the owner connects
NO_MATCH = "match an account."  # "That email and password don't …", its ' escaped


class Server:
    """The installed instance: its checkout, its processes, their logs, its public address."""

    def __init__(self, top: Path):
        self.top, self.checkout = top, top / "srv-tether"
        self.ports = dict(zip(("http", "https", "web", "sandbox", "imap", "smtp"), free_ports(6), strict=True))
        self.base = f"https://127.0.0.1:{self.ports['https']}"
        self.procs: list[subprocess.Popen] = []
        self.sandbox: dict = {}
        self.owner: requests.Session | None = None  # signed in by the sign-up test

    def environment(self, **extra) -> dict:
        """The machine's environment without any setting Tether reads: `.env` must say it all
        (a variable in the environment would win over the file)."""
        example = (ROOT / ".env.example").read_text()
        names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.M))
        env = {k: v for k, v in os.environ.items()
               if k not in SUITE_ONLY and k not in names and not k.startswith(("TETHER_", "SANDBOX_"))}
        return {**env, "PYTHONPATH": str(self.checkout), **extra}

    def start(self, name: str, command: list[str], **extra) -> subprocess.Popen:
        with open(self.top / f"{name}.log", "wb") as out:
            proc = subprocess.Popen(command, cwd=self.checkout, env=self.environment(**extra),
                                    stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def run(self, command: str) -> subprocess.CompletedProcess:
        """A command of the README's, typed in the checkout."""
        return subprocess.run(command, shell=True, cwd=self.checkout, env=self.environment(),
                              capture_output=True, text=True, timeout=120)

    def log(self, name: str) -> str:
        path = self.top / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "".join(f"\n--- {n}\n{self.log(n)[-2500:]}" for n in ("sandbox", "web", "worker"))

    def browser(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would win over the certificate below
        session.verify = str(self.top / "nginx" / "cert.pem")
        for scheme in ("https://", "http://"):  # from 127.0.0.2: not nginx's own address
            session.mount(scheme, FromAddress())
        return session


def _readme_secrets(server: Server) -> dict[str, str]:
    """Step 4's two commands, run as the README prints them."""
    readme = (ROOT / "README.md").read_text()
    made = {}
    for command, name in re.findall(r"^\s*(\.venv/bin/python -c .+?)\s+# (SECRET_KEY|TETHER_ENCRYPTION_KEYS)$",
                                    readme, re.M):
        done = server.run(command)
        assert done.returncode == 0, done.stderr
        made[name] = done.stdout.strip()
    assert set(made) == {"SECRET_KEY", "TETHER_ENCRYPTION_KEYS"}, "README step 4 lost a command"
    return made


def _filled(example: str, values: dict[str, str]) -> str:
    """.env.example with each setting filled in where it already stands (uncommented)."""
    lines = example.splitlines()
    for key, value in values.items():
        found = [i for i, line in enumerate(lines) if re.match(rf"#?\s*{key}=", line)]
        assert found, f".env.example does not list {key}"
        lines[found[0]] = f"{key}={value}"
    return "\n".join(lines) + "\n"


def _write_env(server: Server) -> None:
    """Step 4: `cp .env.example .env && chmod 600 .env`, then the values it names."""
    env_file = server.checkout / ".env"
    shutil.copy(server.checkout / ".env.example", env_file)
    env_file.chmod(0o600)
    relay = server.sandbox["system_smtp"]
    env_file.write_text(_filled(env_file.read_text(), {
        "BASE_URL": server.base, "TETHER_ENV": "production", "TETHER_TRUSTED_PROXIES": "1",
        **_readme_secrets(server),
        "TETHER_MAIL_SMTP_HOST": relay["host"], "TETHER_MAIL_SMTP_PORT": str(relay["port"]),
        "TETHER_MAIL_SMTP_USERNAME": relay["username"], "TETHER_MAIL_SMTP_PASSWORD": relay["password"],
        "TETHER_MAIL_SMTP_SECURITY": "none",  # the sandbox's relay is loopback, without TLS
        "TETHER_MAIL_FROM": f'"{relay["from"]}"', "TETHER_OPERATOR_EMAILS": OWNER,
        "TETHER_CHECK_INTERVAL_SECONDS": "5",  # the README's 5 minutes would outlast the test
        "TETHER_SANDBOX_CONFIG": str(server.top / "sandbox.json")}))
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def _start_sandbox(server: Server) -> None:
    """The Procfile's sandbox line, told the production address (make run exports BASE_URL);
    its folder outside Tether's 0700 instance folder, where Dovecot's users can reach it."""
    ports = server.ports
    proc = server.start("sandbox", [".venv/bin/python", "-m", "sandbox"], BASE_URL=server.base,
                        SANDBOX_PORT=str(ports["sandbox"]), SANDBOX_IMAP_PORT=str(ports["imap"]),
                        SANDBOX_SMTP_PORT=str(ports["smtp"]),
                        SANDBOX_RUNTIME_DIR=str(server.top / "sandbox"),
                        SANDBOX_CONFIG_OUT=str(server.top / "sandbox.json"))

    def ready():
        assert proc.poll() is None, server.log("sandbox")
        return (server.top / "sandbox.json").exists()

    wait_for(ready, "the sandbox to write sandbox.json", 60)
    server.sandbox = json.loads((server.top / "sandbox.json").read_text())
    control = SandboxControl(server.sandbox["control_url"])
    control.create_user(OWNER, MAILBOX_PW, kind="other")  # the owner's own inbox
    control.create_user(SALES, MAILBOX_PW, kind="google")


def _start_tether(server: Server) -> None:
    """Steps 5–7: migrate, the two units' commands, nginx with Tether's site."""
    migrated = server.run(".venv/bin/flask --app app db upgrade")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert stat.S_IMODE((server.checkout / "instance").stat().st_mode) == 0o700
    srv = str(server.checkout)
    server.start("web", unit_command("tether-web.service", {
        "/srv/tether": srv, "127.0.0.1:5000": f"127.0.0.1:{server.ports['web']}"}))
    server.start("worker", unit_command("tether-worker.service", {"/srv/tether": srv}))
    folder = server.top / "nginx"
    folder.mkdir()
    main = _site(folder, server.ports["http"], server.ports["https"], server.ports["web"])
    server.procs.append(subprocess.Popen(
        [_nginx(), "-c", str(main), "-p", str(folder), "-e", str(folder / "nginx-error.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True))

    def answers(url, **kwargs):
        for proc in server.procs:
            assert proc.poll() is None, server.logs()
        try:
            return requests.get(url, timeout=2, **kwargs).ok
        except requests.RequestException:
            return False

    # Step 6's `curl -s http://127.0.0.1:5000/healthz`, then step 7's, through nginx.
    wait_for(lambda: answers(f"http://127.0.0.1:{server.ports['web']}/healthz"), "gunicorn", 60)
    wait_for(lambda: answers(server.base + "/healthz", verify=str(folder / "cert.pem")), "nginx", 30)


@pytest.fixture(scope="module")
def server():
    if not _dovecot_installed():
        message = "Dovecot is not installed (make system-packages)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    _nginx()
    top = Path(tempfile.mkdtemp(prefix="tether-server-"))
    top.chmod(0o711)  # the sandbox's Dovecot users pass through to its folder
    running = Server(top)
    copy_checkout(running.checkout)
    try:
        _start_sandbox(running)
        _write_env(running)
        _start_tether(running)
        yield running
    finally:
        for proc in reversed(running.procs):
            stop_group(proc)
        shutil.rmtree(top, ignore_errors=True)


def _post(session, base, path, data, page=None):
    """A browser's form post: the CSRF token of the page it came from, that page's Origin."""
    html = session.get(base + (page or path), timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return session.post(base + path, data={**data, "csrf_token": token}, timeout=20,
                        headers={"Origin": base}, allow_redirects=page is None)


def test_a_production_instance_has_no_demo_login_and_refuses_to_seed_one(server):
    refused = _post(server.browser(), server.base, "/login",
                    {"email": "demo@tether.test", "password": "tether-demo"})
    assert refused.status_code == 401 and NO_MATCH in refused.text
    seeded = server.run(".venv/bin/flask --app app seed-demo")
    assert seeded.returncode != 0, seeded.stdout
    assert "seed-demo refuses to run in production" in seeded.stderr
    again = _post(server.browser(), server.base, "/login",
                  {"email": "demo@tether.test", "password": "tether-demo"})
    assert NO_MATCH in again.text


def test_the_first_person_signs_up_and_owns_it_and_the_second_is_refused(server):
    owner = server.browser()
    signed_up = _post(owner, server.base, "/signup", {"email": OWNER, "password": OWNER_PW,
                                                      "team_name": "Acme", "name": "Olu"})
    assert signed_up.url == server.base + "/settings/email-accounts", signed_up.text[:500]
    assert "Welcome to Tether" in signed_up.text
    team = owner.get(server.base + "/settings/team", timeout=10).text
    assert re.search(r"<td>Olu <span[^>]*>owner@acme.test</span></td><td>Owner</td>", team), team
    server.owner = owner
    # TETHER_TRUSTED_PROXIES=1: Tether saw the person's address, not nginx's.
    assert f'tether.access: {BROWSER_ADDRESS} "POST /signup" 302' in server.log("web")

    stranger = server.browser()
    assert "Sign-up is by invitation" in stranger.get(server.base + "/signup", timeout=10).text
    assert "Create a team" not in stranger.get(server.base + "/login", timeout=10).text
    second = _post(stranger, server.base, "/signup", {
        "email": "kim@acme.test", "password": "another-horse-8", "team_name": "Kim's",
        "name": "Kim"}, page="/login")
    assert second.status_code == 403 and "Sign-up is by invitation" in second.text
    assert NO_MATCH in _post(stranger, server.base, "/login",
                             {"email": "kim@acme.test", "password": "another-horse-8"}).text


def test_the_owner_connects_a_google_mailbox_through_nginx(server):
    http, base = server.owner, server.base
    assert http is not None, "the sign-up test did not sign the owner in"
    assert "Google (sandbox)" in http.get(base + "/settings/email-accounts/add", timeout=10).text
    started = _post(http, base, "/settings/email-accounts/connect/google-sandbox",
                    {"email": SALES}, page="/settings/email-accounts/add")
    assert started.status_code == 303, started.text[:500]
    assert "redirect_uri=https%3A%2F%2F127.0.0.1" in started.headers["Location"]
    callback = sign_in_and_consent(started.headers["Location"], SALES, MAILBOX_PW, session=http)
    assert callback.startswith(base + "/oauth/callback?"), callback
    done = http.get(callback, timeout=30)
    assert f"Done! {SALES} is connected." in done.text, done.text[:800]
    assert row_status(http, base, SALES)[1] == "connected"
    # Step 10: "journalctl -u tether-web says …" (here, the web unit's output).
    assert "mailbox 1: checking -> connected (cause person, code -)" in server.log("web")


def _inbox(server: Server, subject: str) -> list[str]:
    """The owner's INBOX at the sandbox, read over IMAP as the owner's mail app would."""
    with IMAPClient("127.0.0.1", server.ports["imap"], ssl=False, timeout=10) as imap:
        imap.login(OWNER, MAILBOX_PW)
        imap.select_folder("INBOX", readonly=True)
        ids = imap.search(["SUBJECT", subject])
        fetched = imap.fetch(ids, ["RFC822"]) if ids else {}
    return [email.message_from_bytes(f[b"RFC822"], policy=policy.default)
            .get_body(("plain",)).get_content() for f in fetched.values()]


def test_the_mailer_test_of_step_5_reaches_the_owner(server):
    sent = server.run(f".venv/bin/flask --app app mail test {OWNER}")
    assert sent.returncode == 0 and f"Sent a test email to {OWNER}" in sent.stdout, sent.stderr
    bodies = wait_for(lambda: _inbox(server, "Tether test email"), "the test email", 30, every=0.5)
    assert "This is a test from Tether's system mailer." in bodies[0]


def _remove_access_at_google(google: str) -> None:
    """What the mailbox's user does at Google: Manage your account → Security → Apps with
    access → Remove access (the sandbox's own pages, in a browser of their own)."""
    person = requests.Session()
    apps = person.post(google + "/account/signin", timeout=10, data={
        "email": SALES, "password": MAILBOX_PW, "next": "/account/security/apps"})
    removes = re.findall(r'action="(/account/security/apps/[^"]+/remove)"', apps.text)
    assert len(removes) == 1, apps.text[:800]  # Tether, the one app with access
    removed = person.post(google + removes[0], timeout=10)
    assert removed.ok and not re.search(r'/account/security/apps/[^"]+/remove', removed.text)


def test_removed_access_at_google_emails_the_owner_a_https_reconnect_link(server):
    http, base = server.owner, server.base
    assert http is not None, "the sign-up test did not sign the owner in"
    _remove_access_at_google(server.sandbox["base_url"])
    wait_for(lambda: row_status(http, base, SALES)[1] == "reconnect_required",
             "the next check (every 5 s) to notice", 60, every=0.5)
    subject = f"Action needed: reconnect {SALES} to Tether"
    bodies = wait_for(lambda: _inbox(server, subject), "the reconnect email", 60, every=0.5)
    assert len(bodies) == 1, bodies
    link = re.search(r"Reconnect now: (\S+)", bodies[0]).group(1)
    assert link.startswith(base + "/reconnect/"), link
    # The link works through nginx: the signed-in owner lands on the reconnect confirmation.
    opened = http.get(link, timeout=10)
    assert opened.ok and "You'll be asked to sign in to" in opened.text, opened.text[:800]
    assert SALES in opened.text


def test_readyz_says_ready_once_the_worker_has_swept(server):
    """Step 7: `/readyz` names whatever is still missing — here, nothing, once the worker's
    once-a-minute sweep has run."""
    session = server.browser()

    def ready():
        answer = session.get(server.base + "/readyz", timeout=10)
        return answer.json() if answer.status_code == 200 else None

    body = wait_for(ready, "/readyz to answer 200", 75, every=1)
    assert body["ok"] and body["checks"]["mailer"]["ok"], body
