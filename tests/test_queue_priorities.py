"""Which task a free worker takes first (tasks/__init__.py): what a person or a failure waits
on, then sending, then the routine checks — on whichever queue the suite runs (SqliteHuey, or
the sorted-set Redis queue), and a Redis queue left as a list by an older Tether is taken over
with nothing lost."""

import os

import pytest

from tasks import huey
from tasks.checks import check_mailbox, request_check
from tasks.sending import send_mailbox


@pytest.fixture
def queue():
    huey.flush()
    yield huey
    huey.flush()


def _taken_in_order(queue) -> list[tuple[str, tuple, dict]]:
    order = []
    while (task := queue.dequeue()) is not None:
        order.append((task.name.rsplit(".", 1)[-1], task.args, task.kwargs))
    return order


def test_a_free_worker_takes_a_forced_check_then_sending_then_routine_checks(queue):
    check_mailbox(1)          # routine: its scheduled time came
    check_mailbox(2)
    send_mailbox(3)           # a send pass
    request_check(4)          # a send failed: check at once
    check_mailbox(5)

    assert _taken_in_order(queue) == [
        ("check_mailbox", (4,), {"force": True}),
        ("send_mailbox", (3,), {}),
        ("check_mailbox", (1,), {}),
        ("check_mailbox", (2,), {}),
        ("check_mailbox", (5,), {}),
    ]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis queue's own upgrade")
def test_tasks_an_older_tether_queued_in_a_redis_list_still_run_oldest_first(queue):
    storage = queue.storage
    older = [queue.serialize_task(check_mailbox.s(n)) for n in (7, 8)]
    storage.conn.delete(storage.queue_key)
    for data in older:  # how RedisHuey queued them: LPUSH, the newest at the head
        storage.conn.lpush(storage.queue_key, data)

    send_mailbox(9)  # the first enqueue after the upgrade meets the list

    assert storage.conn.type(storage.queue_key) == b"zset"
    assert _taken_in_order(queue) == [("send_mailbox", (9,), {}),
                                      ("check_mailbox", (7,), {}), ("check_mailbox", (8,), {})]
