"""The product started exactly as the README tells a person to start it: `make run`.

`make run` (venv check, Debian packages, migrations, the demo seed, then honcho with the
Procfile's web + worker + sandbox) runs once per module in a temporary instance folder, on free
ports that are not the defaults, with none of the test suite's environment: what these tests
see is what a newcomer sees.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from tests.sandbox_fixtures import free_ports
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE = 180.0  # first start of a clean checkout installs nothing here, but may migrate
# The test suite's own settings must not reach the product: it starts as a person starts it.
SUITE_ONLY = ("DATABASE_URL", "REDIS_URL", "HUEY_SQLITE_PATH", "TETHER_ENV", "TETHER_CLOCK_FILE",
              "TETHER_SANDBOX_CONFIG", "TETHER_INSTANCE_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
              "BASE_URL", "PORT")


class Product:
    """A running `make run`: its address, its output (honcho's, every process prefixed)."""

    def __init__(self, proc, base_url, sandbox_url, log: Path, instance: Path):
        self.proc, self.base_url, self.sandbox_url = proc, base_url, sandbox_url
        self.log, self.instance = log, instance

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def lines_of(self, process: str) -> list[str]:
        """What one Procfile process printed (honcho prefixes its lines with `HH:MM:SS name`)."""
        pattern = re.compile(rf"^\S+\s+{re.escape(process)}\.\d+\s+\|\s?(.*)$")
        return [m.group(1) for m in map(pattern.match, self.output().splitlines()) if m]

    def stop(self, deadline: float = 30.0) -> None:
        """Ctrl-C, as a person stops it: SIGINT to the terminal's whole process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        stopped = ("web.1 stopped", "worker.1 stopped", "sandbox.1 stopped")
        try:
            wait_for(lambda: all(s in self.output() for s in stopped), "every process to stop",
                     deadline, every=0.2)
        finally:
            self.kill()

    def kill(self) -> None:
        """The last resort: every process `make run` started, however deep (honcho puts each
        Procfile line in a session of its own, out of reach of make's process group)."""
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.proc.wait(10)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture(scope="module")
def product():
    # Dovecot's own users must reach the sandbox's folder inside it: not under pytest's 0700.
    instance = Path(tempfile.mkdtemp(prefix="tether-make-run-"))
    instance.chmod(0o711)
    port, sandbox_port, imap_port, smtp_port = free_ports(4)
    env = {k: v for k, v in os.environ.items() if k not in SUITE_ONLY}
    env.update(PORT=str(port), TETHER_INSTANCE_DIR=str(instance), SANDBOX_PORT=str(sandbox_port),
               SANDBOX_IMAP_PORT=str(imap_port), SANDBOX_SMTP_PORT=str(smtp_port),
               TETHER_CHECK_INTERVAL_SECONDS="5",  # the README's "livelier demo"
               PYTHONPATH=str(ROOT))  # this checkout's code, whatever the editable install says
    log = instance / "make-run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    running = Product(proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}", log,
                      instance)

    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"make run exited with {proc.returncode}:\n{running.output()[-4000:]}")
        try:
            return requests.get(running.base_url + "/login", timeout=2).status_code == 200 and \
                requests.get(running.sandbox_url + "/control/health", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        wait_for(ready, "make run to serve Tether and the sandbox", START_DEADLINE, every=0.25)
    except AssertionError:
        running.kill()
        raise AssertionError(running.output()[-4000:]) from None
    yield running
    running.kill()
    shutil.rmtree(instance, ignore_errors=True)


def sign_in(session: requests.Session, base_url: str, email: str, password: str):
    """The login form, with its CSRF token, as a browser posts it."""
    html = session.get(base_url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = session.post(base_url + "/login", data={"email": email, "password": password,
                                                       "csrf_token": token}, timeout=10)
    assert response.ok and "/login" not in response.url, response.text[:500]
    return response


def copy_checkout(dest: Path) -> Path:
    """This checkout's files as a `git clone` of it holds them (tracked and new, nothing
    ignored), taken from the working tree so that what runs is what is about to be committed;
    the suite's .venv is linked in place of `python3 -m venv .venv && pip install -e .`,
    which would need the network."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True, timeout=60).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if name.startswith(".venv") or not source.is_file():  # a deleted file, or the link
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def unit_command(unit: str, changes: dict[str, str]) -> list[str]:
    """deploy/<unit>'s ExecStart as systemd would run it, with `changes` made (the checkout's
    place for /srv/tether, a free port); each must be in the line, or the unit moved on."""
    import shlex

    line = next(line for line in (ROOT / "deploy" / unit).read_text().splitlines()
                if line.startswith("ExecStart="))
    command = line.partition("=")[2]
    for old, new in changes.items():
        assert old in command, f"deploy/{unit}'s ExecStart no longer says {old!r}"
        command = command.replace(old, new)
    return shlex.split(command)
