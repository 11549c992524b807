"""Provider definitions: where to send people to consent, which scopes mail needs, which
servers to log in to, and how to read the mailbox's address from the ID token.

Google and Microsoft are configured by client credentials; the sandbox's two flavours are
read from its sandbox.json and discovery documents, so they are just more providers.
"""

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import requests

from mail import sandbox_file


@dataclass(frozen=True)
class Provider:
    key: str                      # "google", "microsoft", "google-sandbox", …
    label: str                    # what people see: "Google", "Microsoft (sandbox)"
    flavour: str                  # "google" or "microsoft": error shapes, claims, rotation
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    authorize_url: str = ""
    token_url: str = ""
    revoke_url: str = ""          # RFC 7009; Microsoft has none
    jwks_uri: str = ""
    issuer: str = ""              # exact issuer, or a template with {tenantid} (Microsoft)
    # The provider advertises `authorization_response_iss_parameter_supported` (RFC 9207): an
    # authorization response without `iss` then cannot be told from a mix-up and is refused.
    response_iss: bool = False
    scopes: tuple[str, ...] = ()
    mail_scopes: tuple[str, ...] = ()  # all must be granted for Tether to work
    auth_params: tuple[tuple[str, str], ...] = ()       # adding a mailbox: any account
    reconnect_params: tuple[tuple[str, str], ...] = ()  # reconnecting one (with login_hint)
    imap_host: str = ""
    imap_port: int = 993
    imap_security: str = "ssl"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    address_claim: str = "email"  # Microsoft: preferred_username
    access_help_url: str = ""     # where the person can see and remove Tether's access
    # Push revocation signals (mail/security_events.py): the transmitter configuration —
    # Google's RISC (Cross-Account Protection) or an OpenID Shared Signals transmitter.
    signals_config_url: str = ""

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    def issuer_ok(self, iss: str, claims: dict) -> bool:
        """Google's issuer is one exact string; Microsoft's /common endpoint issues tokens from
        each tenant, so check against the template filled with the token's own `tid`."""
        if "{tenantid}" in self.issuer:
            tid = claims.get("tid") or ""
            return bool(tid) and iss == self.issuer.replace("{tenantid}", tid)
        return iss == self.issuer

    def issuer_matches(self, iss: str) -> bool:
        """The authorization response's `iss` (RFC 9207), which names no tenant claim."""
        if "{tenantid}" in self.issuer:
            head, _, tail = self.issuer.partition("{tenantid}")
            middle = iss[len(head):len(iss) - len(tail)] if iss.startswith(head) and iss.endswith(tail) else ""
            return bool(middle) and "/" not in middle
        return iss == self.issuer

    def mailbox_address(self, claims: dict) -> str:
        if self.flavour == "google" and claims.get("email_verified") is False:
            return ""
        return str(claims.get(self.address_claim) or claims.get("email") or "").strip().lower()

    def missing_mail_scopes(self, granted: str) -> list[str]:
        have = set((granted or "").split())
        return [s for s in self.mail_scopes if s not in have]


GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
MS_IMAP_SCOPE = "https://outlook.office.com/IMAP.AccessAsUser.All"
MS_SMTP_SCOPE = "https://outlook.office.com/SMTP.Send"


def google(client_id: str, client_secret: str) -> Provider:
    return Provider(
        key="google", label="Google", flavour="google",
        client_id=client_id, client_secret=client_secret,
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        revoke_url="https://oauth2.googleapis.com/revoke",
        jwks_uri="https://www.googleapis.com/oauth2/v3/certs",
        issuer="https://accounts.google.com",
        scopes=("openid", "email", GOOGLE_MAIL_SCOPE), mail_scopes=(GOOGLE_MAIL_SCOPE,),
        # offline + consent: Google only issues a refresh token at consent. Adding also asks
        # for the account chooser, so a browser signed in to one account can add another;
        # a reconnect names its address (login_hint) instead.
        auth_params=(("access_type", "offline"), ("prompt", "select_account consent")),
        reconnect_params=(("access_type", "offline"), ("prompt", "consent")),
        imap_host="imap.gmail.com", imap_port=993, imap_security="ssl",
        smtp_host="smtp.gmail.com", smtp_port=587, smtp_security="starttls",
        address_claim="email",
        access_help_url="https://myaccount.google.com/connections",
        signals_config_url="https://accounts.google.com/.well-known/risc-configuration",
    )


