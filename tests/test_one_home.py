"""The one-home refactoring changed where rules live, not what they compute: the demo at two
seeds builds marts equal, row for row, to those built before it (tests/golden/marts.json)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from dashboards import charts
from pipelines.settings import Settings
from tests.clinic import build_clinic
from tests.golden.fingerprints import GOLDEN, SEEDS, build_demo, fingerprint


@pytest.mark.parametrize("seed", SEEDS)
def test_marts_are_what_they_were_before_the_refactoring(tmp_path: Path, seed: int) -> None:
    golden = json.loads(GOLDEN.read_text())[str(seed)]
    columns = {table: spec["columns"] for table, spec in golden.items()}
    now = fingerprint(build_demo(tmp_path, seed), columns)
    for table, expected in golden.items():
        assert now[table]["rows"] == expected["rows"], table
        assert now[table]["digest"] == expected["digest"], table


def test_a_setting_is_one_field_that_reaches_sql_and_the_labels(tmp_path: Path) -> None:
    """Every `sql_field` is a DuckDB variable and a column of int_parameters (so of
    mart_build_info, which the dashboard's labels read); changing one changes both."""
    conn = build_clinic(tmp_path, clv_horizon_days=180, attribution_window_days=21)
    columns = {row[0] for row in conn.execute("describe int_parameters").fetchall()}
    declared = {
        name
        for name, info in Settings.model_fields.items()
        if (info.json_schema_extra or {}).get("sql")
        and info.default is not None  # unset (as_of, calltouch_timezone): no column
        and info.default_factory is None
    }
    assert declared <= columns
    assert conn.execute(
        "select clv_horizon_days, attribution_window_days from mart_build_info"
    ).fetchall() == [(180, 21)]
    figure = charts.doctor_scatter(pl.DataFrame(schema=CLV_SCHEMA), "nps", "RUB", 180)
    assert figure.layout.title.text.startswith("Doctors: 180-day value")
    assert figure.layout.yaxis.title.text.startswith("CLV over 180 days")


CLV_SCHEMA = {
    "doctor_name": pl.String,
    "primary_patients": pl.Int64,
    "clv_to_date": pl.Float64,
    "clv_365": pl.Float64,
    "clv_365_patients": pl.Int64,
    "repeat_visits_per_primary": pl.Float64,
    "return_rate": pl.Float64,
    "surveys": pl.Int64,
    "score_mean": pl.Float64,
    "nps": pl.Float64,
}
