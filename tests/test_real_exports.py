"""Exports as clinics really download them: each fixture is written by hand in the shape a
genuine file has (public samples of Google Ads UI downloads, Meta ad-level insights,
Google Ads API rows, a Calltouch diary, a CallRail pull), one per way they went wrong."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.entities import AD_SPEND, CALLS
from pipelines.ingest.loader import load_entity
from pipelines.ingest.staging import run_staging_model
from pipelines.models.graph import build_all
from pipelines.settings import Settings, load_settings
from pipelines.warehouse import prepare_session
from tests.clinic import SECRET, minimal_input, write

# Google Ads' default campaign report, as downloaded from the UI (English interface):
# a title, a date-range line, the header, rows, and "Total: …" lines
CAMPAIGN_REPORT = (
    "Campaign report\n"
    "{range}\n"
    "Campaign status,Campaign,Budget,Budget type,Status,Impr.,Interactions,"
    "Interaction rate,Currency code,Avg. cost,Cost,Clicks,Conversions\n"
    'Enabled,Implants Moscow,"1,000.00",Daily,Eligible,"12,400",310,2.50%,RUB,12.50,'
    '"3,875.00",310,12.00\n'
    "Enabled,Brand,500.00,Daily,Eligible,900,85,9.44%,RUB,5.00,425.00,85,9.00\n"
    'Total: Account,--,--,--,--,"13,300",395,2.97%,RUB,10.89,"4,300.00",395,21.00\n'
    'Total: Search,--,--,--,--,"13,300",395,2.97%,RUB,10.89,"4,300.00",395,21.00\n'
)


def spend(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(
        "select date, source, campaign, cost, currency, clicks, impressions "
        "from stg_ads__ad_spend order by date, campaign"
    ).fetchall()


def load(conn, settings: Settings, entity=AD_SPEND):
    report = load_entity(conn, settings, entity)
    return report, run_staging_model(conn, entity)


def test_google_ads_report_without_a_day_is_refused_in_one_line(conn, settings) -> None:
    write(
        settings.input_dir / "ad_spend" / "campaigns.csv",
        CAMPAIGN_REPORT.format(range="All time"),
    )
    write(settings.input_dir / "ad_spend" / "ok.csv", "date,source,cost\n2025-10-01,x,1\n")
    report, counts = load(conn, settings)
    refused = next(f for f in report.files if f.source_file.endswith("campaigns.csv"))
    assert (refused.format, refused.rejected) == (
        "google_ads_campaign_report",
        "no Day column: download the report segmented by Day (a report over more than one "
        "day cannot be placed on dates)",
    )
    # the other file loads; the refused one is one quarantined record with that reason
    assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (2, 1, 1)


def test_google_ads_report_over_one_day_is_placed_on_it(conn, settings) -> None:
    write(
        settings.input_dir / "ad_spend" / "campaigns.csv",
        CAMPAIGN_REPORT.format(range="1 Oct 2025 - 1 Oct 2025"),
    )
    report, _ = load(conn, settings)
    # the title and range lines above, the two totals below: 4 lines skipped
    assert (report.files[0].skipped_lines, report.files[0].format) == (
        4,
        "google_ads_campaign_report",
    )
    assert spend(conn) == [
        (date(2025, 10, 1), "google", "Brand", Decimal("425.00"), "RUB", 85, 900),
        (date(2025, 10, 1), "google", "Implants Moscow", Decimal("3875.00"), "RUB", 310, 12400),
    ]


def test_google_ads_russian_interface_utf16_tabs(conn, settings) -> None:
    # the "Excel CSV" flavour: UTF-16, tab-separated, a title with commas above the header
    text = (
        "Отчёт по кампаниям, все кампании\n"
        "1 окт. 2025 г. – 2 окт. 2025 г.\n"
        "День\tКампания\tСтатус кампании\tКод валюты\tСтоимость\tПоказы\tКлики\n"
        "2025-10-01\tИмпланты\tВключено\tRUB\t1 234,50\t12 000\t310\n"
        "2025-10-02\tИмпланты\tВключено\tRUB\t980,00\t9 000\t240\n"
        "Итого: аккаунт\t--\t--\tRUB\t2 214,50\t21 000\t550\n"
    )
    write(settings.input_dir / "ad_spend" / "google_ru.csv", "\ufeff" + text, "utf-16-le")
    report, _ = load(conn, settings)
    assert (report.files[0].format, report.files[0].skipped_lines) == ("google_ads", 3)
    assert spend(conn) == [
        (date(2025, 10, 1), "google", "Импланты", Decimal("1234.50"), "RUB", 310, 12000),
        (date(2025, 10, 2), "google", "Импланты", Decimal("980.00"), "RUB", 240, 9000),
    ]


def test_meta_ad_level_rows_are_parts_of_the_campaigns_day(conn, settings) -> None:
    # two ads of one campaign on one day: 1.09 + 0.71 = 1.80, not one of them
    write(
        settings.input_dir / "ad_spend" / "meta_ads.csv",
        "date_start,date_stop,campaign_name,adset_name,ad_id,ad_name,spend,account_currency,"
        "impressions,clicks\n"
        "2025-10-01,2025-10-01,Spring,All,6001,Video,1.09,RUB,410,7\n"
        "2025-10-01,2025-10-01,Spring,All,6002,Carousel,0.71,RUB,260,4\n",
    )
    _, counts = load(conn, settings)
    assert spend(conn) == [
        (date(2025, 10, 1), "facebook", "Spring", Decimal("1.80"), "RUB", 11, 670)
    ]
    assert (counts.rows_read, counts.rows_loaded, counts.rows_combined) == (2, 1, 1)


def test_hourly_api_rows_add_up_before_rounding(conn, settings) -> None:
    # 2,000 + 3,000 + 5,000 micros = 0.01 ₽; rounded hour by hour it would be 0.00
    rows = "".join(
        f"2025-10-01,Brand,{hour},{micros},RUB,1,10\n"
        for hour, micros in ((9, 2000), (10, 3000), (11, 5000))
    )
    write(
        settings.input_dir / "ad_spend" / "google_api.csv",
        "segments.date,campaign.name,segments.hour,metrics.cost_micros,"
        "customer.currency_code,metrics.clicks,metrics.impressions\n" + rows,
    )
    load(conn, settings)
    assert spend(conn) == [(date(2025, 10, 1), "google", "Brand", Decimal("0.01"), "RUB", 3, 30)]


def test_a_platforms_currency_is_never_assumed(conn, settings, tmp_path: Path) -> None:
    write(
        settings.input_dir / "ad_spend" / "google_api.csv",
        "segments.date,campaign.name,metrics.cost_micros\n2025-10-01,Brand,1500000000\n",
    )
    _, counts = load(conn, settings)
    assert counts.rows_loaded == 0
    assert conn.execute("select reason from quarantine").fetchall() == [
        (
            "currency unknown: the export names none and the setting ad_platform_currency "
            "has none for google_ads",
        )
    ]
    # the account's currency, declared: the same row loads
    declared = settings.model_copy(update={"ad_platform_currency": {"google_ads": "RUB"}})
    prepare_session(conn, declared)
    load(conn, declared)
    assert spend(conn) == [
        (date(2025, 10, 1), "google", "Brand", Decimal("1500.00"), "RUB", None, None)
    ]


CALLTOUCH = {
    "callId": 1,
    "date": "03/03/2025 10:15:00",
    "callerNumber": "79161234567",
    "phoneNumber": "74951000110",
    "duration": 95,
    "waitingConnect": 7,
    "successful": True,
    "source": "yandex",
    "medium": "cpc",
    "utmSource": "yandex",
    "utmMedium": "cpc",
    "utmCampaign": "implants",
    "manager": "A1",
    "siteName": "B1",
}


def calls(conn: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    frame = conn.sql("select * from stg_calltracking__calls").pl()
    return {r["call_id"]: r for r in frame.iter_rows(named=True)}


def test_calltouch_placeholders_and_impossible_durations(conn, settings) -> None:
    records = [
        # the placeholder in any brackets is no value: Calltouch's own source is used
        dict(
            CALLTOUCH,
            callId=1,
            utmSource="‹не заполнено>",
            source="google",
            medium="organic",
            utmMedium="<не заполнено>",
            utmCampaign="«не заполнено»",
        ),
        # −1 to −14 s on answered calls, as real diaries have: still calls, duration unknown
        dict(CALLTOUCH, callId=2, callerNumber="79161234568", duration=-3),
        dict(CALLTOUCH, callId=3, callerNumber="79161234569", duration=-14, waitingConnect=-1),
    ]
    write(settings.input_dir / "calls" / "calltouch.json", json.dumps(records))
    _, counts = load(conn, settings, CALLS)
    assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (3, 3, 0)
    got = calls(conn)
    assert (got["1"]["source"], got["1"]["medium"], got["1"]["campaign"]) == (
        "google",
        "organic",
        "",
    )
    assert (got["2"]["duration_s"], got["2"]["duration_impossible"]) == (None, True)
    assert (got["3"]["duration_s"], got["3"]["wait_s"], got["3"]["wait_impossible"]) == (
        None,
        None,
        True,
    )


@pytest.mark.parametrize(
    ("record", "account_zone", "expected"),
    [
        # the epoch timestamp says the instant, whatever zone `date` was written in
        ({"timestamp": 1741000500}, None, datetime(2025, 3, 3, 11, 15, tzinfo=UTC)),
        # no timestamp: `date` is Moscow time on a Moscow account: 10:15 +03 = 07:15 UTC
        ({}, "Europe/Moscow", datetime(2025, 3, 3, 7, 15, tzinfo=UTC)),
        # no timestamp, no setting: the clinic's zone is assumed (Saratov, +04)
        ({}, None, datetime(2025, 3, 3, 6, 15, tzinfo=UTC)),
    ],
)
def test_calltouch_time_zone(
    tmp_path: Path, record: dict, account_zone: str | None, expected: datetime
) -> None:
    settings = load_settings(
        None,
        input_dir=tmp_path / "input",
        hash_secret=SECRET,
        timezone="Europe/Saratov",
        calltouch_timezone=account_zone,
    )
    write(settings.input_dir / "calls" / "ct.json", json.dumps([dict(CALLTOUCH, **record)]))
    with duckdb.connect() as conn:
        prepare_session(conn, settings)
        load(conn, settings, CALLS)
        assert calls(conn)["1"]["started_at"] == expected


def test_callrail_source_names_find_their_channels(settings) -> None:
    """CallRail writes display names ("Google Ads", "Google My Business", "Direct") and often
    no medium: they become UTM-style pairs that the clinic's UTM rules place; what no rule
    places is listed for the manager, with a warning."""
    minimal_input(settings.input_dir)
    write(
        settings.input_dir / "channels.csv",
        "source,medium,campaign,channel,free\nyandex,cpc,*,Yandex Direct,\n"
        "google,cpc,*,Google Ads,\n"
        "*,organic,*,SEO,yes\n(direct),*,*,Direct,yes\n",
    )
    pull = {
        "calls": [
            {
                "id": f"CAL{i}",
                "start_time": "2025-03-04T10:00:00+03:00",
                "answered": True,
                "customer_phone_number": f"+7916555{i:04d}",
                "duration": 60,
                "direction": "inbound",
                "source": source,
            }
            for i, source in enumerate(
                ["Google Ads", "Google Ads", "Google My Business", "Direct", "Offline Flyer"]
            )
        ]
    }
    write(settings.input_dir / "calls" / "callrail.json", json.dumps(pull))
    with duckdb.connect() as conn:
        prepare_session(conn, settings)
        build_all(conn, settings)
        by_channel = dict(
            conn.execute(
                "select channel, count(*) from int_calls where call_id like 'CAL%' group by 1"
            ).fetchall()
        )
        assert by_channel == {"Google Ads": 2, "SEO": 1, "Direct": 1, "Other": 1}
        assert conn.execute(
            "select source, medium, calls from mart_unmapped_sources"
        ).fetchall() == [("offline flyer", "offline flyer", 1)]
        assert conn.execute(
            "select message from mart_build_warnings where kind = 'calls in Other'"
        ).fetchall() == [
            (
                "calls: 1 calls from 1 source/medium pair(s) match no rule of channels.csv and "
                "fall to Other (most: offline flyer/offline flyer): see the data-quality page "
                "and add rules",
            )
        ]
