"""A hostile input folder, built once through the CLI: every class of bad input from the
trust issue, each met with one clear line, a quarantined row, and nothing else lost.

The exact lines a person sees are asserted here; README "Bad input" lists them."""

from __future__ import annotations

import contextlib
import io
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.cli import main
from pipelines.ingest.entities import VISITS
from pipelines.ingest.loader import load_entity
from pipelines.ingest.readers import InputError
from pipelines.settings import load_settings
from tests.clinic import HEADERS, SECRET, minimal_input, write
from tests.test_demo_and_privacy import assert_no_phone_in

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "streamlit_app.py")
CALLS = HEADERS["calls"] + "\n"
PLANTED_PHONES = {
    "9162220000",
    "9167771235",
    "9161234567",
    "4957654321",
    "9163330000",
    "9164440001",
    "9164440002",
    "9164440003",
    "9164440004",
    "9164440005",
    "9164440006",
    "9164440007",
    "9164440008",
    "9164440009",
    "9164440010",
    "9164440011",
    "9164440012",
}


def call_line(call_id: str, started_at: str, admin: str = "A1", phone: str = "+7 916 222-00-00"):
    return f"{call_id},{started_at},{phone},,yandex,cpc,x,true,60,5,{admin},B1,\n"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[str], Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    input_dir = minimal_input(root / "input")
    calls = input_dir / "calls"
    write(
        calls / "b_open_quote.csv",
        CALLS
        + call_line("C2", "2025-03-04 10:00:00")
        # the example: the file ends inside an open quote
        + 'C3,2025-03-15T10:00:00+03:00,"+7 916 55',
    )
    (calls / "c_bad_bytes.csv").write_bytes(
        CALLS.encode()
        + call_line("C4", "2025-03-04 11:00:00").encode().replace(b",B1,", b",B1\x98\x98,")
        + call_line("C5", "2025-03-04 12:00:00").encode()
    )
    (calls / "d_junk.csv").write_bytes(bytes(range(256)) * 20)
    (calls / "e_utf16_odd.csv").write_bytes(
        (CALLS + call_line("C6", "2025-03-04 13:00:00")).encode("utf-16")[:-1]
    )
    # UTF-8 and Windows-1251 lines in one file: both names must read, and match A1
    (calls / "f_mixed.csv").write_bytes(
        CALLS.encode()
        + call_line("C7", "2025-03-05 10:00:00", admin="Ирина Иванова").encode()
        + call_line("C8", "2025-03-05 11:00:00", admin="Ирина Иванова").encode("cp1251")
    )
    write(calls / "g_no_header.csv", call_line("C9", "2025-03-06 10:00:00"))
    write(
        calls / "h_offsets.csv",
        CALLS
        + call_line("O1", "2025-03-06 10:00:00+99")
        + call_line("O2", "2025-03-06T10:00:00+25:00")
        + call_line("O3", "2025-03-06T10:00:00+03:99")
        + call_line("O4", "2025-03-06T10:00:00-14:00"),  # the edge: a real offset
    )
    write(
        calls / "i_dates.csv",
        CALLS + call_line("Y1", "9999-01-01 10:00:00") + call_line("Y2", "1900-01-01 10:00:00"),
    )
    write(calls / "j_phone_in_text.csv", CALLS + call_line("T1", "звонил с 89167771235"))
    outside = write(root / "outside" / "secret.csv", "root:x:0:0:root:/root:/bin/bash\n")
    (calls / "k_link.csv").symlink_to(outside)
    write(calls / "notes.docx", "not an export")
    (calls / "l_loop.csv").symlink_to(calls / "l_loop.csv")
    write(calls / ".hidden.csv", CALLS + call_line("H1", "2025-03-04 14:00:00"))
    (
        calls
        / "m_\udcff_name\nwith newline.csv".encode("utf-8", "surrogateescape").decode(
            "utf-8", "surrogateescape"
        )
    ).write_text(CALLS + call_line("N1", "2025-03-04 15:00:00"))
    # a phone in a file name, in a header name, in free text written every which way, and
    # as an odd identifier: masked wherever it would be kept
    write(
        calls / "n_89164440001.csv",
        CALLS.replace("tags", "tags,Client 8 916 444 00 02")
        + call_line("P1", "2025-03-04 16:00:00").replace(",\n", ",ph8.916.444.00.03,x\n")
        + call_line('"{""x"": ""89164440004""}"', "2025-03-04 16:10:00"),
    )
    # a phone as a file's extension; in free text with a non-breaking hyphen, full-width
    # digits, four separators in a row (libphonenumber reads each as the number)
    write(calls / "export.89164440005", CALLS + call_line("E1", "2025-03-04 16:20:00"))
    write(
        calls / "o_unicode.csv",
        CALLS
        + call_line("U1", "2025-03-04 16:30:00").replace(
            ",\n",
            ",8\u2011916\u2011444\u201100\u201106 или \uff18\uff19\uff11\uff16"
            "\uff14\uff14\uff14\uff10\uff10\uff10\uff17; 8 - (916) - 444-00-08\n",
        ),
    )
    # a phone in a readable file's name with no-break spaces, in a file's name with tabs,
    # in a mapping file's name (ingest_files.format names it), in an unreadable tracking
    # number
    write(
        calls / "nb 8\u00a0916\u00a0444\u00a000\u00a009.csv",
        CALLS + call_line("U2", "2025-03-04 16:40:00"),
    )
    write(calls / "tab 8\t916\t444\t00\t10.csv", CALLS + call_line("U3", "2025-03-04 16:50:00"))
    write(calls / "q_89164440011.csv", CALLS + call_line("U4", "2025-03-04 17:00:00"))
    write(
        calls / "q_89164440011.mapping.yaml",
        "columns:\n" + "".join(f"  {c}: {c}\n" for c in CALLS.strip().split(",")),
    )
    write(
        calls / "p_tracking.csv",
        CALLS
        + call_line("U5", "2025-03-04 17:10:00").replace(
            ",+7 916 222-00-00,,", ",+7 916 222-00-00,Иванова 8 916 444 00 12 перезвонить,"
        ),
    )
    # an unreadable administrators file: one line, the file's, not one per row
    (input_dir / "administrators" / "notes.csv").write_bytes(b"hello\x00world\n")
    write(input_dir / "doctors" / "fake.xlsx", "this is not a zip")
    write(
        input_dir / "channels.csv",
        "source,medium,campaign,channel,free\nyandex,cpc,*,Yandex Direct,\n*,organic,*,SEO,maybe\n",
    )
    write(
        input_dir / "ad_spend" / "huge.csv",
        HEADERS["ad_spend"] + "\n2025-03-04,yandex,cpc,brand,9999999999999999.99,RUB,1,1\n",
    )
    write(
        input_dir / "patients" / "p2.csv",
        HEADERS["patients"]
        + "\nP2,+7 916 123-45-67; 8 (495) 765-43-21,F,1990-01-01,,да,перезвонить 89163330000\n"
        # a US dump read with the Russian default region
        + "P3,+1 650-253-0000,F,,,\nP4,+1 212-736-3100,F,,,\n"
        + "P5,(650) 253-0001,F,,,\nP6,(212) 736-3101,F,,,\n",
    )
    write(
        input_dir / "visits" / "v2.csv",
        HEADERS["visits"] + "\nV2,PX,DX,B1,2025-03-06 11:00,Осмотр,completed,500\n",
    )
    warehouse = root / "out" / "warehouse.duckdb"
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stderr(err):
        env.setenv("CLINIC_HASH_SECRET", SECRET)
        env.chdir(root)
        code = main(["build", "--input", str(input_dir), "--warehouse", str(warehouse)])
    return code, err.getvalue().splitlines(), warehouse, input_dir


