"""Makes docs/report.png, the README's picture of the HTML report, from the walkthrough's
report: `make walkthrough`, then `.venv/bin/python docs/make-report-screenshot.py`.
Needs Debian's chromium."""

import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root / "tests"))

from browser import Browser  # noqa: E402

report = root / "examples" / "seed" / "walkthrough-report.html"
if not report.exists():
    sys.exit(f"{report} is missing: run `make walkthrough` first")
with Browser(width=1280, height=1500) as browser:
    browser.open(report, "document.body.dataset.chartsReady === 'true'")
    errors = browser.console_errors()
    if errors:
        sys.exit(f"the report logged errors: {errors}")
    browser.screenshot(root / "docs" / "report.png")
print("docs/report.png")
