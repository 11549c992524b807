"""The worker's entry point: `huey_consumer tasks.worker.huey -k thread -w 4 -C`.

Importing this module is the worker's start-up (tasks.start()): settings, clock, database, and
the encryption keys checked against the database, all before Huey's consumer builds a single
worker. They cannot run where they used to: Huey logs and ignores an exception raised in an
on_startup hook, and the web app imports `tasks` to enqueue, which must write nothing.
"""

import sys

from config import ConfigError
from tasks import huey, start

try:
    start()
except ConfigError as e:
    # SystemExit passes through huey_consumer's import (it catches Exception, retries and
    # prints a traceback): one line saying why, and exit status 1.
    sys.exit(f"Tether's worker refuses to start: {e}")

__all__ = ["huey"]
