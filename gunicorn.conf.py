"""gunicorn's settings for Tether, shared by the Procfile (`make run`) and deploy/'s systemd
unit: `gunicorn -c gunicorn.conf.py --bind ADDRESS 'app:create_app()'`.

Proxy headers: gunicorn trusts none, from any address — not even X-Forwarded-Proto from
127.0.0.1, its default. Tether decides alone, with ProxyFix and TETHER_TRUSTED_PROXIES
(app.py), so the client's address, the scheme and the host agree everywhere: the rate limiter,
the access log, the Origin check and links. (gunicorn trusting the scheme from a proxy that did
not pass the public Host was issue #16's "This form has expired" on every form.)

Logs: Tether's format (logs.py, TETHER_LOG_FORMAT) on gunicorn's own lines too; gunicorn's
access log is off because the app writes one line per request with the client address it
decided on (views/access_log.py).
"""

import os

from gunicorn.glogging import Logger

import logs
from config import read as _read_settings  # not `config`: gunicorn reads that name as a setting

# Where to listen comes from the command line (--bind), as do the Procfile's --workers; these
# are the defaults for whatever does not say.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 8
forwarded_allow_ips = ""  # trust no front-end's X-Forwarded-* …
secure_scheme_headers = {}  # … and none over a unix socket either, where gunicorn trusts all
forwarder_headers = ""
accesslog = None

logs.setup(_read_settings()["LOG_FORMAT"])  # the master's own lines; create_app repeats it


class TetherLogs(Logger):
    """gunicorn's lines (a worker booting, a timeout) in Tether's format, redacted too."""

    def setup(self, cfg):
        super().setup(cfg)
        fmt = _read_settings()["LOG_FORMAT"]
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(logs.formatter(fmt))
                handler.addFilter(logs.RedactSecrets())


logger_class = TetherLogs
