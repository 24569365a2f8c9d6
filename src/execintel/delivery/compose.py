"""One report for one recipient as an RFC 5322 message: text and HTML with inline charts, the PDF and worklists.

Structure (the ``multipart/mixed`` wrapper only when there is an attachment)::

    multipart/mixed
    ├── multipart/related
    │   ├── multipart/alternative
    │   │   ├── text/plain            (UTF-8)
    │   │   └── text/html             (UTF-8; charts as <img src="cid:...">)
    │   └── image/png ...             (Content-ID, Content-Disposition: inline)
    ├── application/pdf               (attachment: the full report)
    └── text/csv ...                  (attachment, UTF-8: each worklist, one row per item)

Every value that reaches a header is checked before anything is built, so a bad value stops one message with
a :class:`HeaderError` and never reaches a mail server. Bidirectional formatting characters in free text (an
override or isolate a portfolio or person's name opens and never closes) are balanced, so they cannot reorder
what a mail client shows after the field (:func:`balance_bidi`). The output is 7-bit clean (non-ASCII text goes out as
quoted-printable or base64, non-ASCII header text as RFC 2047 encoded words) with CRLF line endings, so it
passes unchanged through SMTP servers without 8BITMIME and through the SES raw-message API.
"""

from __future__ import annotations

import email.policy
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import MIMEPart
from email.utils import format_datetime
from functools import lru_cache

from execintel.config.models import is_valid_email
from execintel.errors import DeliveryError

__all__ = [
    "DELIVERY_HEADER", "HeaderError", "OutgoingMessage", "balance_bidi", "compose", "content_id", "message_id",
]  # fmt: skip

DELIVERY_HEADER = "X-Execintel-Delivery"
SUBJECT_LIMIT = 200
NAME_LIMIT = 100
KEY_LIMIT = 200
ELLIPSIS = "\u2026"

# email.policy.SMTP (CRLF) without 8bit bodies: text parts are encoded, never sent as raw UTF-8.
POLICY = email.policy.SMTP.clone(cte_type="7bit")

