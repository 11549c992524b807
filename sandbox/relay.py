"""The submission relay: the sandbox's advertised SMTP port, in front of Dovecot's submission.

Dovecot cannot lose an answer on purpose or end a session at a chosen message, so every
submission connection goes through this relay. It passes the bytes on unchanged, in both
directions, and reads just enough of the dialogue (RFC 5321 with PIPELINING and CHUNKING, as
Dovecot offers them) to know who signed in, with which token, and where each message ends.
That is where the per-user faults of smtp_faults.py act:

- drop after the final dot: the "." goes on to Dovecot, which delivers; its answer is then
  swallowed and the client's connection closed;
- refuse XOAUTH2: at MAIL FROM the relay answers ``421 4.7.0`` itself and closes, after
  marking the access tokens the user's sessions signed in with as dead.

Without a fault it only watches. It runs its own asyncio loop in a thread of the sandbox.
"""

import asyncio
import base64
import binascii
import logging
import threading
from collections import deque

from sandbox import accounts, smtp_faults, store

log = logging.getLogger("sandbox.relay")

READ_SIZE = 65536
END_OF_DATA = b"\r\n.\r\n"
CLOSING = b"421 4.7.0 Try again later, closing connection. (MAIL)\r\n"
OAUTH_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")

# What an awaited server reply answers (one per client command line, in order).
GREETING, COMMAND, AUTH, DATA, FINAL, LOST = "greeting", "command", "auth", "data", "final", "lost"


