"""A Huey consumer that stops at a named point of a send pass, so that a test can SIGKILL it
exactly there: `huey_consumer tests.pausing_worker.huey …` with TETHER_TEST_PAUSE_AT set to
"after_claim", "after_accepted" or "after_sent_copy" (tests/conftest.py starts it so when a
test asks for one). The product ships no such hook: this module wraps, in the consumer process
only, the functions the sender calls at those points. The sandbox has no fault that holds an
SMTP answer, so a test could not otherwise stop a consumer between the server's 250 and the
commit that records it.

At the point the consumer writes `paused-<point>` (its pid) into the instance folder and waits
to be killed.

"between_claims" is a pause, not a death: the consumer claims one email at a time, and before
its second claim writes `paused-between_claims` and waits until the test writes
`resume-between_claims` — so a test can change something (edit a step) after one email was
claimed and sent and before the next one is claimed.
"""

import os
import threading
from pathlib import Path

from mail import send
from models import outbox
from tasks.worker import huey

POINT = os.environ["TETHER_TEST_PAUSE_AT"]
# point: (module, function, whether its result means the point is reached)
POINTS = {
    "after_claim": (outbox, "claim", bool),             # rows claimed and committed
    "after_accepted": (send, "deliver", bool),          # the server's 250, not yet recorded
    "after_sent_copy": (send, "append_sent", lambda _: True),  # the copy filed in Sent
}


def _wait_to_be_killed() -> None:
    Path(os.environ["TETHER_INSTANCE_DIR"], f"paused-{POINT}").write_text(str(os.getpid()))
    threading.Event().wait(300)


def _stop_after(module, name: str, reached) -> None:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        if reached(result):
            _wait_to_be_killed()
        return result

    setattr(module, name, wrapper)


def _pause_between_claims() -> None:
    original = outbox.claim
    claimed = {"rows": False, "paused": False}

    def one_at_a_time(mailbox, owner, now, size=outbox.BATCH):
        if claimed["rows"] and not claimed["paused"]:
            claimed["paused"] = True
            folder = Path(os.environ["TETHER_INSTANCE_DIR"])
            (folder / "paused-between_claims").write_text(str(os.getpid()))
            resume = folder / "resume-between_claims"
            for _ in range(3000):  # 300 s at most: a test that forgot to resume fails, not hangs
                if resume.exists():
                    break
                threading.Event().wait(0.1)
        rows = original(mailbox, owner, now, size=1)
        claimed["rows"] = claimed["rows"] or bool(rows)
        return rows

    outbox.claim = one_at_a_time


if POINT == "between_claims":
    _pause_between_claims()
else:
    _stop_after(*POINTS[POINT])

__all__ = ["huey"]
