"""The dashboard placeholder page, run by Streamlit's AppTest on a built warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.build import run_build
from pipelines.settings import Settings
from tests.conftest import minimal_input, write

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "streamlit_app.py")


def test_data_quality_page_shows_the_reconciliation(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal_input(settings.input_dir)
    write(
        settings.input_dir / "calls" / "more.csv",
        "call_id,started_at,answered\nC9,someday,true\n",
    )
    run_build(settings)
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(settings.warehouse_path))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Data quality"
    table = at.dataframe[0].value
    calls = table[table["entity"] == "calls"].iloc[0]
    assert (calls["rows_read"], calls["rows_loaded"], calls["rows_quarantined"]) == (2, 1, 1)
    reasons = at.dataframe[1].value
    assert list(reasons["reason"]) == ["started_at 'someday' is not a date-time"]


def test_missing_warehouse_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(tmp_path / "none.duckdb"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "clinic-analytics build" in at.info[0].value
