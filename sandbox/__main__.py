"""``python -m sandbox``: the whole provider stand-in in the foreground, until Ctrl-C/SIGTERM.

Starts the OAuth/OIDC server (threaded), the smarthost, Dovecot and the submission relay in
front of it, then writes the addresses and client credentials to sandbox.json. Every port is
on loopback.
"""

import argparse
import contextlib
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox import accounts, flavours, store
from sandbox.app import create_app
from sandbox.dovecot import Dovecot, DovecotError, DovecotSettings
from sandbox.relay import SubmissionRelay
from sandbox.smarthost import Delivery, Smarthost

log = logging.getLogger("sandbox")


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ
    instance = Path(env.get("TETHER_INSTANCE_DIR", "instance"))
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Local Google/Microsoft stand-in: OAuth/OIDC server, Dovecot, smarthost.")
    parser.add_argument("--host", default=env.get("SANDBOX_HOST", "127.0.0.1"),
                        help="loopback address for every listener (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(env.get("SANDBOX_PORT", 5100)),
                        help="OAuth server and control API port (default 5100)")
    parser.add_argument("--imap-port", type=int, default=int(env.get("SANDBOX_IMAP_PORT", 1143)))
    parser.add_argument("--smtp-port", type=int, default=int(env.get("SANDBOX_SMTP_PORT", 1587)),
                        help="SMTP submission port (default 1587)")
    parser.add_argument("--smarthost-port", type=int,
                        default=int(env.get("SANDBOX_SMARTHOST_PORT", 0)),
                        help="internal relay port; 0 picks a free one")
    parser.add_argument("--runtime-dir", type=Path,
                        default=Path(env.get("SANDBOX_RUNTIME_DIR", instance / "sandbox")),
                        help="database, Dovecot config, mail and logs (default instance/sandbox)")
    parser.add_argument("--config-out", type=Path,
                        default=Path(env.get("SANDBOX_CONFIG_OUT", instance / "sandbox.json")),
                        help="where to write the addresses and credentials")
    parser.add_argument("--tether-url",
                        default=env.get("SANDBOX_TETHER_URL") or env.get("BASE_URL")
                        or "http://127.0.0.1:5000",
                        help="Tether's address; clients get {tether_url}/oauth/callback")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    args = parser.parse_args(argv)
    # Dovecot resolves paths from its own working directory: give it absolute ones.
    args.runtime_dir = args.runtime_dir.resolve()
    args.config_out = args.config_out.resolve()
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        parser.error("--host must be a loopback address: the sandbox has no authentication")
    return args


class QuietHandler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive and TCP_NODELAY (Dovecot introspects at every login, so latency
    counts), and no log line per request unless --verbose or an error."""

    protocol_version = "HTTP/1.1"
    verbose = False

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code="-", size="-"):
        if self.verbose or str(code).startswith(("4", "5")):
            super().log_request(code, size)


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def write_json(path: Path, data: dict) -> None:
    """Atomically, so a reader never sees half a file (the test fixture waits for it), and
    readable by its owner only: it holds the client secrets and the system mailer's password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a left-over .tmp keeps its old mode through O_CREAT
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def describe(args, base: str, system_password: str) -> dict:
    clients = {}
    for client in store.Client.select().where(store.Client.flavour != "resource"):
        flavour = client.flavour
        clients[client.key] = {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "flavour": flavour,
            "metadata_url": base + flavours.PATHS[flavour]["metadata"],
            "issuer": flavours.issuer(flavour, base),
            "redirect_uris": client.redirect_uris,
            "scope": flavours.RECOMMENDED_SCOPE[flavour],
        }
    return {
        "issuer": base,
        "base_url": base,
        "control_url": base + "/control",
        "account_url": base + "/account/security/apps",
        "imap_host": args.host,
        "imap_port": args.imap_port,
        "imap_security": "none",
        "smtp_host": args.host,
        "smtp_port": args.smtp_port,
        "smtp_security": "none",
        "system_smtp": {
            "host": args.host,
            "port": args.smtp_port,
            "security": "none",
            "username": accounts.SYSTEM_EMAIL,
            "password": system_password,
            "from": f"Tether <{accounts.SYSTEM_EMAIL}>",
        },
        "clients": clients,
        "runtime_dir": str(args.runtime_dir),
        "pid": os.getpid(),
    }


def _say_ready(args, base: str, dovecot_log, took: float) -> None:
    print(f"Sandbox provider ready in {took:.1f} s (Ctrl-C stops it)\n"
          f"  OAuth/OIDC + controls  {base}/control/\n"
          f"  IMAP                   {args.host}:{args.imap_port} (no TLS)\n"
          f"  SMTP submission        {args.host}:{args.smtp_port} (no TLS)\n"
          f"  addresses and secrets  {args.config_out}\n"
          f"  Dovecot log            {dovecot_log}", flush=True)


def run(args) -> None:
    started = time.monotonic()
    args.runtime_dir.mkdir(parents=True, exist_ok=True)
    store.init(str(args.runtime_dir / "sandbox.db"))
    base = f"http://{args.host}:{args.port}"
    with store.db.connection_context():
        accounts.ensure_clients(args.tether_url)
        _, system_password = accounts.ensure_system_user()
        mailserver = store.Client.get(store.Client.key == "mailserver")

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    with contextlib.ExitStack() as running:
        QuietHandler.verbose = args.verbose
        http = make_server(args.host, args.port, create_app(base), threaded=True,
                           request_handler=QuietHandler)
        threading.Thread(target=http.serve_forever, name="oauth-http", daemon=True).start()
        running.callback(http.shutdown)

        # Dovecot's own submission port is internal: clients reach it through the relay,
        # which can inject the SMTP faults Dovecot cannot (smtp_faults.py).
        dovecot = Dovecot(DovecotSettings(
            runtime=args.runtime_dir, host=args.host, imap_port=args.imap_port,
            submission_port=free_port(args.host),
            smarthost_port=args.smarthost_port or free_port(args.host),
            introspection_url=(f"http://{mailserver.client_id}:{mailserver.client_secret}"
                               f"@{args.host}:{args.port}{flavours.INTROSPECT_PATH}")))
        dovecot.write_config()
        accounts.configure(dovecot.passwd_file, dovecot.mail_root)
        with store.db.connection_context():
            accounts.sync_password_file()

        smarthost = Smarthost(args.host, dovecot.settings.smarthost_port, Delivery(
            dovecot.lmtp_socket, args.host, args.imap_port, dovecot.settings.master_password))
        smarthost.start()
        running.callback(smarthost.stop)

        relay = SubmissionRelay(args.host, args.smtp_port, args.host,
                                dovecot.settings.submission_port)
        relay.start()
        running.callback(relay.stop)

        running.callback(dovecot.stop)
        dovecot.start()

        with store.db.connection_context():
            write_json(args.config_out, describe(args, base, system_password))
        _say_ready(args, base, dovecot.log, time.monotonic() - started)
        while not stop.wait(0.5):
            if dovecot.proc is None or dovecot.proc.poll() is not None:
                log.error("dovecot stopped unexpectedly; see %s", dovecot.log)
                break
        print("Sandbox provider stopping…", flush=True)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sandbox %(levelname)s %(message)s")
    args = parse_args(argv)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        run(args)
    except (DovecotError, OSError) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
