"""Push delivery of Security Event Tokens (RFC 8935), as a transmitter does it: POST
`application/secevent+jwt`, done at 202, otherwise retried with backoff for a while.

Runs on the sandbox's own threads (one scheduler, a few senders), so a receiver that is down
or slow never holds up the request that caused the event. The control API can delay or drop
deliveries, and lists them so tests can see what was pushed and how often.
"""

import heapq
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

# Retries after 1, 2, 4 … seconds, capped at a minute, for at most RETRY_HORIZON: a receiver
# must accept an `iat` older than this (Tether allows an hour).
RETRY_HORIZON = 600.0
MAX_GAP = 60.0
TIMEOUT = 10.0
KEEP = 2000  # deliveries remembered for GET /control/signals/deliveries

_lock = threading.Condition()
_queue: list = []
_order = itertools.count()
_log: list[dict] = []
_fault: dict = {}
_pool: ThreadPoolExecutor | None = None
_http = requests.Session()
_generation = 0  # a reset ends the retries of what was queued before it


def push(url: str, token: str, event: str, about: str) -> None:
    """Queue one SET for `url`; the first attempt waits out a "delay" fault if one is set."""
    entry = {"id": next(_order), "url": url, "event": event, "user": about, "attempts": 0,
             "status": "queued", "last_status": None, "created": time.time(), "token": token,
             "generation": _generation}
    with _lock:
        if _fault.get("mode") == "drop" and _fault.get("count", 0) > 0:
            _fault["count"] -= 1
            entry["status"] = "dropped"
            _remember(entry)
            return
        delay = 0.0
        if _fault.get("mode") == "delay" and _fault.get("count", 0) > 0:
            _fault["count"] -= 1
            delay = _fault["seconds"]
        _remember(entry)
        heapq.heappush(_queue, (time.monotonic() + delay, entry["id"], entry))
        _lock.notify()
    _start()


def _remember(entry: dict) -> None:
    _log.append(entry)
    del _log[:-KEEP]


def _start() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            return
        _pool = ThreadPoolExecutor(8, thread_name_prefix="set-push")
    threading.Thread(target=_schedule, name="set-scheduler", daemon=True).start()


def _schedule() -> None:
    while True:
        with _lock:
            while not _queue or _queue[0][0] > time.monotonic():
                _lock.wait(None if not _queue else max(_queue[0][0] - time.monotonic(), 0))
            _, _, entry = heapq.heappop(_queue)
        _pool.submit(_attempt, entry)


def _attempt(entry: dict) -> None:
    entry["attempts"] += 1
    try:
        answer = _http.post(entry["url"], data=entry["token"], timeout=TIMEOUT,
                            headers={"Content-Type": "application/secevent+jwt",
                                     "Accept": "application/json"}, allow_redirects=False)
        entry["last_status"] = answer.status_code
        if answer.status_code == 202:
            entry["status"] = "delivered"
            return
        if answer.status_code == 400:  # RFC 8935 §2.3: the receiver refused the SET for good
            entry["status"] = "refused"
            entry["error"] = answer.text[:500]
            return
    except requests.RequestException as error:
        entry["last_status"] = type(error).__name__
    gap = min(2.0 ** (entry["attempts"] - 1), MAX_GAP)
    if time.time() + gap - entry["created"] > RETRY_HORIZON:
        entry["status"] = "abandoned"
        return
    entry["status"] = "retrying"
    with _lock:
        if entry["generation"] != _generation:
            return
        heapq.heappush(_queue, (time.monotonic() + gap, entry["id"], entry))
        _lock.notify()


def set_fault(mode: str, count: int = 1, seconds: float = 0.0) -> dict:
    """``delay``: the next `count` deliveries start `seconds` late; ``drop``: the next `count`
    are never sent (a transmitter that lost them)."""
    if mode not in ("delay", "drop"):
        raise ValueError("mode must be delay or drop")
    count = int(count)
    if count < 1:
        raise ValueError("count must be at least 1")
    if mode == "delay" and not 0 < float(seconds) <= 3600:
        raise ValueError("seconds must be between 0 and 3600")
    with _lock:
        _fault.clear()
        _fault.update(mode=mode, count=count, seconds=float(seconds))
        return dict(_fault)


def clear() -> None:
    """Forget faults, queued retries and the delivery log (the control API's reset)."""
    global _generation
    with _lock:
        _generation += 1
        _fault.clear()
        _queue.clear()
        _log.clear()


def deliveries() -> list[dict]:
    with _lock:
        return [{k: v for k, v in e.items() if k not in ("token", "generation")} for e in _log]
