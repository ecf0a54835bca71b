"""Make README's screenshot of the viewer (docs/viewer-trace.png) from the demo's store.

    python docs/screenshot.py [--chromium /usr/bin/chromium]

Runs ``agentel demo`` offline into a fresh store, starts ``agentel ui`` on it, opens the
demo trace in headless Chromium, selects the refund tool call and saves the page.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
AGENTEL = Path(sys.executable).with_name("agentel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--chromium", default=os.environ.get("AGENTEL_TEST_CHROMIUM", "/usr/bin/chromium")
    )
    parser.add_argument("--out", type=Path, default=HERE / "viewer-trace.png")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTEL_", "OTEL_"))}
    env.pop("OPENAI_API_KEY", None)  # the scripted model: the same picture every time
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "agentel.db")
        demo = subprocess.run(
            [str(AGENTEL), "--db", db, "demo"], env=env, capture_output=True, text=True, check=True
        )
        trace_id = re.search(r"/trace/([0-9a-f]{32})", demo.stdout)[1]  # type: ignore[index]
        viewer = subprocess.Popen(
            [str(AGENTEL), "--db", db, "ui", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = _url(viewer)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium)
                page = browser.new_page(
                    viewport={"width": 1440, "height": 820}, device_scale_factor=1
                )
                page.goto(f"{url}/trace/{trace_id}")
                page.locator(".span-row", has_text="execute_tool issue_refund").click()
                page.locator("#details .tool-arguments").wait_for()
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            viewer.send_signal(signal.SIGINT)
            viewer.wait(timeout=15)
    print(f"wrote {args.out}")


def _url(viewer: subprocess.Popen[str]) -> str:
    assert viewer.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(viewer.stdout, selectors.EVENT_READ)
        if not selector.select(30):
            raise SystemExit("agentel ui printed nothing")
    line = viewer.stdout.readline()
    return re.search(r"http://\S+", line)[0].rstrip("/")  # type: ignore[index]


if __name__ == "__main__":
    main()
