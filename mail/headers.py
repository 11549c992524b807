"""Header lines as they go on the wire, written by us rather than by the email package's
header registry.

Why: the registry parses every value into a token tree and folds it again, which cost more
CPU than everything else Tether does per email (issue #17: 2.6 ms of a 7.5 ms send). And for a
long value without a space to break at, such as `List-Unsubscribe` with its signed link, it
falls back to RFC 2047 encoded words — `=?utf-8?q?=3Chttps=3A//…?=` — which RFC 2369 readers
(Gmail's unsubscribe button) do not decode: the header was there and useless.

The rule: a value that is printable ASCII, single-spaced, holds no "=?" (which a reader could
take for an encoded word) and whose words fit a line is written as it is, folded at its spaces
when the line passes 78 characters (RFC 5322 §2.2.3: unfolding gives back the same value).
Anything else — non-ASCII text, a tab, a double space, a word longer than a line may be — goes
through the email package, which encodes it correctly. The one exception is a value holding
"=?": the email package would write it unchanged, so it becomes encoded words of our own.
Addresses are written with `formataddr`, which quotes or encodes the display name as RFC 5322
and RFC 2047 require.
"""

from email.header import Header
from email.headerregistry import Address
from email.policy import SMTP
from email.utils import formataddr

LINE = 78       # RFC 5322 §2.1.1: lines SHOULD be no longer than this
MAX_LINE = 998  # … and MUST be no longer than this


def plain(value: str) -> bool:
    """Can this value be written as it is?"""
    # Single spaces only: folding replaces one space by CRLF + space, so unfolding is exact.
    return (value.isascii() and value.isprintable() and "=?" not in value
            and "  " not in value and value == value.strip())


def folded(name: str, value: str) -> str | None:
    """`value` folded at its spaces so that each line of `name: value` fits 78 characters
    where it can; None when one word would not fit even a 998-character line."""
    if len(name) + 2 + len(value) <= LINE:
        return value
    lines, line = [], ""
    width = LINE - len(name) - 2  # the first line also carries "Name: "
    for word in value.split(" "):
        if len(word) + 1 > MAX_LINE - len(name) - 2:
            return None
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line, width = word, LINE - 1  # a continuation line starts with the space
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n ".join(lines)


def line(name: str, value: str) -> str:
    """The header `name: value` as it goes on the wire (folded lines joined by CRLF, no final
    CRLF): as it is when it can be, else encoded by the email package."""
    if plain(value):
        ready = folded(name, value)
        if ready is not None:
            return f"{name}: {ready}".replace("\n", "\r\n")
    if "=?" in value:  # the email package would write it as it is: a reader would decode it
        return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return _registry(name, value)


def address_line(name: str, display_name: str, address: str) -> str:
    """An address header (From, To): the display name quoted when it holds specials, encoded
    when it is not ASCII; the address as the caller wrote it for the wire (IDNA domain)."""
    if display_name.isascii():  # else formataddr would encode it: the registry does that
        value = formataddr((display_name, address))
        ready = folded(name, value) if plain(value) else None
        if ready is not None:
            return f"{name}: {ready}".replace("\n", "\r\n")
    local, _, domain = address.rpartition("@")
    return _registry(name, Address(display_name=display_name, username=local, domain=domain))


def _registry(name: str, value) -> str:
    """The email package's own writing of a header: parsed, encoded and folded."""
    return SMTP.header_factory(name, value).fold(policy=SMTP).rstrip("\r\n")
