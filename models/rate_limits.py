"""Rate-limit counters in the database, shared by every web process: a `limits` storage.

`limits` (under Flask-Limiter) keeps counters in one process's memory, Redis, Memcached or
MongoDB. Without REDIS_URL Tether has only its database, and gunicorn runs several processes,
so counting in memory would let each process allow the whole limit. This storage keeps
fixed-window counters in a table — one row per key: its count and the moment its window
ends — and registers itself under the scheme `tether-db://`, the way `limits` registers its
own storages (a STORAGE_SCHEME on the class).
"""

import time

from limits.storage import Storage
from peewee import Case, DoubleField, IntegerField, PeeweeException, TextField

from models.base import BaseModel, db

SCHEME = "tether-db"
CLEANUP_EVERY = 60.0  # seconds between sweeps of ended windows, per process


class RateLimit(BaseModel):
    key = TextField(primary_key=True)  # the limiter's key: limit, endpoint, IP or address
    hits = IntegerField(default=0)
    # Epoch seconds, as `limits` measures windows (not the app's clock: a test that moves the
    # clock a day must not open or close a one-minute window).
    expires_at = DoubleField(index=True)  # double precision: PostgreSQL REAL loses seconds


class DatabaseStorage(Storage):
    """Fixed-window counters in the `rate_limit` table, on SQLite or PostgreSQL."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_cleanup = 0.0

    @property
    def base_exceptions(self):
        return PeeweeException

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Count a hit and return the window's count. One INSERT … ON CONFLICT DO UPDATE …
        RETURNING: two processes hitting the same key at once each get their own count, and
        a window that has ended starts again from `amount`."""
        now = time.time()
        self.cleanup()
        ended = RateLimit.expires_at <= now
        query = (RateLimit
                 .insert(key=key, hits=amount, expires_at=now + expiry)
                 .on_conflict(conflict_target=[RateLimit.key], update={
                     RateLimit.hits: Case(None, [(ended, amount)], RateLimit.hits + amount),
                     RateLimit.expires_at: Case(None, [(ended, now + expiry)],
                                                RateLimit.expires_at)})
                 .returning(RateLimit.hits))
        rows = list(query.execute())  # read to the end: SQLite finishes the statement then
        return rows[0].hits

    def get(self, key: str) -> int:
        return (RateLimit.select(RateLimit.hits)
                .where((RateLimit.key == key) & (RateLimit.expires_at > time.time()))
                .scalar()) or 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        return (RateLimit.select(RateLimit.expires_at)
                .where((RateLimit.key == key) & (RateLimit.expires_at > now))
                .scalar()) or now

    def check(self) -> bool:
        try:
            db.execute_sql("SELECT 1")
            return True
        except PeeweeException:
            return False

    def reset(self) -> int:
        return RateLimit.delete().execute()

    def clear(self, key: str) -> None:
        RateLimit.delete().where(RateLimit.key == key).execute()

    def cleanup(self, force: bool = False) -> int:
        """Delete rows whose window has ended — at most once a minute per process, by the
        indexed expiry, so the table holds only the last minute's keys."""
        now = time.time()
        if not force and now < self._next_cleanup:
            return 0
        self._next_cleanup = now + CLEANUP_EVERY
        return RateLimit.delete().where(RateLimit.expires_at <= now).execute()
