"""The push endpoint for Security Event Tokens (RFC 8935): a provider's transmitter POSTs
here. No session and no CSRF token — the SET's signature is the authentication — and a body
limit far below the app's: nothing is read past it.

Answers per RFC 8935 §2: 202 when accepted (a SET already seen or naming no mailbox included:
the transmitter must not retry it), 400 with `err` and `description` when refused.
"""

import logging

from flask import Blueprint, jsonify, request

from mail import providers
from mail.security_events import MAX_BYTES, Refused
from models import signals

log = logging.getLogger(__name__)
bp = Blueprint("signals", __name__)
PATH = signals.PUSH_PATH


@bp.post(PATH)
def push():
    """One SET in, 202 or 400 out."""
    try:
        body = _body()
        signals.receive(body, providers.current())
    except Refused as refusal:  # the SET itself is never logged
        log.warning("refused a pushed SET: %s (%s)", refusal.err, refusal.description)
        return jsonify(err=refusal.err, description=refusal.description), 400
    return "", 202


def _body() -> bytes:
    if request.mimetype != "application/secevent+jwt":
        raise Refused("invalid_request", "the body must be application/secevent+jwt")
    if (request.content_length or 0) > MAX_BYTES:
        raise Refused("invalid_request", "the body is too large for a SET")
    body = request.stream.read(MAX_BYTES + 1)  # chunked bodies too: never more than that
    if len(body) > MAX_BYTES:
        raise Refused("invalid_request", "the body is too large for a SET")
    return body
