"""The one-home refactoring changed where rules live, not what they compute: the demo at two
seeds builds marts equal, row for row, to those built before it (tests/golden/marts.json)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from dashboards import charts, tables
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
    conn = build_clinic(
        tmp_path, clv_horizon_days=180, attribution_window_days=21, credible_mass=0.8
    )
    columns = {row[0] for row in conn.execute("describe int_parameters").fetchall()}
    declared = {
        name
        for name, info in Settings.model_fields.items()
        if (info.json_schema_extra or {}).get("sql")
        and info.default is not None  # unset (as_of, calltouch_timezone): no column
        and info.default_factory is None
    }
    assert declared <= columns
    info = conn.sql("select * from mart_build_info").pl().row(0, named=True)
    assert (info["clv_horizon_days"], info["attribution_window_days"]) == (180, 21)
    words = tables.context(info)
    assert words == {"symbol": "₽", "mass": "80%", "horizon": "180", "window": "21"}
    assert tables.COLUMNS["clv_365_low"].label.format(**words) == (
        "Value per patient, 180 days, 80% low, ₽"
    )
    figure = charts.doctor_scatter(ONE_DOCTOR, "RUB", info["clv_horizon_days"], words["mass"])
    assert figure.layout.title.text.startswith("Doctors: 180-day value")
    assert "(80% ranges" in figure.layout.title.text
    assert figure.layout.yaxis.title.text.startswith("Value per patient, first 180 days")


ONE_DOCTOR = pl.DataFrame(
    {
        "doctor_name": ["Анна"],
        "primary_patients": [40],
        "clv_365": [20_000.0],
        "clv_365_low": [18_000.0],
        "clv_365_high": [22_000.0],
        "clv_365_median": [15_000.0],
        "clv_365_patients": [35],
        "nps": [40.0],
        "nps_low": [30.0],
        "nps_high": [50.0],
        "surveys": [60],
        "score_mean": [8.4],
        "median_clv_365": [20_000.0],
        "median_nps": [40.0],
        "valuable_but_unhappy": [False],
        "thin_patients": [False],
        "thin_surveys": [False],
    }
)
