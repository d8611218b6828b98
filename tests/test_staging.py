"""Loaders and the staging gate on small hand-made files: every rule of METRICS.md "Inputs"."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from pipelines.ingest.entities import AD_SPEND, CALLS, PATIENTS, SURVEYS, VISITS, Entity
from pipelines.ingest.loader import load_entity
from pipelines.ingest.phones import keyed_hash
from pipelines.ingest.readers import InputError
from pipelines.ingest.staging import run_staging_model
from pipelines.settings import Settings
from tests.clinic import HEADERS, SECRET, write


def stage(
    conn: duckdb.DuckDBPyConnection, settings: Settings, entity: Entity, files: dict[str, str]
):
    for name, rows in files.items():
        write(settings.input_dir / entity.name / name, HEADERS[entity.name] + "\n" + rows)
    load_entity(conn, settings, entity)
    return run_staging_model(conn, entity)


def quarantine(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.execute(
        "select source_file, line, reason from quarantine order by source_file, line"
    ).fetchall()


def call_row(call_id: str, started_at: str, duration: str = "60", answered: str = "true") -> str:
    return f"{call_id},{started_at},8 916 123 45 67,,yandex,cpc,x,{answered},{duration},3,A1,B1,\n"


def test_timestamp_forms_are_read_in_the_clinic_zone(conn, settings) -> None:
    # Moscow is UTC+3 all year: 10:00 local = 07:00 UTC
    rows = (
        call_row("naive", "2025-03-01 10:00:00")
        + call_row("iso_t", "2025-03-01T10:00:00")
        + call_row("offset", "2025-03-01T07:00:00+00:00")
        + call_row("zulu", "2025-03-01 07:00:00Z")
        + call_row("compact", "2025-03-01T10:00:00+0300")
        + call_row("russian", "01.03.2025 10:00")
        + call_row("slashes", "01/03/2025 10:00:00")
        + call_row("late", "2025-03-01T23:30:00Z")  # next day locally
    )
    counts = stage(conn, settings, CALLS, {"c.csv": rows})
    assert counts.rows_loaded == 8
    got = dict(conn.execute("select call_id, started_at from stg_calltracking__calls").fetchall())
    ten_local = datetime(2025, 3, 1, 7, 0, tzinfo=UTC)
    for call_id in ("naive", "iso_t", "offset", "zulu", "compact", "russian", "slashes"):
        assert got[call_id] == ten_local, call_id
    assert got["late"] == datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    local_day = conn.execute(
        "select timezone(getvariable('timezone'), started_at)::date::varchar "
        "from stg_calltracking__calls where call_id = 'late'"
    ).fetchall()[0][0]
    assert local_day == "2025-03-02"


def test_each_bad_call_goes_to_quarantine_with_its_line(conn, settings) -> None:
    rows = (
        call_row("ok", "2025-03-01 10:00:00")  # line 2
        + call_row("bad_date", "31.02.2025 10:00")  # line 3
        + call_row("neg", "2025-03-01 10:00:00", duration="-12")  # line 4: still a call
        + call_row("", "2025-03-01 10:00:00")  # line 5
        + call_row("maybe", "2025-03-01 10:00:00", answered="maybe")  # line 6
        + "short,row\n"  # line 7
    )
    counts = stage(conn, settings, CALLS, {"c.csv": rows})
    assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (6, 2, 4)
    assert quarantine(conn) == [
        ("calls/c.csv", 3, "started_at '31.02.2025 10:00' is not a date-time"),
        ("calls/c.csv", 5, "call_id is missing"),
        ("calls/c.csv", 6, "answered 'maybe' is not true or false"),
        ("calls/c.csv", 7, "unreadable row: expected 13 fields as in the header, found 2"),
    ]
    # a duration the tracker cannot have measured is unknown: the call stays, not a target
    assert conn.execute(
        "select duration_s, duration_impossible from stg_calltracking__calls where call_id = 'neg'"
    ).fetchall() == [(None, True)]


def test_bad_money_currency_and_status(conn, settings) -> None:
    spend = (
        '2025-03-03,yandex,cpc,brand,"1 500,50",RUB,20,600\n'
        "2025-03-04,yandex,cpc,brand,12O0,RUB,20,600\n"
        "2025-03-05,google,cpc,brand,120.00,USD,5,100\n"
        "2025-03-06,google,cpc,brand,-5,,5,100\n"
    )
    counts = stage(conn, settings, AD_SPEND, {"s.csv": spend})
    assert counts.rows_loaded == 1
    assert conn.execute("select cost::varchar from stg_ads__ad_spend").fetchall() == [("1500.50",)]
    assert [r[2] for r in quarantine(conn)] == [
        "cost '12O0' is not an amount of money",
        "currency 'USD' is not RUB, the currency of this deployment",
        "cost -5.00 is negative",
    ]
    visits = (
        "V1,P1,D1,B1,2025-03-05 11:00,x,completed,2500\n"
        "V2,P1,D1,B1,2025-03-06 11:00,x,moved,0\n"
        "V3,P1,D1,B1,2025-03-07 11:00,x,No-Show,\n"
        "V4,P1,D1,B1,2025-03-08 11:00,x,canceled,0\n"
    )
    counts = stage(conn, settings, VISITS, {"v.csv": visits})
    assert counts.rows_loaded == 3
    assert conn.execute(
        "select visit_id, status, amount::varchar from stg_mis__visits order by visit_id"
    ).fetchall() == [
        ("V1", "completed", "2500.00"),
        ("V3", "no_show", "0.00"),
        ("V4", "cancelled", "0.00"),
    ]
    assert [r[2] for r in quarantine(conn) if r[0].startswith("visits")] == [
        "status 'moved' is not one of completed, cancelled, no_show, scheduled"
    ]


def test_overlapping_exports_are_one_record(conn, settings) -> None:
    # the same call in two exports, its time written two ways and its phone two ways
    first = call_row("C1", "2025-03-01 10:00:00") + call_row("C2", "2025-03-01 11:00:00")
    second = (
        "C1,2025-03-01T07:00:00Z,+7 (916) 123-45-67,,yandex,cpc,x,true,60,3,A1,B1,\n"
        + call_row("C3", "2025-03-02 11:00:00")
    )
    counts = stage(conn, settings, CALLS, {"calls_01.csv": first, "calls_02.csv": second})
    assert (
        counts.rows_read,
        counts.rows_loaded,
        counts.rows_quarantined,
        counts.rows_duplicate,
    ) == (4, 3, 0, 1)
    # the kept copy is the one from the file that sorts last
    assert conn.execute(
        "select source_file, line from stg_calltracking__calls where call_id = 'C1'"
    ).fetchall() == [("calls/calls_02.csv", 2)]


def test_later_file_wins_a_conflict(conn, settings) -> None:
    old = "V1,P1,D1,B1,2025-03-05 11:00,x,completed,2500\n"
    new = (
        "V1,P1,D1,B1,2025-03-05 11:00,x,completed,3000\n"
        "V1,P1,D1,B1,2025-03-05 11:00,x,completed,3100\n"
    )
    counts = stage(conn, settings, VISITS, {"a.csv": old, "b.csv": new})
    assert (counts.rows_loaded, counts.rows_quarantined, counts.rows_duplicate) == (1, 2, 0)
    assert conn.execute("select amount::varchar from stg_mis__visits").fetchall() == [("3100.00",)]
    assert quarantine(conn) == [
        ("visits/a.csv", 2, "superseded by visits/b.csv line 3: same visit_id, different values"),
        ("visits/b.csv", 2, "superseded by visits/b.csv line 3: same visit_id, different values"),
    ]


def test_reconciliation_holds_with_every_kind_of_row(conn, settings) -> None:
    rows = (
        call_row("A", "2025-03-01 10:00:00") * 3  # two verbatim repeats
        + call_row("B", "2025-03-01 10:00:00")
        + call_row("B", "2025-03-01 10:05:00")  # supersedes the line above
        + call_row("C", "nonsense")
    )
    c = stage(conn, settings, CALLS, {"c.csv": rows})
    assert (c.rows_read, c.rows_loaded, c.rows_quarantined, c.rows_duplicate) == (6, 2, 2, 2)
    assert c.rows_read == c.rows_loaded + c.rows_quarantined + c.rows_duplicate


def test_patient_phones_become_hashes_only(conn, settings) -> None:
    rows = "P1,+7 916 123-45-67; 8 (495) 123-45-67,ж,1990-02-01,,\nP2,anonymous,M,,,да\n"
    stage(conn, settings, PATIENTS, {"p.csv": rows})
    got = dict(conn.execute("select patient_id, phone_hashes from stg_mis__patients").fetchall())
    key = SECRET.encode()
    assert got["P1"] == sorted([keyed_hash("+79161234567", key), keyed_hash("+74951234567", key)])
    assert got["P2"] == []
    assert conn.execute(
        "select sex, contact_consent from stg_mis__patients order by patient_id"
    ).fetchall() == [("F", False), ("M", True)]
    raw_columns = [
        r[0] for r in conn.execute("select column_name from (describe raw_patients)").fetchall()
    ]
    assert "phone" not in raw_columns


def test_survey_scores_must_be_0_to_10(conn, settings) -> None:
    c = stage(conn, settings, SURVEYS, {"s.csv": "V1,10,\nV2,11,\nV3,-1,\nV4,x,\n"})
    assert c.rows_loaded == 1
    assert [r[2] for r in quarantine(conn)] == [
        "score 11 is outside 0 to 10",
        "score -1 is outside 0 to 10",
        "score 'x' is not a whole number",
    ]


def test_missing_required_folder_is_named(conn, settings) -> None:
    settings.input_dir.mkdir(parents=True)
    with pytest.raises(InputError, match=r"required input folder .*input/calls is missing"):
        load_entity(conn, settings, CALLS)
    (settings.input_dir / "calls").mkdir()
    with pytest.raises(InputError, match=r"input/calls has no export files"):
        load_entity(conn, settings, CALLS)


def test_optional_surveys_may_be_absent(conn, settings) -> None:
    settings.input_dir.mkdir(parents=True)
    assert load_entity(conn, settings, SURVEYS).rows == 0
    assert run_staging_model(conn, SURVEYS).rows_loaded == 0


def test_definition_16_what_is_not_a_date(conn, settings) -> None:
    visits = (
        "V1,P1,D1,B1,9999-12-31 10:00,x,completed,100\n"  # line 2: happened in year 9999?
        "V2,P1,D1,B1,2099-01-10 10:00,x,scheduled,0\n"  # line 3: a booking may be ahead
        "V3,P1,D1,B1,1999-12-31 23:59,x,completed,100\n"  # line 4: before 2000-01-01
        "V4,P1,D1,B1,0001-01-01 00:00:00,x,cancelled,0\n"  # line 5: Open Dental's no date
        "V5,P1,D1,B1,2025-03-05T10:00:00+03:99,x,completed,100\n"  # line 6: minutes 99
        "V6,P1,D1,B1,2025-03-05T10:00:00+14:00,x,completed,100\n"  # line 7: the far edge
        "V7,P1,D1,B1,2025-03-05 10:00,x,completed,1000000000.01\n"  # line 8: over the bound
    )
    counts = stage(conn, settings, VISITS, {"v.csv": visits})
    assert counts.rows_loaded == 2
    reasons = [r[2] for r in quarantine(conn)]
    assert reasons[0].startswith("visit_at '9999-12-31 10:00' is after ")
    assert reasons[0].endswith(", the build's date plus one day")
    assert reasons[1:] == [
        "visit_at '1999-12-31 23:59' is before 2000-01-01, not a plausible date",
        "visit_at '0001-01-01 00:00:00' is a placeholder for \"no date\"",
        "visit_at '2025-03-05T10:00:00+03:99' has a UTC offset beyond ±14:00",
        # above the bound, with 10 to 15 digits: masked like a phone before anything is kept
        "amount holds a phone-like number (masked), not an amount of money",
    ]
    # optional dates: a placeholder is simply empty; a birth in the future is not a birth
    patients = "P1,,F,0001-01-01,0000-00-00 00:00:00,\nP2,,M,01.01.2999,,\n"
    stage(conn, settings, PATIENTS, {"p.csv": patients})
    assert conn.execute(
        "select patient_id, birth_date, registered_at from stg_mis__patients"
    ).fetchall() == [("P1", None, None)]
    assert [r[2] for r in quarantine(conn) if r[0].startswith("patients")] == [
        "birth_date '01.01.2999' is in the future"
    ]


def test_campaign_and_ad_ids_are_keys_not_phones(conn, settings) -> None:
    # Google Ads ids have 10-11 digits, like a phone: masked, the two ad groups would be
    # one part (2,000 superseding 1,000) and the two campaigns one key. Kept as written,
    # both ad groups' spend adds up (1,000 + 2,000) and each campaign keeps its own row.
    header = HEADERS["ad_spend"] + ",grain\n"
    write(
        settings.input_dir / "ad_spend" / "g.csv",
        header
        + "2025-05-05,google,cpc,20123456789,1000,RUB,1,10,12345678901\n"
        + "2025-05-05,google,cpc,20123456789,2000,RUB,2,20,12345678902\n"
        + "2025-05-05,google,cpc,sale_250301_250331,500,RUB,1,5,12345678903\n",
    )
    load_entity(conn, settings, AD_SPEND)
    counts = run_staging_model(conn, AD_SPEND)
    assert counts.rows_quarantined == 0
    assert conn.execute(
        "select campaign, cost::varchar, clicks from stg_ads__ad_spend order by campaign"
    ).fetchall() == [("20123456789", "3000.00", 3), ("sale_250301_250331", "500.00", 1)]
    # a call's campaign id, as a tracker writes it from the ad's URL, is kept too
    stage(
        conn,
        settings,
        CALLS,
        {"c.csv": call_row("C1", "2025-05-05 10:00:00").replace(",x,", ",20123456789,")},
    )
    assert conn.execute("select campaign from stg_calltracking__calls").fetchall() == [
        ("20123456789",)
    ]
