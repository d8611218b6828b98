"""Time from navigation to each dashboard page's content being visible, in Chromium.

For each demo scale: generate the data and build the warehouse (or, with `--warehouse`,
take an existing one: nothing is built and the file is only read), start `streamlit
run`, then open every page twice in Debian's Chromium and print the seconds until the
page's own content is on screen: the first visit (the page's queries run) and a second
one served from Streamlit's cache. Every visit is a full page load, as from a bookmark;
with `--navigation click`, a click on the page's link in the sidebar, as a reader moves
between pages (no reload: the browser keeps Streamlit's scripts and the connection).

The first load of a new server and browser (Python importing the page modules, the
browser fetching Streamlit's scripts) is paid once, whatever the data: it is measured and
printed apart, on a tiny demo warehouse, before the measured one takes its place (the
server reads the warehouse through a symbolic link, so the measured one is new to every
cache). `--rounds N` repeats everything with a fresh server and browser and prints the
median of each figure; the machine's other work makes single runs noisy.

    .venv/bin/python benchmarks/dashboard_benchmark.py --scales 1 10
    .venv/bin/python benchmarks/dashboard_benchmark.py --warehouse /tmp/wh100.duckdb --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PAGES, script_idle, streamlit_server

# what must be visible for each page to count as shown
CONTENT = {
    "Overview": "Cost per primary",
    "Channels": "Cost per primary patient, by week of the call",
    "Administrators": "Missed calls by hour of the week",
    "Doctors": "365-day value of their primary patients",
    "Forecast": "Visit days in the last",
    "Budget": "Weekly leads against weekly spend",
    "Reactivation": "Patients to call",
    "Data quality": "Rows per entity",
}
CLI = str(Path(sys.executable).with_name("clinic-analytics"))
ENV = dict(os.environ, CLINIC_HASH_SECRET="benchmark-secret")
WARM_UP_SCALE = 0.1


def build(root: Path, scale: float) -> Path:
    """A demo warehouse of `scale` under `root`."""
    warehouse = root / "warehouse.duckdb"
    for command in (
        [CLI, "demo-data", "--out", str(root / "in"), "--scale", str(scale)],
        [CLI, "build", "--input", str(root / "in"), "--warehouse", str(warehouse)],
    ):
        subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL)
    return warehouse


def visit(tab: Page, url: str, title: str, click: bool = False) -> float:
    """Seconds from navigation (a page load, or a click on the sidebar's link) to the
    page's content; then waits for the run to end, so one page's leftover work is never
    timed as the next page's. No page's content text is on the page visited before it."""
    link = tab.locator('[data-testid="stSidebarNavLink"]').filter(has_text=title)
    started = time.perf_counter()
    if click:
        link.click()
    else:
        tab.goto(f"{url}/{PAGES[title]}")
    tab.get_by_text(CONTENT[title]).first.wait_for(timeout=300_000)
    seconds = time.perf_counter() - started
    script_idle(tab, timeout_ms=300_000)
    return seconds


def one_round(
    warehouse: Path, warm_up: Path, click: bool = False
) -> tuple[float, dict[str, list[float]]]:
    """First load (every page once, on `warm_up`), then every page twice on `warehouse`:
    all pages in turn, then all again."""
    with tempfile.TemporaryDirectory(prefix="clinic-dash-link-") as tmp:
        link = Path(tmp) / "warehouse.duckdb"
        link.symlink_to(warm_up.resolve())
        with streamlit_server(link) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tab = browser.new_page(viewport={"width": 1400, "height": 2400})
            first_load = visit(tab, url, "Overview")
            for title in PAGES:  # so each page's scripts are in the browser (and its cache)
                visit(tab, url, title, click)
            link.unlink()
            link.symlink_to(warehouse.resolve())
            times: dict[str, list[float]] = {title: [] for title in PAGES}
            for _ in range(2):
                for title in PAGES:
                    times[title].append(visit(tab, url, title, click))
            browser.close()
    return first_load, times


def measure(warehouse: Path, warm_up: Path, label: str, rounds: int, click: bool) -> None:
    how = "a click in the sidebar" if click else "a page load"
    print(f"\n{label}: warehouse {warehouse.stat().st_size / 2**20:.1f} MiB; each visit {how}")
    results = [one_round(warehouse, warm_up, click) for _ in range(rounds)]
    median = "median of " + str(rounds) + " rounds, " if rounds > 1 else ""
    first_load = statistics.median(r[0] for r in results)
    print(
        f"  first load (Overview, new server and browser, {median}tiny warehouse) {first_load:.2f}s"
    )
    print(f"  {'page':<16}{'first visit':>12}{'cached':>10}")
    for title in PAGES:
        first = statistics.median(r[1][title][0] for r in results)
        cached = statistics.median(r[1][title][1] for r in results)
        print(f"  {title:<16}{first:>11.2f}s{cached:>9.2f}s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument(
        "--warehouse",
        type=Path,
        help="measure this existing warehouse (only read) instead of building one per scale",
    )
    parser.add_argument("--rounds", type=int, default=1, help="print the median of N runs")
    parser.add_argument(
        "--navigation",
        choices=("reload", "click"),
        default="reload",
        help="reach each page by a page load (default) or by its link in the sidebar",
    )
    args = parser.parse_args()
    click = args.navigation == "click"
    with tempfile.TemporaryDirectory(prefix="clinic-dash-") as tmp:
        root = Path(tmp)
        warm_up = build(root / "warm-up", WARM_UP_SCALE)
        if args.warehouse is not None:
            measure(args.warehouse, warm_up, str(args.warehouse), args.rounds, click)
            return 0
        for scale in args.scales:
            warehouse = build(root / f"scale-{scale:g}", scale)
            measure(warehouse, warm_up, f"scale {scale:g}", args.rounds, click)
    return 0


if __name__ == "__main__":
    sys.exit(main())
