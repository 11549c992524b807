"""Remove access at the provider → the red dot in an open Email Accounts page (DESIGN §6,
issue #20): with push signals, p95 ≤ 5 s at any check interval; beside it the polling path
(no stream registered, checks every --poll-interval seconds) for comparison.

Everything is real: the sandbox (its transmitter pushes the SET), Tether's web app on a free
port, a Huey consumer started as the Procfile starts it (-w 4 -m 2), and Chromium with the page
open. Each trial connects a fresh mailbox (its first check spread over the interval, as a
connect does), waits for its green row, presses Remove access at the sandbox and times until
the row turns red.

    .venv/bin/python bench/push_detection.py [--trials 20] [--poll-trials 10] [--poll-interval 20]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _setup import FOLDER, ROOT, backend_flags, report, use_backend  # noqa: I001 — sets the environment first

from tests.sandbox_fixtures import start_sandbox, stop_sandbox

PASSWORD = "bench-password-1"
TARGET = 5.0


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20, help="push path trials")
    parser.add_argument("--poll-trials", type=int, default=10,
                        help="polling path trials (0: skip the comparison)")
    parser.add_argument("--poll-interval", type=int, default=20,
                        help="the polling path's check interval, seconds")
    backend_flags(parser)
    return parser.parse_args()


def consumer(interval: int):
    """A worker as the Procfile runs it, with this check interval."""
    log = open(FOLDER / f"consumer-{interval}.log", "w")  # noqa: SIM115
    env = dict(os.environ, PYTHONPATH=str(ROOT), TETHER_CHECK_INTERVAL_SECONDS=str(interval))
    proc = subprocess.Popen([str(Path(sys.executable).with_name("huey_consumer")),
                             "tasks.worker.huey", "-k", "thread", "-w", "4", "-m", "2"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc, log


def stop(proc, log):
    proc.terminate()
    proc.wait(15)
    log.close()


class Trials:
    def __init__(self, app, sandbox, base_url, page, owner):
        self.app, self.sandbox, self.base_url, self.page = app, sandbox, base_url, page
        self.owner, self.n = owner, 0

    def one(self, interval: int) -> float:
        """Seconds from Remove access to the red dot, for a freshly connected mailbox."""
        from datetime import timedelta

        import clock
        from mail import oauth, providers
        from mail.oauth import Tokens
        from models.base import db
        from models.checks import Settings, spread_first_check
        from models.connections import save_oauth
        from tasks.checks import schedule_next

        self.n += 1
        email = f"user{self.n}@bench.test"
        control = self.sandbox.control
        control.create_user(email, "mailbox-pw-1", kind="google")
        grant = control.issue_tokens(email, client="google")
        provider = providers.current().get("google-sandbox")
        claims = oauth.verify_id_token(provider, grant["id_token"], nonce=None)
        tokens = Tokens(grant["access_token"], grant["refresh_token"], int(grant["expires_in"]),
                        grant["scope"])
        with db.connection_context():
            box = save_oauth(self.owner.team, self.owner, provider, email, tokens,
                             subject=(claims["iss"], claims["sub"]))
            spread_first_check(box.id, Settings(interval=timedelta(seconds=interval)))
            schedule_next(box.id)  # its chain of checks, as after a connect
            assert clock.now()  # the one clock, unmoved
        row = f'[data-mailbox-id="{box.id}"]'
        self.page.wait_for_selector(f'{row}[data-status="connected"]', timeout=30_000)
        started = time.perf_counter()
        control.remove_access(email)
        self.page.wait_for_selector(f'{row}[data-status="reconnect_required"]',
                                    timeout=(interval + 60) * 1000)
        return time.perf_counter() - started


def serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def summary(name: str, times: list[float]) -> dict:
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"{name:<10} n={len(times):<3} p50 {statistics.median(times):6.2f} s   "
          f"p95 {p95:6.2f} s   max {ordered[-1]:6.2f} s   "
          f"({', '.join(f'{t:.1f}' for t in times)})")
    return {"p50": statistics.median(times), "p95": p95}


def main():
    args = parse()
    label, clean_up = use_backend(args)
    folder = Path(tempfile.mkdtemp(prefix="tether-bench-sandbox-"))
    folder.chmod(0o755)
    sandbox = start_sandbox(folder)
    try:
        Path(os.environ["TETHER_SANDBOX_CONFIG"]).write_text((folder / "sandbox.json").read_text())
        results = run(args, sandbox)
    finally:
        stop_sandbox(sandbox.proc)
        clean_up()
    print(f"\nRemove access → red dot in an open page ({label}; the page polls every 3 s)")
    push = summary("push", results["push"])
    if results.get("poll"):
        poll = summary(f"poll {args.poll_interval}s", results["poll"])
        print(f"polling path p50 / push path p50: {poll['p50'] / push['p50']:.1f}×")
    report("push signals: Remove access → red dot, p95", push["p95"], TARGET, "s")


def run(args, sandbox):
    from playwright.sync_api import sync_playwright

    from app import create_app
    from models.accounts import User
    from models.base import db, init_db, migrate
    from models.signal_streams import register
    from models.signals import PUSH_PATH, SignalStream
    from tests.chromium_fixtures import CHROMIUM_ARGS

    init_db(os.environ["DATABASE_URL"])
    migrate()
    app = create_app()
    import logging

    for name in ("werkzeug", "tether.access", "models", "huey"):
        logging.getLogger(name).setLevel(logging.WARNING)  # the figures, not every request
    server, base_url = serve(app)
    with db.connection_context():
        owner = User.sign_up("owner@bench.test", PASSWORD, team_name="Bench")
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(base_url + "/login")
        page.get_by_label("Email").fill("owner@bench.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(base_url + "/settings/email-accounts")
        trials = Trials(app, sandbox, base_url, page, owner)
        from mail import providers

        google = providers.current().get("google-sandbox")
        if args.poll_trials:
            proc, log = consumer(args.poll_interval)  # no stream yet: only checks find it
            try:
                results["poll"] = [trials.one(args.poll_interval) for _ in range(args.poll_trials)]
            finally:
                stop(proc, log)
        proc, log = consumer(3600)
        try:
            with app.app_context(), db.connection_context():
                register(google, base_url + PUSH_PATH, app.config)
            deadline = time.monotonic() + 30
            while True:
                with db.connection_context():
                    stream = SignalStream.get_or_none(SignalStream.provider == "google-sandbox")
                if stream and stream.verified_at:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the verification signal never came")
                time.sleep(0.1)
            page.reload()
            results["push"] = [trials.one(3600) for _ in range(args.trials)]
        finally:
            stop(proc, log)
        browser.close()
    server.shutdown()
    return results


if __name__ == "__main__":
    main()
