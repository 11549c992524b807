"""Tiny IMAP and SMTP servers that write down everything they hear.

They stand at the other end of tests that prove where a stored password goes — and where it
never goes. They speak just enough of each protocol for imapclient and smtplib to send their
credentials (and always refuse the sign-in), optionally over implicit TLS.
"""

import base64
import binascii
import socket
import ssl
import threading


class CaptureServer:
    """Listens on `host` (a loopback address) and records every line of every connection."""

    def __init__(self, protocol: str, host: str = "127.0.0.1", port: int = 0,
                 tls: ssl.SSLContext | None = None):
        assert protocol in ("imap", "smtp")
        self.protocol, self.tls = protocol, tls
        self.listener = socket.create_server((host, port))
        self.host, self.port = self.listener.getsockname()[:2]
        self.connections = 0
        self.lines: list[bytes] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # -- what the tests ask -----------------------------------------------------------------------

    def heard(self, secret: str) -> bool:
        """Did `secret` reach this server, in clear or inside a base64 SASL answer?"""
        needle = secret.encode()
        with self._lock:
            lines = list(self.lines)
        for line in lines:
            if needle in line:
                return True
            for word in line.split():
                try:
                    if needle in base64.b64decode(word, validate=True):
                        return True
                except (binascii.Error, ValueError):
                    continue
        return False

    def stop(self) -> None:
        self.listener.close()

    # -- the conversation ---------------------------------------------------------------------------

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn, conn.makefile("rb") as lines:
                talk = self._imap if self.protocol == "imap" else self._smtp
                talk(conn, lines)
        except (OSError, ssl.SSLError):
            pass  # the client hung up or refused our certificate: nothing more to hear

    def _next(self, lines) -> bytes:
        line = lines.readline()
        if not line:
            raise ConnectionResetError
        with self._lock:
            self.lines.append(line)
        return line

    def _imap(self, conn, lines):
        conn.sendall(b"* OK capture ready\r\n")
        while True:
            tag, _, rest = self._next(lines).strip().partition(b" ")
            command = rest.split(b" ")[0].upper()
            if command == b"CAPABILITY":
                conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            elif command == b"AUTHENTICATE":
                conn.sendall(b"+ \r\n")
                self._next(lines)
                conn.sendall(tag + b" NO [AUTHENTICATIONFAILED] refused\r\n")
            elif command == b"LOGIN":
                conn.sendall(tag + b" NO [AUTHENTICATIONFAILED] refused\r\n")
            elif command == b"LOGOUT":
                conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                return
            else:
                conn.sendall(tag + b" OK done\r\n")

    def _smtp(self, conn, lines):
        conn.sendall(b"220 capture ESMTP\r\n")
        while True:
            line = self._next(lines).strip()
            verb = line.split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-capture\r\n250 AUTH PLAIN\r\n")
            elif verb == b"AUTH":
                if len(line.split()) < 3:  # no initial response: ask for it
                    conn.sendall(b"334 \r\n")
                    self._next(lines)
                conn.sendall(b"535 5.7.8 refused\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")
