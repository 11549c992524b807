"""Every answer quoted in PROVIDERS.md lands in exactly the right kind of failure."""

import smtplib
import socket
import ssl

import pytest
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from mail.failures import (
    Kind,
    from_imap_error,
    from_network_error,
    from_smtp_error,
    from_token_response,
)

GOOGLE_REVOKED = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def ms(code, error="invalid_grant"):
    return {"error": error, "error_description": f"AADSTS{code}: something. Trace ID: x",
            "error_codes": [code], "timestamp": "2026-11-28 09:00:00Z", "trace_id": "t",
            "correlation_id": "c", "error_uri": f"https://login.microsoftonline.com/error?code={code}"}


def test_googles_expired_or_revoked_token_needs_reconnect():
    failure = from_token_response(400, GOOGLE_REVOKED)
    assert failure.kind is Kind.RECONNECT and failure.code == "invalid_grant"
    assert "expired or revoked" in failure.cause


def test_googles_session_control_policy_asks_to_sign_in_again():
    failure = from_token_response(400, {**GOOGLE_REVOKED, "error_subtype": "invalid_rapt"})
    assert failure.kind is Kind.RECONNECT and failure.code == "invalid_grant/invalid_rapt"
    assert "signing in again" in failure.cause


@pytest.mark.parametrize("code", [50173, 700082, 70008, 65001, 50076, 50078, 70043, 53003, 50057])
def test_microsoft_reconnect_codes(code):
    failure = from_token_response(400, ms(code))
    assert failure.kind is Kind.RECONNECT and failure.code == f"invalid_grant/{code}"


@pytest.mark.parametrize("code", [7000222, 7000215])
def test_microsoft_client_secret_problems_are_the_operators(code):
    assert from_token_response(401, ms(code, "invalid_client")).kind is Kind.APP


@pytest.mark.parametrize("code", [50033, 90006, 90024, 50087, 70012, 90033])
def test_microsoft_retryable_codes_are_transient_even_inside_invalid_grant(code):
    assert from_token_response(400, ms(code)).kind is Kind.TRANSIENT


def test_invalid_client_is_the_apps_problem_not_the_users():
    failure = from_token_response(401, {"error": "invalid_client"})
    assert failure.kind is Kind.APP and "administrator" in failure.cause


@pytest.mark.parametrize("status,body", [
    (503, None), (500, {"error": "server_error"}), (429, {"error": "rate_limited"}),
    (400, {"error": "temporarily_unavailable"}), (200, None), (418, "teapot"),
])
def test_outages_and_oddities_never_ask_for_reconnect(status, body):
    assert from_token_response(status, body).kind is Kind.TRANSIENT


def test_description_text_is_never_what_decides():
    # A scary description on a 503 is still an outage; a bland one on invalid_grant is not.
    assert from_token_response(503, {"error_description": "Token has been expired or revoked."}).kind is Kind.TRANSIENT
    assert from_token_response(400, {"error": "invalid_grant", "error_description": "ok"}).kind is Kind.RECONNECT


def test_imap_authenticationfailed_with_a_fresh_token_needs_reconnect():
    error = LoginError("[AUTHENTICATIONFAILED] Invalid credentials (Failure)")
    assert from_imap_error(error, credential_fresh=True).kind is Kind.RECONNECT
    # With a token that was not refreshed just now it only means "refresh and try again".
    assert from_imap_error(error, credential_fresh=False).kind is Kind.TRANSIENT


def test_imap_wrong_password_needs_new_credentials():
    failure = from_imap_error(LoginError("[AUTHENTICATIONFAILED] Authentication failed."), oauth=False)
    assert failure.kind is Kind.RECONNECT and "password" in failure.cause


@pytest.mark.parametrize("code", ["UNAVAILABLE", "INUSE", "LIMIT", "SERVERBUG"])
def test_imap_rfc5530_temporary_codes_are_transient_even_at_login(code):
    assert from_imap_error(LoginError(f"[{code}] Try again later")).kind is Kind.TRANSIENT


def test_imap_bye_and_outlooks_not_connected_are_transient():
    assert from_imap_error(IMAPClientAbortError("socket error: EOF")).kind is Kind.TRANSIENT
    assert from_imap_error(IMAPClientError("User is authenticated but not connected.")).kind is Kind.TRANSIENT


def test_smtp_535_with_a_fresh_token_needs_reconnect():
    error = smtplib.SMTPAuthenticationError(535, b"5.7.8 Username and Password not accepted.")
    failure = from_smtp_error(error, credential_fresh=True)
    assert failure.kind is Kind.RECONNECT and failure.code == "SMTP 535 5.7.8"


def test_microsoft_smtp_auth_switched_off_names_the_admin_setting_not_a_reconnect():
    """Microsoft 365's answer when Authenticated SMTP is off for the tenant or the mailbox."""
    error = smtplib.SMTPAuthenticationError(535, b"5.7.139 Authentication unsuccessful, "
                                            b"SmtpClientAuthentication is disabled for the Tenant. "
                                            b"Visit https://aka.ms/smtp_auth_disabled for more "
                                            b"information. [AM0PR02CA0011.eurprd02.prod.outlook.com]")
    failure = from_smtp_error(error, credential_fresh=True)
    # The state DESIGN gives a refused valid token (re-checked hourly), worded for the admin.
    assert failure.kind is Kind.RECONNECT and failure.where == "SMTP"
    assert failure.code == "SMTP 535 5.7.139"
    assert "Authenticated SMTP" in failure.cause and "Reconnecting will not help" in failure.cause
    # A token not refreshed just now proves nothing yet: refresh and try again first.
    assert from_smtp_error(error, credential_fresh=False).stale_token


def test_smtp_454_temporary_auth_failure_is_transient():
    error = smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary authentication failure")
    assert from_smtp_error(error).kind is Kind.TRANSIENT
    assert from_smtp_error(smtplib.SMTPServerDisconnected("gone")).kind is Kind.TRANSIENT


@pytest.mark.parametrize("exc,code", [
    (socket.gaierror(-2, "Name or service not known"), "DNS"),
    (ConnectionRefusedError(111, "refused"), "refused"),
    (TimeoutError("timed out"), "timeout"),
    (ConnectionResetError(104, "reset"), "reset"),
    (ssl.SSLCertVerificationError("certificate verify failed"), "TLS certificate"),
    (ssl.SSLError("wrong version number"), "TLS"),
])
def test_network_trouble_is_transient_and_named_plainly(exc, code):
    failure = from_network_error(exc, "IMAP")
    assert failure.kind is Kind.TRANSIENT and failure.code == code and "IMAP" in failure.cause
