"""What a delivered report looks like in the recipient's mailbox: the summary in the body, the full report and the
worklists attached (a real ``execintel run`` to the outbox)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from conftest import WritePortfolio, base_manifest, cli
from test_comparisons import LEDGER
from test_render_worklists import CONTACTS_A, CONTACTS_B


def _messages(folder: Path) -> dict[str, EmailMessage]:
    found = {}
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found[str(message["Subject"]).split(" report")[0].lower()] = message
    return found


def _tree(part: EmailMessage) -> object:
    if part.is_multipart():
        return (part.get_content_type(), [_tree(sub) for sub in part.iter_parts()])  # type: ignore[arg-type]
    return part.get_content_type()


def test_the_email_is_the_summary_and_the_full_report_and_worklist_are_attached(
    write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    entities = [{"id": "shop", "name": "The Shop", "ledger": "ledger.csv", "contacts": "a.csv"},
                {"id": "b", "name": "B", "contacts": "b.csv"}]  # fmt: skip
    people = [{"id": "casey", "name": "Casey", "email": "casey@example.com", "roles": ["cfo", "cmo"]}]
    manifest = write_portfolio(base_manifest(entities=entities, stakeholders=people, policies={"min_runway_days": 90}),
                               {"ledger.csv": LEDGER, "a.csv": CONTACTS_A, "b.csv": CONTACTS_B})  # fmt: skip
    env = {"EXECINTEL_DATA_DIR": str(tmp_path / "data")}
    done = cli("run", str(manifest), "--pdf", "--reports", "cfo,cmo", "--out", "out", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    [run_dir] = (tmp_path / "out").iterdir()
    messages = _messages(tmp_path / "outbox")

    cmo = messages["cmo"]
    assert _tree(cmo) == (
        "multipart/mixed",
        [("multipart/related", [("multipart/alternative", ["text/plain", "text/html"])]), "application/pdf",
         "text/csv"],
    )  # fmt: skip
    pdf, worklist = cmo.iter_attachments()
    assert pdf.get_filename() == "cmo.pdf" and pdf.get_content() == (run_dir / "cmo.pdf").read_bytes()
    assert worklist.get_filename() == "cmo-contacts-to-fix.csv"
    assert worklist.get_payload(decode=True) == (run_dir / "cmo-contacts-to-fix.csv").read_bytes()
    for kind in ("plain", "html"):
        body = cmo.get_body((kind,))
        assert body is not None
        text = " ".join(body.get_content().split())
        assert "The full report, with every table, finding and worklist, is attached: cmo.pdf." in text
        assert "attached as CSV: cmo-contacts-to-fix.csv" in text
        assert "Full detail" not in text and "Contacts by source" in text  # named as attached, not shown

    cfo = messages["cfo"]
    html = cfo.get_body(("html",))
    assert html is not None
    inline = {part["Content-ID"].strip("<>") for part in cfo.walk() if part.get_content_maintype() == "image"}
    # the summary shows the cash, runway and 13-week forecast charts (at most 3); the revenue-target chart is in
    # the attached PDF only
    assert inline == {"cfo-cash-chart@execintel", "cfo-runway-chart@execintel", "cfo-forecast-chart@execintel"}
    assert (run_dir / "cfo-revenue-target-shop.png").is_file()
    assert "cfo-revenue-target" not in html.get_content()
    # the full page and the email body as sent are both written beside the report
    assert "Full detail" in (run_dir / "cfo.html").read_text() and (run_dir / "cfo.email.html").is_file()