def microsoft(client_id: str, client_secret: str, tenant: str = "common") -> Provider:
    base = f"https://login.microsoftonline.com/{tenant}"
    return Provider(
        key="microsoft", label="Microsoft", flavour="microsoft",
        client_id=client_id, client_secret=client_secret,
        authorize_url=f"{base}/oauth2/v2.0/authorize",
        token_url=f"{base}/oauth2/v2.0/token",
        jwks_uri=f"{base}/discovery/v2.0/keys",
        issuer="https://login.microsoftonline.com/{tenantid}/v2.0",
        # One resource per token: Outlook's IMAP and SMTP scopes, no Graph scopes mixed in.
        scopes=("openid", "email", "offline_access", MS_IMAP_SCOPE, MS_SMTP_SCOPE),
        mail_scopes=(MS_IMAP_SCOPE, MS_SMTP_SCOPE),
        # select_account, not consent: forcing consent blocks people in tenants where an admin
        # consented for them and user consent is off; Microsoft asks for consent when it is due.
        # A reconnect names its address (login_hint) and needs no chooser.
        auth_params=(("prompt", "select_account"),),
        imap_host="outlook.office365.com", imap_port=993, imap_security="ssl",
        smtp_host="smtp.office365.com", smtp_port=587, smtp_security="starttls",
        address_claim="preferred_username",
        access_help_url="https://myapps.microsoft.com/",
    )


def sandbox_providers(sandbox_json: str) -> dict[str, Provider]:
    """The sandbox's flavours, as "Google (sandbox)" and "Microsoft (sandbox)"."""
    info = sandbox_file.read(sandbox_json)
    found = {}
    for client in info.clients if info else ():
        meta = requests.get(client.metadata_url, timeout=5).json()
        template = google("", "") if client.flavour == "google" else microsoft("", "")
        key = f"{client.flavour}-sandbox"
        issuer = meta["issuer"]
        if client.flavour == "microsoft" and "{tenantid}" not in issuer:
            issuer = meta.get("issuer_template", issuer)
        found[key] = replace(
            template, key=key, label=f"{template.label} (sandbox)",
            client_id=client.client_id, client_secret=client.client_secret,
            authorize_url=meta["authorization_endpoint"], token_url=meta["token_endpoint"],
            revoke_url=meta.get("revocation_endpoint", ""), jwks_uri=meta["jwks_uri"],
            issuer=issuer,
            response_iss=bool(meta.get("authorization_response_iss_parameter_supported")),
            imap_host=info.imap_host, imap_port=info.imap_port, imap_security="none",
            smtp_host=info.smtp_host, smtp_port=info.smtp_port, smtp_security="none",
            access_help_url=info.account_url,
            # One origin serves both dialects: Google's RISC for the google flavour, the
            # standard's SSF for the other (sandbox/signals.py).
            signals_config_url=_origin(client.metadata_url) + ("/.well-known/risc-configuration"
                                                if client.flavour == "google"
                                                else "/.well-known/ssf-configuration"),
        )
    return found


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def configured(settings: dict) -> dict[str, Provider]:
    """Every provider this deployment offers, keyed by provider key, in menu order."""
    found: dict[str, Provider] = {}
    if settings.get("GOOGLE_CLIENT_ID"):
        found["google"] = google(settings["GOOGLE_CLIENT_ID"], settings["GOOGLE_CLIENT_SECRET"])
    if settings.get("MICROSOFT_CLIENT_ID"):
        found["microsoft"] = microsoft(settings["MICROSOFT_CLIENT_ID"],
                                       settings["MICROSOFT_CLIENT_SECRET"],
                                       settings.get("MICROSOFT_TENANT") or "common")
    if settings.get("SANDBOX_CONFIG") and Path(settings["SANDBOX_CONFIG"]).exists():
        found.update(sandbox_providers(settings["SANDBOX_CONFIG"]))
    return found


class Catalog:
    """The configured providers, loaded on first use. The sandbox may start after Tether, so
    a failed discovery is retried a few seconds later instead of being remembered."""

    def __init__(self, settings: dict):
        self.settings = settings
        self._lock = threading.Lock()
        self._found: dict[str, Provider] | None = None
        self._retry_at = 0.0

    def all(self) -> dict[str, Provider]:
        with self._lock:
            if self._found is None and time.monotonic() >= self._retry_at:
                sandbox = self.settings.get("SANDBOX_CONFIG")
                try:
                    found = configured(self.settings)
                except (OSError, ValueError, KeyError, requests.RequestException):
                    found = None
                if found is not None and (not sandbox or Path(sandbox).exists()):
                    self._found = found
                else:  # the sandbox is not up yet (or not yet written): look again soon
                    self._retry_at = time.monotonic() + 5
                    return found or configured({**self.settings, "SANDBOX_CONFIG": ""})
            return dict(self._found or configured({**self.settings, "SANDBOX_CONFIG": ""}))

    def get(self, key: str) -> Provider | None:
        return self.all().get(key)


_current: Catalog | None = None


def use(catalog: Catalog) -> None:
    """The process's catalog from now on (create_app builds it from its settings)."""
    global _current
    _current = catalog


def current() -> Catalog:
    """The one catalog of this process: discovery is a network round trip, so the web app,
    the checker, the sender and the notices all share it."""
    if _current is None:
        import config

        use(Catalog(config.current()))
    return _current
