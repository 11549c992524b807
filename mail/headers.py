"""Header lines as they go on the wire, written by us rather than by the email package's
header registry.

Why: the registry parses every value into a token tree and folds it again, which cost more
CPU than everything else Tether does per email (issue #17: 2.6 ms of a 7.5 ms send). And for a
long value without a space to break at, such as `List-Unsubscribe` with its signed link, it
falls back to RFC 2047 encoded words — `=?utf-8?q?=3Chttps=3A//…?=` — which RFC 2369 readers
(Gmail's unsubscribe button) do not decode: the header was there and useless.

The rule: a value that is printable ASCII, holds no "=?" (which a reader could take for an
encoded word) and whose words fit a line is written as it is, folded at its spaces when the
line passes 78 characters (RFC 5322 §2.2.3: unfolding gives back the same value). Anything
else — non-ASCII text, a tab, a word longer than a line may be — goes through the email
package, which encodes it correctly — or, for a value holding "=?", which the email package would
write unchanged, as encoded words of our own. Addresses are written with `formataddr`, which quotes
or encodes the display name as RFC 5322 and RFC 2047 require.
"""

from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr

LINE = 78       # RFC 5322 §2.1.1: lines SHOULD be no longer than this
MAX_LINE = 998  # … and MUST be no longer than this


def plain(value: str) -> bool:
    """Can this value be written as it is?"""
    return value.isascii() and value.isprintable() and "=?" not in value


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


def put(msg: EmailMessage, name: str, value: str) -> None:
    """Add the header `name: value` to `msg`: as it is when it can be, else through the email
    package. The message's policy must not refold values set this way (refold_source none)."""
    if plain(value):
        ready = folded(name, value)
        if ready is not None:
            msg.set_raw(name, ready)
            return
    if "=?" in value:  # the email package would write it as it is: a reader would decode it
        msg.set_raw(name, Header(value, "utf-8", header_name=name).encode())
        return
    msg[name] = value


def put_address(msg: EmailMessage, name: str, display_name: str, address: str) -> None:
    """An address header (From, To): the display name quoted when it holds specials, encoded
    when it is not ASCII; the address as the caller wrote it for the wire (IDNA domain)."""
    if display_name.isascii() and display_name.isprintable() and "=?" not in display_name:
        value = formataddr((display_name, address))
        ready = folded(name, value) if plain(value) else None
        if ready is not None:
            msg.set_raw(name, ready)
            return
    local, _, domain = address.rpartition("@")
    msg[name] = Address(display_name=display_name, username=local, domain=domain)
