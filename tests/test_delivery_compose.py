"""The MIME composer: structure, inline charts, the hidden audit BCC, hostile values and header injection."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

import pytest

from execintel.delivery.compose import HeaderError, OutgoingMessage, compose, content_id
from execintel.errors import DeliveryError

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # binary, with CR and LF bytes inside
CASH = content_id("cfo", "cash-chart")
RUNWAY = content_id("cfo", "runway")
HTML = f'<h1>CFO</h1><img src="cid:{CASH}" alt="cash"><p>runway</p><img src="cid:{RUNWAY}" alt="runway">'
TEXT = "CFO report\n\n.a line that starts with a dot\nCash: $1,234\n"
AUDIT = "audit@example.org"

SCRIPT = "<script>alert('x')</script>"
TEMPLATE = "{{7*7}}{% if true %}jinja{% endif %}"
RTL = "\u05de\u05e1\u05e2\u05d3\u05ea \u0627\u0644\u0634\u0631\u0643\u0629 \u202eevil\u202c"
EMOJI = "\U0001f680\u26f5\U0001f4b8\U0001f469\u200d\U0001f469\u200d\U0001f467"
LONG = "W" * 10_000
HOSTILE = [SCRIPT, TEMPLATE, RTL, EMOJI, LONG, f'"Casey, CEO" <evil@example.org> {SCRIPT}']


def _compose(**overrides: Any) -> OutgoingMessage:
    arguments: dict[str, Any] = {
        "key": "run-7:cfo:casey",
        "sender": "reports@example.com",
        "to": ("Casey Jones", "ceo@example.com"),
        "subject": "CFO report - 15 Nov 2026",
        "text": TEXT,
        "html": HTML,
        "images": {CASH: PNG, RUNWAY: PNG[::-1]},
        "pdf": b"%PDF-1.7\n" + bytes(range(256)),
        "bcc": (AUDIT,),
        "date": datetime(2026, 11, 15, 7, 30, tzinfo=UTC),
    }
    arguments.update(overrides)
    return compose(**arguments)


def _parse(message: OutgoingMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _tree(part: EmailMessage) -> Any:
    if part.is_multipart():
        return (part.get_content_type(), [_tree(sub) for sub in part.iter_parts()])  # type: ignore[arg-type]
    return part.get_content_type()


def _display_name(message: OutgoingMessage) -> str:
    """The To display name decoded as RFC 2047 says and mail clients do: adjacent encoded words are joined.

    CPython's address parser (policy.default) puts a space between adjacent encoded words in a display name,
    so a long non-ASCII name would seem to change; the bytes are right, the parser is not.
    """
    raw = email.message_from_bytes(message.data, policy=email.policy.compat32)["To"]
    phrase = re.sub(r"\s*<[^<>]*>$", "", re.sub(r"\r?\n(?=[ \t])", "", raw))
    decoded = str(make_header(decode_header(phrase)))
    return email.utils.unquote(decoded) if decoded.startswith('"') else decoded


def _unix(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_structure_is_related_alternative_with_inline_charts_inside_mixed_with_the_pdf() -> None:
    parsed = _parse(_compose())
    assert _tree(parsed) == (
        "multipart/mixed",
        [
            ("multipart/related", [("multipart/alternative", ["text/plain", "text/html"]), "image/png", "image/png"]),
            "application/pdf",
        ],
    )
    pdf = next(part for part in parsed.walk() if part.get_content_type() == "application/pdf")
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_filename() == "report.pdf"
    assert pdf.get_content() == b"%PDF-1.7\n" + bytes(range(256))


def test_without_a_pdf_the_message_is_the_related_part() -> None:
    assert _tree(_parse(_compose(pdf=None))) == (
        "multipart/related",
        [("multipart/alternative", ["text/plain", "text/html"]), "image/png", "image/png"],
    )


CSV = "Entity,Email,Problem\r\nqosd,'=cmd,invalid address\r\njada,Zoë@example.com,duplicate\r\n".encode()


def test_worklists_are_attached_as_utf8_csv_after_the_pdf() -> None:
    parsed = _parse(_compose(attachments=[("cmo-contacts-to-fix.csv", "text/csv", CSV),
                                          ("accounting-missing-receipts.csv", "text/csv", b"a,b\r\n")]))  # fmt: skip
    assert _tree(parsed) == (
        "multipart/mixed",
        [
            ("multipart/related", [("multipart/alternative", ["text/plain", "text/html"]), "image/png", "image/png"]),
            "application/pdf",
            "text/csv",
            "text/csv",
        ],
    )
    first, second = (part for part in parsed.walk() if part.get_content_type() == "text/csv")
    assert first.get_content_disposition() == "attachment" and first.get_filename() == "cmo-contacts-to-fix.csv"
    assert first.get_content_charset() == "utf-8"
    assert first.get_payload(decode=True) == CSV  # byte for byte: CRLF and UTF-8 kept
    assert second.get_filename() == "accounting-missing-receipts.csv"


def test_without_a_pdf_worklists_still_make_the_message_mixed() -> None:
    parsed = _parse(_compose(pdf=None, attachments=[("cmo-contacts-to-fix.csv", "text/csv", CSV)]))
    assert _tree(parsed) == (
        "multipart/mixed",
        [("multipart/related", [("multipart/alternative", ["text/plain", "text/html"]), "image/png", "image/png"]),
         "text/csv"],
    )  # fmt: skip


@pytest.mark.parametrize(("name", "content_type", "header"), [("a\r\nBcc: x@example.org.csv", "text/csv",
                                                               "Content-Disposition"),
                                                              ("a.csv", "text/csv\r\nX-Evil: 1", "Content-Type")])  # fmt: skip
def test_an_attachment_name_or_type_with_a_line_break_is_refused(name: str, content_type: str, header: str) -> None:
    with pytest.raises(HeaderError, match=header):
        _compose(attachments=[(name, content_type, b"x")])


def test_every_cid_in_the_html_has_its_inline_image() -> None:
    parsed = _parse(_compose())
    html = parsed.get_body(("html",))
    assert html is not None
    referenced = re.findall(r'src="cid:([^"]+)"', html.get_content())
    images = {part["Content-ID"]: part for part in parsed.walk() if part.get_content_maintype() == "image"}
    assert referenced == [CASH, RUNWAY]
    assert set(images) == {f"<{CASH}>", f"<{RUNWAY}>"}
    assert images[f"<{CASH}>"].get_content() == PNG
    assert images[f"<{RUNWAY}>"].get_content() == PNG[::-1]
    assert all(part.get_content_disposition() == "inline" for part in images.values())


def test_an_html_image_without_its_part_is_refused() -> None:
    with pytest.raises(DeliveryError, match=r"cid:cfo-runway@execintel but no image"):
        _compose(images={CASH: PNG})


def test_headers() -> None:
    message = _compose()
    parsed = _parse(message)
    assert str(parsed["From"]) == "reports@example.com"
    assert str(parsed["To"]) == "Casey Jones <ceo@example.com>"
    assert parsed["Subject"] == "CFO report - 15 Nov 2026"
    assert parsed["Date"].datetime == datetime(2026, 11, 15, 7, 30, tzinfo=UTC)
    assert parsed["Message-ID"] == "<run-7=3Acfo=3Acasey@example.com>"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["X-Execintel-Delivery"] == "run-7:cfo:casey"
    assert (message.key, message.sender, message.to, message.bcc) == (
        "run-7:cfo:casey", "reports@example.com", ("ceo@example.com",), (AUDIT,),
    )  # fmt: skip


def test_the_message_id_is_stable_per_key_and_distinct_between_keys() -> None:
    first, again = _parse(_compose()), _parse(_compose(date=datetime(2027, 1, 1, tzinfo=UTC)))
    assert first["Message-ID"] == again["Message-ID"]
    ids = {_parse(_compose(key=key))["Message-ID"] for key in ("a:b", "a=3Ab", "a.b", "a..b", ".ab", "a/b")}
    assert len(ids) == 6


def test_the_audit_bcc_is_in_the_envelope_only() -> None:
    message = _compose(bcc=(AUDIT, "CEO@example.com"))
    assert message.envelope_recipients == ("ceo@example.com", AUDIT)  # the To again, in capitals, is dropped
    assert "Bcc" not in _parse(message)
    assert b"audit" not in message.data.lower()


def test_bytes_are_crlf_seven_bit_and_short_lined() -> None:
    data = _compose(text=f"{RTL} {EMOJI}\n{LONG}\n", html=f"<p>{RTL}</p>{HTML}").data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert max(data) < 128
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


@pytest.mark.parametrize("value", HOSTILE, ids=["script", "template", "rtl", "emoji", "long", "fake-address"])
def test_hostile_values_round_trip_inert(value: str) -> None:
    message = _compose(subject=f"Report {value}", to=(value, "ceo@example.com"), text=value, html=f"<p>{value}</p>")
    parsed = _parse(message)
    collapsed = " ".join(f"Report {value}".split())
    expected_subject = collapsed if len(collapsed) <= 200 else collapsed[:199] + "\u2026"
    assert parsed["Subject"] == expected_subject
    assert parsed["To"].addresses[0].addr_spec == "ceo@example.com"  # a hostile name never becomes an address
    assert len(parsed["To"].addresses) == 1
    assert _display_name(message) == (value if len(value) <= 100 else value[:99] + "\u2026")
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and html is not None
    assert _unix(text.get_content()).rstrip("\n") == value
    assert _unix(html.get_content()).rstrip("\n") == f"<p>{value}</p>"
    header_block = message.data.split(b"\r\n\r\n", 1)[0]
    assert len(header_block) < 2_000  # a 10,000-character name does not make a 10 KB header


@pytest.mark.parametrize(
    ("field", "header"),
    [
        ("subject", "Subject"),
        ("name", "To"),
        ("address", "To"),
        ("sender", "From"),
        ("key", "X-Execintel-Delivery"),
        ("bcc", "Bcc"),
        ("pdf_name", "Content-Disposition"),
    ],
)
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r", "\u2028", "\x85", "\x0b"])
def test_line_breaks_in_header_values_are_refused_naming_the_header(field: str, header: str, newline: str) -> None:
    injected = f"x{newline}Bcc: evil@example.org"
    cases: dict[str, dict[str, Any]] = {
        "subject": {"subject": injected},
        "name": {"to": (injected, "ceo@example.com")},
        "address": {"to": ("Casey", f"ceo@example.com{newline}")},
        "sender": {"sender": f"reports@example.com{newline}"},
        "key": {"key": injected},
        "bcc": {"bcc": (f"{AUDIT}{newline}",)},
        "pdf_name": {"pdf_name": injected},
    }
    with pytest.raises(HeaderError) as caught:
        _compose(**cases[field])
    assert caught.value.header == header
    assert str(caught.value).startswith(f"The {header} header ")
    assert repr(newline)[1:-1] in str(caught.value)  # the offending value is shown escaped


@pytest.mark.parametrize(
    ("arguments", "header"),
    [
        ({"sender": "reports"}, "From"),
        ({"to": ("Casey", "ceo@localhost")}, "To"),
        ({"to": ("Casey", "Casey <ceo@example.com>")}, "To"),
        ({"bcc": ("audit@@example.org",)}, "Bcc"),
        ({"key": "has space"}, "X-Execintel-Delivery"),
        ({"key": ""}, "X-Execintel-Delivery"),
        ({"key": "cl\u00e9"}, "X-Execintel-Delivery"),
        ({"images": {"no-at-sign": PNG}, "html": "<p>no charts</p>"}, "Content-ID"),
    ],
)
def test_invalid_values_are_refused_before_anything_is_built(arguments: dict[str, Any], header: str) -> None:
    with pytest.raises(HeaderError) as caught:
        _compose(**arguments)
    assert caught.value.header == header


def test_the_error_shows_a_long_value_shortened() -> None:
    with pytest.raises(HeaderError) as caught:
        _compose(subject=LONG + "\n")
    assert len(str(caught.value)) < 200


def test_content_ids_are_stable_valid_and_usable() -> None:
    assert content_id("cfo", "cash-chart") == "cfo-cash-chart@execintel"
    assert content_id("cfo", "cash-chart") == content_id("cfo", "cash-chart")
    odd = content_id("Billing Audit", "<cash>/ chart\r\n")
    assert odd == "billing-audit-cash-chart@execintel"
    parsed = _parse(_compose(html=f'<img src="cid:{odd}">', images={odd: PNG}))
    assert [part["Content-ID"] for part in parsed.walk() if part.get_content_maintype() == "image"] == [f"<{odd}>"]


def test_a_naive_date_is_utc_and_an_aware_one_keeps_its_offset() -> None:
    naive = _parse(_compose(date=datetime(2026, 11, 15, 7, 30)))  # naive on purpose
    assert naive["Date"].datetime == datetime(2026, 11, 15, 7, 30, tzinfo=UTC)
    pacific = timezone(timedelta(hours=-8))
    aware = _parse(_compose(date=datetime(2026, 11, 15, 7, 30, tzinfo=pacific)))
    assert aware["Date"].datetime.utcoffset() == timedelta(hours=-8)


def test_non_ascii_pdf_name_and_display_name_round_trip() -> None:
    message = _compose(to=("Jos\u00e9 N\u00fa\u00f1ez", "jose@example.com"), pdf_name="r\u00e9sum\u00e9.pdf")
    parsed = _parse(message)
    assert parsed["To"].addresses[0].display_name == "Jos\u00e9 N\u00fa\u00f1ez"
    assert _display_name(message) == "Jos\u00e9 N\u00fa\u00f1ez"
    pdf = next(part for part in parsed.walk() if part.get_content_type() == "application/pdf")
    assert pdf.get_filename() == "r\u00e9sum\u00e9.pdf"


LRE, RLE, PDF, LRO, RLO = "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"
LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"
BIDI = frozenset(LRE + RLE + PDF + LRO + RLO + LRI + RLI + FSI + PDI)


def _balanced(text: str) -> bool:
    """Every embedding, override or isolate in ``text`` is closed, and nothing is closed that was not opened."""
    stack: list[str] = []
    for char in text:
        if char in (LRE, RLE, LRO, RLO, LRI, RLI, FSI):
            stack.append(char)
        elif char == PDF:
            if not stack or stack[-1] in (LRI, RLI, FSI):
                return False
            stack.pop()
        elif char == PDI:
            if not stack or stack[-1] not in (LRI, RLI, FSI):
                return False
            stack.pop()
    return not stack


@pytest.mark.parametrize(
    "value",
    [
        f"Invoice {RLO}fdp.exe",  # the classic: the rest of the line shows reversed
        f"{RLI}Acme{LRO} Holdings",  # an isolate with an override inside it, neither closed
        f"Acme{PDF}{PDI} Holdings",  # closers with nothing to close
        f"{LRE}a{RLI}b{PDF}c",  # a PDF cannot close across an isolate
        f"{RLE}x{LRI}y{PDI}z",  # the isolate is closed, the embedding is not
    ],
)
def test_an_unbalanced_bidi_override_in_a_subject_or_display_name_is_closed(value: str) -> None:
    message = _compose(subject=f"CFO report - {value}", to=(value, "ceo@example.com"))
    subject, name = _parse(message)["Subject"], _display_name(message)
    assert _balanced(subject) and _balanced(name), (subject, name)
    # nothing but the marks changed
    assert _unmarked(subject) == _unmarked(f"CFO report - {value}") and _unmarked(name) == _unmarked(value)


def _unmarked(text: str) -> str:
    return "".join(c for c in text if c not in BIDI)


def test_balanced_bidi_text_is_kept_as_written() -> None:
    name = f"{RLI}\u05de\u05e1\u05e2\u05d3\u05ea \u05d4\u05d9\u05dd{PDI} Holdings"  # a Hebrew name, isolated
    assert _display_name(_compose(to=(name, "ceo@example.com"))) == name
    assert _parse(_compose(subject=name))["Subject"] == name
