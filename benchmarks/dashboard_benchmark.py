"""Time from navigation to each dashboard page's content being visible, in Chromium.

For each demo scale: generate the data, build the warehouse, start `streamlit run`, then
open every page twice in Debian's Chromium (first visit: queries run; second: cached) and
print the seconds until the page's own content is on screen.

    .venv/bin/python benchmarks/dashboard_benchmark.py --scales 1 10
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PAGES, streamlit_server

# what must be visible for each page to count as shown
CONTENT = {
    "Overview": "Cost per primary",
    "Channels": "Cost per primary patient, by week of the call",
    "Administrators": "Missed calls by hour of the week",
    "Doctors": "365-day value of their primary patients",
    "Reactivation": "Patients to call",
    "Data quality": "Rows per entity",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("clinic-analytics"))
    env = dict(os.environ, CLINIC_HASH_SECRET="benchmark-secret")
    for scale in args.scales:
        with tempfile.TemporaryDirectory(prefix="clinic-dash-") as tmp:
            root = Path(tmp)
            warehouse = root / "warehouse.duckdb"
            subprocess.run(
                [cli, "demo-data", "--out", str(root / "in"), "--scale", str(scale)],
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            subprocess.run(
                [cli, "build", "--input", str(root / "in"), "--warehouse", str(warehouse)],
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            print(f"\nscale {scale:g}: warehouse {warehouse.stat().st_size / 2**20:.1f} MiB")
            print(f"  {'page':<16}{'first visit':>12}{'cached':>10}")
            with streamlit_server(warehouse) as url, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                tab = browser.new_page(viewport={"width": 1400, "height": 2400})
                for title, path in PAGES.items():
                    seconds = []
                    for _ in range(2):
                        started = time.perf_counter()
                        tab.goto(f"{url}/{path}")
                        tab.get_by_text(CONTENT[title]).first.wait_for(timeout=120_000)
                        seconds.append(time.perf_counter() - started)
                    print(f"  {title:<16}{seconds[0]:>11.2f}s{seconds[1]:>9.2f}s")
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
