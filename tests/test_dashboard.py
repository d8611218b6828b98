"""Every dashboard page through Streamlit's AppTest on a demo warehouse: no exception, and
the figures shown are the marts' figures. Charts are pure functions, tested directly."""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards import auth, charts, data, downloads, fmt, tables
from pipelines.settings import Settings
from pipelines.warehouse import publish

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "streamlit_app.py")


@pytest.fixture
def app(demo_warehouse: tuple[Settings, Path], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(demo_warehouse[1]))

    def open_page(page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60).run()
        if page:
            at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, at.exception
        return at

    return open_page


def sql(warehouse: Path, query: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.sql(query).pl()


def test_overview_shows_this_week(app, demo_warehouse) -> None:
    at = app()
    warehouse = demo_warehouse[1]
    as_of = sql(warehouse, "select as_of from mart_build_info")["as_of"][0]
    monday = as_of - timedelta(days=as_of.weekday())
    calls = sql(
        warehouse,
        f"select sum(calls)::bigint as n from fct_channel_daily "
        f"where date_trunc('week', day) = date '{monday}'",
    )["n"][0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Calls"] == fmt.number(calls)
    assert at.title[0].value == "Overview"


def test_channels_table_is_the_range_macro(app, demo_warehouse) -> None:
    at = app("channels")
    warehouse = demo_warehouse[1]
    first, last = at.date_input[0].value
    assert (last - first).days == 12 * 7 - 1 and last.weekday() == 6
    expected = sql(
        warehouse,
        f"select channel, leads, primary_patients from "
        f"channel_economics(date '{first}', date '{last}') order by channel",
    )
    shown = at.dataframe[0].value.sort_values("channel")
    assert list(shown["channel"]) == expected["channel"].to_list()
    assert list(shown["leads"]) == expected["leads"].to_list()
    assert list(shown["primary_patients"]) == expected["primary_patients"].to_list()
    # a branch filter keeps the leads of that branch only, and hides spend
    at.selectbox[0].select("B1").run()
    assert not at.exception
    shown = at.dataframe[0].value
    b1 = sql(
        warehouse,
        f"select sum(leads)::bigint as n from fct_channel_daily "
        f"where branch_id = 'B1' and day between date '{first}' and date '{last}'",
    )["n"][0]
    assert shown["leads"].sum() == b1
    assert shown["spend"].isna().all()


def test_administrators_in_rank_order(app, demo_warehouse) -> None:
    at = app("administrators")
    expected = sql(
        demo_warehouse[1], "select admin_name, leads from mart_admin_conversion order by rank"
    )
    shown = at.dataframe[0].value
    assert list(shown["admin_name"]) == expected["admin_name"].to_list()
    assert list(shown["leads"]) == expected["leads"].to_list()
    missed = sql(demo_warehouse[1], "select sum(lost)::bigint as n from mart_missed_calls")["n"][0]
    assert {m.label: m.value for m in at.metric}["Lost"] == fmt.number(missed)


def headers(table) -> dict[str, dict]:
    """A shown table's column settings (label, format) as the browser receives them."""
    return json.loads(table.proto.columns)


def test_doctors_table_shows_the_mart_with_intervals_in_words(app, demo_warehouse) -> None:
    at = app("doctors")
    expected = sql(demo_warehouse[1], "select * from mart_doctor_clv order by doctor_id")
    shown = at.dataframe[0].value
    assert list(shown["primary_patients"]) == expected["primary_patients"].to_list()
    assert list(shown["clv_365"].round(2)) == [
        round(v, 2) for v in expected["clv_365"].cast(pl.Float64)
    ]
    assert list(shown["nps_low"].round(2)) == [round(v, 2) for v in expected["nps_low"]]
    columns = headers(at.dataframe[0])
    # demo settings: 365-day horizon, 90% intervals, roubles
    assert columns["clv_365"]["label"] == "Value per patient, first 365 days, ₽"
    assert columns["clv_365_low"]["label"] == "Value per patient, 365 days, 90% low, ₽"
    assert columns["clv_365"]["type_config"]["format"] == "%,.0f"
    assert columns["return_rate"]["label"] == "Came back, %"
    # rates are shown in percent: the cell holds 100 × the mart's share
    assert list(shown["return_rate"].round(6)) == [
        round(100 * v, 6) for v in expected["return_rate"]
    ]
    assert at.dataframe[0].proto.placeholder == ""  # a missing value is an empty cell


def test_forecast_page_states_the_clinic_forecast_and_its_test(app, demo_warehouse) -> None:
    """The sentence, the tables and the horizon switch read mart_clv_forecast and
    mart_clv_holdout: the longest horizon first, the shorter one on a click."""
    at = app("forecast")
    mart = sql(demo_warehouse[1], "select * from mart_clv_forecast where dimension = 'clinic'")
    longest = mart.sort("horizon_weeks").row(-1, named=True)
    text = at.markdown[0].value
    assert f"**{fmt.number(longest['patients'])}** primary patients known by 31 Oct 2026" in text
    assert f"**{fmt.number(longest['visits'])}** visit days in the 156 weeks after that" in text
    doctors = at.dataframe[0].value
    assert len(doctors) == 10
    expected = sql(
        demo_warehouse[1],
        "select revenue_per_patient from mart_clv_forecast "
        "where dimension = 'doctor' and horizon_weeks = 156",
    )["revenue_per_patient"]
    assert sorted(doctors["revenue_per_patient"].round(2)) == sorted(expected.round(2))
    holdout = sql(demo_warehouse[1], "select * from mart_clv_holdout where dimension = 'clinic'")
    made = fmt.number(holdout["actual_visits"][0])
    assert f"the patients made **{made}**" in at.markdown[1].value
    at.segmented_control[0].set_value(52).run()
    assert "visit days in the 52 weeks after that" in at.markdown[0].value


def test_budget_page_states_the_shift(app, demo_warehouse) -> None:
    """The sentence reads mart_budget_shift; the table lists every paid channel, the ones
    that cannot tell with their reason and no elasticity."""
    at = app("budget")
    shift = sql(demo_warehouse[1], "select * from mart_budget_shift").row(0, named=True)
    text = at.markdown[0].value
    assert f"**{shift['leads_gain']:+.1f} leads a week**" in text
    assert fmt.money(shift["weekly_budget"], "RUB") in text
    response = sql(demo_warehouse[1], "select * from mart_spend_response order by channel")
    shown = at.dataframe[0].value
    assert sorted(shown["channel"]) == response["channel"].to_list()
    assert len(at.get("plotly_chart")) == 1


def _forecast_page_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, visits_kept, **settings: object
) -> str:
    """The Forecast page's notice for a small clinic of ten patients (tests/clinic.py
    `returning_patients`), with the visits `visits_kept` keeps, built and published."""
    from tests.clinic import build_clinic, returning_patients  # noqa: PLC0415

    patients, visits = returning_patients(10, priced=True)
    conn = build_clinic(
        tmp_path, patients=patients, visits=[v for v in visits if visits_kept(v)], **settings
    )
    conn.close()
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(tmp_path / "build.duckdb", warehouse)
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(warehouse))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/forecast.py").run()
    assert not at.exception
    return at.info[0].value


