"""Which mail server addresses Tether may connect to, decided at every connection.

Other Provider hosts are typed in by people, so Tether must not become a way to reach cloud
metadata services, link-local addresses or (when the deployment says so) this machine and its
private network. A host is vetted each time Tether connects to it — by the connection test,
health checks, the sender and the reply reader — against the settings in force *now*, and the
name is resolved once: mail.connect connects to exactly the addresses vetted here, so a DNS
answer that changes between the vetting and the connection (rebinding) cannot redirect a
stored password. Hosts from the operator's configuration (Google, Microsoft, the sandbox) are
not vetted: see mail.connect.Server.
"""

import ipaddress
import socket
from dataclasses import dataclass

from mail.failures import Failure, Kind, MailError, from_network_error

# Cloud metadata services that do not sit in the link-local range.
METADATA_ADDRESSES = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}

# Ranges that only mean something inside one organisation: RFC 1918, carrier-grade NAT
# (RFC 6598, where some clouds keep internal services) and IPv6 unique local addresses.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv6 names for IPv4 addresses (RFC 6052)


@dataclass(frozen=True)
class HostPolicy:
    """What a user-entered mail host may resolve to. Link-local and metadata: never."""

    allow_loopback: bool = False  # this machine (the sandbox's Dovecot runs on 127.0.0.1)
    allow_private: bool = True    # on-premises mail servers on RFC 1918 / ULA addresses are real

    @classmethod
    def from_settings(cls, settings) -> "HostPolicy":
        return cls(allow_loopback=bool(settings.get("ALLOW_LOOPBACK_MAIL_HOSTS")),
                   allow_private=bool(settings.get("ALLOW_PRIVATE_MAIL_HOSTS", True)))


class HostRefused(MailError):
    """The host is not one Tether connects to. It is the person's setting, so a stored host
    refused this way asks for new settings (a reconnect-kind failure)."""


def _refusal(host: str, where: str, why: str) -> HostRefused:
    return HostRefused(Failure(Kind.RECONNECT, "host refused",
                               f"Tether does not connect to {host} ({why}).", where))


def _why_refused(address, policy: HostPolicy) -> str | None:
    # ::ffff:169.254.169.254 and 64:ff9b::a9fe:a9fe both reach 169.254.169.254.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    elif address in NAT64:
        address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.is_link_local or address in METADATA_ADDRESSES:
        return "a link-local or cloud metadata address"
    if address.is_loopback:  # before "reserved": ::1 sits in a reserved IPv6 block
        return None if policy.allow_loopback else "this machine's own address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a usable server address"
    if not policy.allow_private and any(address in net for net in PRIVATE_NETWORKS):
        return "a private network address"
    return None


def host_name_problem(host: str) -> str | None:
    """Why `host` (already trimmed) cannot name a server, in a few words; None if it can.
    The Other Provider form refuses the same hosts in its own words."""
    if not host or any(c in host for c in "/@ \r\n\t") or len(host) > 253:
        return "not a host name"
    return None


def resolve(host: str, port: int, policy: HostPolicy, where: str) -> tuple:
    """Resolve `host` once and vet every address it has: the (family, sockaddr) pairs to
    connect to, in the resolver's order. Raises HostRefused when any address is refused (a
    name must not smuggle a forbidden address in among good ones), MailError for DNS."""
    host = (host or "").strip()
    if why := host_name_problem(host):
        raise _refusal(host or "an empty host", where, why)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        if isinstance(e, UnicodeError):
            e = socket.gaierror(str(e))
        raise MailError(from_network_error(e, where)) from e
    addresses = []
    for family, _, _, _, sockaddr in infos:
        why = _why_refused(ipaddress.ip_address(sockaddr[0].split("%")[0]), policy)
        if why:
            raise _refusal(host, where, why)
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    return tuple(addresses)
