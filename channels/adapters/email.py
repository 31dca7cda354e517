"""E-mail through Django's e-mail backends: SMTP (EMAIL_URL) or an ESP through django-anymail.

options["provider"] says which: "django" sends through settings.EMAIL_BACKEND, "anymail" through
the django-anymail backend named by options["backend"] (configured by Django's ANYMAIL setting).
One connection is opened for the adapter's life and reused for every chunk.

Each message gets, per recipient: a stable Message-ID derived from the delivery's key (a receiver
can deduplicate a retried message), an X-Herald-Delivery header, List-Unsubscribe with one-click
unsubscribe (RFC 8058), every http(s) link in the HTML rewritten to a signed click redirect, an
open-tracking pixel, and the preheader as hidden text at the top. The HTML is parsed once per
distinct HTML (a campaign's messages usually share it): per recipient only the signed tokens
change.

Speed: when the backend is Django's SMTP backend the adapter uses PipelinedSMTPBackend, its
subclass with the same settings, TLS and login, which writes the adapter's prebuilt MIME
(instead of building it with the email package for every recipient) and, when the server offers
PIPELINING (RFC 2920), sends each message's content together with the next message's envelope:
one round trip per message instead of four.

Errors: a refused recipient, a rejected message or a 5xx reply fails that message for good; 4xx
replies, timeouts and lost connections are transient (the connection is opened again on the next
attempt); an ESP's HTTP status is classified with classify_http. One bad message never fails the
others.
"""

from __future__ import annotations

import binascii
import email.utils
import html as htmllib
import logging
import re
import smtplib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from functools import lru_cache
from secrets import token_hex
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from channels.adapters.base import Adapter, Message, Result, classify_http
from channels.tracking import Target, Tracker

log = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Seconds an SMTP command may take; Django's default (EMAIL_TIMEOUT unset) waits forever.
DEFAULT_TIMEOUT = 30.0
# Options an Admin may give the SMTP backend instead of EMAIL_URL's (the password is a secret).
SMTP_OPTIONS = ("host", "port", "username", "use_tls", "use_ssl", "timeout")
MAX_ERROR = 300
# A connection idle longer than this is checked with a NOOP before a chunk (servers drop idle
# sessions: Postfix after 300 s).
IDLE_CHECK = 5.0
# Distinct HTML bodies kept parsed; personalised HTML differs per recipient and churns through.
HTML_CACHE_SIZE = 64
ONE_CLICK = "List-Unsubscribe=One-Click"
PREHEADER = (
    '<span style="display:none!important;visibility:hidden;mso-hide:all;font-size:1px;'
    'line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden">{}</span>'
)
PIXEL = (
    '<img src="{}" width="1" height="1" alt="" '
    'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
)

# Not sent yet: what a message's outcome is until the backend answers for it.
_UNSENT = object()


class InvalidMessage(ValueError):
    """A message that cannot be sent as it is (no address, a malformed one): fails for good."""


