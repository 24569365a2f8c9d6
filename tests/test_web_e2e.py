"""The dashboard end to end, in Debian's headless Chromium (Playwright), against ``execintel serve`` started as a
user starts it: ask for a sign-in link, read it from the outbox as a mail client would, sign in, run the CFO
report and watch it finish, open its latest HTML, sign out. Also: a keyboard-only sign-in request at phone width,
no sideways scrolling, a contrast check of every text, and a source check that the dashboard never builds markup
from server data.

Screenshots go to ``test-artifacts/web/`` for people to look at.
"""

from __future__ import annotations

import email
import email.policy
import html
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ARTIFACTS, base_manifest
from hostile import IMAGE, LONG, MIXED

CHROMIUM = Path("/usr/bin/chromium")
STATIC = Path(__file__).parent.parent / "src" / "execintel" / "web" / "static"
SHOTS = ARTIFACTS / "web"
# Flags for a root user in a sandbox with no network (as in test_render_browser.py).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
LINK = re.compile(r"https?://[^\s<>\"']+/auth/verify\?token=[A-Za-z0-9_\-.~%]+")
# A run of the CFO report on the demo takes about 10 s on an idle machine; a loaded one may take several times that.
RUN_TIMEOUT_MS = 180_000

# Every visible text's colour against the background it is drawn on (walking up to the first opaque one), as the
# WCAG contrast ratio; the texts under 4.5:1 come back as sentences.
LOW_CONTRAST = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return {r, g, b, a}; };
  const lum = ({r, g, b}) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor); if (c && c.a >= 1) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const problems = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el.getClientRects().length || el.closest('.visually-hidden, [hidden]')) continue;
    const style = getComputedStyle(el);
    if (style.visibility !== 'visible' || Number(style.opacity) === 0) continue;
    const fg = parse(style.color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) problems.push(`"${node.textContent.trim().slice(0, 40)}": ${ratio.toFixed(2)}:1 (${style.color} on rgb(${bg.r}, ${bg.g}, ${bg.b}))`);
  }
  return problems;
}"""


@dataclass
class Server:
    """``execintel serve`` on a loopback port, with its outbox and output folders."""

    base: str
    outbox: Path
    out: Path
    seen: set[str] = field(default_factory=set)

    def sign_in_link(self, address: str, timeout: float = 30.0) -> str:
        """The link of the newest sign-in email to ``address`` not read before, read as a mail client would."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = [p for p in self.outbox.glob("*.eml") if p.name not in self.seen]
            for path in sorted(fresh, key=lambda p: p.stat().st_mtime, reverse=True):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                body = message.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                found = LINK.search(text)
                if address in str(message["To"]) and found:
                    self.seen.add(path.name)
                    return found.group(0)
            time.sleep(0.1)
        raise AssertionError(f"no sign-in email to {address} arrived in {self.outbox} within {timeout:.0f} s")

    def messages_to(self, address: str) -> list[Any]:
        """Every message in the outbox addressed to ``address``."""
        messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                    for p in self.outbox.glob("*.eml")]  # fmt: skip
        return [m for m in messages if address in str(m["To"])]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:  # noqa: S310 - loopback http only
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _start(folder: Path, env: dict[str, str], portfolio: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server on a free port (another one if a different process took the port first)."""
    for _ in range(3):
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with (folder / "serve.log").open("ab") as log:
            process = subprocess.Popen([sys.executable, "-m", "execintel", "serve", *portfolio, "--host", "127.0.0.1",
                                        "--port", str(port)], cwd=folder, env=env, stdout=log,
                                       stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            if _healthy(base):
                return process, base
            time.sleep(0.2)
        _stop(process)
        log_text = (folder / "serve.log").read_text(errors="replace")
        if "address already in use" not in log_text.lower():
            pytest.fail(f"execintel serve did not answer /healthz:\n{log_text[-3000:]}")
    pytest.fail("execintel serve found no free port in three tries")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _serve(folder: Path, portfolio: Path | None = None) -> Iterator[Server]:
    """``execintel serve [PORTFOLIO]`` (the bundled demo by default) on loopback, its mail going to an outbox
    folder, its runs to a SQLite store; stopped (terminated, then killed) however the tests end."""
    env = {
        "PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "NO_COLOR": "1", "COLUMNS": "200",
        "EXECINTEL_DATA_DIR": str(folder / ".execintel-data"),
        "EXECINTEL_JWT_SECRET": secrets.token_urlsafe(48),  # made here, never a fixed value in the source
        "EXECINTEL_MAILER": f"outbox:{folder / 'outbox'}",
        "EXECINTEL_STORE": f"sqlite:///{folder / 'audit.sqlite'}",
        "EXECINTEL_OUT": str(folder / "out"),
    }  # fmt: skip
    if "EXECINTEL_CACHE_DIR" in os.environ:
        env["EXECINTEL_CACHE_DIR"] = os.environ["EXECINTEL_CACHE_DIR"]
    process, base = _start(folder, env, [str(portfolio)] if portfolio else [])
    try:
        yield Server(base, folder / "outbox", folder / "out")
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The bundled demo portfolio, served."""
    yield from _serve(tmp_path_factory.mktemp("web-e2e"))


# Names a manifest may give a stakeholder and a portfolio: markup, template syntax, a 10,000-character word.
HOSTILE_PERSON = f"{MIXED} {IMAGE}"
HOSTILE_PORTFOLIO = f"{IMAGE} {LONG}"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A small portfolio whose stakeholder and portfolio names are hostile, served."""
    folder = tmp_path_factory.mktemp("web-e2e-hostile")
    manifest = base_manifest(
        portfolio={"name": HOSTILE_PORTFOLIO, "as_of": "2026-11-15"},
        stakeholders=[{"id": "casey", "name": HOSTILE_PERSON, "email": "ceo@example.com", "roles": ["ceo"]}],
    )
    path = folder / "portfolio" / "portfolio.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    yield from _serve(folder, path)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: run `make test` (it installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watched:
    """A browser page and what went wrong on it: script errors, CSP violations, requests to other origins."""

    context: Any
    page: Any
    problems: list[str]


def _open(browser: Any, server: Server, width: int) -> Watched:
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if "Content Security Policy" in m.text else None)
    page.on("request", lambda r: None if r.url.startswith((server.base, "data:")) else problems.append(r.url))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return Watched(context, page, problems)


def _shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _sign_in(page: Any, server: Server, address: str, shot: str = "", link: str = "") -> None:
    """Open the emailed link and press its "Sign in" button; the dashboard shows this user. No request the
    browser makes on the way carries the link's token in its Referer."""
    requests: list[Any] = []

    def record(request: Any) -> None:
        requests.append(request)

    page.on("request", record)
    page.goto(link or server.sign_in_link(address))
    if shot:
        _shot(page, shot)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.base}/")
    page.locator("#who-email").filter(has_text=address).wait_for()
    page.remove_listener("request", record)
    referers = {r.url: r.header_value("referer") for r in requests}
    assert len(referers) >= 3, referers  # the link, its page's style sheet, the form's POST, the dashboard
    assert [url for url, referer in referers.items() if referer and "token" in referer] == [], referers


