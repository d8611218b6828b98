"""Incremental loads (pipelines/ingest/ledger.py): a build that carries the raw rows of
unchanged files from the last published warehouse makes, row for row, the warehouse a
full build of the same files makes; a file changed in place, removed, or merely touched
is told apart by its content, and anything else that shapes raw rows reads every file."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines import warehouse
from pipelines.build import BuildError, run_build
from pipelines.demo import write_demo
from pipelines.ingest.entities import ENTITIES
from pipelines.models.graph import models
from pipelines.models.versions import rows_digest
from pipelines.settings import Settings
from tests.golden.fingerprints import fingerprint, rows

SIDE = {
    "ingest_files": "* exclude (loaded_at)",
    "phone_quality": "*",
    **{e.raw_table: "*" for e in ENTITIES},
}
"""The raw layer and what the loaders write beside it, compared too (`loaded_at` says
when a file was first read, which is the point of carrying it)."""


def _settings(root: Path, name: str, **overrides: object) -> Settings:
    return Settings(
        input_dir=root / "input",
        warehouse_path=root / f"{name}.duckdb",
        hash_secret="incremental-secret",
        **overrides,
    )


def _ledger(warehouse: Path) -> dict[str, bool]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return dict(conn.execute("select source_file, reused from ingest_ledger").fetchall())


def _side_tables(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {
            table: sorted(conn.execute(f"select {columns} from {table}").fetchall(), key=repr)
            for table, columns in SIDE.items()
        }


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings, Settings]:
    """Last week's build, then this week's exports: a new month of calls and visits (each
    overlapping the previous file by days, as the demo writes them), an old visits file
    corrected in place, an old spend file withdrawn, and a file copied again unchanged
    (new modification time, same bytes). Built incrementally, and in full beside it."""
    root = tmp_path_factory.mktemp("weeks")
    incremental = _settings(root, "incremental")
    write_demo(incremental.input_dir, seed=5, scale=0.3, settings=incremental)
    held_back = root / "held_back"
    held_back.mkdir()
    newest = {
        entity: sorted((incremental.input_dir / entity).glob(f"{entity}_*.csv"))[-1]
        for entity in ("calls", "visits")
    }
    for path in newest.values():
        shutil.move(path, held_back / path.name)
    run_build(incremental)  # last week's: nothing to carry yet
    assert not any(_ledger(incremental.warehouse_path).values())

    for entity, path in newest.items():
        shutil.move(held_back / path.name, incremental.input_dir / entity / path.name)
    visits = sorted((incremental.input_dir / "visits").glob("visits_*.csv"))
    corrected = visits[3]
    text = corrected.read_text(encoding="utf-8").splitlines()
    fields = text[1].split(",")
    fields[-1] = "123456.00"  # the MIS corrected the first visit's amount
    text[1] = ",".join(fields)
    corrected.write_text("\n".join(text) + "\n", encoding="utf-8")
    (sorted((incremental.input_dir / "ad_spend").glob("*.csv"))[0]).unlink()
    touched = sorted((incremental.input_dir / "calls").glob("calls_*.csv"))[2]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    run_build(incremental)

    full = _settings(root, "full", incremental=False)
    run_build(full)
    return root, incremental, full


def test_incremental_build_equals_a_full_build(weeks: tuple[Path, Settings, Settings]) -> None:
    _, incremental, full = weeks
    assert fingerprint(incremental.warehouse_path) == fingerprint(full.warehouse_path)
    assert _side_tables(incremental.warehouse_path) == _side_tables(full.warehouse_path)


def test_only_new_and_changed_files_are_read(weeks: tuple[Path, Settings, Settings]) -> None:
    _, incremental, full = weeks
    ledger = _ledger(incremental.warehouse_path)
    read = sorted(name for name, reused in ledger.items() if not reused)
    newest_calls = sorted(n for n in ledger if n.startswith("calls/"))[-1]
    newest_visits = sorted(n for n in ledger if n.startswith("visits/"))[-1]
    corrected = sorted(n for n in ledger if n.startswith("visits/"))[3]
    # the two new months and the corrected file; the touched calls file is carried
    assert read == sorted([newest_calls, newest_visits, corrected])
    assert ledger[sorted(n for n in ledger if n.startswith("calls/"))[2]] is True
    assert not any(_ledger(full.warehouse_path).values())
    # the withdrawn spend file left with its rows: one ledger row per file present
    spend_files = len(list((incremental.input_dir / "ad_spend").glob("*.csv")))
    assert sum(n.startswith("ad_spend/") for n in ledger) == spend_files
    with duckdb.connect(str(incremental.warehouse_path), read_only=True) as conn:
        amounts = conn.execute(
            "select amount from stg_mis__visits where source_file = ? and line = 2",
            [corrected],
        ).fetchall()
    assert amounts in ([(123456.00,)], [])  # [] when a later export superseded it


def test_memory_models_are_views_that_read_as_their_tables_did(
    weeks: tuple[Path, Settings, Settings],
) -> None:
    """A `memory` model (pipelines/models/graph.py) lives in the build's memory and is
    published as a view of its SQL: in the warehouse it is a view, never a table, also
    after an incremental build that started from a warehouse holding that view, and the
    view, read in a session of its own (a UTC one, not the clinic's zone), gives the rows
    the tables built from it were built from."""
    _, incremental, _ = weeks
    memory = [m.name for m in models().values() if m.published_view is not None]
    assert {"int_calls", "int_completed_visits", "int_first_visits", "int_leads"} <= set(memory)
    with duckdb.connect(str(incremental.warehouse_path), read_only=True) as conn:
        conn.execute("set TimeZone = 'UTC'")
        for name in memory:
            assert warehouse.relation_kind(conn, name) == "view", name
        # int_primary_patients holds one row per first visit, int_lead_conversions one
        # per lead: tables both, built from the views' tables in memory
        for view, table, columns in (
            ("int_first_visits", "int_primary_patients", "patient_id, first_visit_id"),
            ("int_leads", "int_lead_conversions", "call_id, week_start, channel"),
        ):
            seen = conn.execute(f"select {columns} from {view} order by all").fetchall()
            built = conn.execute(f"select {columns} from {table} order by all").fetchall()
            assert len(seen) > 100 and seen == built, view


def test_a_changed_setting_reads_every_file(weeks: tuple[Path, Settings, Settings]) -> None:
    """The duration threshold is read by SQL: the context of every file changes, so
    nothing is carried (a coarse rule, but never a stale row)."""
    root, incremental, _ = weeks
    changed = incremental.model_copy(update={"target_call_min_duration_s": 45})
    shutil.copy(incremental.warehouse_path, root / "changed.duckdb")
    changed = changed.model_copy(update={"warehouse_path": root / "changed.duckdb"})
    run_build(changed)
    assert not any(_ledger(changed.warehouse_path).values())


def test_files_that_price_each_other_are_read_together(tmp_path: Path) -> None:
    """Open Dental's procedurelog prices the appointments of the other visits files: a
    corrected fee there must reach every appointment, so a change of any visits file
    reads them all; an unchanged folder carries them all."""
    settings = _settings(tmp_path, "incremental", ad_platform_currency={"yandex_direct": "RUB"})
    write_demo(settings.input_dir, seed=3, scale=0.1, settings=settings, form="vendor")
    run_build(settings)
    run_build(settings)  # nothing changed: every file carried
    assert all(_ledger(settings.warehouse_path).values())

    log = settings.input_dir / "visits" / "procedurelog.csv"
    lines = log.read_text(encoding="utf-8").splitlines()
    fields = lines[1].split(",")
    fields[-1] = "99999.00"  # the first procedure's fee, corrected
    appointment = fields[2]
    lines[1] = ",".join(fields)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_build(settings)
    ledger = _ledger(settings.warehouse_path)
    assert not any(reused for name, reused in ledger.items() if name.startswith("visits/"))
    assert all(reused for name, reused in ledger.items() if name.startswith("calls/"))

    full = _settings(
        tmp_path, "full", incremental=False, ad_platform_currency={"yandex_direct": "RUB"}
    )
    run_build(full)
    assert fingerprint(settings.warehouse_path) == fingerprint(full.warehouse_path)
    with duckdb.connect(str(full.warehouse_path), read_only=True) as conn:
        amount = conn.execute(
            "select amount from stg_mis__visits where visit_id = ?", [appointment]
        ).fetchall()
    assert amount[0][0] >= 99999  # the corrected fee, with any other of its procedures


def _add_visit(settings: Settings, name: str, day: str) -> None:
    """One more completed visit, on `day`, of the patient of the input's last visit."""
    last = sorted((settings.input_dir / "visits").glob("visits_*.csv"))[-1]
    header, row = last.read_text(encoding="utf-8").splitlines()[:2]
    fields = row.split(",")
    fields[0], fields[4], fields[6], fields[7] = f"V{name}", f"{day} 10:00:00", "completed", "4200"
    (settings.input_dir / "visits" / f"{name}.csv").write_text(
        f"{header}\n{','.join(fields)}\n", encoding="utf-8"
    )


def test_the_forecast_is_carried_while_its_history_is_unchanged(
    weeks: tuple[Path, Settings, Settings], tmp_path: Path
) -> None:
    """The forecast is fitted on complete months (cut-off 2026-10-31, as_of 2026-11-15).
    A week of visits after the cut-off moves as_of, not the history the forecast reads:
    the next build carries the forecast and its holdout from the last warehouse (a mark
    planted there comes through), equal, table for table, to a full build's. A visit
    before the cut-off changes that history, and the forecast is fitted again; so is
    its holdout, whose weeks hold that day."""
    _, last_week, _ = weeks
    shutil.copytree(last_week.input_dir, tmp_path / "input")
    shutil.copy(last_week.warehouse_path, tmp_path / "weekly.duckdb")
    weekly = _settings(tmp_path, "weekly")
    with duckdb.connect(str(weekly.warehouse_path), read_only=True) as conn:
        assert (
            conn.execute("select as_of, forecast_cutoff::varchar from int_parameters").fetchall()[
                0
            ][1]
            == "2026-10-31"
        )
        before = dict(conn.execute("select * from model_versions").fetchall())

    _add_visit(weekly, "next_week", "18.11.2026")
    run_build(weekly)
    full = _settings(tmp_path, "full", incremental=False)
    run_build(full)
    assert rows(weekly.warehouse_path) == rows(full.warehouse_path)
    assert fingerprint(weekly.warehouse_path) == fingerprint(full.warehouse_path)
    assert dict(rows(weekly.warehouse_path, ("model_versions",))["model_versions"]) == before
    mark = "update int_forecast_fits set log_likelihood = -12345 where segment = '(pooled)'"
    with duckdb.connect(str(weekly.warehouse_path)) as conn:
        conn.execute(mark)
    run_build(weekly)
    with duckdb.connect(str(weekly.warehouse_path), read_only=True) as conn:
        marked = conn.execute(
            "select count(*) from int_forecast_fits where log_likelihood = -12345"
        )
        assert marked.fetchall()[0][0] > 0  # copied, not fitted again

    _add_visit(weekly, "late_entry", "20.10.2026")  # a visit the MIS entered late
    run_build(weekly)
    with duckdb.connect(str(weekly.warehouse_path), read_only=True) as conn:
        versions = dict(conn.execute("select * from model_versions").fetchall())
        marked = conn.execute(
            "select count(*) from int_forecast_fits where log_likelihood = -12345"
        )
        assert marked.fetchall()[0][0] == 0
    assert versions["mart_clv_forecast"] != before["mart_clv_forecast"]
    # the holdout too: the visit falls in the weeks it tests (2026-05-02 to 2026-10-31)
    assert versions["mart_clv_holdout"] != before["mart_clv_holdout"]


def test_the_gate_passes_only_the_new_rows_and_the_keys_they_touch(tmp_path: Path) -> None:
    """A week's new calls file that overlaps the last one: a call exported again as it
    was (a repeat), a call whose answer changed (a new version that supersedes the old
    file's row), a new call, and a row with an unreadable start. The gate types and
    compares only those rows and the carried rows of their keys: a mark planted in a
    carried call's staging row survives the incremental build (it was not gated again),
    and apart from it staging, quarantine and the reconciliation equal a full build's."""
    weekly = _settings(tmp_path, "weekly")
    write_demo(weekly.input_dir, seed=11, scale=0.3, settings=weekly)
    run_build(weekly)
    last = sorted((weekly.input_dir / "calls").glob("calls_*.csv"))[-1]
    header, *old = last.read_text(encoding="utf-8").splitlines()
    repeated, changed, untouched = old[-1], old[-2].split(","), old[0].split(",")
    changed[header.split(",").index("answered")] = "false"  # answered → missed, same call_id
    new_call = old[-3].replace(old[-3].split(",")[0], "CT_NEW_0001", 1)
    unreadable = old[-4].split(",")
    unreadable[0], unreadable[1] = "CT_NEW_0002", "32.13.2026 25:00"
    (weekly.input_dir / "calls" / "calls_week_new.csv").write_text(
        "\n".join([header, repeated, ",".join(changed), new_call, ",".join(unreadable)]) + "\n",
        encoding="utf-8",
    )
    planted = "update stg_calltracking__calls set tags = 'planted' where call_id = ?"
    with duckdb.connect(str(weekly.warehouse_path)) as conn:
        conn.execute(planted, [untouched[0]])
    run_build(weekly)
    full = _settings(tmp_path, "full", incremental=False)
    run_build(full)

    staging = ("stg_calltracking__calls", "quarantine", "load_reconciliation")
    with duckdb.connect(str(weekly.warehouse_path), read_only=True) as conn:
        marked = conn.execute(
            "select count(*) from stg_calltracking__calls where tags = 'planted'"
        ).fetchall()[0][0]
    assert marked == 1  # the carried key was not gated again
    incremental_rows = rows(weekly.warehouse_path, staging)
    full_rows = rows(full.warehouse_path, staging)
    tags = header.split(",").index("tags")
    unmark = {"planted": untouched[tags].strip('"') or None}
    incremental_rows["stg_calltracking__calls"] = sorted(
        (
            tuple(unmark.get(v, v) if isinstance(v, str) else v for v in r)
            for r in incremental_rows["stg_calltracking__calls"]
        ),
        key=repr,
    )
    assert incremental_rows == full_rows
    with duckdb.connect(str(full.warehouse_path), read_only=True) as conn:
        reasons = dict(
            conn.execute(
                "select kind, count(*) from quarantine "
                "where entity = 'calls' and source_file like '%calls_week_new%' group by kind"
            ).fetchall()
        )
        answered = conn.execute(
            "select answered, source_file from stg_calltracking__calls where call_id = ?",
            [changed[0]],
        ).fetchall()
    assert reasons == {"invalid": 1}  # the unreadable start; the repeat is counted, not kept
    assert answered == [(False, "calls/calls_week_new.csv")]  # the new version won


def test_a_row_held_back_by_the_build_day_is_let_in_on_a_later_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Definition 16 refuses a call after the build's day plus one, and names that day.
    A weekly build on a later day, with no new file, gates again the rows a date held
    back (only those: a planted mark in a carried row survives): the call dated 25 Nov,
    refused on 20 Nov, is let in on 27 Nov, as a full build on 27 Nov lets it in."""
    day = {"today": date(2026, 11, 20)}
    monkeypatch.setattr("pipelines.warehouse.clinic_today", lambda _settings: day["today"])
    weekly = _settings(tmp_path, "weekly")
    write_demo(weekly.input_dir, seed=13, scale=0.3, settings=weekly)
    run_build(weekly)
    last = sorted((weekly.input_dir / "calls").glob("calls_*.csv"))[-1]
    header, *old = last.read_text(encoding="utf-8").splitlines()
    columns = header.split(",")
    ahead = old[-1].split(",")
    ahead[0], ahead[columns.index("started_at")] = "CT_AHEAD_1", "2026-11-25T10:00:00+03:00"
    (weekly.input_dir / "calls" / "calls_week_ahead.csv").write_text(
        "\n".join([header, ",".join(ahead)]) + "\n", encoding="utf-8"
    )
    run_build(weekly)  # the same day: the call is refused, 25 Nov is after 21 Nov
    assert _quarantined(weekly.warehouse_path, "CT_AHEAD_1") == [
        (
            "invalid",
            "started_at '2026-11-25T10:00:00+03:00' is after 2026-11-21, "
            "the build's date plus one day",
        )
    ]
    with duckdb.connect(str(weekly.warehouse_path)) as conn:
        conn.execute(
            "update stg_calltracking__calls set tags = 'planted' where call_id = ?",
            [old[0].split(",")[0]],
        )
    day["today"] = date(2026, 11, 27)
    run_build(weekly)  # a week later, the same files
    full = _settings(tmp_path, "full", incremental=False)
    run_build(full)

    assert _quarantined(weekly.warehouse_path, "CT_AHEAD_1") == []
    staging = ("stg_calltracking__calls", "quarantine", "load_reconciliation")
    kept, whole = rows(weekly.warehouse_path, staging), rows(full.warehouse_path, staging)
    planted = [r for r in kept["stg_calltracking__calls"] if "planted" in r]
    assert len(planted) == 1  # a carried row the date did not hold back: not gated again
    assert [r for r in kept["stg_calltracking__calls"] if "planted" not in r] == [
        r for r in whole["stg_calltracking__calls"] if r[0] != planted[0][0]
    ]
    assert kept["quarantine"] == whole["quarantine"]
    assert kept["load_reconciliation"] == whole["load_reconciliation"]


def _quarantined(warehouse: Path, call_id: str) -> list[tuple]:
    """The quarantine rows (kind, reason) of the calls row holding `call_id`."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(
            "select kind, reason from quarantine where entity = 'calls' and raw like ?",
            [f"%{call_id}%"],
        ).fetchall()


