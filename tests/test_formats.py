"""Vendor exports, each written by hand in the vendor's own shape, mapped to canonical rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb

from pipelines.entities import AD_SPEND, CALLS
from pipelines.ingest import load_entity
from pipelines.phones import keyed_hash
from pipelines.settings import Settings, load_settings
from pipelines.staging import run_staging_model
from tests.conftest import SECRET, write

CALLTOUCH_RECORD = {
    "callId": 4401,
    "date": "03/03/2025 10:15:00",
    "timestamp": 1740986100,
    "callerNumber": "79161234567",
    "phoneNumber": "74951000110",
    "redirectNumber": "74951111111",
    "duration": 95,
    "waitingConnect": 7,
    "successful": True,
    "uniqueCall": True,
    "targetCall": True,
    "uniqTargetCall": "true",
    "callbackCall": False,
    "source": "yandex",
    "medium": "cpc",
    "utmSource": "yandex",
    "utmMedium": "cpc",
    "utmCampaign": "implants",
    "utmContent": "",
    "utmTerm": "",
    "keyword": "",
    "manager": "Ирина Иванова",
    "callTags": [{"category": "A", "type": "manual", "names": ["первичный"]}],
    "siteId": 1,
    "siteName": "B1",
    "city": "Москва",
}


def calls(conn: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    frame = conn.sql("select * from stg_calltracking__calls").pl()
    return {r["call_id"]: r for r in frame.iter_rows(named=True)}


def test_calltouch_json_list_paged_object_and_csv(conn, settings: Settings) -> None:
    folder = settings.input_dir / "calls"
    write(folder / "ct_1.json", json.dumps([CALLTOUCH_RECORD]))
    paged = dict(
        CALLTOUCH_RECORD,
        callId=4402,
        date="04/03/2025 09:00:00",
        successful="True",
        utmSource="<не указано>",
        source="google",
        medium="organic",
        utmMedium="",
        callTags=[],
        uniqTargetCall=False,
    )
    write(
        folder / "ct_2.json",
        json.dumps(
            {"page": 1, "pageTotal": 1, "pageSize": 1000, "recordsTotal": 1, "records": [paged]}
        ),
    )
    write(
        folder / "ct_3.csv",
        "callId;date;callerNumber;phoneNumber;duration;waitingConnect;successful;"
        "utmSource;utmMedium;utmCampaign;manager;siteName;uniqTargetCall\n"
        "4403;05/03/2025 18:30:00;8 916 765-43-21;74951000110;0;25;0;vk;cpc;family;;B2;0\n",
    )
    load_entity(conn, settings, CALLS)
    counts = run_staging_model(conn, CALLS)
    assert (counts.rows_read, counts.rows_loaded) == (3, 3)
    got = calls(conn)
    first = got["4401"]
    # dd/mm/yyyy, Moscow local: 10:15 +03 = 07:15 UTC
    assert first["started_at"] == datetime(2025, 3, 3, 7, 15, tzinfo=UTC)
    assert first["caller_phone_hash"] == keyed_hash("+79161234567", SECRET.encode())
    assert (first["source"], first["medium"], first["campaign"]) == ("yandex", "cpc", "implants")
    assert (first["answered"], first["duration_s"], first["wait_s"]) == (True, 95, 7)
    assert (first["admin_id"], first["branch_id"], first["tags"]) == (
        "Ирина Иванова",
        "B1",
        "первичный",
    )
    assert first["vendor_lead_flag"] is True
    # a placeholder UTM falls back to Calltouch's own source/medium
    second = got["4402"]
    assert (second["source"], second["medium"], second["answered"]) == ("google", "organic", True)
    assert second["vendor_lead_flag"] is False
    third = got["4403"]
    assert (third["answered"], third["source"], third["branch_id"]) == (False, "vk", "B2")
    assert conn.execute(
        "select source_file, format from ingest_files where entity = 'calls' order by 1"
    ).fetchall() == [
        ("calls/ct_1.json", "calltouch"),
        ("calls/ct_2.json", "calltouch"),
        ("calls/ct_3.csv", "calltouch"),
    ]


def test_callrail_inbound_only_with_offsets(conn, settings: Settings) -> None:
    records = [
        {
            "id": "CAL1",
            "start_time": "2025-03-03T10:15:00.000-05:00",
            "answered": True,
            "customer_phone_number": "+79161234567",
            "tracking_phone_number": "+74951000110",
            "duration": 95,
            "direction": "inbound",
            "source": "Google Ads",
            "medium": "PPC",
            "campaign": "brand",
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "brand",
            "first_call": True,
            "agent_email": "i.ivanova@clinic.ru",
            "tags": ["первичный", "запись"],
            "value": "$5,000.00",
            "lead_status": "good_lead",
        },
        {
            "id": "CAL2",
            "start_time": "2025-03-03T11:00:00.000-05:00",
            "answered": False,
            "customer_phone_number": "+79167654321",
            "duration": 0,
            "direction": "outbound",
            "source": "Direct",
            "medium": None,
            "first_call": False,
            "tags": [],
        },
    ]
    write(
        settings.input_dir / "calls" / "callrail.json",
        json.dumps({"page": 1, "per_page": 100, "total_pages": 1, "calls": records}),
    )
    report = load_entity(conn, settings, CALLS)
    counts = run_staging_model(conn, CALLS)
    assert (report.rows, counts.rows_loaded) == (1, 1)
    assert conn.execute(
        "select rows, skipped_rows, format from ingest_files where entity = 'calls'"
    ).fetchall() == [(1, 1, "callrail")]
    call = calls(conn)["CAL1"]
    assert call["started_at"] == datetime(2025, 3, 3, 15, 15, tzinfo=UTC)
    assert (call["source"], call["medium"], call["admin_id"]) == (
        "google",
        "cpc",
        "i.ivanova@clinic.ru",
    )
    assert (call["tags"], call["wait_s"], call["vendor_lead_flag"]) == (
        "первичный;запись",
        None,
        True,
    )


def spend(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(
        "select date, source, medium, campaign, cost, currency, clicks, impressions "
        "from stg_ads__ad_spend order by source, date, campaign"
    ).fetchall()


def test_google_ads_ui_download_utf16_with_title_and_totals(conn, settings: Settings) -> None:
    text = (
        "Campaign report\n"
        '"1 March 2025 - 2 March 2025"\n'
        "Day\tCampaign\tCampaign state\tCurrency code\tCost\tImpr.\tClicks\n"
        '2025-03-01\tBrand\tEnabled\tRUB\t"1,234.50"\t"12,000"\t310\n'
        "2025-03-02\tBrand\tEnabled\tRUB\t980.00\t9000\t240\n"
        'Total: Account\t--\t--\tRUB\t"2,214.50"\t"21,000"\t550\n'
        'Total: Search\t--\t--\tRUB\t"2,214.50"\t"21,000"\t550\n'
    )
    write(settings.input_dir / "ad_spend" / "google.csv", "\ufeff" + text, encoding="utf-16-le")
    report = load_entity(conn, settings, AD_SPEND)
    run_staging_model(conn, AD_SPEND)
    assert (report.rows, report.files[0].skipped_lines, report.files[0].format) == (
        2,
        4,
        "google_ads",
    )
    assert spend(conn) == [
        (date(2025, 3, 1), "google", "cpc", "Brand", Decimal("1234.50"), "RUB", 310, 12000),
        (date(2025, 3, 2), "google", "cpc", "Brand", Decimal("980.00"), "RUB", 240, 9000),
    ]
    # the first data row is line 4 of the file: title, date range, header come first
    assert conn.execute("select min(line) from stg_ads__ad_spend").fetchall() == [(4,)]


def test_google_ads_api_yandex_direct_and_meta(tmp_path, conn) -> None:
    settings = load_settings(
        None,
        input_dir=tmp_path / "input",
        hash_secret=SECRET,
        vat_rate_to_strip={"yandex_direct": 0.2, "google_ads": 0.0, "meta_ads": 0.0},
        ad_platform_utm={
            "google_ads": ("google", "cpc"),
            "yandex_direct": ("yandex", "cpc"),
            "meta_ads": ("facebook", "paid_social"),
        },
    )
    folder = settings.input_dir / "ad_spend"
    write(
        folder / "google_api.csv",
        "segments.date,campaign.name,metrics.cost_micros,customer.currency_code,"
        "metrics.clicks,metrics.impressions\n2025-03-01,Implants,1500000000,RUB,30,900\n",
    )
    # Reports API TSV: report name, header, rows, row count; Cost in micros incl. 20% VAT:
    # 1,200,000,000 micros = 1,200.00 with VAT = 1,000.00 without
    write(
        folder / "yandex.tsv",
        'DirectReport "Campaigns 2025-03"\nDate\tCampaignName\tImpressions\tClicks\tCost\n'
        "2025-03-01\timplants_search\t5000\t120\t1200000000\nTotal rows: 1\n",
    )
    write(
        folder / "meta.csv",
        "date_start,date_stop,campaign_name,spend,account_currency,impressions,clicks\n"
        "2025-03-01,2025-03-01,Spring,450.25,RUB,8000,90\n",
    )
    load_entity(conn, settings, AD_SPEND)
    counts = run_staging_model(conn, AD_SPEND)
    assert counts.rows_loaded == 3
    assert spend(conn) == [
        (date(2025, 3, 1), "facebook", "paid_social", "Spring", Decimal("450.25"), "RUB", 90, 8000),
        (date(2025, 3, 1), "google", "cpc", "Implants", Decimal("1500.00"), "RUB", 30, 900),
        (
            date(2025, 3, 1),
            "yandex",
            "cpc",
            "implants_search",
            Decimal("1000.00"),
            "RUB",
            120,
            5000,
        ),
    ]


def test_the_same_call_in_two_formats_is_one_record(conn, settings: Settings) -> None:
    folder = settings.input_dir / "calls"
    write(
        folder / "a_canonical.csv",
        "call_id,started_at,caller_phone,tracking_phone,source,medium,campaign,answered,"
        "duration_s,wait_s,admin_id,branch_id,tags\n"
        "4401,2025-03-03 10:15:00,+7 916 123-45-67,+7 495 100-01-10,yandex,cpc,implants,"
        "true,95,7,Ирина Иванова,B1,первичный\n",
    )
    write(folder / "b_calltouch.json", json.dumps([dict(CALLTOUCH_RECORD, uniqTargetCall=None)]))
    load_entity(conn, settings, CALLS)
    counts = run_staging_model(conn, CALLS)
    assert (counts.rows_read, counts.rows_loaded, counts.rows_duplicate) == (2, 1, 1)
