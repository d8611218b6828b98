"""End to end in a real browser: every page of the dashboard on a demo warehouse."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dashboards import fmt
from pipelines.settings import Settings
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PAGES, script_idle, streamlit_server

playwright = pytest.importorskip("playwright.sync_api")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: CI must install Debian's chromium")
    pytest.skip(
        f"{CHROMIUM} is not installed (scripts/test.sh installs it as root)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def warehouse(demo_warehouse: tuple[Settings, Path]) -> Path:
    return demo_warehouse[1]


@pytest.fixture(scope="module")
def page(warehouse: Path) -> Iterator[object]:
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(warehouse) as url, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1400, "height": 2400}, accept_downloads=True
        )
        tab = context.new_page()
        tab.base_url = url  # type: ignore[attr-defined]
        yield tab
        browser.close()


def open_page(tab, title: str) -> None:
    """Load a page and wait for its script run to end: the heading is the new page's, so
    the idle state that follows is that run's, not the previous page's."""
    tab.goto(f"{tab.base_url}/{PAGES[title]}")
    tab.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=30_000)
    script_idle(tab)


def no_exception(tab) -> None:
    assert tab.locator('[data-testid="stException"]').count() == 0


def figure(warehouse: Path, sql: str) -> object:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()[0][0]


def test_every_page_shows_its_figures(page, warehouse: Path) -> None:
    expected = {
        "Overview": "Cost per primary",
        "Channels": "First call or last call: who gets the credit",
        "Administrators": figure(
            warehouse, "select admin_name from mart_admin_conversion where rank = 1"
        ),
        "Doctors": figure(
            warehouse, "select doctor_name from mart_doctor_clv order by nps limit 1"
        ),
        "Forecast": "Its own test: the last 26 weeks",
        "Budget": "Weekly leads against weekly spend",
        "Reactivation": "Patients to call",
        "Data quality": "Rows per entity",
    }
    for title, text in expected.items():
        open_page(page, title)
        page.get_by_text(str(text)).first.wait_for(timeout=30_000)
        script_idle(page)  # an exception could still come later in the same run
        no_exception(page)
        page.screenshot(path=str(ARTIFACTS / f"{PAGES[title] or 'overview'}.png"), full_page=True)


def test_doctor_labels_do_not_overlap_on_screen(page, warehouse: Path) -> None:
    """The scatter's labels as Chromium draws them: no two boxes intersect, and the one
    doctor the mart flags is drawn in the red corner's colour."""
    open_page(page, "Doctors")
    chart = page.locator(".js-plotly-plot").first
    chart.locator(".annotation-text").first.wait_for(timeout=30_000)
    script_idle(page)
    names = {
        row[0]
        for row in duckdb.connect(str(warehouse), read_only=True)
        .execute(
            "select doctor_name from mart_doctor_clv where clv_365 is not null and nps is not null"
        )
        .fetchall()
    }
    boxes = {}
    for text in chart.locator(".annotation-text").all():
        content = text.text_content()
        if content in names:
            boxes[content] = text.bounding_box()
    assert set(boxes) == names
    drawn = list(boxes.items())
    for i, (name, a) in enumerate(drawn):
        for other, b in drawn[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, (name, other, a, b)
    chart.screenshot(path=str(ARTIFACTS / "doctors_scatter.png"))


def download_label(patients: int) -> str:
    """The reactivation button's label: it names the rows the file holds."""
    return f"Download the list ({fmt.number(patients)} patients, CSV)"


def test_reactivation_filter_and_download(page, warehouse: Path) -> None:
    open_page(page, "Reactivation")
    total = figure(warehouse, "select count(*) from mart_reactivation")
    page.get_by_role("button", name=download_label(total), exact=True).wait_for(timeout=30_000)
    doctor = figure(
        warehouse,
        "select primary_doctor_name from mart_reactivation "
        "group by 1 order by count(*) desc limit 1",
    )
    expected = figure(
        warehouse, f"select count(*) from mart_reactivation where primary_doctor_name = '{doctor}'"
    )
    assert 0 < expected < total
    # Pick the doctor by keyboard: under load a mouse click on the open list was seen to
    # leave nothing selected. Then wait for the selection itself, and for the list to close
    # (with the search field empty, Escape only closes it).
    doctors = page.get_by_test_id("stMultiSelect")
    search = doctors.get_by_role("combobox")
    search.fill(doctor)
    page.get_by_role("option", name=doctor, exact=True).wait_for(timeout=30_000)
    search.press("Enter")
    doctors.locator("[data-tag]").get_by_text(doctor, exact=True).wait_for(timeout=30_000)
    search.press("Escape")
    page.get_by_role("listbox").wait_for(state="hidden", timeout=30_000)
    # exact text: "8" must not be satisfied by the unfiltered "81"
    page.get_by_test_id("stMetricValue").get_by_text(str(expected), exact=True).wait_for(
        timeout=30_000
    )
    # the metric comes before the button in the script: the button may still be the
    # unfiltered run's. Wait for the one whose label counts the filtered rows, then for
    # the run to end, and click exactly that button.
    button = page.get_by_role("button", name=download_label(expected), exact=True)
    button.wait_for(timeout=30_000)
    script_idle(page)
    with page.expect_download() as download_info:
        button.click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert len(rows) == expected
    # the file's headers are the table's, in words
    assert {r["Primary doctor"] for r in rows} == {doctor}
    assert all(r["Patient id (MIS)"].startswith("P") for r in rows)
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "reactivation_filtered.png"), full_page=True)
