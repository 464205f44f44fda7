"""Building messages and handing them to an SMTP server (smtplib), with a timeout on every call.

`SmtpSender` keeps one connection open for a burst of mails and sorts every outcome into one of
three: `sent` (the server answered 250; refused recipients are reported one by one), `retry` (a
4xx answer, a timeout, a refused or broken connection, a login the server turned down) or
`failed` (a 5xx answer about this mail). It never raises for what a mail server may do.

`abort()` may be called from another thread: it shuts the socket down, so a server that accepts
and never answers cannot keep a stopping daemon waiting.
"""

from __future__ import annotations

import errno
import hashlib
import os
import select
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

from crm_tui.config import SmtpSettings

FALLBACK_DOMAIN = "crm-tui.invalid"
IDLE_CHECK_SECONDS = 10.0
"""A connection idle longer than this is checked with NOOP before it is used again."""


def sender_address(sender: str) -> str:
    """The bare address of `From` ("CRM <crm@firma.de>" -> "crm@firma.de")."""
    return parseaddr(sender)[1] or sender


def mail_domain(sender: str) -> str:
    address = sender_address(sender)
    domain = address.rpartition("@")[2].strip().strip(">").lower()
    return domain or FALLBACK_DOMAIN


def make_message_id(dedupe_key: str, instance: str, sender: str) -> str:
    """A Message-ID that is the same every time the same mail is (re)sent.

    Derived from the dedupe key and this database's instance id, so two databases (the demo and
    the real one) never produce the same id for their own "reminder:1:..." mails.
    """
    digest = hashlib.sha256(f"{instance}\0{dedupe_key}".encode()).hexdigest()[:32]
    kind = dedupe_key.split(":", 1)[0] or "mail"
    return f"<{kind}.{digest}@{mail_domain(sender)}>"


def split_addresses(text: str) -> list[str]:
    return [address for _name, address in getaddresses([text or ""]) if address]


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    body: str,
    message_id: str,
    date: datetime,
    automatic: bool,
) -> EmailMessage:
    """The message exactly as it goes out; the same inputs always give the same bytes."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = " ".join((subject or "").split())
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if automatic:
        # RFC 3834: tells vacation responders not to answer a reminder.
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(body or "")
    return message


@dataclass(frozen=True)
class SendResult:
    status: str
    """sent, retry or failed."""
    error: str = ""
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Recipients the server refused, with its code and answer."""
    connection_error: bool = False
    """The server could not be reached or the session broke: later mails would fare the same."""
    interrupted: bool = False
    """The session was cut by `abort()` (the daemon is stopping), not by the server."""

    @property
    def sent(self) -> bool:
        return self.status == "sent"


def _answer(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def _status_for_code(code: int) -> str:
    return "failed" if 500 <= code < 600 else "retry"


class _AbortableSMTP(smtplib.SMTP):
    """smtplib.SMTP whose connect can be given up from another thread."""

    def __init__(self, abort: threading.Event, **kwargs):
        self._abort_event = abort
        super().__init__(**kwargs)

    def _get_socket(self, host, port, timeout):
        return connect_socket(host, port, timeout, self._abort_event, self.source_address)


def connect_socket(host: str, port: int, timeout: float, abort: threading.Event, source=None) -> socket.socket:
    """A TCP connection within `timeout`, given up early when `abort` is set."""
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    for family, kind, proto, _name, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            if source:
                sock.bind(source)
            sock.setblocking(False)
            code = sock.connect_ex(address)
            if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                raise OSError(code, f"{errno.errorcode.get(code, code)}: cannot connect")
            while code != 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"connecting timed out after {timeout:g} s")
                if abort.is_set():
                    raise ConnectionAbortedError("connection given up: the daemon is stopping")
                _, writable, failed = select.select([], [sock], [sock], min(0.2, remaining))
                if writable or failed:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code:
                        raise OSError(code, os.strerror(code))
                    break
            sock.settimeout(timeout)
            return sock
        except OSError as error:
            sock.close()
            last = error
            if isinstance(error, (TimeoutError, ConnectionAbortedError)):
                raise
    raise last or OSError(f"cannot resolve {host}")


