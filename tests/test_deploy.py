"""deploy/'s recipes are valid as they stand: systemd accepts the units, and they start what
the Procfile starts, with the same gunicorn.conf.py. (tests/e2e/test_behind_nginx.py runs the
web unit's command behind deploy/nginx/tether for real.)"""

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ("tether-web.service", "tether-worker.service", "tether-worker@.service")


def exec_start(unit: str) -> list[str]:
    line = next(line for line in (DEPLOY / unit).read_text().splitlines()
                if line.startswith("ExecStart="))
    return shlex.split(line.partition("=")[2])


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_accepts_every_unit(tmp_path):
    # The units name /srv/tether, the README's checkout; here they point at this one, so that
    # systemd also checks that every command they run exists.
    for unit in UNITS:
        text = (DEPLOY / unit).read_text().replace("/srv/tether", str(ROOT))
        (tmp_path / unit).write_text(text)
    (tmp_path / "tether-worker@2.service").write_text((tmp_path / "tether-worker@.service").read_text())
    names = [str(tmp_path / unit) for unit in (*UNITS, "tether-worker@2.service")]
    verified = subprocess.run(["systemd-analyze", "verify", *names], capture_output=True,
                              text=True, timeout=60)
    ours = [line for line in (verified.stdout + verified.stderr).splitlines()
            if "tether" in line]
    assert verified.returncode == 0 and not ours, verified.stdout + verified.stderr


def test_the_units_run_what_the_procfile_runs():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines())
    web = exec_start("tether-web.service")
    assert web[0] == "/srv/tether/.venv/bin/gunicorn" and web[1:3] == ["-c", "gunicorn.conf.py"]
    assert "-c gunicorn.conf.py" in procfile["web"]
    assert web[-1] == shlex.split(procfile["web"])[-1] == "app:create_app()"
    scheduler, extra = exec_start("tether-worker.service"), exec_start("tether-worker@.service")
    assert scheduler[1] == extra[1] == "tasks.worker.huey"
    assert "-n" not in scheduler and "-n" in extra  # exactly one scheduler
    assert "--graceful-signal" in scheduler and "--graceful-signal" in extra


def test_gunicorn_trusts_no_proxy_header_of_its_own():
    from gunicorn.config import Config

    settings = {}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    cfg = Config()
    for name in ("forwarded_allow_ips", "secure_scheme_headers", "forwarder_headers"):
        cfg.set(name, settings[name])
    assert cfg.forwarded_allow_ips == [] and cfg.secure_scheme_headers == {}
    assert cfg.forwarder_headers == []
    assert settings["accesslog"] is None  # the app writes one line per request itself
