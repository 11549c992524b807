"""A webhook receiver on loopback that writes down every request it gets, and the alerts
tests' fixtures (a pytest plugin: tests/conftest.py).

Its `answer` says how it behaves: a status (204, 500…), "redirect" (302 to `location`), or
"hang" (never answers until stopped). Apprise's json:// destination posts to it too.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self, answer=204, location=""):
        self.answer, self.location = answer, location
        self.requests: list[tuple[dict, str]] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver._lock:
                    receiver.requests.append((dict(self.headers), body))
                if receiver.answer == "hang":
                    receiver._released.wait(30)
                    return
                if receiver.answer == "redirect":
                    self.send_response(302)
                    self.send_header("Location", receiver.location)
                else:
                    self.send_response(receiver.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/tether"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> list[tuple[dict, str]]:
        with self._lock:
            return list(self.requests)

    def stop(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_allowed(app, monkeypatch):
    """Let alert URLs reach this machine, in this process and in a worker started after."""
    monkeypatch.setenv("TETHER_ALLOW_LOOPBACK_ALERT_HOSTS", "1")
    app.config["ALLOW_LOOPBACK_ALERT_HOSTS"] = True
    yield
    app.config["ALLOW_LOOPBACK_ALERT_HOSTS"] = False


@pytest.fixture
def receiver():
    """receiver(answer=204, location="") makes a Receiver; all are stopped after the test."""
    made = []

    def make(answer=204, location=""):
        made.append(Receiver(answer, location))
        return made[-1]

    yield make
    for r in made:
        r.stop()
