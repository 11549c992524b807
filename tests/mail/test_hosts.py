"""Which addresses a user-entered mail host may resolve to, under the deployment's settings."""

import pytest

import config
from mail.failures import Kind
from mail.hosts import HostPolicy, HostRefused, resolve

EVERYTHING_ALLOWED = HostPolicy(allow_loopback=True, allow_private=True)


@pytest.mark.parametrize("address", [
    "169.254.169.254",          # the cloud metadata service
    "fe80::1",                  # link-local
    "fd00:ec2::254",            # AWS metadata over IPv6
    "100.100.100.200",          # Alibaba's metadata service
    "::ffff:169.254.169.254",   # metadata behind an IPv4-mapped IPv6 address
    "64:ff9b::a9fe:a9fe",       # the same through NAT64
    "0.0.0.0",
    "224.0.0.1",
])
def test_link_local_and_metadata_are_refused_whatever_the_settings(address):
    with pytest.raises(HostRefused) as refused:
        resolve(address, 993, EVERYTHING_ALLOWED, "IMAP")
    failure = refused.value.failure
    assert failure.kind is Kind.RECONNECT and failure.where == "IMAP"
    assert f"Tether does not connect to {address}" in failure.cause


@pytest.mark.parametrize("address", ["10.1.2.3", "172.20.0.9", "192.168.1.10", "fd12:3456::1",
                                     "100.64.0.7"])
def test_private_ranges_are_allowed_by_default_and_refused_when_the_setting_says_so(address):
    assert resolve(address, 993, HostPolicy(), "IMAP")
    with pytest.raises(HostRefused) as refused:
        resolve(address, 993, HostPolicy(allow_private=False), "SMTP")
    assert "a private network address" in refused.value.failure.cause
    assert refused.value.failure.where == "SMTP"


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_loopback_follows_its_own_setting(address):
    assert resolve(address, 993, HostPolicy(allow_loopback=True), "IMAP")
    with pytest.raises(HostRefused) as refused:
        resolve(address, 993, HostPolicy(allow_loopback=False), "IMAP")
    assert "this machine's own address" in refused.value.failure.cause


def test_a_name_is_resolved_once_into_the_addresses_to_connect_to():
    addresses = resolve("localhost", 1143, HostPolicy(allow_loopback=True), "IMAP")
    assert addresses and all(sockaddr[1] == 1143 for _, sockaddr in addresses)
    assert "127.0.0.1" in {sockaddr[0] for _, sockaddr in addresses}


def test_the_settings_read_private_ranges_as_allowed_unless_turned_off(monkeypatch):
    monkeypatch.delenv("TETHER_ALLOW_PRIVATE_MAIL_HOSTS", raising=False)
    assert config.load()["ALLOW_PRIVATE_MAIL_HOSTS"] is True
    assert HostPolicy.from_settings(config.load()).allow_private
    monkeypatch.setenv("TETHER_ALLOW_PRIVATE_MAIL_HOSTS", "0")
    assert config.load()["ALLOW_PRIVATE_MAIL_HOSTS"] is False
    assert not HostPolicy.from_settings(config.load()).allow_private
