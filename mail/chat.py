"""A team's chat destination: one Apprise URL (Slack, Teams, Discord, Mattermost, ntfy, email,
a JSON endpoint…), checked when it is saved and used to post one alert.

An Apprise URL holds the service's secret (a Slack token, a password), so it is never logged:
Apprise's own logger is cut off from the process's logs, and what a failure says is scrubbed
of anything token-like. Redirects are not followed (a redirect could lead a custom JSON/XML/
form endpoint to a refused address), and custom endpoints, whose host a person typed in, are
vetted by mail/hosts.py's rule like a webhook's; the services' own hosts (hooks.slack.com…)
are Apprise's and fixed.
"""

import logging
import re
from dataclasses import dataclass

import apprise

from mail.failures import MailError
from mail.hosts import HostPolicy, HostRefused, resolve

TIMEOUT = 10.0  # seconds to connect and to read: a hanging service frees the worker
CUSTOM_ENDPOINTS = {"json", "jsons", "xml", "xmls", "form", "forms"}  # a typed-in host
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-]{16,}|\w+://\S+")

_apprise_log = logging.getLogger("apprise")
_apprise_log.propagate = False  # its lines can carry the URL's secrets
_apprise_log.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Checked:
    service: str   # "Slack", "JSON"…
    shown_as: str  # the URL with Apprise's own privacy masking, no query: safe on a page


def _plugin(url: str):
    plugin = apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(http_redirects=False),
                                         suppress_exceptions=True)
    if plugin is not None:
        plugin.redirects = False  # whatever the URL's own ?redirect= says
        plugin.socket_connect_timeout = plugin.socket_read_timeout = TIMEOUT
    return plugin


def check(url: str) -> Checked | str:
    """The service this URL names, or what is wrong with it in words (a typo in the service
    name, a missing token…)."""
    url = (url or "").strip()
    if not url:
        return "Enter an Apprise URL, for example slack://TokenA/TokenB/TokenC/#channel."
    if "://" not in url:
        return "An Apprise URL starts with the service, like slack://, msteams:// or ntfy://."
    plugin = _plugin(url)
    if plugin is None:
        scheme = url.split("://", 1)[0]
        return (f"Apprise does not understand this URL: check the service name “{scheme}://” "
                "and the parts after it (see the Apprise wiki for the service's URL format).")
    return Checked(plugin.service_name, plugin.url(privacy=True).split("?", 1)[0])


def host_problem(url: str, policy: HostPolicy) -> str | None:
    """For a custom endpoint (json://, xml://, form://): why its host is refused, or None."""
    plugin = _plugin(url)
    if plugin is None or url.split("://", 1)[0].lower() not in CUSTOM_ENDPOINTS:
        return None
    try:
        resolve(plugin.host or "", plugin.port or (443 if plugin.secure else 80), policy, "chat")
    except HostRefused as e:
        return e.failure.cause
    except MailError as e:
        return f"The host name could not be resolved ({e.failure.cause})"
    return None


def post(url: str, title: str, body: str, policy: HostPolicy) -> str | None:
    """Post one message; None when the service took it, else what went wrong in words."""
    plugin = _plugin(url)
    if plugin is None:
        return "The Apprise URL is not valid any more."
    if problem := host_problem(url, policy):
        return problem
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = plugin.notify(body=body, title=title)
        said = captured.getvalue().strip().splitlines() if hasattr(captured, "getvalue") else []
    if ok:
        return None
    detail = _LONG_TOKEN.sub("…", said[-1].rsplit(" - ", 1)[-1])[:300] if said else ""
    return f"{plugin.service_name} did not accept the message" + (f": {detail}" if detail else ".")