@pytest.mark.slow  # a real run of the CFO report on the demo: 10-40 s
def test_a_stakeholder_signs_in_from_the_emailed_link_runs_their_report_and_signs_out(
    browser: Any, server: Server
) -> None:
    from playwright.sync_api import expect

    watched = _open(browser, server, 1280)
    page = watched.page
    try:
        page.goto(f"{server.base}/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        _shot(page, "signed-out")
        assert page.evaluate(LOW_CONTRAST) == []

        page.get_by_label("Email address").fill("cfo@example.com")
        page.get_by_role("button", name="Email me a sign-in link").click()
        expect(page.locator("#signin-status")).to_contain_text("sign-in link is on its way")
        _sign_in(page, server, "cfo@example.com", shot="confirm-sign-in")

        # only what the CFO's role allows: the CFO report, not the CTO's (nor any other)
        expect(page.locator("#who-roles")).to_have_text("cfo")
        row = page.locator('[data-report="cfo"]')
        expect(row).to_be_visible()
        assert page.locator("[data-report]").evaluate_all("rows => rows.map(r => r.dataset.report)") == ["cfo"]
        assert page.locator('[data-report="cto"]').count() == 0
        _shot(page, "signed-in")
        assert page.evaluate(LOW_CONTRAST) == []

        sent_before = len(server.messages_to("cfo@example.com"))
        row.get_by_role("button", name="Run now").click()
        status = row.locator(".run-status p")
        expect(status).to_contain_text(re.compile(r"queued|Running|Run finished"))
        expect(status).to_contain_text("Run finished:", timeout=RUN_TIMEOUT_MS)  # final, whatever the outcome
        expect(status).to_have_text("Run finished: ok", timeout=1)
        expect(row.locator(".deliveries li")).to_contain_text(["cfo@example.com: sent"])
        # the history has the run, triggered from the web by this user; the report got its Latest link
        history = page.locator("#history-rows tr").first
        expect(history).to_contain_text("web:cfo@example.com")
        expect(history).to_contain_text("ok")
        latest = row.get_by_role("link", name="Latest")
        expect(latest).to_be_visible()
        _shot(page, "run-finished")
        assert page.evaluate(LOW_CONTRAST) == []
        # the report really went out: one more message in the CFO's mailbox
        assert len(server.messages_to("cfo@example.com")) > sent_before

        with watched.context.expect_page() as opened:
            latest.click()
        report = opened.value
        report.wait_for_load_state()
        rendered = sorted(server.out.glob("*/cfo.html"), key=lambda p: p.stat().st_mtime)
        assert rendered, f"no cfo.html under {server.out}"
        document = rendered[-1].read_text(encoding="utf-8")
        title = re.search(r"<title>(.*?)</title>", document, re.S)
        assert title is not None
        assert report.title() == " ".join(html.unescape(title.group(1)).split())
        assert report.url == f"{server.base}/api/reports/cfo/latest"
        assert watched.context.request.get(report.url).text() == document  # the file the run rendered, as it is
        _shot(report, "latest-cfo", full_page=False)  # the top: a report is long
        report.close()

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.locator("#signin-status")).to_have_text("You are signed out.")
        assert watched.context.request.get(f"{server.base}/api/me").status == 401
        page.reload()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.locator("[data-report]").count() == 0
        assert watched.problems == []
    finally:
        watched.context.close()


