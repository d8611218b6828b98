"""Reactivation that pays (issue 13): the list in the order worth calling, and its own
test, the list as it stood `reactivation_lookback_weeks` ago against who came back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.settings import Settings
from tests.clinic import build_clinic

# as_of = 2026-06-30 (P5's visit, the last data day); the lookback (13 weeks) puts the old
# list on 2026-03-31, whose window (18 to 36 months before) is 2023-03-31 < d <= 2024-09-30
PATIENTS = [
    ("P1", "+7 916 000-00-01", "F", "01.02.1980", "2024-01-10 09:00:00", "да"),
    ("P2", "+7 916 000-00-02", "M", "01.02.1981", "2024-06-01 09:00:00", "да"),
    ("P3", "+7 916 000-00-03", "F", "01.02.1982", "2024-02-01 09:00:00", "нет"),
    ("P4", "+7 916 000-00-04", "M", "01.02.1983", "2024-03-01 09:00:00", "да"),
    ("P5", "+7 916 000-00-05", "F", "01.02.1984", "2026-06-30 09:00:00", "да"),
    ("P6", "+7 916 000-00-06", "M", "01.02.1985", "2022-01-01 09:00:00", "да"),
]
VISITS = [
    # P1: on the old list (last visit 2024-01-10), back on 2026-05-05 paying 5,000
    ("V1", "P1", "D1", "B1", "2024-01-10 11:00:00", "Осмотр", "completed", "1000"),
    ("V2", "P1", "D1", "B1", "2026-05-05 11:00:00", "Лечение", "completed", "5000"),
    # P2: on both lists, never back
    ("V3", "P2", "D1", "B1", "2024-06-01 11:00:00", "Осмотр", "completed", "2000"),
    # P3: lapsed and back, but no consent: on no list
    ("V4", "P3", "D1", "B1", "2024-02-01 11:00:00", "Осмотр", "completed", "1500"),
    ("V5", "P3", "D1", "B1", "2026-05-10 11:00:00", "Осмотр", "completed", "1500"),
    # P4: on the old list, back on 2026-06-01 for a visit with no amount (0 paid)
    ("V6", "P4", "D2", "B1", "2024-03-01 11:00:00", "Удаление", "completed", "3000"),
    ("V7", "P4", "D2", "B1", "2026-06-01 11:00:00", "Осмотр", "completed", ""),
    # P5: a new patient, the last data day; P6: lapsed longer than 36 months
    ("V8", "P5", "D2", "B1", "2026-06-30 11:00:00", "Осмотр", "completed", "1000"),
    ("V9", "P6", "D2", "B1", "2022-01-01 11:00:00", "Осмотр", "completed", "900"),
]


def test_the_old_list_against_who_came_back(tmp_path: Path) -> None:
    """Hand-worked: on 2026-03-31 the list held P1, P2 (D1) and P4 (D2); P1 came back
    paying 5,000, P4 came back for a visit paying 0; P3 came back too but never consented,
    so was never on a list. Today's list holds P2 alone (P1 and P4 returned; P6 lapsed
    too long ago), with no forecast to order by (too few returning patients): its value
    is unknown, not 0."""
    conn = build_clinic(tmp_path, patients=PATIENTS, visits=VISITS)
    outcome = conn.sql(
        "select primary_doctor_id, list_day, listed, came_back, came_back_share, "
        "revenue_since::double as revenue_since "
        "from mart_reactivation_outcome order by primary_doctor_id nulls last"
    ).pl()
    assert outcome.rows() == [
        ("D1", outcome["list_day"][0], 2, 1, 0.5, 5000.0),
        ("D2", outcome["list_day"][0], 1, 1, 1.0, 0.0),
        (None, outcome["list_day"][0], 3, 2, pytest.approx(2 / 3), 5000.0),
    ]
    assert str(outcome["list_day"][0]) == "2026-03-31"
    today = conn.sql("select patient_id, months_since, expected_value from mart_reactivation").pl()
    # P2: last visit 2024-06-01, as_of 2026-06-30: 24 whole months
    assert today.rows() == [("P2", 24, None)]


def test_demo_list_is_in_the_order_worth_calling(demo_warehouse: tuple[Settings, Path]) -> None:
    """Every patient of the demo's list carries the forecast's value over its longest
    horizon (fct_patient_forecast), and the mart is ordered by it, highest first."""
    with duckdb.connect(str(demo_warehouse[1]), read_only=True) as conn:
        listed = conn.sql("select patient_id, p_alive, expected_value from mart_reactivation").pl()
        forecast = conn.sql(
            "select patient_id, p_alive, revenue from fct_patient_forecast "
            "where horizon_weeks = 156"
        ).pl()
    assert listed.height > 0
    assert listed["expected_value"].null_count() == 0
    values = listed["expected_value"].to_list()
    assert values == sorted(values, reverse=True)
    joined = listed.join(forecast, on="patient_id")
    assert joined.height == listed.height
    assert (joined["expected_value"] == joined["revenue"]).all()
    assert (joined["p_alive"] == joined["p_alive_right"]).all()
    assert pl.Series(values).min() >= 0