class SmtpSender:
    """One SMTP session at a time, opened on first use and kept for the next mails."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._client: _AbortableSMTP | None = None
        self._last_used = 0.0
        self._abort = threading.Event()
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _open(self) -> _AbortableSMTP:
        settings = self.settings
        timeout = max(settings.timeout, 0.1)
        client = _AbortableSMTP(self._abort, timeout=timeout)
        client._host = settings.host  # STARTTLS checks the certificate against it; connect() does not set it
        with self._lock:
            self._client = client
        client.connect(settings.host, settings.port)
        client.ehlo_or_helo_if_needed()
        if settings.starttls:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if settings.user:
            client.login(settings.user, settings.password)
        return client

    def _session(self) -> _AbortableSMTP:
        client = self._client
        if client is not None and client.sock is not None:
            if time.monotonic() - self._last_used > IDLE_CHECK_SECONDS:
                try:
                    code, _ = client.noop()
                    if code == 250:
                        return client
                except (smtplib.SMTPException, OSError):
                    pass
                self.close()
            else:
                return client
        return self._open()

    def send(self, message: EmailMessage, envelope_from: str, to: Sequence[str]) -> SendResult:
        """Hand one message to the server; never raises for the server's answers or absence."""
        if self._abort.is_set():
            return SendResult("retry", "not sent: the daemon is stopping", interrupted=True)
        try:
            client = self._session()
        except smtplib.SMTPNotSupportedError as error:  # STARTTLS configured, not offered
            self.close()
            return self._broken(f"{self.where}: {error}")
        except (smtplib.SMTPException, OSError) as error:
            return self._failed_session(error)
        try:
            refused = client.send_message(message, from_addr=envelope_from, to_addrs=list(to))
            self._last_used = time.monotonic()
            return SendResult("sent", refused={k: (int(c), _text(m)) for k, (c, m) in refused.items()})
        except smtplib.SMTPRecipientsRefused as error:
            refused = {k: (int(c), _text(m)) for k, (c, m) in error.recipients.items()}
            temporary = any(not (500 <= code < 600) for code, _ in refused.values())
            summary = "; ".join(f"{addr}: {_answer(code, text)}" for addr, (code, text) in refused.items())
            return SendResult("retry" if temporary else "failed", f"recipients refused: {summary}", refused)
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError) as error:
            return self._failed_session(error)
        except smtplib.SMTPResponseException as error:
            # SMTPSenderRefused, SMTPDataError and the like: the server judged this mail.
            if error.smtp_code == 421 or error.smtp_code < 0:
                self.close()
                return self._broken(_answer(error.smtp_code, error.smtp_error))
            return SendResult(_status_for_code(error.smtp_code), _answer(error.smtp_code, error.smtp_error))
        except smtplib.SMTPNotSupportedError as error:
            # This mail needs something the server lacks (SMTPUTF8 for a non-ASCII address).
            return SendResult("failed", f"{self.where}: {error}")
        except (smtplib.SMTPException, OSError) as error:
            return self._failed_session(error)
        except ValueError as error:  # the message cannot be put on the wire as it is
            return SendResult("failed", f"cannot send this message: {error}")

    def _failed_session(self, error: BaseException) -> SendResult:
        """Errors of the session rather than of the mail: answers, timeouts, broken connections."""
        if isinstance(error, smtplib.SMTPAuthenticationError):
            self.close()
            return SendResult("retry", f"login refused: {_answer(error.smtp_code, error.smtp_error)}",
                              connection_error=True)
        if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
            self.close()
            return self._broken(f"{self.where} refused the session: {_answer(error.smtp_code, error.smtp_error)}")
        if isinstance(error, smtplib.SMTPResponseException):
            self.close()
            return self._broken(_answer(error.smtp_code, error.smtp_error))
        self.close()
        return self._broken(f"{self.where}: {_describe(error)}")

    def _broken(self, text: str) -> SendResult:
        if self._abort.is_set():
            return SendResult("retry", "interrupted: the daemon is stopping", connection_error=True,
                              interrupted=True)
        return SendResult("retry", text, connection_error=True)

    def abort(self) -> None:
        """Cut the session now (from any thread): the call in progress fails at once."""
        self._abort.set()
        with self._lock:
            client = self._client
        sock = getattr(client, "sock", None) if client is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.sock is not None and not self._abort.is_set():
                client.sock.settimeout(min(self.settings.timeout, 2.0))
                client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            try:
                client.close()
            except OSError:
                pass


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        text = str(error) or "timed out"
        return text if "timed out" in text else f"timed out ({text})"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"connection closed: {error}" if str(error) else "connection closed by the server"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or error}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__