def test_at_phone_width_the_keyboard_alone_signs_in_and_hostile_names_stay_inert_text(
    browser: Any, hostile_server: Server
) -> None:
    from playwright.sync_api import expect

    server = hostile_server
    watched = _open(browser, server, 375)
    page = watched.page
    try:
        page.goto(f"{server.base}/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375

        focused = "document.activeElement.id || document.activeElement.textContent.trim()"
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "Skip to content"
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "email"
        # the focus is visible: a ring of at least 2 px around the field
        ring = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                             " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")  # fmt: skip
        assert ring[0] != "none" and ring[1] >= 2, ring
        page.keyboard.type("not an address")
        page.keyboard.press("Enter")
        expect(page.locator("#signin-status")).to_have_text("Enter your email address, like name@example.com.")
        assert page.evaluate(focused) == "email"
        page.keyboard.press("Control+A")
        page.keyboard.type("ceo@example.com")
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == "signin-button"
        page.keyboard.press("Enter")
        expect(page.locator("#signin-status")).to_contain_text("sign-in link is on its way")
        _shot(page, "phone-signed-out")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.evaluate(LOW_CONTRAST) == []
        link = server.sign_in_link("ceo@example.com")

        # asking again and again for one address is refused, and the form says for how long
        status = page.locator("#signin-status")
        for _ in range(10):
            page.keyboard.press("Enter")  # the focus is still on the button
            expect(status).not_to_have_text("Sending…")
            if "Too many" in status.inner_text():
                break
        expect(status).to_have_text(re.compile(r"Too many requests; try again in \d+ seconds?\."))
        expect(status).to_have_attribute("data-tone", "error")

        _sign_in(page, server, "ceo@example.com", link=link)
        expect(page.locator('[data-report="ceo"]')).to_be_visible()
        # the names from the manifest are shown as they are written, as text: no element, no script ran
        expect(page.locator("#who-name")).to_have_text(HOSTILE_PERSON)
        expect(page.locator("#portfolio")).to_have_text(HOSTILE_PORTFOLIO)
        assert page.locator("header img, header script, header [onerror]").count() == 0
        page.locator("#history-title").wait_for()
        _shot(page, "phone-signed-in")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert page.evaluate(LOW_CONTRAST) == []
        assert watched.problems == []
    finally:
        watched.context.close()


def test_the_dashboard_builds_no_markup_from_data_and_loads_nothing_from_elsewhere() -> None:
    """Server data reaches the page as text only, and nothing needs an inline script, style or another origin."""
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "setAttribute(\"on", "setAttribute('on", ".style.", "import("):  # fmt: skip
        assert sink not in script, f"app.js uses {sink}"
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == [], "an inline script"
    assert re.findall(r"\son[a-z]+\s*=", page) == [], "an inline event handler"
    assert re.findall(r"\sstyle\s*=|<style", page) == [], "inline style"
    for name in ("index.html", "app.js", "app.css"):
        text = (STATIC / name).read_text(encoding="utf-8")
        assert re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text) == [], f"{name} names another origin"
