"""A small client for the sandbox's control API, and a scripted "browser" for its consent pages.

Used by the test fixtures, by Tether's integration tests and by the demo seeder::

    control = SandboxControl.from_config("instance/sandbox.json")
    control.create_user("ada@example.com", "secret", kind="google")
    tokens = control.issue_tokens("ada@example.com")

It only speaks HTTP, so it works against any running sandbox (``python -m sandbox``).
"""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests


class SandboxError(RuntimeError):
    """The control API refused a request; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body):
        self.status, self.body = status, body
        message = body.get("message", body) if isinstance(body, dict) else body
        super().__init__(f"{status}: {message}")


class SandboxControl:
    def __init__(self, control_url: str, timeout: float = 10.0,
                 session: requests.Session | None = None):
        self.url = control_url.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()

    @classmethod
    def from_config(cls, config: str | Path | dict, **kwargs) -> "SandboxControl":
        """From sandbox.json (a path) or its already-loaded contents."""
        if not isinstance(config, dict):
            config = json.loads(Path(config).read_text())
        return cls(config["control_url"], **kwargs)

    def _call(self, method: str, path: str, payload: dict | None = None):
        response = self.http.request(method, self.url + path, json=payload, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise SandboxError(response.status_code, body)
        return body

    # -- state ----------------------------------------------------------------------------------

    def health(self) -> dict:
        return self._call("GET", "/health")

    def reset(self) -> None:
        """Forget users, grants, tokens, mail, faults and clock changes; restore the clients."""
        self._call("POST", "/reset")

    # -- users ----------------------------------------------------------------------------------

    def create_user(self, email: str, password: str, kind: str = "google",
                    name: str | None = None) -> dict:
        """kind: "google" or "microsoft" (OAuth-only mailboxes) or "other" (password login)."""
        return self._call("POST", "/users", {"email": email, "password": password, "kind": kind,
                                             "name": name})

    def users(self) -> list[dict]:
        return self._call("GET", "/users")

    def user(self, email: str) -> dict:
        """The user, with ``apps``: the clients it has granted and their scopes."""
        return self._call("GET", f"/users/{email}")

    def delete_user(self, email: str) -> None:
        self._call("DELETE", f"/users/{email}")

    def change_password(self, email: str, password: str) -> None:
        """Kills every token of the account (Microsoft then answers AADSTS50173)."""
        self._call("POST", f"/users/{email}/password", {"password": password})

    def expire_tokens(self, email: str) -> None:
        self._call("POST", f"/users/{email}/expire-tokens")

    def remove_access(self, email: str, client: str | None = None) -> int:
        """What the user's "Remove access" does, for one client key or every app."""
        return self._call("POST", f"/users/{email}/remove-access", {"client": client})["removed"]

    def revoke_refresh_token(self, email: str, token: str | None = None,
                             client: str | None = None, alg: str | None = None) -> dict:
        """One refresh token dies (`token`, or the newest `client` holds) and its client's
        stream gets token-revoked naming it: ``{"token_identifier", "queued"}``."""
        return self._call("POST", f"/users/{email}/revoke-refresh-token",
                          {"token": token, "client": client, "alg": alg})

    def set_mail_enabled(self, email: str, enabled: bool) -> None:
        """IMAP/SMTP on or off: tokens stay valid but the mail login is refused."""
        self._call("POST", f"/users/{email}/mail", {"enabled": enabled})

    def require_consent(self, email: str) -> None:
        self._call("POST", f"/users/{email}/require-consent")

    def require_signin(self, email: str) -> None:
        """Refresh tokens fail with invalid_rapt (Google) / AADSTS70043 until a new sign-in."""
        self._call("POST", f"/users/{email}/require-signin")

    def refresh_count(self, email: str) -> int:
        """How many times the user's refresh tokens were used successfully."""
        return self.user(email)["refreshes"]

    def issue_tokens(self, email: str, client: str | None = None,
                     scope: str | None = None) -> dict:
        """The direct grant: access_token, refresh_token, id_token, scope, expires_in."""
        return self._call("POST", f"/users/{email}/tokens", {"client": client, "scope": scope})

    # -- clients --------------------------------------------------------------------------------

    def clients(self) -> dict:
        return self._call("GET", "/clients")

    def rotate_secret(self, client: str) -> str:
        """A new client secret; the old one now gets invalid_client."""
        return self._call("POST", f"/clients/{client}/rotate-secret")["client_secret"]

    def set_redirect_uris(self, client: str, redirect_uris: list[str]) -> None:
        self._call("POST", f"/clients/{client}/redirect-uris", {"redirect_uris": redirect_uris})

    def set_testing(self, client: str, enabled: bool = True) -> None:
        """Google's "Testing" publishing status: refresh tokens die 7 days after consent."""
        self._call("POST", f"/clients/{client}/testing", {"enabled": enabled})

    # -- faults and the clock -------------------------------------------------------------------

    def set_fault(self, mode: str = "unavailable", seconds: float = 60, endpoint: str = "token",
                  delay: float | None = None) -> dict:
        """mode: "unavailable" (503), "slow" (answer after ``delay`` s) or "timeout" (hold the
        request ``delay`` s, then 504); for ``seconds`` of sandbox time."""
        return self._call("POST", "/faults", {"endpoint": endpoint, "mode": mode,
                                              "seconds": seconds, "delay": delay})

    def drop_after_final_dot(self, email: str, count: int = 1) -> dict:
        """The user's next ``count`` messages are delivered, but the connection closes after
        their final "." before the server's 250 reaches the client."""
        return self._call("POST", "/faults", {"endpoint": "smtp", "mode": "drop_after_dot",
                                              "user": email, "count": count})

    def refuse_xoauth2(self, email: str, at_message: int) -> dict:
        """Once the user (an OAuth one) has submitted ``at_message - 1`` messages, its session
        ends with 421 at the next MAIL FROM and the access tokens in use are refused from
        then on; the refresh token still works. Happens once."""
        return self._call("POST", "/faults", {"endpoint": "smtp", "mode": "refuse_xoauth2",
                                              "user": email, "at_message": at_message})

    def slow_data(self, email: str, seconds: float, count: int = 1) -> dict:
        """The server's answer to the user's next ``count`` messages comes ``seconds`` late
        (each message is delivered at once)."""
        return self._call("POST", "/faults", {"endpoint": "smtp", "mode": "slow_data",
                                              "user": email, "seconds": seconds, "count": count})

    def faults(self) -> list[dict]:
        """Active faults: the endpoints' (with ``remaining`` seconds) and the users' SMTP ones."""
        return self._call("GET", "/faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # -- security event tokens (signals.py) -----------------------------------------------

    def disable_user(self, email: str) -> None:
        """The admin disables the account: grants end, apps' streams get account-disabled."""
        self._call("POST", f"/users/{email}/disable")

    def signal_deliveries(self) -> list[dict]:
        """Every SET pushed since the last reset, with its attempts and status."""
        return self._call("GET", "/signals/deliveries")

    def signal_fault(self, mode: str, count: int = 1, seconds: float = 0) -> dict:
        """``delay`` the next `count` pushes by `seconds`, or ``drop`` them."""
        return self._call("POST", "/signals/faults", {"mode": mode, "count": count,
                                                      "seconds": seconds})

    def sign_set(self, claims: dict, header: dict | None = None) -> str:
        """A SET signed with the transmitter's key, claims as given (to forge bad ones)."""
        return self._call("POST", "/signals/sign", {"claims": claims, "header": header})["set"]

    def emit_signal(self, email: str, event: str, count: int = 1) -> int:
        """Push an event about `email` without changing anything at the provider."""
        return self._call("POST", "/signals/emit", {"email": email, "event": event,
                                                    "count": count})["queued"]

    def signal_streams(self) -> dict:
        return self._call("GET", "/signals/streams")

    def clock(self) -> dict:
        """``{"now": sandbox time, "offset": seconds ahead of the wall clock}``"""
        return self._call("GET", "/clock")

    def advance_clock(self, seconds: float) -> float:
        """Move the sandbox clock forward; returns the new sandbox time."""
        return self._call("POST", "/clock/advance", {"seconds": seconds})["now"]


# -- a scripted browser for the sign-in and consent pages ---------------------------------------

class _Forms(HTMLParser):
    """Just enough HTML parsing to fill in the sandbox's own forms."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self.alerts: list[str] = []
        self._in_alert = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": {}, "checkboxes": {},
                               "buttons": []})
        elif tag == "input" and self.forms:
            form, kind = self.forms[-1], attrs.get("type", "text")
            if kind == "checkbox":
                form["checkboxes"][attrs.get("name")] = (attrs.get("value", "on"),
                                                         "checked" in attrs)
            elif attrs.get("name"):
                form["fields"][attrs["name"]] = attrs.get("value", "")
        elif tag == "button" and self.forms and attrs.get("name"):
            self.forms[-1]["buttons"].append((attrs["name"], attrs.get("value", "")))
        elif attrs.get("role") == "alert":
            self._in_alert = True

    def handle_data(self, data):
        if self._in_alert and data.strip():
            self.alerts.append(data.strip())
            self._in_alert = False


class ConsentError(RuntimeError):
    """The sandbox showed an error page or refused the sign-in; ``page`` holds the HTML."""

    def __init__(self, message: str, page: str = "", status: int = 0):
        super().__init__(message)
        self.page, self.status = page, status


def sign_in_and_consent(authorize_url: str, email: str, password: str, *,
                        grant_mail: bool = True, allow: bool = True,
                        session: requests.Session | None = None) -> str:
    """Play the mailbox user in a browser: follow ``authorize_url``, sign in if asked, tick or
    untick the mail permission, press Allow (or Cancel). Returns the URL the sandbox redirected
    back to (the client's callback, with ``code``/``error``, ``state`` and ``iss``).

    Pass the same ``session`` again to stay signed in, as a browser would. At the account
    chooser it picks ``email`` if it is listed, else "Use another account"."""
    http = session or requests.Session()
    response = http.get(authorize_url, allow_redirects=False, timeout=10)
    for _ in range(6):
        if response.is_redirect:
            return response.headers["Location"]
        parser = _Forms()
        parser.feed(response.text)
        if response.status_code != 200 or not parser.forms:
            raise ConsentError(_text_of(response.text), response.text, response.status_code)
        form = next((f for f in parser.forms if dict(f["fields"]).get("step") == "choose"
                     and dict(f["fields"]).get("email") == email), parser.forms[-1])
        data = dict(form["fields"])
        if data.get("step") == "signin":
            if parser.alerts and data.get("email") == email:
                raise ConsentError(parser.alerts[0], response.text, response.status_code)
            data.update(email=email, password=password)
        elif data.get("step") == "consent":
            for name, (value, _checked) in form["checkboxes"].items():
                if name == "mail" and grant_mail:
                    data[name] = value
            data["decision"] = "allow" if allow else "cancel"
        response = http.post(urljoin(response.url, form["action"]), data=data,
                             allow_redirects=False, timeout=10)
    raise ConsentError("the sandbox did not redirect back", response.text, response.status_code)


def _text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()[:300]