def test_forecast_page_says_too_thin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warehouse whose forecast is empty (too few returning patients) says so."""
    text = _forecast_page_of(tmp_path, monkeypatch, lambda v: True, forecast_min_repeaters=50)
    assert "Too thin to tell: fewer than 50 patients" in text


def test_forecast_page_says_it_waits_for_a_complete_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clinic whose visits all fall in its first month (the first visits, 6 to 15
    January 2025): the forecast's cut-off, the end of the last complete month, is 31
    December 2024, before anyone came. The page says the forecast waits for a complete
    month, not that the clinic's patients are too few."""
    text = _forecast_page_of(tmp_path, monkeypatch, lambda v: v[0].endswith("_0"))
    assert text.startswith("No forecast yet: the forecast is fitted on complete months")
    assert "no patient had come by 31 Dec 2024" in text


def test_every_table_header_is_in_words(app) -> None:
    pages = ("overview", "channels", "administrators", "doctors", "forecast", "budget")
    for page in (*pages, "reactivation"):
        at = app(page)
        for table in at.dataframe:
            for name, column in headers(table).items():
                if name != "_index":  # the hidden row index
                    assert "_" not in column["label"], (page, name, column["label"])
            assert table.proto.placeholder == ""


def test_reactivation_filters(app, demo_warehouse) -> None:
    at = app("reactivation")
    total = sql(demo_warehouse[1], "select count(*) as n from mart_reactivation")["n"][0]
    assert {m.label: m.value for m in at.metric}["Patients to call"] == fmt.number(total)
    low, _ = at.slider[0].value
    at.slider[0].set_range(low, low).run()
    at_low = sql(
        demo_warehouse[1], f"select count(*) as n from mart_reactivation where months_since = {low}"
    )["n"][0]
    assert {m.label: m.value for m in at.metric}["Patients to call"] == fmt.number(at_low)
    assert "phone" not in " ".join(at.dataframe[0].value.columns)


