"""Screenshots of every demo report for the docs: the mail HTML in Debian's headless Chromium at 600 px.

For the ceo, cfo, cto and cmo reports that is the email body (``<report>.email.html``), the summary.

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/<report>.png

Runs ``execintel run --dry-run`` on the bundled demo into a temporary folder, opens each report's HTML,
and keeps the top of the page (the full pages are in ``test-artifacts/browser/`` after ``make test``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Write one PNG per report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=600)
    parser.add_argument("--height", type=int, default=1400, help="keep this many pixels from the top")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "execintel", "run", "--dry-run", "--out", folder],
                       check=True, capture_output=True)  # fmt: skip
        [run] = Path(folder).iterdir()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            for html in sorted(run.glob("*.html")):
                if html.name.endswith(".email.html"):
                    continue
                email = html.with_name(f"{html.stem}.email.html")  # what a summary report's recipient reads
                page.goto((email if email.exists() else html).as_uri(), wait_until="load")
                target = args.out / f"{html.stem}.png"
                page.screenshot(path=str(target))
                image = Image.open(target).convert("RGB").quantize(colors=128)
                image.save(target, optimize=True)
                print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KiB)")
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
