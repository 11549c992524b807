"""The worker's entry point: `huey_consumer tasks.worker.huey -k thread -w 4 -C`.

Importing this module is the worker's start-up (tasks.start()): settings, clock, database, and
the encryption keys checked against the database, all before Huey's consumer builds a single
worker. They cannot run where they used to: Huey logs and ignores an exception raised in an
on_startup hook, and the web app imports `tasks` to enqueue, which must write nothing.

Logging is Tether's (logs.py) from the first line: huey_consumer would give only its own
"huey" logger a handler, so the app's INFO lines (a mailbox's transition) were dropped and its
warnings printed without a time.
"""

import logging
import sys

from huey.consumer_options import ConsumerConfig

import config
import logs
from config import ConfigError
from tasks import huey, start

logs.setup(config.read()["LOG_FORMAT"])  # read(): import-safe; start() checks the rest


def _huey_logs_through_ours(consumer_config, logger=None):
    """Replaces ConsumerConfig.setup_logger, which huey_consumer calls after importing this
    module: keep its level (-v debug, -q warnings only) but add no handler and no format of
    its own — Huey's lines reach the root handler like every other, once and in one format."""
    (logger or logging.getLogger()).setLevel(consumer_config.loglevel)
    if consumer_config.loglevel > logging.DEBUG:
        # Three INFO lines a task ("Executing", "executed in", "Added task to schedule") for
        # every health check cost 7 % of a check's CPU and bury what matters; -v shows them.
        # Huey's warnings and errors, and the consumer's own lines, still come through.
        logging.getLogger("huey").setLevel(logging.WARNING)
        logging.getLogger("huey.consumer").setLevel(consumer_config.loglevel)


ConsumerConfig.setup_logger = _huey_logs_through_ours

try:
    start()
except ConfigError as e:
    # SystemExit passes through huey_consumer's import (it catches Exception, retries and
    # prints a traceback): one line saying why, and exit status 1.
    sys.exit(f"Tether's worker refuses to start: {e}")

__all__ = ["huey"]