def test_data_quality_reconciles(app, demo_warehouse) -> None:
    at = app("data_quality")
    expected = sql(demo_warehouse[1], "select * from load_reconciliation order by entity")
    shown = at.dataframe[0].value
    assert list(shown["rows_read"]) == expected["rows_read"].to_list()
    reasons = set(at.dataframe[1].value["reason"])
    assert "currency 'USD' is not RUB, the currency of this deployment" in reasons
    # the page shows the first rows only; the download reads them all
    shown = at.dataframe[2].value
    every = data.quarantine_rows((str(demo_warehouse[1]), 0))
    assert 0 < len(shown) <= 50
    assert list(shown["reason"]) == every["reason"].head(len(shown)).to_list()


@pytest.mark.parametrize("branch", [None, "B1"])
def test_attribution_over_any_dates_is_the_patients_credits(demo_warehouse, branch) -> None:
    """The Channels page's attribution reads daily sums (fct_channel_attribution_daily):
    over a range and a branch they are the credits of the patients themselves."""
    warehouse = demo_warehouse[1]
    as_of = sql(warehouse, "select as_of from mart_build_info")["as_of"][0]
    first, last = as_of - timedelta(days=83), as_of
    within = f"between date '{first}' and date '{last}'"
    first_branch = "true" if branch is None else f"first_touch_branch_id = '{branch}'"
    last_branch = "true" if branch is None else f"last_touch_branch_id = '{branch}'"
    expected = sql(
        warehouse,
        f"""
        with credits as (
            select first_touch_channel as channel, 1 as first_touch, 0 as last_touch,
                (last_touch_channel <> first_touch_channel)::integer as switched,
                revenue_first_visit, revenue_repeat
            from int_patient_attribution
            where first_touch_day {within} and {first_branch}
            union all
            select last_touch_channel, 0, 1, 0, 0, 0
            from int_patient_attribution
            where last_touch_day {within} and {last_branch}
        )
        select channel, sum(first_touch)::bigint as primary_first_touch,
            sum(last_touch)::bigint as primary_last_touch, sum(switched)::bigint as switched,
            sum(revenue_first_visit)::decimal(38, 2) as revenue_first_visit,
            sum(revenue_repeat)::decimal(38, 2) as revenue_repeat
        from credits group by channel order by channel
        """,
    )
    shown = data.channel_attribution((str(warehouse), 0), first, last, branch)
    assert expected.height > 1
    assert shown.drop("period_start").equals(expected)


def test_queries_leave_no_warehouse_attached(demo_warehouse) -> None:
    """Each query attaches the file for as long as it runs, and concurrent sessions each
    get their own attachment: nothing holds the file between queries."""
    reader = data.Reader()
    path = str(demo_warehouse[1])

    def calls(_: int) -> int:
        with reader.cursor(path) as conn:
            return conn.execute("select sum(calls)::bigint from fct_channel_daily").fetchall()[0][0]

    with ThreadPoolExecutor(max_workers=4) as pool:
        totals = set(pool.map(calls, range(16)))
    assert len(totals) == 1 and totals.pop() > 0
    assert reader.attached() == []


