"""Per-user SMTP faults, which the submission relay (relay.py) carries out.

- **drop after the final dot**: the next ``count`` messages a user submits are taken whole
  and delivered, but the connection closes before the server's answer reaches the client —
  a provider whose 250 got lost on the way;
- **refuse XOAUTH2 from message N**: once the user has submitted N-1 messages (counted from
  when the fault is set), the next MAIL FROM of one of its OAuth sessions ends the session
  with 421, and the access tokens its sessions signed in with are refused from then on. The
  refresh token still works. The fault then ends: it happens once;
- **slow DATA**: the answer to the user's next ``count`` messages comes ``seconds`` late (the
  message is delivered at once): a provider that takes its time to accept.

Faults are counted in messages, not time, so they ignore the sandbox clock. One of each per
user; setting it again replaces it.
"""

import threading

MODES = ("drop_after_dot", "refuse_xoauth2", "slow_data")

_lock = threading.Lock()
_drops: dict[str, int] = {}                 # user → messages whose answer is still to be lost
_refusals: dict[str, dict] = {}             # user → {"at_message", "submitted"}
_slow: dict[str, dict] = {}                 # user → {"seconds", "count"}


def _positive(value, name: str) -> int:
    """A count from JSON (an int) or from the control page's form (digits)."""
    digits = isinstance(value, str) and value.strip().isdigit()
    if not (digits or (isinstance(value, int) and not isinstance(value, bool))) or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1")
    return int(value)


def drop_after_dot(email: str, count=1) -> dict:
    """Lose the answer to the user's next ``count`` messages (default 1)."""
    count = _positive(count, "count")
    with _lock:
        _drops[email] = count
    return _drop_entry(email, count)


def refuse_xoauth2(email: str, at_message) -> dict:
    """End the user's OAuth session at the MAIL FROM of its ``at_message``-th message."""
    at_message = _positive(at_message, "at_message")
    with _lock:
        _refusals[email] = {"at_message": at_message, "submitted": 0}
    return _refusal_entry(email, _refusals[email])


def slow_data(email: str, seconds, count=1) -> dict:
    """Hold the answer to the user's next ``count`` messages for ``seconds``."""
    try:
        delay = float(seconds)
    except (TypeError, ValueError):
        delay = -1
    if not 0 < delay <= 600:
        raise ValueError("seconds must be a number between 0 and 600")
    count = _positive(count, "count")
    with _lock:
        _slow[email] = {"seconds": delay, "count": count}
    return _slow_entry(email, _slow[email])


def clear() -> None:
    with _lock:
        _drops.clear()
        _refusals.clear()
        _slow.clear()


def active() -> list[dict]:
    with _lock:
        return ([_drop_entry(email, count) for email, count in sorted(_drops.items())]
                + [_refusal_entry(email, f) for email, f in sorted(_refusals.items())]
                + [_slow_entry(email, f) for email, f in sorted(_slow.items())])


def _drop_entry(email: str, count: int) -> dict:
    return {"endpoint": "smtp", "mode": "drop_after_dot", "user": email, "count": count}


def _refusal_entry(email: str, fault: dict) -> dict:
    return {"endpoint": "smtp", "mode": "refuse_xoauth2", "user": email, **fault}


def _slow_entry(email: str, fault: dict) -> dict:
    return {"endpoint": "smtp", "mode": "slow_data", "user": email, **fault}


# -- what the relay asks ----------------------------------------------------------------------

def message_complete(email: str | None) -> bool:
    """The user's session just sent a message's final "." (or BDAT LAST): count it, and say
    whether the server's answer to it must be lost."""
    if email is None or not (_drops or _refusals):  # the common case, without the lock
        return False
    with _lock:
        if email in _refusals:
            _refusals[email]["submitted"] += 1
        left = _drops.get(email, 0)
        if not left:
            return False
        if left == 1:
            del _drops[email]
        else:
            _drops[email] = left - 1
        return True


def refuse_now(email: str | None) -> bool:
    """An OAuth session of the user sent MAIL FROM: is this where its sign-in ends? The fault
    is used up by saying yes."""
    if email is None or not _refusals:
        return False
    with _lock:
        fault = _refusals.get(email)
        if fault is None or fault["submitted"] < fault["at_message"] - 1:
            return False
        del _refusals[email]
        return True


def answer_delay(email: str | None) -> float:
    """Seconds to hold the answer to the message the user's session just completed."""
    if email is None or not _slow:
        return 0.0
    with _lock:
        fault = _slow.get(email)
        if fault is None:
            return 0.0
        fault["count"] -= 1
        if fault["count"] <= 0:
            del _slow[email]
        return fault["seconds"]
