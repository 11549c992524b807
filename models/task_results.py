"""Results the task queue keeps that nobody reads: Huey stores what a task returns (or the
error it raised) until a caller fetches it, and most of Tether's callers never do. Huey keeps
no date with a result, so each retention run notes when it first saw each one; a result still
stored N days after that goes. Only results go — task ids — never Huey's locks, revocations
or counters, and only in Tether's own queue (the storage is named for it)."""

import re
from datetime import datetime

from peewee import CharField, DateTimeField

import clock
from models.base import BaseModel

# What Huey names a result by: the task's id, a uuid4 (huey.api.Task.create_id).
_TASK_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class TaskResultSeen(BaseModel):
    key = CharField(primary_key=True)     # the task id the result is stored under
    seen_at = DateTimeField(index=True)   # the retention run that first found it stored


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def prune(storage, cutoff: datetime, batch: int) -> list[int]:
    """Delete the stored results first seen before `cutoff`, `batch` at a time; note the new
    ones; forget those no longer stored. Returns how many results each batch deleted."""
    stored = {key for key in storage.result_items() if _TASK_ID.match(key)}
    seen = dict(TaskResultSeen.select(TaskResultSeen.key, TaskResultSeen.seen_at).tuples())
    old = sorted(key for key, at in seen.items() if key in stored and at < cutoff)
    counts = []
    for chunk in _chunks(old, batch):
        counts.append(sum(1 for key in chunk if storage.delete_data(key)))
    forget = sorted((set(seen) - stored) | set(old))
    for chunk in _chunks(forget, batch):
        TaskResultSeen.delete().where(TaskResultSeen.key.in_(chunk)).execute()
    now = clock.now()
    for chunk in _chunks(sorted(stored - set(seen)), batch):
        (TaskResultSeen.insert_many([(key, now) for key in chunk],
                                    fields=[TaskResultSeen.key, TaskResultSeen.seen_at])
         .on_conflict_ignore().execute())  # a second worker's run noted it first
    return counts
