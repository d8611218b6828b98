"""Vendor exports, each written by hand in the vendor's own shape, mapped to canonical rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from pipelines.ingest.entities import AD_SPEND, CALLS, DOCTORS, PATIENTS
from pipelines.ingest.entities import VISITS as VISITS_ENTITY
from pipelines.ingest.loader import load_entity
from pipelines.ingest.phones import keyed_hash
from pipelines.ingest.readers import InputError
from pipelines.ingest.staging import run_staging_model
from pipelines.settings import Settings, load_settings
from pipelines.warehouse import prepare_session
from tests.clinic import SECRET, write
from tests.golden.fingerprints import TABLES
from tests.test_demo_and_privacy import assert_no_phone_in, input_phone_digits

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
        ad_platform_currency={"yandex_direct": "RUB"},  # its reports name no currency
    )
    prepare_session(conn, settings)  # formats read the settings as the session's variables
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


def test_open_dental_dump(conn, settings: Settings) -> None:
    root = settings.input_dir
    write(
        root / "patients" / "patient.csv",
        "PatNum,LName,FName,Gender,Birthdate,HmPhone,WkPhone,WirelessPhone,TxtMsgOk,"
        "DateFirstVisit\n"
        "11,Иванова,Мария,1,1985-04-02,(495) 123-45-67,,8 916 123 45 67,1,2025-03-05\n"
        "12,Петров,Олег,0,0001-01-01,,,,2,0001-01-01\n",
    )
    write(
        root / "doctors" / "provider.csv",
        "ProvNum,Abbr,LName,FName,Specialty,IsSecondary\n7,DOC1,Смирнова,Анна,therapist,0\n"
        "8,HYG1,Орлова,Вера,,1\n",
    )
    write(
        root / "visits" / "appointment.csv",
        "AptNum,PatNum,AptStatus,AptDateTime,ProvNum,ClinicNum,ProcDescript\n"
        "101,11,2,2025-03-05 10:00:00,7,1,Осмотр\n"
        "102,11,1,2025-04-01 10:00:00,7,1,Лечение\n"
        "103,12,5,2025-03-06 12:00:00,7,0,\n"
        "104,12,6,0001-01-01 00:00:00,7,0,План\n"
        # UnschedList with Open Dental's "no date": not a visit in time, skipped and counted
        "105,12,3,0001-01-01 00:00:00,7,0,\n"
        # a completed appointment with no date is an error in the dump: quarantined
        "106,12,2,0001-01-01 00:00:00,7,0,\n",
    )
    # fees of completed procedures (status 2 or C) price the appointment: 101 = 1500 + 700;
    # the treatment-planned (1) procedure of 102 costs nothing yet
    write(
        root / "visits" / "procedurelog.csv",
        "ProcNum,PatNum,AptNum,ProcStatus,ProcFee,ProcDate,ProvNum\n"
        "1,11,101,2,1500.00,2025-03-05,7\n2,11,101,C,700.00,2025-03-05,7\n"
        "3,11,102,1,9000.00,2025-04-01,7\n",
    )
    for entity in (PATIENTS, DOCTORS, VISITS_ENTITY):
        load_entity(conn, settings, entity)
        run_staging_model(conn, entity)
    assert conn.execute(
        "select visit_id, patient_id, doctor_id, branch_id, status, amount::varchar "
        "from stg_mis__visits order by visit_id"
    ).fetchall() == [
        ("101", "11", "7", "1", "completed", "2200.00"),
        ("102", "11", "7", "1", "scheduled", "0.00"),
        ("103", "12", "7", None, "no_show", "0.00"),
    ]
    assert conn.execute(
        "select format, rows, skipped_rows from ingest_files where entity = 'visits' order by 1"
    ).fetchall() == [("lookup:procedurelog", 0, 0), ("opendental_appointment", 4, 2)]
    # no date is ever stored from a placeholder
    assert conn.execute("select min(visit_at) > '2000-01-01' from stg_mis__visits").fetchall() == [
        (True,)
    ]
    assert conn.execute(
        "select line, reason from quarantine where entity = 'visits'"
    ).fetchall() == [(7, "visit_at '0001-01-01 00:00:00' is a placeholder for \"no date\"")]
    # the columns a format does not read are listed, as for canonical files
    assert conn.execute(
        "select source_file, ignored_columns from ingest_files "
        "where entity in ('patients', 'doctors') order by 1"
    ).fetchall() == [
        ("doctors/provider.csv", ["abbr"]),
        ("patients/patient.csv", ["lname", "fname"]),  # names stay in the MIS
    ]
    key = SECRET.encode()
    assert conn.execute(
        "select patient_id, phone_hashes, sex, birth_date, contact_consent "
        "from stg_mis__patients order by 1"
    ).fetchall() == [
        (
            "11",
            sorted([keyed_hash("+79161234567", key), keyed_hash("+74951234567", key)]),
            "F",
            date(1985, 4, 2),
            True,
        ),
        ("12", [], "M", None, False),
    ]
    # IsSecondary marks a hygienist: the provider's kind is kept
    assert conn.execute(
        "select doctor_id, name, provider_kind from stg_mis__doctors order by 1"
    ).fetchall() == [("7", "Анна Смирнова", "dentist"), ("8", "Вера Орлова", "hygienist")]


def test_yaml_mapping_for_any_other_mis(conn, settings: Settings) -> None:
    folder = settings.input_dir / "visits"
    write(
        folder / "export.csv",
        "Номер приёма;Пациент;Врач;Дата и время;Статус;Оплачено\n"
        "A-1;P1;D1;05.03.2025 10:30;Завершён;1 500,00\n"
        "A-2;P1;D1;06.03.2025 11:00;Неявка;\n"
        "A-3;P2;D1;07.03.2025 12:00;Перенесён;0\n",
        encoding="cp1251",
    )
    write(
        folder / "export.mapping.yaml",
        "columns:\n  visit_id: Номер приёма\n  patient_id: Пациент\n  doctor_id: Врач\n"
        "  visit_at: Дата и время\n  status: Статус\n  amount: Оплачено\n"
        "values:\n  status: {Завершён: completed, Неявка: no_show, Отменён: cancelled}\n"
        'formats:\n  visit_at: "%d.%m.%Y %H:%M"\n',
    )
    load_entity(conn, settings, VISITS_ENTITY)
    counts = run_staging_model(conn, VISITS_ENTITY)
    assert (counts.rows_loaded, counts.rows_quarantined) == (2, 1)
    assert conn.execute(
        "select visit_id, visit_at, status, amount::varchar from stg_mis__visits order by 1"
    ).fetchall() == [
        ("A-1", datetime(2025, 3, 5, 7, 30, tzinfo=UTC), "completed", "1500.00"),
        ("A-2", datetime(2025, 3, 6, 8, 0, tzinfo=UTC), "no_show", "0.00"),
    ]
    # an unmapped code is quarantined, named as the export wrote it
    assert conn.execute("select line, reason from quarantine").fetchall() == [
        (4, "status 'Перенесён' is not one of completed, cancelled, no_show, scheduled")
    ]


def test_yaml_mapping_errors_name_the_file(conn, settings: Settings) -> None:
    folder = settings.input_dir / "visits"
    write(folder / "export.csv", "Номер;Дата\n1;2025-03-05\n")
    write(folder / "_mapping.yaml", "columns:\n  visit_id: Номер\n  visit_at: Дата приёма\n")
    with pytest.raises(
        InputError,
        match=r"_mapping.yaml \(for visits/export.csv\): the export "
        r"has no column 'Дата приёма' \(for visit_at\)",
    ):
        load_entity(conn, settings, VISITS_ENTITY)


MARTS = [
    t
    for t in TABLES
    if t.startswith(("fct_", "mart_"))
    and t not in {"mart_vendor_lead_agreement", "mart_orphan_references"}
]
"""The marts of the golden fingerprints that hold rows in both forms (the trackers' own
flags exist in vendor exports only; the demo's references all line up)."""


def test_vendor_forms_build_identical_marts(demo_warehouse, tmp_path) -> None:
    """The demo written as Calltouch, CallRail, Google Ads, Yandex Direct and Open Dental
    exports builds the very marts of the canonical demo (same seed, same scale)."""
    from pipelines.build import run_build  # noqa: PLC0415  (loads the Dagster definitions)
    from pipelines.demo import write_demo  # noqa: PLC0415

    canonical_settings, canonical = demo_warehouse
    settings = Settings(
        input_dir=tmp_path / "vendor",
        warehouse_path=tmp_path / "w.duckdb",
        hash_secret=canonical_settings.hash_secret,
        # Yandex Direct's reports name no currency: the account's, declared
        ad_platform_currency={"yandex_direct": "RUB"},
    )
    write_demo(settings.input_dir, seed=3, scale=0.3, settings=settings, form="vendor")
    formats = {p.name.split("_")[0] for p in settings.input_dir.rglob("*") if p.is_file()}
    assert {
        "calltouch",
        "callrail",
        "google",
        "yandex",
        "appointment.csv",
        "procedurelog.csv",
        "patient.csv",
        "provider.csv",
    } <= formats
    run_build(settings)
    with duckdb.connect() as conn:
        conn.execute(f"attach '{canonical}' as c (read_only)")
        conn.execute(f"attach '{settings.warehouse_path}' as v (read_only)")
        for table in MARTS:
            rows = conn.execute(f"select count(*) from c.{table}").fetchall()[0][0]
            assert rows > 0, table
            for a, b in (("c", "v"), ("v", "c")):
                differ = conn.execute(
                    f"select count(*) from (select * from {a}.{table} "
                    f"except all select * from {b}.{table})"
                ).fetchall()[0][0]
                assert differ == 0, f"{table}: {differ} rows of {a} not in {b}"
        # the trackers' own flags against our leads: every flagged call is accounted for
        flagged = conn.execute(
            "select count(*) from v.int_calls where vendor_lead_flag"
        ).fetchall()[0][0]
        verdicts = dict(
            conn.execute(
                "select our_verdict, calls from v.mart_vendor_lead_agreement "
                "where tracker = 'flagged by the tracker'"
            ).fetchall()
        )
        assert flagged > 100 and sum(verdicts.values()) == flagged
        agreeing = conn.execute(
            "select count(*) from v.int_leads where vendor_lead_flag"
        ).fetchall()[0][0]
        assert verdicts["a lead for us too"] == agreeing
        formats_used = {
            r[0] for r in conn.execute("select distinct format from v.ingest_files").fetchall()
        }
    assert {
        "calltouch",
        "callrail",
        "google_ads",
        "yandex_direct",
        "opendental_patient",
        "opendental_appointment",
        "opendental_provider",
        "lookup:procedurelog",
    } <= formats_used
    # JSON, cp1251 CSV and the Open Dental dump hold the same phones: none reaches a table
    phones = input_phone_digits(canonical_settings.input_dir)
    assert assert_no_phone_in(settings.warehouse_path, phones) > 10_000


def test_callrail_csv_and_calltouch_xlsx(conn, settings: Settings) -> None:
    folder = settings.input_dir / "calls"
    write(
        folder / "callrail.csv",
        "id,start_time,customer_phone_number,tracking_phone_number,answered,duration,"
        "direction,utm_source,utm_medium,utm_campaign,agent_email,first_call\n"
        "CAL9,2025-03-03T10:15:00+03:00,+79161112233,+74951000110,true,40,inbound,"
        "google,cpc,brand,a@clinic.ru,true\n"
        "CAL10,2025-03-03T10:20:00+03:00,+79161112244,,false,0,outbound,,,,,false\n",
    )
    pl.DataFrame([{k: v for k, v in CALLTOUCH_RECORD.items() if k != "callTags"}]).write_excel(
        folder / "calltouch.xlsx"
    )
    load_entity(conn, settings, CALLS)
    run_staging_model(conn, CALLS)
    got = calls(conn)
    assert set(got) == {"CAL9", "4401"}
    assert got["CAL9"]["started_at"] == datetime(2025, 3, 3, 7, 15, tzinfo=UTC)
    assert got["4401"]["started_at"] == datetime(2025, 3, 3, 7, 15, tzinfo=UTC)
    assert conn.execute(
        "select source_file, format, rows, skipped_rows from ingest_files order by 1"
    ).fetchall() == [
        ("calls/callrail.csv", "callrail", 1, 1),
        ("calls/calltouch.xlsx", "calltouch", 1, 0),
    ]


def test_calltouch_web_journal_is_a_spec_file_with_no_python(conn, settings: Settings) -> None:
    """The journal a manager downloads from Calltouch's web interface, with Russian headers
    (pipelines/ingest/formats/calltouch_journal.yaml), as a Windows-1251 `;` CSV."""
    write(
        settings.input_dir / "calls" / "journal.csv",
        "Номер звонка;Дата;Номер абонента;Куда звонили;Источник;Канал;Кампания;"
        "Длительность;Ожидание;Статус;Уникальный;Целевой;Менеджер;Теги\n"
        "9001;03.03.2025 10:15:00;8 916 123-45-67;+7 495 100-01-10;yandex;cpc;implants;"
        "00:01:35;7;Успешный;Да;Да;Ирина Иванова;первичный\n"
        "9002;03.03.2025 11:00:00;+7 916 765-43-21;+7 495 100-01-10;google;organic;"
        "<не указано>;0;40;Неуспешный;Да;Нет;;\n",
        encoding="cp1251",
    )
    report = load_entity(conn, settings, CALLS)
    counts = run_staging_model(conn, CALLS)
    assert (report.files[0].format, counts.rows_loaded) == ("calltouch_journal", 2)
    got = calls(conn)
    first = got["9001"]
    assert first["started_at"] == datetime(2025, 3, 3, 7, 15, tzinfo=UTC)
    assert first["caller_phone_hash"] == keyed_hash("+79161234567", SECRET.encode())
    assert (first["source"], first["medium"], first["campaign"]) == ("yandex", "cpc", "implants")
    assert (first["answered"], first["duration_s"], first["wait_s"]) == (True, 95, 7)
    assert (first["admin_id"], first["tags"], first["vendor_lead_flag"]) == (
        "Ирина Иванова",
        "первичный",
        True,
    )
    second = got["9002"]
    # a placeholder campaign is no campaign; unique but not target: not the tracker's lead
    assert (second["answered"], second["campaign"], second["vendor_lead_flag"]) == (
        False,
        "",
        False,
    )


def test_an_analysts_own_format_is_recognised_by_its_signature(conn, settings: Settings) -> None:
    """A format spec in the input folder's formats/ works like a built-in one: found by its
    signature in any file of its entity, its expressions plain SQL."""
    write(
        settings.input_dir / "formats" / "ringostat.yaml",
        "name: ringostat\nentity: calls\nsignature: [calldate, caller, disposition]\n"
        "columns:\n  call_id: uniqueid\n  started_at: calldate\n  caller_phone: caller\n"
        "  answered: disposition = 'ANSWERED'\n  duration_s: billsec\n  wait_s: waittime\n",
    )
    write(
        settings.input_dir / "calls" / "ringostat.csv",
        "uniqueid;calldate;caller;disposition;billsec;waittime\n"
        "r-1;2025-03-03 10:00:00;+79161234567;ANSWERED;61;4\n"
        "r-2;2025-03-03 10:05:00;+79161234568;NO ANSWER;0;30\n",
    )
    report = load_entity(conn, settings, CALLS)
    run_staging_model(conn, CALLS)
    assert report.files[0].format == "ringostat"
    got = calls(conn)
    assert (got["r-1"]["answered"], got["r-1"]["duration_s"]) == (True, 61)
    assert (got["r-2"]["answered"], got["r-2"]["wait_s"]) == (False, 30)
