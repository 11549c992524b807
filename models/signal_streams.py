"""Registering Tether's push endpoint with a provider's transmitter (`flask signals register`):
create or update the stream, ask for a verification event, and remember it for the Email
Accounts page.

The dialect follows the transmitter's configuration: Google's RISC (`delivery_method`/`url`,
`…/stream:update`, `…/stream:verify`) or the Shared Signals standard (`method`/`endpoint_url`,
create with POST, update with PATCH, verify with `stream_id`). Authentication: Google takes a
JWT signed by a service account with the RISC Configuration Admin role; other transmitters (the
sandbox) the OAuth client's own credentials.
"""

import json
import secrets
import time
from pathlib import Path

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

import clock
from mail import oauth, security_events
from mail.security_events import CHECK_EVENTS
from models.signals import SignalStream, note_stream

RISC_PUSH = "https://schemas.openid.net/secevent/risc/delivery-method/push"
SSF_PUSH = "urn:ietf:rfc:8935"
GOOGLE_RISC_AUDIENCE = "https://risc.googleapis.com/google.identity.risc.v1beta.RiscManagementService"


class RegistrationError(Exception):
    """The transmitter refused or could not be reached; the message says why in words."""


def register(provider, endpoint_url: str, settings: dict) -> dict:
    """Create or update the provider's stream to push to `endpoint_url`; returns its config."""
    if not provider.signals_config_url:
        raise RegistrationError(f"{provider.label} publishes no push signals Tether can use.")
    try:
        config = security_events.transmitter(provider)
    except (requests.RequestException, ValueError) as e:
        raise RegistrationError(f"{provider.label}'s transmitter configuration could not be "
                                f"read ({e}).") from e
    http = requests.Session()
    http.headers["Authorization"] = _authorization(provider, settings)
    stream_url = config["configuration_endpoint"]
    events = sorted(CHECK_EVENTS)
    try:
        if RISC_PUSH in config.get("delivery_methods_supported", []):
            stream = _answer(http.post(stream_url + ":update", timeout=oauth.TIMEOUT, json={
                "delivery": {"delivery_method": RISC_PUSH, "url": endpoint_url},
                "events_requested": events}))
            verify = {"state": secrets.token_urlsafe(12)}
        else:
            stream = _ssf_stream(http, stream_url, endpoint_url, events)
            verify = {"stream_id": stream.get("stream_id"), "state": secrets.token_urlsafe(12)}
        _answer(http.post(config["verification_endpoint"], json=verify, timeout=oauth.TIMEOUT))
    except requests.RequestException as e:
        raise RegistrationError(f"{provider.label}'s transmitter did not answer ({e}).") from e
    now = clock.now()
    fields = {SignalStream.endpoint_url: endpoint_url, SignalStream.registered_at: now}
    note_stream(provider.key, fields)
    return stream


def _ssf_stream(http, stream_url: str, endpoint_url: str, events: list[str]) -> dict:
    body = {"delivery": {"method": SSF_PUSH, "endpoint_url": endpoint_url},
            "events_requested": events}
    existing = http.get(stream_url, timeout=oauth.TIMEOUT)
    if existing.status_code == 200 and existing.json().get("stream_id"):
        body["stream_id"] = existing.json()["stream_id"]
        return _answer(http.patch(stream_url, json=body, timeout=oauth.TIMEOUT))
    return _answer(http.post(stream_url, json=body, timeout=oauth.TIMEOUT))


def _answer(response) -> dict:
    if response.status_code >= 400:
        raise RegistrationError(f"the transmitter answered {response.status_code}: "
                                f"{response.text[:300]}")
    return response.json() if response.content else {}


def _authorization(provider, settings: dict) -> str:
    account_file = settings.get("GOOGLE_RISC_SERVICE_ACCOUNT_FILE")
    if provider.key == "google":
        if not account_file:
            raise RegistrationError("Set TETHER_GOOGLE_RISC_SERVICE_ACCOUNT_FILE to the service "
                                    "account's JSON key (README: Google RISC setup).")
        return "Bearer " + _service_account_jwt(Path(account_file))
    import base64

    pair = f"{provider.client_id}:{provider.client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _service_account_jwt(path: Path) -> str:
    """Google's self-signed service-account JWT for the RISC API (no token exchange)."""
    try:
        account = json.loads(path.read_text())
        key = RSAKey.import_key(account["private_key"])
    except (OSError, ValueError, KeyError) as e:
        raise RegistrationError(f"{path} is not a service account JSON key ({e}).") from e
    now = int(time.time())
    claims = {"iss": account["client_email"], "sub": account["client_email"],
              "aud": GOOGLE_RISC_AUDIENCE, "iat": now, "exp": now + 3600}
    return jwt.encode({"alg": "RS256", "kid": account.get("private_key_id", "")}, claims, key)