# ---------------------------------------------------------------------------------------------
# HTML: parsed once per distinct body
# ---------------------------------------------------------------------------------------------
_HREF = re.compile(
    r"""<(?:a|area)\b[^>]*?\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE
)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
_PREHEADER_SLOT = -1
_PIXEL_SLOT = -2


@dataclass(frozen=True, slots=True)
class ParsedHtml:
    """An HTML body cut where the per-recipient parts go: pieces[0] slot[0] pieces[1] ... A slot
    is a link's index in `urls`, or the preheader or the pixel."""

    pieces: tuple[str, ...]
    slots: tuple[int, ...]
    urls: tuple[str, ...]
    source: str
    # The pieces in quoted-printable, for messages the adapter serialises itself.
    encoded: tuple[bytes, ...]

    def _fill(
        self, pieces: Sequence[Any], preheader: Any, links: Sequence[Any], pixel: Any
    ) -> list[Any]:
        """The pieces with each slot filled: a link, the preheader or the pixel."""
        out = [pieces[0]]
        for slot, piece in zip(self.slots, pieces[1:], strict=True):
            if slot >= 0:
                out.append(links[slot])
            elif slot == _PREHEADER_SLOT:
                out.append(preheader)
            else:
                out.append(pixel)
            out.append(piece)
        return out

    def render(self, preheader: str, links: Sequence[str], pixel: str) -> str:
        return "".join(self._fill(self.pieces, preheader, links, pixel))

    def render_encoded(self, preheader: bytes, links: Sequence[bytes], pixel: bytes) -> bytes:
        """render() in quoted-printable, from pieces encoded once: each part ends with a soft line
        break, so parts encoded apart decode to the HTML render() gives."""
        out = self._fill(self.encoded, preheader, links, pixel)
        return b"=\r\n".join(part for part in out if part)


def parse_html(source: str, *, keep: tuple[str, ...] = ()) -> ParsedHtml:
    """Finds the links to track (http and https hrefs of <a> and <area>, except those starting
    with `keep`: Herald's own tracking and unsubscribe links) and where the preheader and the
    pixel go (after <body>, before </body>; else at the start and the end)."""
    cuts: list[tuple[int, int, int]] = []
    urls: dict[str, int] = {}
    for match in _HREF.finditer(source):
        group = next(g for g in (1, 2, 3) if match.group(g) is not None)
        url = htmllib.unescape(match.group(group)).strip()
        if not url.lower().startswith(("http://", "https://")) or url.startswith(keep):
            continue
        start, end = match.span(group)
        cuts.append((start, end, urls.setdefault(url, len(urls))))
    opening = _BODY_OPEN.search(source)
    at = opening.end() if opening else 0
    cuts.append((at, at, _PREHEADER_SLOT))
    closings = list(_BODY_CLOSE.finditer(source))
    at = closings[-1].start() if closings else len(source)
    cuts.append((at, at, _PIXEL_SLOT))
    # At one position the preheader comes before the pixel (an empty body).
    cuts.sort(key=lambda cut: (cut[0], cut[2] == _PIXEL_SLOT))
    pieces, slots, position = [], [], 0
    for start, end, slot in cuts:
        pieces.append(source[position:start])
        slots.append(slot)
        position = end
    pieces.append(source[position:])
    encoded = tuple(quoted_printable(piece) for piece in pieces)
    return ParsedHtml(tuple(pieces), tuple(slots), tuple(urls), source, encoded)


_DROP = re.compile(r"<!--.*?-->|<(head|style|script|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_LINK = re.compile(
    r"""<a\b[^>]*?\shref\s*=\s*["']?([^"'\s>]+)["']?[^>]*>(.*?)</a\s*>""",
    re.IGNORECASE | re.DOTALL,
)
_BREAK = re.compile(
    r"<br\s*/?>|</(?:p|div|h[1-6]|li|tr|table|blockquote|pre|ul|ol)\s*>", re.IGNORECASE
)
_TAG = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")


def _link_text(match: re.Match[str]) -> str:
    url, label = htmllib.unescape(match.group(1)), _TAG.sub("", match.group(2)).strip()
    if not label or htmllib.unescape(label) == url:
        return url
    return f"{label} ({url})"


@lru_cache(maxsize=HTML_CACHE_SIZE)
def html_to_text(source: str) -> str:
    """A plain-text version of an HTML body for the text/plain part: blocks become lines, links
    "label (url)"."""
    text = _DROP.sub("", source)
    text = _LINK.sub(_link_text, text)
    text = _BREAK.sub("\n", text)
    text = htmllib.unescape(_TAG.sub("", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"


# ---------------------------------------------------------------------------------------------
# Addresses and headers
# ---------------------------------------------------------------------------------------------
_ASCII_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
)


@lru_cache(maxsize=4096)
def envelope_address(address: str) -> str:
    """The address as SMTP's envelope carries it (an internationalised domain in punycode);
    InvalidMessage for anything else."""
    address = address.strip()
    if _ASCII_ADDRESS.fullmatch(address):
        return address
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidMessage(f"Not an e-mail address: {address!r}")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidMessage(f"Not an e-mail address: {address!r}") from exc
    candidate = f"{local}@{domain}"
    if not _ASCII_ADDRESS.fullmatch(candidate):
        raise InvalidMessage(f"Not an e-mail address (or needs SMTPUTF8): {address!r}")
    return candidate


def one_line(value: str) -> str:
    """Header text from a rendered template: a line break from someone's data must not end the
    header (header injection), so it becomes a space."""
    if "\n" in value or "\r" in value:
        return " ".join(value.splitlines())
    return value


@lru_cache(maxsize=1024)
def encoded_header(value: str, name: str) -> str:
    if value.isascii() and len(value) + len(name) < 900:
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


@lru_cache(maxsize=256)
def mailbox(name: str, address: str) -> str:
    """ "Name <address>", quoted or RFC 2047-encoded as the name needs."""
    return email.utils.formataddr((name, envelope_address(address)), charset="utf-8")


def quoted_printable(text: str) -> bytes:
    """The UTF-8 text as quoted-printable with CRLF line ends: short lines, whatever the HTML's
    own lines are, and 7-bit, whatever its characters."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\n", b"\r\n")


quoted_printable_cached = lru_cache(maxsize=HTML_CACHE_SIZE)(quoted_printable)


@lru_cache(maxsize=256)
def preheader_html(text: str) -> tuple[str, bytes]:
    if not text:
        return "", b""
    html = PREHEADER.format(htmllib.escape(text))
    return html, quoted_printable(html)


@lru_cache(maxsize=256)
def sender_display(name: str, address: str) -> str:
    """From as Django's backends take it ("Name" <address>; they encode the name)."""
    return str(Address(display_name=name, addr_spec=address)) if name else address


def message_id(key: str, from_email: str) -> str:
    domain = from_email.rpartition("@")[2].strip().lower() or "herald.invalid"
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = "herald.invalid"
    return f"<{key}.herald@{domain}>"


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------
class HeraldEmail(EmailMultiAlternatives):
    """A Django e-mail that also knows its envelope and its prebuilt MIME, for the SMTP fast path,
    and what became of it (`outcome`: None when sent, the exception when not)."""

    herald_key: str
    envelope: tuple[str, str]
    wire: bytes
    outcome: Any


def dot_stuffed(data: bytes) -> bytes:
    """SMTP's transparency (RFC 5321 4.5.2): a line starting with "." gets another."""
    data = data.replace(b"\n.", b"\n..")
    return b"." + data if data.startswith(b".") else data


# ---------------------------------------------------------------------------------------------
# The SMTP fast path
# ---------------------------------------------------------------------------------------------
class PipelinedSMTPBackend(SMTPBackend):
    """Django's SMTP backend (EMAIL_HOST, EMAIL_PORT, TLS, login, timeout: all as configured)
    sending HeraldEmails as they were prebuilt.

    Unlike Django's backend it does not stop at a refused message: every message's outcome is left
    on it (`outcome`: None when the server accepted it, else the exception), so one bad address
    costs nothing to the others. Only a lost connection ends the chunk: the messages still
    unanswered get that error, and the connection is closed (the next call opens a new one).
    Other EmailMessages are sent as Django's backend sends them.
    """

    last_used = 0.0

    def open(self) -> bool | None:
        opened = super().open()
        if opened:
            self.last_used = time.monotonic()
        return opened

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        if not email_messages:
            return 0
        if not all(isinstance(m, HeraldEmail) for m in email_messages):
            return super().send_messages(email_messages)
        with self._lock:
            for item in email_messages:
                item.outcome = _UNSENT
            try:
                idle = time.monotonic() - self.last_used > IDLE_CHECK
                if self.connection is not None and idle and not self._alive():
                    self._drop()
                self.open()
                smtp = self.connection
                smtp.ehlo_or_helo_if_needed()
                if smtp.has_extn("pipelining"):
                    self._pipelined(smtp, email_messages)
                else:
                    self._one_by_one(smtp, email_messages)
            except OSError as exc:  # socket errors, timeouts, smtplib's errors (all OSErrors)
                for item in email_messages:
                    if item.outcome is _UNSENT:
                        item.outcome = exc
                self._drop()
            self.last_used = time.monotonic()
        return sum(1 for m in email_messages if m.outcome is None)

    def _alive(self) -> bool:
        """A reused connection the server may have closed while idle: one NOOP says."""
        try:
            return self.connection.noop()[0] == 250
        except OSError:
            return False

    def _drop(self) -> None:
        try:
            if self.connection is not None:
                self.connection.close()
        except OSError:
            pass
        self.connection = None

    def _one_by_one(self, smtp: smtplib.SMTP, emails: Sequence[HeraldEmail]) -> None:
        for item in emails:
            sender, recipient = item.envelope
            try:
                smtp.sendmail(sender, [recipient], item.wire)
            except (
                smtplib.SMTPRecipientsRefused,
                smtplib.SMTPSenderRefused,
                smtplib.SMTPDataError,
            ) as exc:
                item.outcome = exc
                if _code(exc) == 421:
                    raise
            else:
                item.outcome = None

    def _pipelined(self, smtp: smtplib.SMTP, emails: Sequence[HeraldEmail]) -> None:
        """RFC 2920: a message's content (allowed first in a group) goes with the next message's
        RSET, MAIL, RCPT and DATA (DATA last); then the replies are read in order."""
        pending: HeraldEmail | None = None  # its DATA got 354; its content goes next
        reset = False
        for item in emails:
            sender, recipient = item.envelope
            group = []
            if pending is not None:
                group.append(dot_stuffed(pending.wire) + b".\r\n")
            if reset:
                group.append(b"RSET\r\n")
            group.append(
                b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                % (sender.encode("ascii"), recipient.encode("ascii"))
            )
            smtp.send(b"".join(group))
            if pending is not None:
                code, reply = smtp.getreply()
                pending.outcome = _reply_outcome(code, reply, smtplib.SMTPDataError(code, reply))
                pending = None
            if reset:
                code, reply = smtp.getreply()
                _check_closing(code, reply)
            replies = [smtp.getreply() for _ in range(3)]
            (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = replies
            for code, reply in replies:
                _check_closing(code, reply)
            if mail_code != 250:
                item.outcome = smtplib.SMTPSenderRefused(mail_code, mail_reply, sender)
            elif rcpt_code not in (250, 251):
                item.outcome = smtplib.SMTPRecipientsRefused({recipient: (rcpt_code, rcpt_reply)})
            elif data_code != 354:
                item.outcome = smtplib.SMTPDataError(data_code, data_reply)
            else:
                pending, reset = item, False
                continue
            if data_code == 354:
                # The server is waiting for content nobody should get: only closing ends that.
                raise smtplib.SMTPServerDisconnected("Server accepted DATA after refusing")
            reset = True
        if pending is not None:
            smtp.send(dot_stuffed(pending.wire) + b".\r\n")
            code, reply = smtp.getreply()
            pending.outcome = _reply_outcome(code, reply, smtplib.SMTPDataError(code, reply))
        elif reset:
            # The last transaction failed half-way: end it before the next chunk's MAIL.
            code, reply = smtp.rset()
            _check_closing(code, reply)


def _check_closing(code: int, reply: bytes) -> None:
    if code == 421:
        raise smtplib.SMTPResponseException(code, reply)


def _reply_outcome(code: int, reply: bytes, error: Exception) -> Exception | None:
    _check_closing(code, reply)
    return None if code == 250 else error


def _code(exc: BaseException) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return codes[0] if codes else None
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code
    return None


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def _reply_text(reply: Any) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(str(reply).split())


def classify(exc: BaseException) -> tuple[bool, str]:
    """(transient, words a marketer can read) for an exception from a backend."""
    from anymail.exceptions import (
        AnymailAPIError,
        AnymailError,
        AnymailInvalidAddress,
        AnymailRecipientsRefused,
    )

    # Anymail's HTTP errors are also OSErrors (requests' IOError): they come first.
    if isinstance(exc, (AnymailRecipientsRefused, AnymailInvalidAddress)):
        return False, _reply_text(exc)[:MAX_ERROR]
    if isinstance(exc, AnymailAPIError):
        status = exc.status_code
        transient = status is None or classify_http(status)
        return transient, _reply_text(exc)
    if isinstance(exc, AnymailError):
        return False, _reply_text(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = _code(exc)
        replies = "; ".join(
            f"{code} {_reply_text(reply)}" for code, reply in exc.recipients.values()
        )
        return (code is not None and 400 <= code < 500), f"Recipient refused: {replies}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True, f"SMTP connection lost: {exc}"
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        words = {
            smtplib.SMTPSenderRefused: "Sender refused",
            smtplib.SMTPDataError: "Message refused",
            smtplib.SMTPAuthenticationError: "SMTP login refused",
            smtplib.SMTPConnectError: "SMTP server refused the connection",
            smtplib.SMTPHeloError: "SMTP server refused the greeting",
        }.get(type(exc), "SMTP error")
        transient = not 500 <= code < 600
        return transient, f"{words}: {code} {_reply_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPException):
        return False, f"SMTP error: {exc}"
    if isinstance(exc, TimeoutError):
        return True, "SMTP server timed out"
    if isinstance(exc, OSError):
        return True, f"Cannot reach the mail server: {exc.strerror or exc}"
    if isinstance(exc, InvalidMessage):
        return False, str(exc)
    return False, f"{type(exc).__name__}: {exc}"


def _ends_chunk(exc: BaseException) -> bool:
    """Errors after which the rest of a chunk is not tried now: the server or the connection is
    gone (they all get the same transient error and are retried later)."""
    from anymail.exceptions import AnymailAPIError, AnymailError

    if isinstance(exc, AnymailAPIError):
        return exc.status_code is None or exc.status_code == 429 or exc.status_code >= 500
    if isinstance(exc, AnymailError):
        return False
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException):
        # Refusals concern one message; 421 is the server closing the session.
        return _code(exc) == 421
    return isinstance(exc, OSError)


class _Progress(list):  # type: ignore[type-arg]
    """A chunk that remembers how far a backend iterated: Django's backends send in order and
    raise at the first failure, so the message they were on when they raised is the one that
    failed, the ones before it went out, and the rest can be sent without sending any twice."""

    position = -1

    def __iter__(self) -> Iterator[Any]:
        for index, item in enumerate(list.__iter__(self)):
            self.position = index
            yield item


# ---------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------
class EmailAdapter(Adapter):
    channel = "email"
    provider = "django"
    chunk_size = 100
    # An SMTP server does not promise to deduplicate by Message-ID: a message whose outcome a
    # crash left unknown is not sent again.
    idempotent = False

    def __init__(
        self, options: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
    ) -> None:
        super().__init__(options, secrets)
        self.kind = self.options.get("provider") or "django"
        self.tracker = Tracker()
        self.connection: BaseEmailBackend | None = None
        # "=" never appears twice in a row in quoted-printable, so no body can contain it.
        self.boundary = f"==herald_{token_hex(12)}=="
        self._parsed: dict[str, ParsedHtml] = {}
        self._html_head = self._part_head("text/html").encode("ascii")
        self._closing = f"\r\n--{self.boundary}--\r\n".encode("ascii")

    # -- connection -----------------------------------------------------------------------------
    def _connect(self) -> BaseEmailBackend:
        if self.connection is not None:
            return self.connection
        if self.kind == "anymail":
            path = self.options.get("backend") or ""
            if not path:
                raise InvalidMessage(
                    "No django-anymail backend is configured (HERALD_ANYMAIL_BACKEND)."
                )
            connection = get_connection(path, fail_silently=False)
        else:
            backend = settings.EMAIL_BACKEND
            if backend == SMTP_BACKEND:
                kwargs = {
                    name: self.options[name]
                    for name in SMTP_OPTIONS
                    if self.options.get(name) not in (None, "")
                }
                if self.secrets.get("password"):
                    kwargs["password"] = self.secrets["password"]
                kwargs.setdefault("timeout", settings.EMAIL_TIMEOUT or DEFAULT_TIMEOUT)
                connection_class = (
                    PipelinedSMTPBackend if self.options.get("fast", True) else SMTPBackend
                )
                connection = connection_class(fail_silently=False, **kwargs)
            else:
                connection = get_connection(backend, fail_silently=False)
        connection.open()
        self.connection = connection
        return connection

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - the messages are sent; a failed QUIT changes nothing
            log.warning("Closing the e-mail connection failed", exc_info=True)

    # -- building -------------------------------------------------------------------------------
    def _parse(self, source: str) -> ParsedHtml:
        parsed = self._parsed.get(source)
        if parsed is None:
            if len(self._parsed) >= HTML_CACHE_SIZE:
                self._parsed.clear()
            parsed = parse_html(source, keep=self.tracker.prefixes())
            self._parsed[source] = parsed
        return parsed

    def build(self, message: Message, *, wire: bool = False, date: str = "") -> HeraldEmail:
        """The message as a Django e-mail; with `wire`, also its MIME as the SMTP fast path sends
        it. InvalidMessage (or BadHeaderError) when it cannot be sent as it is."""
        content = message.content
        if not message.to:
            raise InvalidMessage("The profile has no e-mail address.")
        recipient = envelope_address(message.to)
        sender = envelope_address(content.get("from_email") or "")
        from_name = one_line(content.get("from_name") or "")
        subject = one_line(content.get("subject") or "")
        reply_to = content.get("reply_to") or ""
        if reply_to:
            reply_to = envelope_address(reply_to)

        ids = (message.run_id, message.profile_id, message.campaign_id)
        target = Target(*ids)
        parsed = self._parse(content.get("html") or "")
        links = [self.tracker.url("click", Target(*ids, url)) for url in parsed.urls]
        pixel = PIXEL.format(self.tracker.url("open", target))
        preheader, preheader_encoded = preheader_html(content.get("preheader") or "")
        html = parsed.render(preheader, links, pixel)
        text = content.get("text") or html_to_text(parsed.source)
        unsubscribe = f"<{self.tracker.url('unsubscribe', target)}>"
        mid = message_id(message.key, sender)
        item = HeraldEmail(
            subject=subject,
            body=text,
            from_email=sender_display(from_name, sender),
            to=[recipient],
            reply_to=[reply_to] if reply_to else None,
            headers={
                "Message-ID": mid,
                "List-Unsubscribe": unsubscribe,
                "List-Unsubscribe-Post": ONE_CLICK,
                "X-Herald-Delivery": message.key,
            },
        )
        item.attach_alternative(html, "text/html")
        item.herald_key = message.key
        item.envelope = (sender, recipient)
        item.outcome = _UNSENT
        if not wire:
            return item
        head = [
            f"From: {mailbox(from_name, sender)}",
            f"To: {recipient}",
            f"Subject: {encoded_header(subject, 'Subject')}",
            f"Date: {date}",
            f"Message-ID: {mid}",
            *([f"Reply-To: {reply_to}"] if reply_to else []),
            f"List-Unsubscribe: {unsubscribe}",
            f"List-Unsubscribe-Post: {ONE_CLICK}",
            f"X-Herald-Delivery: {message.key}",
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"',
            self._part_head("text/plain"),
        ]
        item.wire = b"".join(
            (
                "\r\n".join(head).encode("ascii"),
                quoted_printable_cached(text),
                self._html_head,
                parsed.render_encoded(
                    preheader_encoded,
                    [quoted_printable(link) for link in links],
                    quoted_printable(pixel),
                ),
                self._closing,
            )
        )
        return item

    def _part_head(self, content_type: str) -> str:
        return (
            f'\r\n--{self.boundary}\r\nContent-Type: {content_type}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )

    # -- sending --------------------------------------------------------------------------------
    def send(self, messages: Sequence[Message]) -> list[Result]:
        results: dict[str, Result] = {}
        try:
            connection = self._connect()
        except Exception as exc:  # noqa: BLE001 - whatever the backend raises fails the chunk
            transient, error = classify(exc)
            self.close()
            return [
                Result(m.key, ok=False, error=error[:MAX_ERROR], transient=transient)
                for m in messages
            ]
        fast = isinstance(connection, PipelinedSMTPBackend)
        date = email.utils.formatdate(localtime=settings.EMAIL_USE_LOCALTIME)
        emails: list[HeraldEmail] = []
        for message in messages:
            try:
                emails.append(self.build(message, wire=fast, date=date))
            except Exception as exc:  # noqa: BLE001 - one message's content fails only it
                error = classify(exc)[1]
                results[message.key] = Result(message.key, ok=False, error=error[:MAX_ERROR])
        if fast:
            # It opens its connection again by itself when it lost it.
            connection.send_messages(emails)
        else:
            self._send_in_order(connection, emails)
        for item in emails:
            results[item.herald_key] = self._result(item)
        return [results[m.key] for m in messages]

    def _send_in_order(self, connection: BaseEmailBackend, emails: list[HeraldEmail]) -> None:
        """Any Django backend: the whole chunk in one send_messages call; when it raises, the
        message it was on gets the error and the ones after it are sent in another call."""
        rest = emails
        while rest:
            chunk = _Progress(rest)
            try:
                connection.send_messages(chunk)
            except Exception as exc:  # noqa: BLE001 - classified per message below
                failed = max(chunk.position, 0)
                for item in rest[:failed]:
                    item.outcome = None
                if chunk.position < 0 or _ends_chunk(exc):
                    for item in rest[failed:]:
                        item.outcome = exc
                    self.close()
                    return
                rest[failed].outcome = exc
                rest = rest[failed + 1 :]
            else:
                for item in rest:
                    item.outcome = None
                return

    def _result(self, item: HeraldEmail) -> Result:
        outcome = item.outcome
        if outcome is None:
            status = getattr(item, "anymail_status", None)
            if status is not None and self.kind == "anymail":
                if status.status is None:
                    return Result(item.herald_key, ok=False, error="Cancelled before sending.")
                return Result(item.herald_key, ok=True, provider_id=status.message_id or "")
            return Result(item.herald_key, ok=True, provider_id=item.extra_headers["Message-ID"])
        if outcome is _UNSENT:
            return Result(item.herald_key, ok=False, error="Not sent.", transient=True)
        transient, error = classify(outcome)
        return Result(item.herald_key, ok=False, error=error[:MAX_ERROR], transient=transient)