_KEY_RE = re.compile(rf"[\x21-\x7e]{{1,{KEY_LIMIT}}}")
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_DOT_ATOM = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
_CONTENT_ID_RE = re.compile(rf"{_DOT_ATOM}@{_DOT_ATOM}")
_MSGID_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/?^_`{|}~-.")
_CONTENT_TYPE_RE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
_CID_SRC_RE = re.compile(r"""\bsrc\s*=\s*["']cid:([^"']+)["']""", re.IGNORECASE)
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# Unicode bidirectional formatting (UAX #9): embeddings and overrides (LRE, RLE, LRO, RLO) end at PDF; isolates
# (LRI, RLI, FSI) end at PDI.
_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")
_PDF = "\u202c"
_ISOLATES = frozenset("\u2066\u2067\u2068")
_PDI = "\u2069"


class HeaderError(DeliveryError):
    """A header value is unsafe or invalid (a line break, a bad address); nothing was sent."""

    def __init__(self, header: str, value: str, problem: str) -> None:
        self.header = header
        self.value = value
        super().__init__(f"The {header} header {problem}: {_shorten(value, 60)!r}.")


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A composed message and its envelope, ready for any mailer."""

    key: str
    """The delivery key; also the ``X-Execintel-Delivery`` header."""
    sender: str
    """The envelope sender and the ``From`` address."""
    to: tuple[str, ...]
    """The recipient addresses, in the ``To`` header and the envelope."""
    bcc: tuple[str, ...]
    """Envelope-only recipients (the audit mailbox); never in any header."""
    data: bytes
    """The RFC 5322 message: CRLF line endings, 7-bit clean, no ``Bcc`` header."""

    @property
    def envelope_recipients(self) -> tuple[str, ...]:
        """``to`` then ``bcc``, without case-insensitive duplicates."""
        seen: set[str] = set()
        unique: list[str] = []
        for address in (*self.to, *self.bcc):
            if address.lower() not in seen:
                seen.add(address.lower())
                unique.append(address)
        return tuple(unique)


def content_id(report: str, chart_id: str) -> str:
    """The Content-ID (without ``<>``) of a chart: ``content_id("cfo", "cash-chart") == "cfo-cash-chart@execintel"``.

    It matches the chart's file name (``cfo-cash-chart.png``); characters that are not letters, digits or
    hyphens become hyphens so the result is always a valid ``msg-id``.
    """
    parts = (re.sub(r"[^a-z0-9-]+", "-", part.lower()).strip("-") for part in (report, chart_id))
    return f"{'-'.join(part for part in parts if part) or 'chart'}@execintel"


def compose(
    *,
    key: str,
    sender: str,
    to: tuple[str, str],
    subject: str,
    text: str,
    html: str,
    images: Mapping[str, bytes],
    pdf: bytes | None = None,
    pdf_name: str = "report.pdf",
    attachments: Sequence[tuple[str, str, bytes]] = (),
    bcc: Sequence[str] = (),
    date: datetime | None = None,
) -> OutgoingMessage:
    """Build the message for one report and one recipient.

    ``to`` is ``(display name, address)``; ``images`` maps a Content-ID (without ``<>``) to PNG bytes, and every
    ``src="cid:..."`` in ``html`` must name one of them. ``attachments`` are more files after the PDF, each
    ``(file name, content type, bytes)`` (the worklist CSVs: ``text/csv``, UTF-8). ``bcc`` goes into the envelope
    only. ``date`` defaults to now; a naive date is taken as UTC. Raises :class:`HeaderError` for an unsafe or
    invalid header value and :class:`DeliveryError` for an HTML image without its part.
    """
    name, address = to
    _check_key(key)
    _check_address("From", sender)
    _check_address("To", address)
    _check_line("To", name, "display name")
    for hidden in bcc:
        _check_address("Bcc", hidden)
    _check_line("Subject", subject, "text")
    _check_line("Content-Disposition", pdf_name, "file name")
    for file_name, content_type, _data in attachments:
        _check_line("Content-Disposition", file_name, "file name")
        if not _CONTENT_TYPE_RE.fullmatch(content_type):
            raise HeaderError("Content-Type", content_type, "is not a content type like text/csv")
    for cid in images:
        if not _CONTENT_ID_RE.fullmatch(cid):
            raise HeaderError("Content-ID", cid, "is not a valid content id (like cfo-cash-chart@execintel)")
    missing = sorted(_cids(html) - set(images))
    if missing:
        raise DeliveryError(f"The HTML refers to cid:{missing[0]} but no image with that Content-ID was given.")

    # The headers that differ per recipient, then the rest: the same bytes for every recipient of a report,
    # serialized once (a report to 1,000 people is one MIME tree, not 1,000).
    head = MIMEPart(policy=POLICY)
    head["To"] = Address(display_name=balance_bidi(_shorten(" ".join(name.split()), NAME_LIMIT)), addr_spec=address)
    head["Date"] = format_datetime(_aware(date or datetime.now(UTC)))
    head["Message-ID"] = message_id(key, sender)
    head[DELIVERY_HEADER] = key
    lines = head.as_bytes(policy=POLICY)[: -len(b"\r\n")]  # the headers without the blank line that ends them
    shared = _shared(sender=sender, subject=balance_bidi(_shorten(" ".join(subject.split()), SUBJECT_LIMIT)),
                     text=text, html=html, images=tuple(images.items()), pdf=pdf,
                     pdf_name=balance_bidi(pdf_name),
                     files=tuple((balance_bidi(n), t, d) for n, t, d in attachments))  # fmt: skip
    return OutgoingMessage(key=key, sender=sender, to=(address,), bcc=tuple(bcc), data=lines + shared)


@lru_cache(maxsize=32)
def _cids(html: str) -> frozenset[str]:
    """The Content-IDs an HTML body's ``src="cid:..."`` name (the same body goes to every recipient of a report)."""
    return frozenset(_CID_SRC_RE.findall(html))


@lru_cache(maxsize=32)
def _shared(
    *, sender: str, subject: str, text: str, html: str, images: tuple[tuple[str, bytes], ...], pdf: bytes | None,
    pdf_name: str, files: tuple[tuple[str, str, bytes], ...] = (),
) -> bytes:  # fmt: skip
    """The message's bytes from ``From:`` on: the headers every recipient shares, and the whole MIME body."""
    body = MIMEPart(policy=POLICY)
    body.set_content(text)
    body.add_alternative(html, subtype="html")

    message = MIMEPart(policy=POLICY)
    message["From"] = Address(addr_spec=sender)
    message["Subject"] = subject
    message["MIME-Version"] = "1.0"
    # EmailMessage.make_related() refuses to wrap an existing multipart/alternative ("Cannot convert
    # alternative to related"), so the related container is made empty and the alternative attached to it.
    message.make_related()
    message.attach(body)
    for cid, png in images:
        local = cid.split("@", 1)[0]
        message.add_related(
            png, maintype="image", subtype="png", cid=f"<{cid}>", disposition="inline", filename=f"{local}.png"
        )
    if pdf is not None or files:
        message.make_mixed()
    if pdf is not None:
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    for file_name, content_type, data in files:
        maintype, subtype = content_type.split("/", 1)
        params = {"charset": "utf-8"} if maintype == "text" else {}
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=file_name, params=params)
    return message.as_bytes(policy=POLICY)


def message_id(key: str, sender: str) -> str:
    """The stable ``Message-ID`` of a delivery: ``<key@sender-domain>``.

    Characters a ``msg-id`` cannot hold (``:``, ``@``, ``=``, ...) become ``=XX`` hex escapes, so two different
    keys never share a Message-ID.
    """
    left = "".join(c if c in _MSGID_SAFE else f"={ord(c):02X}" for c in key)
    left = re.sub(r"^\.|\.$|\.(?=\.)", "=2E", left)
    return f"<{left}@{sender.rsplit('@', 1)[1]}>"


def balance_bidi(text: str) -> str:
    """``text`` with its bidirectional formatting balanced: every embedding, override or isolate it opens is closed
    at its end, and a closing mark with nothing to close is dropped.

    A display name or subject such as ``"Invoice \\u202egpj.exe"`` would otherwise reverse everything a mail
    client shows after it (the rest of the subject line, the next column). Marks that are balanced stay, so
    right-to-left names display as intended. The rules are those of UAX #9: a PDI closes the innermost open
    isolate and every embedding opened inside it; a PDF closes an embedding only within the current isolate.
    """
    if not any(c in _EMBEDDINGS or c in _ISOLATES or c in (_PDF, _PDI) for c in text):
        return text
    out: list[str] = []
    stack: list[str] = []  # "E" for an embedding or override, "I" for an isolate
    for char in text:
        if char in _EMBEDDINGS:
            stack.append("E")
        elif char in _ISOLATES:
            stack.append("I")
        elif char == _PDF:
            if not stack or stack[-1] != "E":
                continue  # nothing to close (or an isolate in the way): drop it
            stack.pop()
        elif char == _PDI:
            if "I" not in stack:
                continue
            while stack.pop() != "I":
                out.append(_PDF)  # close the embeddings opened inside the isolate first
        out.append(char)
    out.extend(_PDF if kind == "E" else _PDI for kind in reversed(stack))
    return "".join(out)


def _check_key(key: str) -> None:
    _check_line(DELIVERY_HEADER, key, "delivery key")
    if not _KEY_RE.fullmatch(key):
        raise HeaderError(
            DELIVERY_HEADER, key, f"delivery key must be 1 to {KEY_LIMIT} printable ASCII characters without spaces"
        )


def _check_address(header: str, address: str) -> None:
    _check_line(header, address, "address")
    if not is_valid_email(address):
        raise HeaderError(header, address, "address is not an email address like name@example.com")


def _check_line(header: str, value: str, what: str) -> None:
    """Refuse CR, LF and every other character that could end a header line or hide in one."""
    for char in value:
        if char in _LINE_BREAKS or (unicodedata.category(char) == "Cc" and char != "\t"):
            raise HeaderError(header, value, f"{what} must not contain a line break or control character")


def _shorten(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + ELLIPSIS


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