def sql(warehouse: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(query).fetchall()


def test_bad_files_are_one_line_each_and_the_rest_loads(hostile) -> None:
    code, lines, _, _ = hostile
    assert code == 0
    prefix = "clinic-analytics: warning: "
    assert lines == [
        prefix + "channels.csv line 3: free 'maybe' is not yes or no; the row was not used, "
        "so the calls and spend it maps may fall to Other",
        prefix + "administrators/notes.csv: no header line: none of its first 30 lines names "
        "the entity's columns (a file without a header, or an export of something else); "
        "the file was quarantined, the others loaded",
        prefix + "calls/.hidden.csv: a hidden file (its name starts with '.'): not read; "
        "the file was quarantined, the others loaded",
        prefix + "calls/d_junk.csv: no header line: none of its first 30 lines names the "
        "entity's columns (a file without a header, or an export of something else); "
        "the file was quarantined, the others loaded",
        prefix + "calls/export.<phone>: unsupported file type '.<phone>': export as .csv, "
        ".json, .ods, .tsv, .txt, .xls, .xlsb, .xlsm, .xlsx; the file was quarantined, the "
        "others loaded",
        prefix + "calls/g_no_header.csv: no header line: none of its first 30 lines names the "
        "entity's columns (a file without a header, or an export of something else); "
        "the file was quarantined, the others loaded",
        prefix + "calls/k_link.csv: a link to a file outside the input folder: not read; "
        "the file was quarantined, the others loaded",
        prefix + "calls/l_loop.csv: a link that leads nowhere (missing, or a loop); "
        "the file was quarantined, the others loaded",
        prefix + "calls/notes.docx: unsupported file type '.docx': export as .csv, .json, "
        ".ods, .tsv, .txt, .xls, .xlsb, .xlsm, .xlsx; the file was quarantined, the others "
        "loaded",
        prefix + "doctors/fake.xlsx: not a readable workbook (calamine error: Xlsx error: Zip "
        "error: invalid Zip archive: Could not find EOCD); the file was quarantined, the "
        "others loaded",
        prefix + "visits: 1 rows in 1 file(s) name a doctor_id missing from doctors/ (e.g. DX)",
        prefix + "visits: 1 rows in 1 file(s) name a patient_id missing from patients/ (e.g. PX)",
        # P1 of the minimal clinic, and the four US numbers (P2's row is unreadable)
        prefix + "patients: 80.0% of 5 phone numbers are invalid for RU (2) or belong to "
        "another country (2): check default_region",
    ]


def test_every_row_is_loaded_or_quarantined_with_its_line(hostile) -> None:
    _, _, warehouse, _ = hostile
    got = dict(
        ((f, line), reason)
        for f, line, reason in sql(
            warehouse,
            "select source_file, line, reason from quarantine where kind = 'invalid'",
        )
    )
    assert got[("calls/b_open_quote.csv", 3)] == "unreadable row: a quote opens and never closes"
    assert got[("calls/c_bad_bytes.csv", 2)] == (
        "unreadable row: the line is not text (neither UTF-8 nor Windows-1251, or a NUL byte)"
    )
    assert got[("calls/e_utf16_odd.csv", 2)] == (
        "unreadable row: the line is not text (neither UTF-8 nor Windows-1251, or a NUL byte)"
    )
    assert got[("calls/h_offsets.csv", 2)] == (
        "started_at '2025-03-06 10:00:00+99' has a UTC offset beyond ±14:00"
    )
    assert got[("calls/h_offsets.csv", 3)].endswith("has a UTC offset beyond ±14:00")
    assert got[("calls/h_offsets.csv", 4)].endswith("has a UTC offset beyond ±14:00")
    assert got[("calls/i_dates.csv", 2)].startswith("started_at '9999-01-01 10:00:00' is after ")
    assert got[("calls/i_dates.csv", 3)] == (
        "started_at '1900-01-01 10:00:00' is before 2000-01-01, not a plausible date"
    )
    assert (
        got[("calls/j_phone_in_text.csv", 2)] == "started_at 'звонил с <phone>' is not a date-time"
    )
    assert got[("ad_spend/huge.csv", 2)] == (
        "cost '9999999999999999.99' is above 1000000000.0, not a plausible amount"
    )
    assert got[("patients/p2.csv", 2)] == (
        "unreadable row: expected 6 fields as in the header, found 7"
    )
    for whole_file in ("calls/d_junk.csv", "calls/k_link.csv", "doctors/fake.xlsx"):
        assert got[(whole_file, None)].startswith("file not read: ")
    # everything readable loaded: C1 from the minimal clinic, C2 before the broken quote,
    # C5 after the broken bytes, both C7 and C8 of the mixed file (A1 matched in both
    # encodings), and the -14:00 edge
    loaded = dict(sql(warehouse, "select call_id, admin_id from int_calls"))
    assert {"C1", "C2", "C5", "C7", "C8", "O4"} <= set(loaded)
    assert loaded["C7"] == loaded["C8"] == "A1"
    for entity, read, loaded_rows, quarantined, duplicate, combined in sql(
        warehouse, "select * from load_reconciliation"
    ):
        assert read == loaded_rows + quarantined + duplicate + combined, entity


def test_nothing_outside_the_input_and_no_phone_reaches_the_warehouse(hostile) -> None:
    _, _, warehouse, _ = hostile
    assert assert_no_phone_in(warehouse, PLANTED_PHONES) > 50
    raw = sql(warehouse, "select raw from quarantine where source_file = 'patients/p2.csv'")
    assert raw == [("P2,<phone>; <phone>,F,1990-01-01,,да,перезвонить <phone>",)]
    assert not sql(warehouse, "select * from quarantine where raw like '%root:x:0%'")
    assert not sql(warehouse, "select * from raw_calls where _raw like '%root:x:0%'")


def test_a_future_date_does_not_become_as_of(hostile) -> None:
    _, _, warehouse, _ = hostile
    # the latest plausible call is O4: 2025-03-06 10:00 at -14:00 = 03-07 00:00 UTC, 03:00 in
    # Moscow; the call dated 9999 is quarantined and does not move as_of
    assert sql(warehouse, "select as_of::varchar from int_parameters") == [("2025-03-07",)]


def test_data_quality_tables_show_files_orphans_and_phones(hostile) -> None:
    _, _, warehouse, _ = hostile
    files = dict(
        sql(warehouse, "select source_file, rejected from ingest_files where rejected is not null")
    )
    assert set(files) == {
        "administrators/notes.csv",
        "calls/.hidden.csv",
        "calls/d_junk.csv",
        "calls/export.<phone>",
        "calls/g_no_header.csv",
        "calls/k_link.csv",
        "calls/l_loop.csv",
        "calls/notes.docx",
        "doctors/fake.xlsx",
    }
    # a name that is not UTF-8 or holds a newline is shown, never allowed to break a line
    assert sql(
        warehouse, "select count(*) from ingest_files where source_file like 'calls/m_%'"
    ) == [(1,)]
    (name,) = sql(
        warehouse, "select source_file from ingest_files where source_file like 'calls/m_%'"
    )[0]
    assert name == "calls/m_\ufffd_name with newline.csv"
    # a phone in a file name or a header name is masked in what the warehouse keeps
    assert sql(
        warehouse,
        "select ignored_columns from ingest_files where source_file = 'calls/n_<phone>.csv'",
    ) == [(["client_<phone>"],)]


def test_open_dental_without_procedurelog_is_refused(conn, settings) -> None:
    write(
        settings.input_dir / "visits" / "appointment.csv",
        "AptNum,PatNum,AptStatus,AptDateTime,ProvNum\n101,11,2,2025-03-05 10:00:00,7\n",
    )
    with pytest.raises(InputError) as info:
        load_entity(conn, settings, VISITS)
    assert str(info.value) == (
        "visits/appointment.csv (opendental_appointment) needs procedurelog.csv, but "
        "procedurelog.csv is not beside it in visits/: without it every amount would be 0; "
        "add it from the same dump"
    )


def test_a_clinic_with_nothing_logged_yet_builds_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls, visits and surveys exported with their header lines only (a clinic set up,
    nothing logged yet): the build publishes, with no primary patient and no lead, and the
    attribution check finds first- and last-touch crediting the same zero patients (it
    once compared a sum over no rows, NULL, with 0, and failed the build)."""
    input_dir = minimal_input(tmp_path / "input")
    for entity in ("calls", "visits", "surveys"):
        write(input_dir / entity / f"{entity}.csv", HEADERS[entity] + "\n")
    monkeypatch.setenv("CLINIC_HASH_SECRET", SECRET)
    warehouse = tmp_path / "warehouse.duckdb"
    assert main(["build", "--input", str(input_dir), "--warehouse", str(warehouse)]) == 0
    assert sql(warehouse, "select count(*) from fct_primary_patients") == [(0,)]
    assert sql(warehouse, "select count(*) from fct_leads") == [(0,)]
    assert sql(warehouse, "select count(*) from mart_clv_forecast") == [(0,)]


def test_settings_are_read_for_the_thresholds(tmp_path: Path) -> None:
    settings = load_settings(
        None, hash_secret=SECRET, max_plausible_amount=5, phone_warning_share=0.5
    )
    assert (settings.max_plausible_amount, settings.phone_warning_share) == (5, 0.5)


def test_the_dashboard_says_so(hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines, warehouse, _ = hostile
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(warehouse))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/data_quality.py").run()
    assert not at.exception
    # the build's warnings, word for word, at the top of the data-quality page
    assert [w.value for w in at.warning] == [
        line.removeprefix("clinic-analytics: warning: ") for line in lines
    ]
    files = table_with(at, "not_read_because")
    assert set(files.loc[files["not_read_because"].notna(), "source_file"]) == {
        "administrators/notes.csv",
        "calls/.hidden.csv",
        "calls/d_junk.csv",
        "calls/export.<phone>",
        "calls/g_no_header.csv",
        "calls/k_link.csv",
        "calls/l_loop.csv",
        "calls/notes.docx",
        "doctors/fake.xlsx",
    }
    assert list(table_with(at, "missing_from")["example"]) == ["DX", "PX"]
    phones = table_with(at, "phones_are")
    patients = phones[phones["entity"] == "patients"].set_index("phones_are")
    assert patients["phones"].to_dict() == {"invalid": 2, "valid, US": 2, "valid, RU": 1}
    assert patients.loc["invalid", "share"] == pytest.approx(40.0)  # shown in percent
    # Yandex's spend export covers 2025-03-03 only; its calls after that have no spend
    at.switch_page("app_pages/channels.py").run()
    at.date_input[0].set_value((date(2025, 3, 1), date(2025, 3, 7))).run()
    assert not at.exception
    assert at.warning[0].value.startswith("No spend data for Yandex Direct over some of these")
    shown = at.dataframe[0].value.set_index("channel")
    assert pd.isna(shown.loc["Yandex Direct", "spend"])
    assert pd.isna(shown.loc["Yandex Direct", "cost_per_lead"])


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The page's one table that has `column` (tables are found by what they hold)."""
    (table,) = [d.value for d in at.dataframe if column in d.value.columns]
    return table