def test_long_tables_send_rows_on_demand_and_download_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reactivation list of 100,000s of patients: Streamlit reads the rows on screen from
    a LazyFrame, and the CSV (every row, headers in words) is written when clicked."""
    shown: dict[str, object] = {}
    monkeypatch.setattr(st, "dataframe", lambda data, **kwargs: shown.update(data=data, **kwargs))
    monkeypatch.setattr(st, "download_button", lambda label, data, **kwargs: shown.update(csv=data))
    info = {
        "currency": "RUB",
        "credible_mass": 0.9,
        "clv_horizon_days": 365,
        "attribution_window_days": 30,
    }
    frame = pl.DataFrame(
        {
            "patient_id": [f"P{i:06d}" for i in range(5_000)],
            "revenue_to_date": [float(i) for i in range(5_000)],
        }
    )
    tables.show(frame, info, download="list.csv")
    assert shown["lazy"] is True and isinstance(shown["data"], pl.LazyFrame)
    assert callable(shown["csv"])
    rows = list(csv.DictReader(io.StringIO(shown["csv"]().decode())))
    assert len(rows) == 5_000 and rows[-1]["Revenue to date, ₽"] == "4999.0"
    tables.show(frame.head(10), info)
    assert shown["lazy"] is False and isinstance(shown["data"], pl.DataFrame)


def test_missing_warehouse_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(tmp_path / "none.duckdb"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "clinic-analytics build" in at.info[0].value


def test_empty_warehouse_says_what_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(empty))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "holds no marts" in at.info[0].value
    assert "clinic-analytics build" in at.info[0].value


class FakeClock:
    """A monotonic clock the test moves by hand: rate-limit tests never sleep."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input[0].input(password)
    return at.button[0].click().run()


def test_password_gate(
    demo_warehouse, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(demo_warehouse[1]))
    monkeypatch.setenv("CLINIC_DASHBOARD_PASSWORD", "s3cret")
    monkeypatch.setenv("CLINIC_LOGIN_DELAY_BASE_S", "30")
    st.cache_resource.clear()  # settings are read once per server; this is a new server
    settings = data.settings()
    assert settings.login_delay_base_s == 30
    # the very limiter the app gets from st.cache_resource, on a clock the test moves
    limiter = auth.shared_limiter(settings.login_delay_base_s, settings.login_delay_max_s)
    limiter.clock = clock = FakeClock()
    caplog.set_level(logging.WARNING, logger="clinic_analytics.auth")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.title and not at.metric  # nothing but the form
    sign_in(at, "hunter2-wrong")
    assert at.error[0].value == "Wrong password."
    # the right password at once is refused, and not even compared
    sign_in(at, "s3cret")
    assert not at.title
    assert at.error[0].value == "Too many failed attempts: try again in 30 s."
    # a new session (a reloaded page) from the same address waits too
    other = AppTest.from_file(APP, default_timeout=60).run()
    sign_in(other, "s3cret")
    assert other.error[0].value == "Too many failed attempts: try again in 30 s."
    clock.now += 29.5
    sign_in(at, "s3cret")
    assert at.error[0].value == "Too many failed attempts: try again in 1 s."
    clock.now += 0.5
    sign_in(at, "s3cret")
    assert not at.exception
    assert at.title[0].value == "Overview"
    # the success cleared the address: the other session may try at once
    assert limiter.failures("unused", "unknown") == (0, 0)
    sign_in(other, "s3cret")
    assert other.title[0].value == "Overview"
    # one failure logged, at WARNING, with the address and the count, never a password
    failed = [r for r in caplog.records if r.name == "clinic_analytics.auth"]
    assert [r.levelno for r in failed] == [logging.WARNING]
    assert "unknown" in failed[0].getMessage() and "1 consecutive" in failed[0].getMessage()
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + repr(record.__dict__)
        assert "hunter2" not in text and "s3cret" not in text
    st.cache_resource.clear()


