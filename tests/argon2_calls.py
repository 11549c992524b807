"""Counts Argon2's hashing and verifying as they happen (sys.setprofile sees every Python
call in this thread), so a test tells what work an import or a login did without timing it."""

import sys
from collections import Counter
from contextlib import contextmanager


@contextmanager
def counting():
    calls = Counter()

    def count(frame, event, arg):
        code = frame.f_code
        if event == "call" and code.co_name in ("hash_secret", "verify_secret") \
                and "argon2" in code.co_filename:
            calls[code.co_name] += 1

    sys.setprofile(count)
    try:
        yield calls
    finally:
        sys.setprofile(None)