def test_values_swapped_between_rows_change_a_data_version() -> None:
    """Two visits' amounts swapped leave every column's sum of values as it was: the
    digest hashes whole rows, so the forecast is refitted (the hostile tester's case);
    the same rows in another order are the same rows."""
    conn = duckdb.connect()
    before = rows_digest(conn, "select * from (values ('V1', 13910), ('V2', 23900)) t(v, a)", {})
    swapped = rows_digest(conn, "select * from (values ('V1', 23900), ('V2', 13910)) t(v, a)", {})
    again = rows_digest(conn, "select * from (values ('V2', 23900), ('V1', 13910)) t(v, a)", {})
    assert before != swapped
    assert before == again


def test_a_new_library_version_starts_from_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """phonenumbers' metadata decides which numbers are identified: after an upgrade no
    raw row read by the old version may be carried, so the build starts empty."""
    settings = _settings(tmp_path, "upgraded")
    write_demo(settings.input_dir, seed=17, scale=0.1, settings=settings)
    run_build(settings)
    versions = warehouse.library_versions()
    monkeypatch.setattr(
        warehouse,
        "library_versions",
        lambda: [(n, "99.0" if n == "phonenumbers" else v) for n, v in versions],
    )
    warehouse.code_version.cache_clear()
    try:
        run_build(settings)
    finally:
        warehouse.code_version.cache_clear()
    assert not any(_ledger(settings.warehouse_path).values())  # every file read again


def test_a_damaged_last_warehouse_fails_with_the_way_out(tmp_path: Path) -> None:
    """A table dropped by hand from the published warehouse: the incremental build fails
    in one line that says `build --full` builds from nothing, and that build works."""
    settings = _settings(tmp_path, "damaged")
    write_demo(settings.input_dir, seed=19, scale=0.1, settings=settings)
    run_build(settings)
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("drop table stg_calltracking__calls")
    (settings.input_dir / "calls" / "calls_zz_new.csv").write_text(
        sorted((settings.input_dir / "calls").glob("calls_*.csv"))[-1].read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    with pytest.raises(BuildError, match=r"stg_calltracking__calls.*`build --full` builds"):
        run_build(settings)
    run_build(settings.model_copy(update={"incremental": False}))
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        assert conn.execute("select count(*) from stg_calltracking__calls").fetchall()[0][0]
