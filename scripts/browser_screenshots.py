"""Screenshots of a study report's neuron browser for the docs (docs/img/neuron_browser_{1280,390}.png).

Usage (from the repository root, playwright and Debian's chromium installed):

    python scripts/browser_screenshots.py runs/study/report [--out docs/img]

Opens ``neurons.html`` at the channel finding 2 links (the deepest layer's largest person-head gain, read
from the report's findings table) at 1280 px and 390 px wide, waits for every thumbnail, and writes one
PNG per width. Prints the time the page took to draw its table (``performance.now()`` when ready).
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report folder holding index.html and neurons.html")
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="folder for the PNG files")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    index = (args.report / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="(neurons\.html#[^"]+)"', index)
    target = (args.report / "neurons.html").resolve().as_uri() + (links[0][len("neurons.html"):] if links else "")
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
        for width in (1280, 390):
            page = browser.new_page(viewport={"width": width, "height": 1000 if width > 500 else 1500})
            page.goto(target)
            page.wait_for_selector("body[data-ready='1']")
            ready = page.evaluate("() => performance.now()")
            page.evaluate("() => Promise.all([...document.images].map(i => i.decode()))")
            page.evaluate("() => window.scrollTo(0, 0)")
            dest = args.out / f"neuron_browser_{width}.png"
            page.screenshot(path=str(dest))
            print(f"{dest}: {width} px, table drawn {ready:.0f} ms after navigation")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