def test_sign_in_limiter_doubles_the_wait_per_address_and_per_session() -> None:
    clock = FakeClock()
    limiter = auth.LoginLimiter(base_s=1.0, max_s=8.0, clock=clock)
    assert [limiter.delay_s(n) for n in range(7)] == [0, 1, 2, 4, 8, 8, 8]
    assert limiter.delay_s(10_000) == 8  # no float overflow for a long siege
    compared: list[str] = []

    def wrong() -> bool:
        compared.append("wrong")
        return False

    waits = []
    for _ in range(6):
        assert limiter.attempt("tab-a", "10.0.0.1", wrong).failures == len(waits) + 1
        waits.append(limiter.wait_s("tab-a", "10.0.0.1"))
        # refused before the wait is over: no comparison, no extra failure
        early = limiter.attempt("tab-a", "10.0.0.1", wrong)
        assert early.refused and early.wait_s == waits[-1]
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8, 8, 8]
    assert len(compared) == 6
    assert limiter.failures("tab-a", "10.0.0.1") == (6, 6)
    assert limiter.wait_s("tab-a", "10.0.0.1") == 0  # the clock has moved past the last wait

    # per address: a new session from the same address starts at the address's count
    limiter.attempt("tab-a", "10.0.0.1", wrong)
    assert limiter.wait_s("tab-b", "10.0.0.1") == 8
    # per session: the same tab from another address still waits
    assert limiter.wait_s("tab-a", "10.0.0.2") == 8
    # an unrelated session and address are not slowed
    assert limiter.wait_s("tab-c", "10.0.0.3") == 0
    assert limiter.attempt("tab-c", "10.0.0.3", wrong).failures == 1
    assert limiter.wait_s("tab-c", "10.0.0.3") == 1

    # a success resets that session's and that address's counts, not the others'
    clock.now += 8
    assert limiter.attempt("tab-a", "10.0.0.1", lambda: True).accepted
    assert limiter.failures("tab-a", "10.0.0.1") == (0, 0)
    assert limiter.failures("tab-c", "10.0.0.3") == (1, 1)
    assert limiter.attempt("tab-a", "10.0.0.1", wrong).failures == 1


def test_csv_downloads_neutralise_formulas() -> None:
    frame = pl.DataFrame(
        {
            "primary_doctor": [
                '=HYPERLINK("http://x")',
                "+1",
                "-2",
                "@SUM(A1)",
                "Анна Смирнова",
                "\t=1+1",
                "\r=1+1",
                None,
            ],
            "revenue_to_date": [-5, 1, 2, 3, 4, 5, 6, 7],
        }
    )
    rows = list(csv.DictReader(io.StringIO(downloads.csv_bytes(frame).decode())))
    assert [r["primary_doctor"] for r in rows] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "Анна Смирнова",
        "'\t=1+1",
        "'\r=1+1",
        "",
    ]
    assert rows[0]["revenue_to_date"] == "-5"  # numbers stay numbers
    assert downloads.neutralised(frame).schema == frame.schema


def test_every_download_goes_through_the_safe_button() -> None:
    """A new page that writes its own CSV would bring formula injection back (and a
    download button that reruns the page, a lost file): a page offers a download through
    tables.show or downloads.button, which alone call st.download_button, with csv_bytes."""
    dashboards = Path(APP).parent
    pages = {p.stem: p.read_text() for p in (dashboards / "app_pages").glob("*.py")}
    with_download = {
        name
        for name, source in pages.items()
        if "download=" in source or "downloads.button(" in source
    }
    assert with_download >= {
        "channels",
        "data_quality",
        "reactivation",
        "doctors",
        "administrators",
    }
    button = (dashboards / "downloads.py").read_text()
    assert button.count("st.download_button(") == 1
    assert "csv_bytes(frame())" in button and 'on_click="ignore"' in button
    for source in [*pages.values(), (dashboards / "tables.py").read_text()]:
        assert "write_csv" not in source
        assert "st.download_button(" not in source