class Session:
    """One client connection and what the relay has understood of it so far."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter):
        self.client, self.upstream = client, upstream
        self.awaiting = deque([GREETING])
        self.in_data = False   # after 354, until the final "."
        self.tail = b""        # the last bytes of message content, for a "." split across reads
        self.chunk_left = 0    # octets of a BDAT chunk still to pass through
        self.auth: dict | None = None  # the AUTH exchange under way
        self.auth_continues = False    # the server asked (334) for the exchange's next line
        self.user: str | None = None   # once signed in
        self.oauth = False
        self.token: str | None = None
        self.answer_delays: deque[float] = deque()  # per message awaiting its answer (slow_data)

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            writer.close()


class SubmissionRelay:
    def __init__(self, host: str, port: int, upstream_host: str, upstream_port: int):
        self.host, self.port = host, port
        self.upstream = (upstream_host, upstream_port)
        self.sessions: set[Session] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None
        self._error: BaseException | None = None

    # -- the thread and its loop ----------------------------------------------------------------

    def start(self) -> None:
        """Listen (an OSError if the port is taken) and serve in a thread of its own."""
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="smtp-relay",
                                        daemon=True)
        self._thread.start()
        ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._server = self.loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port))
        except OSError as error:
            self._error = error
            ready.set()
            return
        ready.set()
        self.loop.run_forever()
        # Stopped, every connection closed: let the sessions' tasks wind down first.
        tasks = asyncio.all_tasks(self.loop)
        if tasks:
            self.loop.run_until_complete(asyncio.wait(tasks, timeout=2))
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.close()

    def stop(self) -> None:
        if self.loop is None or self._thread is None or not self._thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self._shutdown)
        self._thread.join(5)

    def _shutdown(self) -> None:
        self._server.close()
        for session in list(self.sessions):
            session.close()
        self.loop.stop()

    # -- one connection -------------------------------------------------------------------------

    async def _serve(self, client_reader, client_writer) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.write(b"421 4.3.2 Service not available\r\n")
            client_writer.close()
            return
        session = Session(client_writer, upstream_writer)
        self.sessions.add(session)
        pumps = {asyncio.ensure_future(self._from_client(session, client_reader)),
                 asyncio.ensure_future(self._from_server(session, upstream_reader))}
        done, pending = set(), pumps
        try:
            # Either side hanging up ends the session for both.
            done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the relay is stopping; asyncio's stream callback chokes on a cancelled task
        for pump in pending:
            pump.cancel()
        for pump in done:
            if pump.exception() is not None:
                log.error("relay session failed", exc_info=pump.exception())
        self.sessions.discard(session)
        session.close()

    async def _from_client(self, session: Session, reader) -> None:
        buffer = b""
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except OSError:
                return
            if not data:
                return
            buffer += data
            out = bytearray()
            while buffer:
                if session.chunk_left:  # BDAT content: exactly the announced octets
                    take = min(session.chunk_left, len(buffer))
                    out += buffer[:take]
                    buffer = buffer[take:]
                    session.chunk_left -= take
                elif session.in_data:
                    buffer = self._content(session, buffer, out)
                else:
                    end = buffer.find(b"\n")
                    if end < 0:
                        break  # wait for the rest of the line
                    line, buffer = buffer[:end + 1], buffer[end + 1:]
                    if not self._command(session, line):
                        await self._refuse(session, bytes(out))
                        return
                    out += line
            if out:
                session.upstream.write(out)
                try:
                    await session.upstream.drain()
                except OSError:
                    return

    def _content(self, session: Session, buffer: bytes, out: bytearray) -> bytes:
        """Pass message content on up to and including the final ".": returns what follows."""
        joined = session.tail + buffer
        at = joined.find(END_OF_DATA)
        if at < 0:
            out += buffer
            session.tail = joined[-4:]
            return b""
        end = at + len(END_OF_DATA) - len(session.tail)
        out += buffer[:end]
        session.in_data = False
        session.awaiting.append(self._message_end(session))
        return buffer[end:]

    def _message_end(self, session: Session) -> str:
        if smtp_faults.message_complete(session.user):
            return LOST
        session.answer_delays.append(smtp_faults.answer_delay(session.user))
        return FINAL

    def _command(self, session: Session, line: bytes) -> bool:
        """Note what the server's answer to this line will mean. False: refuse the session."""
        if session.auth_continues:  # a line of the AUTH exchange, not a command
            session.auth_continues = False
            _auth_line(session, line.strip())
            session.awaiting.append(AUTH)
            return True
        verb, _, argument = line.strip().partition(b" ")
        verb = verb.upper()
        if verb == b"MAIL" and session.oauth and smtp_faults.refuse_now(session.user):
            return False
        if verb == b"AUTH":
            mechanism, _, initial = argument.strip().partition(b" ")
            session.auth = {"mechanism": mechanism.decode(errors="replace").upper(),
                            "user": None, "token": None, "lines": 0}
            if initial:
                _auth_line(session, initial.strip())
            session.awaiting.append(AUTH)
        elif verb == b"DATA":
            session.awaiting.append(DATA)
        elif verb == b"BDAT":
            size, _, last = argument.strip().partition(b" ")
            session.chunk_left = int(size) if size.isdigit() else 0
            is_last = last.strip().upper() == b"LAST"
            session.awaiting.append(self._message_end(session) if is_last else COMMAND)
        else:
            session.awaiting.append(COMMAND)
        return True

    async def _from_server(self, session: Session, reader) -> None:
        buffer = b""
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except OSError:
                return
            if not data:
                return
            buffer += data
            out = bytearray()
            start = 0
            while (end := buffer.find(b"\n", start)) >= 0:
                if buffer[start + 3:start + 4] == b"-":  # a multi-line reply goes on
                    start = end + 1
                    continue
                reply, buffer, start = buffer[:end + 1], buffer[end + 1:], 0
                delay = self._answer(session, reply)
                if delay is None:
                    self._lose_answer(session, bytes(out))
                    return
                if delay:  # slow_data: what came before goes now, this answer later
                    session.client.write(bytes(out))
                    out.clear()
                    log.info("fault: holding the answer to a message from %s for %.1f s",
                             session.user, delay)
                    await asyncio.sleep(delay)
                out += reply
            if out:
                session.client.write(out)
                try:
                    await session.client.drain()
                except OSError:
                    return

    def _answer(self, session: Session, reply: bytes) -> float | None:
        """Follow the dialogue from the server's reply. None: lose it and hang up; else the
        seconds to hold it (a slow_data fault) before passing it on."""
        meaning = session.awaiting.popleft() if session.awaiting else COMMAND
        code = reply[:3]
        if meaning == LOST:
            return None
        if meaning == FINAL:
            return session.answer_delays.popleft() if session.answer_delays else 0.0
        if meaning == DATA and code == b"354":
            session.in_data, session.tail = True, b"\r\n"  # the DATA line's CRLF starts it
        elif meaning == AUTH:
            auth = session.auth or {}
            if code == b"334":
                session.auth_continues = True
            elif code == b"235" and auth.get("user"):
                session.user = auth["user"].lower()
                session.oauth = auth["mechanism"] in OAUTH_MECHANISMS
                session.token = auth["token"]
                session.auth = None
            else:
                session.auth = None
        return 0.0

    # -- the faults -----------------------------------------------------------------------------

    def _lose_answer(self, session: Session, before: bytes) -> None:
        """The message was taken and delivered; its answer never reaches the client."""
        if before:
            session.client.write(before)
        log.info("fault: lost the answer to a message from %s", session.user)
        session.close()

    async def _refuse(self, session: Session, before: bytes) -> None:
        """End the session as a provider does when it stops honouring the sign-in: the tokens
        of the user's open sessions die first, so signing in again with them is refused."""
        if before:
            session.upstream.write(before)
        tokens = {s.token for s in self.sessions if s.user == session.user and s.token}
        await asyncio.get_running_loop().run_in_executor(None, _kill, tokens)
        log.info("fault: refused the XOAUTH2 session of %s at MAIL FROM", session.user)
        session.client.write(CLOSING)
        try:
            await session.client.drain()
        except OSError:
            pass
        session.close()


def _kill(tokens: set[str]) -> None:
    with store.db.connection_context():
        accounts.kill_access_tokens(tokens, "session_refused")


def _auth_line(session: Session, line: bytes) -> None:
    """Who is signing in, and with which token, from a line of the AUTH exchange."""
    auth = session.auth
    if auth is None or line in (b"", b"*"):
        return
    try:
        text = base64.b64decode(line, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return
    auth["lines"] += 1
    mechanism = auth["mechanism"]
    if mechanism == "PLAIN":  # authzid NUL authcid NUL password
        parts = text.split("\0")
        if len(parts) == 3:
            auth["user"] = parts[0] or parts[1]
    elif mechanism == "LOGIN":  # the username, then the password
        if auth["lines"] == 1:
            auth["user"] = text
    elif mechanism in OAUTH_MECHANISMS:
        # XOAUTH2: user=…^Aauth=Bearer …^A^A; OAUTHBEARER: n,a=…,^A…auth=Bearer …^A^A
        for field in text.split("\x01"):
            if field.startswith("user="):
                auth["user"] = field[5:]
            elif field.startswith("n,") and ",a=" in field:
                auth["user"] = field.split(",a=", 1)[1].split(",", 1)[0]
            elif field.lower().startswith("auth=bearer "):
                auth["token"] = field[12:].strip()
