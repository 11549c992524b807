"""Which mail server addresses a person may point Tether at.

Other Provider hosts are typed in by users, so Tether must not become a way to reach cloud
metadata services or link-local addresses from inside the deployment. Loopback is refused too,
unless the deployment allows it (the sandbox runs on 127.0.0.1).
"""

import ipaddress
import socket

from mail.failures import Failure, Kind

# Cloud metadata services that do not sit in the link-local range.
METADATA_ADDRESSES = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}


class HostRefused(Exception):
    def __init__(self, failure: Failure):
        super().__init__(failure.cause)
        self.failure = failure


def _refusal(host: str, where: str, why: str) -> HostRefused:
    return HostRefused(Failure(Kind.RECONNECT, "host refused",
                               f"Tether does not connect to {host} ({why}).", where))


def check_host(host: str, *, allow_loopback: bool, where: str = "IMAP") -> None:
    """Raise HostRefused when `host` resolves to an address Tether must not reach."""
    host = (host or "").strip()
    if not host or any(c in host for c in "/@ \r\n\t") or len(host) > 253:
        raise _refusal(host or "an empty host", where, "not a host name")
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return  # unknown names fail later, at connect time, as a plain DNS problem
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_link_local or address in METADATA_ADDRESSES:
            raise _refusal(host, where, "a link-local or cloud metadata address")
        if address.is_unspecified or address.is_multicast or address.is_reserved:
            raise _refusal(host, where, "not a usable server address")
        if address.is_loopback and not allow_loopback:
            raise _refusal(host, where, "this machine's own address")