def test_charts_have_titles_units_and_open_weeks() -> None:
    weekly = pl.DataFrame(
        {
            "week_start": [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 5)],
            "channel": ["Yandex Direct", "Yandex Direct", "SEO"],
            "spend": [1000.0, 1200.0, 0.0],
            "leads": [4, 5, 3],
            "primary_patients": [2, 4, 1],
            "cost_per_primary": [500.0, 600.0, 0.0],
            # exact 90% Poisson limits of 2 and 4: (0.355, 6.296) and (1.366, 9.154)
            "cost_per_primary_low": [1000 / 6.296, 1200 / 9.154, 0.0],
            "cost_per_primary_high": [1000 / 0.355, 1200 / 1.366, 0.0],
            "window_open": [False, True, False],
        }
    )
    trend = charts.cost_per_primary_trend(weekly, "RUB", "90%")
    assert trend.layout.title.text == (
        "Cost per primary patient, by week of the call (bars: 90% ranges)"
    )
    assert "₽ (RUB)" in trend.layout.yaxis.title.text
    closed, open_ = trend.data  # SEO has no spend: not drawn
    assert list(closed.y) == [500.0] and list(open_.y) == [600.0]
    assert open_.marker.symbol == "circle-open" and open_.marker.color == closed.line.color
    # two patients in a week: the bar runs from 159 to 2,817 around 500
    assert list(closed.error_y.arrayminus) == pytest.approx([500 - 1000 / 6.296])
    assert list(closed.error_y.array) == pytest.approx([1000 / 0.355 - 500])
    assert list(trend.layout.yaxis.range) == pytest.approx([0, 960])  # 1.6 × the dearest week
    scatter = charts.spend_vs_leads(weekly, "RUB")
    assert "Spend per week" in scatter.layout.xaxis.title.text and len(scatter.data) == 1
    ranking = pl.DataFrame(
        {
            "admin_name": ["A", "B", "New"],
            "leads": [100, 1000, 8],
            "rank": [2, 1, None],
            "ranked": [True, True, False],
            "conversion": [0.9, 0.6, 1.0],
            "conversion_shrunk": [0.7, 0.6, 0.65],
            "ci_low": [0.5, 0.57, 0.3],
            "ci_high": [0.85, 0.63, 0.9],
            "mix_adjusted": [0.66, 0.62, 0.7],
            "mix_ci_low": [0.6, 0.6, 0.4],
            "mix_ci_high": [0.7, 0.64, 0.95],
        }
    )
    fig = charts.admin_ranking(ranking, "90%")
    assert fig.layout.xaxis.title.text == "Conversion, %"
    # rank 1 (B) on top, then A; the unranked one last, at the bottom, in grey
    assert list(fig.layout.yaxis.ticktext) == [
        "#1 B (1000 leads)",
        "#2 A (100 leads)",
        "not ranked New (8 leads)",
    ]
    assert list(fig.layout.yaxis.tickvals) == [3, 2, 1]
    fair, mix, raw = fig.data
    assert list(fair.x) == pytest.approx([60.0, 70.0, 65.0])
    assert list(fair.error_x.arrayminus) == pytest.approx([3.0, 20.0, 35.0])
    assert fair.marker.color[2] == "lightgrey" and fair.marker.color[0] != "lightgrey"
    assert list(mix.x) == pytest.approx([62.0, 66.0, 70.0])
    assert list(raw.x) == pytest.approx([60.0, 90.0, 100.0])  # the raw rates beside


def test_money_and_percent_formats() -> None:
    assert fmt.money(1234567.8, "RUB") == "1,234,568 ₽"  # as every table shows it
    assert fmt.money(None, "RUB") == "—"
    assert fmt.percent(0.1234) == "12.3%"
    assert fmt.number(float("nan")) == "—"


def test_a_new_build_shows_without_a_restart(
    demo_warehouse: tuple[Settings, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse[1], warehouse)
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(warehouse))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/data_quality.py").run()
    loaded = at.dataframe[0].value.set_index("entity").loc["doctors", "rows_loaded"]
    # the next build: here the same warehouse with one more doctor, published the way
    # every build publishes (copy, fsync, rename) while the app session is live
    build = tmp_path / "next.duckdb"
    shutil.copy(warehouse, build)
    with duckdb.connect(str(build)) as conn:
        conn.execute(
            "update load_reconciliation set rows_loaded = rows_loaded + 1 where entity = 'doctors'"
        )
    publish(build, warehouse)
    at.run()
    assert not at.exception
    shown = at.dataframe[0].value.set_index("entity").loc["doctors", "rows_loaded"]
    assert shown == loaded + 1


