"""Tether as "Run it on a server" sets it up: the web unit's own command (gunicorn with
gunicorn.conf.py, production settings, TETHER_TRUSTED_PROXIES=1) behind a real nginx serving
deploy/nginx/tether over TLS — only its ports, certificate and log folder rewritten.

The browser connects from 127.0.0.2, nginx from 127.0.0.1: Tether must see (and log, and
rate-limit) the first, sign people in over https with Secure cookies, and keep OAuth codes out
of both access logs.
"""

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.e2e.conftest import SUITE_ONLY
from tests.sandbox_fixtures import free_ports
from tests.support import stop_group, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BROWSER_ADDRESS = "127.0.0.2"  # any 127.x.y.z is this machine; nginx's own is 127.0.0.1
PASSWORD = "correct-horse-9"


class FromAddress(HTTPAdapter):
    """Connect from BROWSER_ADDRESS, so the client and the proxy have different addresses."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (BROWSER_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)


def browser(server) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would win over the line below
    session.verify = str(server["folder"] / "cert.pem")  # the test's own certificate
    session.mount("https://", FromAddress())
    session.mount("http://", FromAddress())
    return session


def _nginx() -> str:
    """nginx, installed from Debian's packages if missing (without starting Debian's own)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    done = subprocess.run([str(ROOT / "scripts" / "apt-ensure"), "nginx-light"],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not Path("/usr/sbin/nginx").exists():
        message = f"nginx could not be installed: {done.stdout[-800:]} {done.stderr[-800:]}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return "/usr/sbin/nginx"


def _rewrite(text: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        assert old in text, f"deploy/nginx/tether no longer says {old!r}"
        text = text.replace(old, new)
    return text


def _site(folder: Path, http_port: int, https_port: int, web_port: int) -> Path:
    """deploy/nginx/tether with this machine's free ports, a test certificate, logs here."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", folder / "key.pem",
                    "-out", folder / "cert.pem"], check=True, capture_output=True, timeout=60)
    text = (ROOT / "deploy" / "nginx" / "tether").read_text()
    text = "\n".join(line for line in text.splitlines() if "[::]" not in line)  # no IPv6 here
    site = folder / "site.conf"
    site.write_text(_rewrite(text, {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "http://127.0.0.1:5000": f"http://127.0.0.1:{web_port}",
        "/etc/letsencrypt/live/tether.example.com/fullchain.pem": str(folder / "cert.pem"),
        "/etc/letsencrypt/live/tether.example.com/privkey.pem": str(folder / "key.pem"),
        "/var/log/nginx/": f"{folder}/"}))
    main = folder / "nginx.conf"
    temp = " ".join(f"{kind}_temp_path {folder}/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root root;" if os.geteuid() == 0 else ""
    main.write_text(f"{user}\ndaemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
                    f"error_log {folder}/nginx-error.log info;\nevents {{ worker_connections 64; }}\n"
                    f"http {{ {temp} include {site}; }}\n")
    return main


def _web_command(web_port: int) -> list[str]:
    """deploy/tether-web.service's ExecStart, for this checkout and a free port."""
    import shlex

    line = next(line for line in (ROOT / "deploy" / "tether-web.service").read_text().splitlines()
                if line.startswith("ExecStart="))
    line = _rewrite(line.partition("=")[2], {"/srv/tether": str(ROOT),
                                             "127.0.0.1:5000": f"127.0.0.1:{web_port}"})
    return shlex.split(line)


def _environment(folder: Path, base_url: str) -> dict:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    env.update(TETHER_INSTANCE_DIR=str(folder / "instance"), BASE_URL=base_url,
               TETHER_TRUSTED_PROXIES="1", SECRET_KEY=secrets.token_urlsafe(48),
               TETHER_ENCRYPTION_KEYS="k1:" + Fernet.generate_key().decode(),
               TETHER_SANDBOX_CONFIG=str(folder / "no-sandbox.json"), PYTHONPATH=str(ROOT))
    return env


@pytest.fixture(scope="module")
def server():
    nginx = _nginx()
    folder = Path(tempfile.mkdtemp(prefix="tether-nginx-"))
    http_port, https_port, web_port = free_ports(3)
    main = _site(folder, http_port, https_port, web_port)
    checked = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(folder), "-e",
                              str(folder / "nginx-error.log")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    base = f"https://127.0.0.1:{https_port}"
    env = _environment(folder, base)
    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "db", "upgrade"],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    procs = []
    with open(folder / "web.log", "wb") as web_log, open(folder / "nginx.out", "wb") as nginx_out:
        procs.append(subprocess.Popen(_web_command(web_port), cwd=ROOT, env=env, stdout=web_log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
        procs.append(subprocess.Popen([nginx, "-c", str(main), "-p", str(folder), "-e",
                                       str(folder / "nginx-error.log")], stdout=nginx_out,
                                      stderr=subprocess.STDOUT, start_new_session=True))
    try:
        wait_for(lambda: _answers(base, procs, folder), "Tether to answer through nginx", 60)
        yield {"base": base, "http": f"http://127.0.0.1:{http_port}", "folder": folder}
    finally:
        for proc in procs:
            stop_group(proc)
        shutil.rmtree(folder, ignore_errors=True)


def _answers(base, procs, folder) -> bool:
    for proc in procs:
        if proc.poll() is not None:
            raise AssertionError((folder / "web.log").read_text(errors="replace")[-3000:]
                                 + (folder / "nginx-error.log").read_text(errors="replace")[-2000:])
    try:
        return requests.get(base + "/healthz", verify=str(folder / "cert.pem"), timeout=2).ok
    except requests.RequestException:
        return False


def _post_form(session, base, path, data, headers=None):
    """A browser's form post: the page's CSRF token, the page's own Origin."""
    page = session.get(base + path, timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return session.post(base + path, data={**data, "csrf_token": token}, timeout=10,
                        headers={"Origin": base, **(headers or {})})


def test_the_first_owner_signs_up_and_signs_in_through_nginx(server):
    base = server["base"]
    signed_up = _post_form(browser(server), base, "/signup", {
        "email": "owner@acme.test", "password": PASSWORD, "team_name": "Acme", "name": "Owner"})
    assert signed_up.ok and "/signup" not in signed_up.url, signed_up.text[:500]

    person = browser(server)
    # A made-up X-Forwarded-For of the browser's own: nginx appends the real address to it.
    signed_in = _post_form(person, base, "/login", {"email": "owner@acme.test",
                                                    "password": PASSWORD},
                           headers={"X-Forwarded-For": "6.6.6.6"})
    assert signed_in.ok and signed_in.url.startswith(base + "/sequences"), signed_in.text[:500]
    assert "This form has expired" not in signed_in.text
    cookie = next(c for c in person.cookies if c.name == "tether_session")
    assert cookie.secure  # BASE_URL is https, and the browser did reach it over https

    web = (server["folder"] / "web.log").read_text(errors="replace")
    assert re.search(rf'^\S+ INFO \[\d+\] tether.access: {re.escape(BROWSER_ADDRESS)} '
                     r'"POST /login" 302 ', web, re.M), web[-2000:]
    assert not re.search(r'tether.access: 127\.0\.0\.1 "POST /login"', web), web[-2000:]
    assert "6.6.6.6" not in web


def test_plain_http_is_sent_to_https(server):
    answer = browser(server).get(server["http"] + "/login", allow_redirects=False, timeout=10)
    assert answer.status_code == 301 and answer.headers["Location"].startswith("https://")


def test_neither_access_log_shows_an_oauth_code_or_a_reconnect_token(server):
    session = browser(server)
    session.get(server["base"] + "/oauth/callback?code=SECRETCODE&state=SECRETSTATE", timeout=10)
    session.get(server["base"] + "/reconnect/SECRETTOKEN", timeout=10)
    folder = server["folder"]
    nginx_log = (folder / "tether.access.log").read_text()
    web = (folder / "web.log").read_text(errors="replace")
    assert '"GET /oauth/callback"' in nginx_log and '"GET /reconnect/[redacted]"' in nginx_log
    assert '"GET /oauth/callback"' in web and '"GET /reconnect/[redacted]"' in web
    assert "SECRET" not in nginx_log + web
