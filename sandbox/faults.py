"""Injected failures: an endpoint answers 503, answers slowly or not at all for a while.

A fault's window runs on the sandbox clock, so a test can end it by advancing the clock
instead of sleeping. The delays of "slow" and "timeout" are real seconds: they exist to make a
client's own time-out fire.
"""

import threading
import time

from flask import jsonify

from sandbox import flavours, store

MODES = ("unavailable", "slow", "timeout")
ENDPOINTS = ("token", "introspect", "revoke")
DEFAULT_DELAY = {"slow": 3.0, "timeout": 30.0}

_lock = threading.Lock()
_faults: dict[str, dict] = {}


def set_fault(endpoint: str, mode: str, seconds: float, delay: float | None = None) -> dict:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    fault = {
        "endpoint": endpoint,
        "mode": mode,
        "until": store.now() + seconds,
        "delay": float(delay if delay is not None else DEFAULT_DELAY.get(mode, 0)),
    }
    with _lock:
        _faults[endpoint] = fault
    return fault


def clear() -> None:
    with _lock:
        _faults.clear()


def active() -> list[dict]:
    current = store.now()
    with _lock:
        for name in [n for n, f in _faults.items() if f["until"] <= current]:
            del _faults[name]
        return [dict(f, remaining=f["until"] - current) for f in _faults.values()]


def intercept(endpoint: str, flavour: str, base: str):
    """Apply the endpoint's fault, if any: a response to send instead, or None to go on."""
    fault = next((f for f in active() if f["endpoint"] == endpoint), None)
    if fault is None:
        return None
    if fault["mode"] == "slow":
        time.sleep(fault["delay"])
        return None
    if fault["mode"] == "timeout":
        # Hold the request long enough for the client to give up, then say so.
        time.sleep(fault["delay"])
        return jsonify({"error": "timeout"}), 504
    status, body = flavours.token_error(flavour, "temporarily_unavailable", None, "unavailable",
                                        base, store.now())
    return jsonify(body), status