def doctors_frame(n: int, rng: np.random.Generator) -> pl.DataFrame:
    """n doctors bunched around NPS 50 and 30,000 ₽, two of them far out."""
    clv = rng.normal(30_000, 800, n)
    nps = rng.normal(50, 2, n)
    clv[0], nps[0] = 90_000, -40  # valuable, unhappy, and clear of the medians
    clv[1], nps[1] = 31_000, 90
    return pl.DataFrame(
        {
            "doctor_name": [f"Доктор {i:02d} Иванова" for i in range(n)],
            "primary_patients": [300] * n,
            "clv_365": clv,
            "clv_365_low": clv - 2_000,
            "clv_365_high": clv + 2_000,
            "clv_365_median": clv * 0.8,
            "clv_365_patients": [200] * n,
            "nps": nps,
            "nps_low": nps - 5,
            "nps_high": nps + 5,
            "surveys": [40] * (n - 1) + [12],
            "score_mean": [8.5] * n,
            "median_clv_365": [float(np.median(clv))] * n,
            "median_nps": [float(np.median(nps))] * n,
            "valuable_but_unhappy": [True] + [False] * (n - 1),
            "thin_patients": [False] * n,
            "thin_surveys": [False] * (n - 1) + [True],
        }
    )


def test_a_doctor_without_an_interval_is_drawn_not_crashed() -> None:
    """One mature patient: no interval (NULL both ends); a top the data cannot bound:
    NULL high. The chart draws both and says so in the hover."""
    frame = doctors_frame(3, np.random.default_rng(1)).with_columns(
        clv_365_low=pl.Series([None, 1_000.0, 20_000.0]),
        clv_365_high=pl.Series([None, None, 40_000.0]),
    )
    fig = charts.doctor_scatter(frame, "RUB", 365, "90%")
    (points,) = fig.data
    assert "90%: unknown" in points.hovertext[0]
    assert "no upper bound" in points.hovertext[1]
    assert points.error_y.array[1] > 0  # runs to the top of the plot


def test_doctor_labels_never_overlap_and_only_clear_cases_are_red() -> None:
    canvas = charts.Canvas()
    frame = doctors_frame(24, np.random.default_rng(4))
    fig = charts.doctor_scatter(frame, "RUB", 365, "90%", canvas)
    x_range, y_range = tuple(fig.layout.xaxis.range), tuple(fig.layout.yaxis.range)
    labels = [a for a in fig.layout.annotations if a.showarrow]
    assert [a.text for a in labels] == frame["doctor_name"].to_list()
    area = (canvas.width - canvas.left - canvas.right, canvas.height - canvas.top - canvas.bottom)
    boxes = []
    for a in labels:
        x, y = canvas.to_px(a.x, a.y, x_range, y_range)
        w, h = len(a.text) * charts.CHAR_PX + 6, charts.LINE_PX
        boxes.append((x + a.ax - w / 2, y + a.ay - h / 2, x + a.ax + w / 2, y + a.ay + h / 2))
    for i, box in enumerate(boxes):
        assert box[0] >= 0 and box[2] <= area[0] and box[1] >= 0 and box[3] <= area[1]
        for other in boxes[i + 1 :]:
            assert not charts.overlaps(box, other), (box, other)
    # no label hides a marker
    for a in labels:
        x, y = canvas.to_px(a.x, a.y, x_range, y_range)
        assert not any(charts.overlaps((x - 7, y - 7, x + 7, y + 7), b) for b in boxes)
    (points,) = fig.data
    assert points.marker.line.color[0] == "rgb(214, 39, 40)"  # flagged in the mart
    assert set(points.marker.line.color[1:]) == {charts.PALETTE[0]}
    assert points.marker.color[-1] == "white"  # 12 surveys: too thin to tell, hollow
    assert list(points.error_y.array) == pytest.approx([2_000] * 24)
    assert fig.layout.width == canvas.width and fig.layout.height == canvas.height
