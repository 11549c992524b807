"""Reading a mailbox's new mail over IMAP: incremental by UIDVALIDITY + last UID, headers and a
bounded part of each message only, parsed defensively (malformed MIME, unknown charsets).

Recognises what Tether cares about: replies (In-Reply-To / References, or the sender's address),
delivery status notifications (flufl.bounce, from GNU Mailman, rather than hand-written
patterns) and auto-replies (RFC 3834 Auto-Submitted and the common non-standard headers).
"""

import email
import re
from dataclasses import dataclass, field
from email import policy
from email.utils import parseaddr

from flufl.bounce import all_failures

PARTIAL_BYTES = 64 * 1024      # enough for headers, a snippet and a DSN's status part
SNIPPET_CHARS = 280
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Cursor:
    """Where the last fetch stopped in a folder."""
    uidvalidity: int = 0
    last_uid: int = 0


@dataclass
class Incoming:
    uid: int
    message_id: str = ""
    from_address: str = ""
    subject: str = ""
    in_reply_to: list[str] = field(default_factory=list)   # Message-IDs this one answers
    auto_reply: bool = False
    bounced: list[str] = field(default_factory=list)        # addresses a DSN says failed
    bounce_reason: str = ""
    snippet: str = ""

    @property
    def is_bounce(self) -> bool:
        return bool(self.bounced)


def fetch_new(client, cursor: Cursor, folder: str = "INBOX", limit: int = 500, since=None):
    """New messages since `cursor`, and the cursor to store after handling them.

    One STATUS (UIDNEXT, UIDVALIDITY) first: when the folder is the one the cursor knows and
    no UID was handed out since, nothing arrived and the fetch ends there — most checks. Only
    then EXAMINE + SEARCH + FETCH. A changed UIDVALIDITY means the server renumbered the
    folder: start again from the top (callers de-duplicate by Message-ID, so nothing is counted
    twice). A mailbox never read before starts at `since` (a date), not at years of old mail."""
    status = {}
    if client._imap.state != "SELECTED":
        # STATUS of the selected folder may answer from the session's own view (RFC 3501
        # says not to ask it): a session that selected one (the sender's) looks the long way.
        status = client.folder_status(folder, [b"UIDNEXT", b"UIDVALIDITY"])
    uidnext = int(status.get(b"UIDNEXT", 0))
    uidvalidity = int(status.get(b"UIDVALIDITY", 0))
    if cursor != Cursor() and uidvalidity == cursor.uidvalidity and 0 < uidnext <= cursor.last_uid + 1:
        return [], cursor
    info = client.select_folder(folder, readonly=True)
    uidvalidity = int(info.get(b"UIDVALIDITY", uidvalidity))
    last = cursor.last_uid if uidvalidity == cursor.uidvalidity else 0
    if cursor == Cursor() and since is not None:
        found = client.search(["SINCE", since])
    else:
        found = client.search(["UID", f"{last + 1}:*"])
    new = sorted(u for u in found if u > last)
    uids = new[:limit]
    messages = []
    if uids:
        key = b"BODY[]<0>"
        fetched = client.fetch(uids, [f"BODY.PEEK[]<0.{PARTIAL_BYTES}>"])
        for uid in uids:
            data = fetched.get(uid, {})
            raw = data.get(key) or next((v for k, v in data.items() if k.startswith(b"BODY[")), b"")
            messages.append(parse(uid, raw or b""))
    newest = uids[-1] if uids else last
    if len(new) <= limit and uidvalidity == int(status.get(b"UIDVALIDITY", 0)):
        # Every UID below the STATUS's UIDNEXT was handed out before the SEARCH looked: those
        # it did not find were expunged (or older than `since`). Moving past them keeps the
        # next checks at one STATUS instead of looking into the same gap every time.
        newest = max(newest, uidnext - 1)
    return messages, Cursor(uidvalidity, newest)


def parse(uid: int, raw: bytes) -> Incoming:
    """Everything Tether needs from one (possibly truncated, possibly malformed) message."""
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
    except Exception:  # the parser is lenient; anything worse leaves an empty record
        return Incoming(uid=uid)
    item = Incoming(uid=uid, message_id=_header(message, "Message-ID").strip(),
                    from_address=parseaddr(_header(message, "From"))[1].lower(),
                    subject=_header(message, "Subject"))
    item.in_reply_to = _MESSAGE_ID.findall(_header(message, "In-Reply-To") + " "
                                           + _header(message, "References"))
    item.auto_reply = _is_auto_reply(message)
    item.bounced, item.bounce_reason = _bounce(message)
    item.snippet = _snippet(message)
    return item


def _header(message, name: str) -> str:
    try:
        value = message.get(name, "")
        return str(value) if value is not None else ""
    except Exception:  # a header the policy cannot decode
        raw = message.get_all(name, failobj=[""])
        return str(raw[0]) if raw else ""


def _is_auto_reply(message) -> bool:
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return True
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return True
    return _header(message, "Precedence").strip().lower() in ("auto_reply", "bulk", "junk")


def _bounce(message) -> tuple[list[str], str]:
    """Permanent failures a DSN reports (addresses lower-cased) and its status line."""
    try:
        _temporary, permanent = all_failures(message)
    except Exception:  # a detector that chokes on odd MIME must not stop the fetch
        return [], ""
    addresses = sorted({a.decode(errors="replace").lower() for a in permanent})
    reason = ""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            text = part.as_string()
            match = re.search(r"^Diagnostic-Code:\s*(.+)$", text, re.M | re.I) or \
                re.search(r"^Status:\s*(.+)$", text, re.M | re.I)
            reason = match.group(1).strip() if match else ""
            break
    return addresses, reason


def _snippet(message) -> str:
    body = None
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if body is not None else ""
    except Exception:  # unknown charset, broken transfer encoding: say nothing rather than fail
        text = ""
    if body is not None and body.get_content_type() == "text/html":
        text = re.sub(r"<[^>]+>", " ", text)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(">")]
    return re.sub(r"\s+", " ", " ".join(lines)).strip()[:SNIPPET_CHARS]
