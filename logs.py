"""Tether's logging, set up one way in every process: the web app, gunicorn, the worker.

setup() puts one handler on the root logger, so every line — the app's, gunicorn's, Huey's —
has a UTC time, a level, the process id and the logger's name; TETHER_LOG_FORMAT=json makes
each line one JSON object for log shippers. RedactSecrets sits on that handler: whatever logs
a URL, no OAuth code or state and no link token reaches the output.
"""

import json
import logging
import re
import sys
import time

# A query's code/state/token, and the token a reconnect link carries in its path.
_SECRET = re.compile(r"([?&](?:code|state|token|session_state)=|/reconnect/)[^&/?\s\"]*")
TEXT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def redact(text: str) -> str:
    return _SECRET.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Log lines never show an OAuth callback's code/state or a link's token."""

    def filter(self, record):
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def _utc(record) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + \
        f".{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """`2025-01-31T09:15:02.120Z INFO [4711] models.health: mailbox 3: …`"""

    def __init__(self):
        super().__init__(TEXT)

    def formatTime(self, record, datefmt=None):  # noqa: N802 — logging's own name
        return _utc(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, pid, message, and the fields a line
    passes as `extra={"fields": {...}}` (an access line's client_ip and status, a
    transition's mailbox_id and states) so a shipper need not parse the message."""

    def format(self, record):
        entry = {"time": _utc(record), "level": record.levelname, "logger": record.name,
                 "pid": record.process, "message": record.getMessage()}
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def formatter(fmt: str = "text") -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def handler(fmt: str = "text", stream=None) -> logging.Handler:
    """A stream handler writing Tether's format, with the redaction on it."""
    made = logging.StreamHandler(stream if stream is not None else sys.stderr)
    made.setFormatter(formatter(fmt))
    made.addFilter(RedactSecrets())
    return made


def setup(fmt: str = "text") -> logging.Handler:
    """Tether's handler on the root logger, at INFO. Called again (create_app after
    gunicorn's config, a second app in tests) it only sets the format: never a second
    handler, so never a line twice."""
    root = logging.getLogger()
    ours = next((h for h in root.handlers if getattr(h, "tether", False)), None)
    if ours is None:
        ours = handler(fmt)
        ours.tether = True
        root.addHandler(ours)
    ours.setFormatter(formatter(fmt))
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return ours
