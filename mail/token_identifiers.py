"""Google's identifier of a refresh token, which its token-revoked signal names instead of a
user: computed once where a token is stored (models.mailboxes) and read from a pushed signal
(mail.security_events). Plain and light: the models import it.

Google's token-revoked names one refresh token by an identifier ("OAuth token identifiers" in
"Protect user accounts with Cross-Account Protection"): `prefix` (its first 16 characters) or
`hash_base64_sha512_sha512`, "the double hash of the token using SHA-512". The docs give no
more than that; the name spells the order — SHA-512 of the token's UTF-8 bytes, SHA-512 of
that 64-byte digest (not of its hex), then base64 — and that is how other RISC receivers
read it too. Tether matches only the hash: keeping a prefix of a live token would keep a
piece of the secret itself.
"""

import base64
import binascii
import hashlib

TOKEN_HASH_ALG = "hash_base64_sha512_sha512"


def token_identifier(refresh_token: str) -> str:
    """Google's `hash_base64_sha512_sha512` identifier of a refresh token (see above)."""
    inner = hashlib.sha512(refresh_token.encode()).digest()
    return base64.b64encode(hashlib.sha512(inner).digest()).decode()


def normal_identifier(value: str) -> str | None:
    """A pushed identifier as token_identifier() writes it — standard base64 with padding,
    whichever base64 alphabet and padding the transmitter used — or None when it is not the
    base64 of a 64-byte digest."""
    text = value.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        digest = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(digest).decode() if len(digest) == 64 else None
