"""The demo data set, built end to end: deterministic, scalable, and free of raw phones."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.demo import canonical, draws, write_demo
from pipelines.demo.simulation import simulate
from pipelines.settings import Settings

PHONE_RUN = re.compile(r"\+?\d[\d\s()\-]*\d")


def _plain(value: str) -> str:
    """Digits of any script as ASCII digits; a dash, a space of any width, an invisible
    format character or a comma as a plain space: a phone written with them is scanned."""
    return "".join(
        str(unicodedata.decimal(ch))
        if ch.isdecimal()
        else " "
        if ch in ",~\u2212" or unicodedata.category(ch) in ("Pd", "Zs", "Cc", "Cf")
        else ch
        for ch in value
    )


def input_phone_digits(input_dir: Path) -> set[str]:
    """The 10-digit national number of every patient and caller phone in the input."""
    numbers: set[str] = set()
    for path in [*input_dir.glob("calls/*.csv"), *input_dir.glob("patients/*.csv")]:
        frame = pl.read_csv(path, infer_schema=False)
        column = "caller_phone" if "caller_phone" in frame.columns else "phone"
        for value in frame[column].drop_nulls():
            for part in value.split(";"):
                digits = re.sub(r"\D", "", part)
                if len(digits) >= 10:
                    numbers.add(digits[-10:])
    return numbers


def assert_no_phone_in(warehouse: Path, phones: set[str]) -> int:
    """Every text column of the warehouse, scanned for any of the phones; values scanned."""
    scanned = 0
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        columns = conn.execute(
            "select table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' or data_type = 'VARCHAR[]'"
        ).fetchall()
        assert len(columns) > 40
        for table, column in columns:
            values = conn.execute(
                f'select distinct "{column}"::varchar from "{table}" where "{column}" is not null'
            ).fetchall()
            for (value,) in values:
                scanned += 1
                for run in PHONE_RUN.findall(_plain(value)):
                    digits = re.sub(r"\D", "", run)
                    # every 10-digit window of the run, looked up in the set
                    hits = {digits[i : i + 10] for i in range(len(digits) - 9)} & phones
                    assert not hits, f"{table}.{column} holds a phone: {value[:80]!r}"
    return scanned


def test_no_text_column_holds_an_input_phone(demo_warehouse: tuple[Settings, Path]) -> None:
    settings, warehouse = demo_warehouse
    phones = input_phone_digits(settings.input_dir)
    assert len(phones) > 1000
    assert assert_no_phone_in(warehouse, phones) > 10_000


def test_demo_warehouse_reconciles_and_quarantines_the_planted_rows(
    demo_warehouse: tuple[Settings, Path],
) -> None:
    _, warehouse = demo_warehouse
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for entity, read, loaded, quarantined, duplicate, combined in conn.execute(
            "select * from load_reconciliation"
        ).fetchall():
            assert read == loaded + quarantined + duplicate + combined, entity
        reasons = {
            r[0]
            for r in conn.execute("select reason from quarantine where kind = 'invalid'").fetchall()
        }
        duplicates = dict(
            conn.execute("select entity, rows_duplicate from load_reconciliation").fetchall()
        )
    assert reasons == {
        "started_at '31.02.2025 10:00' is not a date-time",
        "answered 'maybe' is not true or false",
        "started_at 'вчера' is not a date-time",
        "currency 'USD' is not RUB, the currency of this deployment",
        "cost '12O0' is not an amount of money",
        "status 'moved' is not one of completed, cancelled, no_show, scheduled",
        "amount 'бесплатно' is not an amount of money",
        "amount -300.00 is negative",
    }
    assert duplicates["calls"] > 0 and duplicates["visits"] > 0


def test_demo_is_deterministic_and_scales_linearly(tmp_path: Path) -> None:
    settings = Settings(hash_secret="x")
    one = write_demo(tmp_path / "a", seed=11, scale=1, settings=settings)
    again = write_demo(tmp_path / "b", seed=11, scale=1, settings=settings)
    assert one.replace("/a:", "/b:") == again
    for path in (tmp_path / "a").rglob("*.csv"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    write_demo(tmp_path / "c", seed=11, scale=4, settings=settings)

    def calls(folder: Path) -> int:
        return sum(pl.read_csv(p, infer_schema=False).height for p in folder.glob("calls/*.csv"))

    ratio = calls(tmp_path / "c") / calls(tmp_path / "a")
    assert 3.6 < ratio < 4.4


def test_demo_written_in_pieces_is_the_demo_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory holds one piece of a month while writing: the pieces must not show in the
    files, every choice drawn for all rows before the next as if in one array."""
    settings = Settings(hash_secret="x")
    write_demo(tmp_path / "whole", seed=5, scale=0.3, settings=settings)
    monkeypatch.setattr(canonical, "PIECE_ROWS", 300)  # months of ~150 calls: 1 to 3 pieces
    monkeypatch.setattr(draws, "SKIP_PIECE", 70)
    write_demo(tmp_path / "pieces", seed=5, scale=0.3, settings=settings)
    files = sorted((tmp_path / "whole").rglob("*.csv"))
    assert len(files) > 50
    for path in files:
        assert (
            path.read_bytes()
            == (tmp_path / "pieces" / path.relative_to(tmp_path / "whole")).read_bytes()
        )


def test_demo_above_the_cohort_scale_is_drawn_in_bounded_cohorts(tmp_path: Path) -> None:
    """A large demo is drawn a few weeks of callers at a time, each cohort a fresh sample of
    the same rules: small cohorts, and one consistent data set when written."""
    whole = next(simulate(np.random.default_rng(5), 1.0).cohorts)
    callers = [len(c.calls[0].t) for c in simulate(np.random.default_rng(5), 1.0, 0.1).cohorts]
    assert len(callers) > 15  # cohorts of five weeks
    assert max(callers) < 0.1 * len(whole.calls[0].t)
    assert 0.9 < sum(callers) / len(whole.calls[0].t) < 1.1

    settings = Settings(hash_secret="x")
    write_demo(tmp_path, seed=5, scale=1, settings=settings, cohort_scale=0.1)
    calls = pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in sorted(tmp_path.glob("calls/*.csv"))]
    ).filter(~pl.col("call_id").str.starts_with("BAD"))
    calls = calls.unique("call_id", keep="first").sort("call_id")
    # ids number the calls in time order across every cohort's calls
    number = calls["call_id"].str.slice(2).cast(pl.Int64)
    assert number.to_list() == list(range(1, calls.height + 1))
    started = calls["started_at"].str.slice(0, 19).str.replace("T", " ")
    assert started.is_sorted()
    patients = pl.read_csv(tmp_path / "patients/patients.csv", infer_schema=False)
    ids = patients["patient_id"].str.slice(1).cast(pl.Int64)
    assert ids.to_list() == list(range(1, patients.height + 1))
    # cohorts draw on from one generator, never again from the seed: adults' mobiles are
    # their own across cohorts
    mobile = pl.col("phone").str.split(";").list.first().str.replace_all(r"\D", "").str.slice(-10)
    adults = patients.filter(pl.col("birth_date").str.slice(6, 4).cast(pl.Int32) < 2005)
    assert adults.select(mobile.n_unique()).item() == adults.height
    # every cohort's patients visit (their first visit at least), under their own ids
    visits = pl.concat([pl.read_csv(p, infer_schema=False) for p in tmp_path.glob("visits/*.csv")])
    visits = visits.filter(~pl.col("visit_id").str.starts_with("VBAD")).unique("visit_id")
    assert set(visits["patient_id"]) <= set(patients["patient_id"])
    assert visits["patient_id"].n_unique() > 0.95 * patients.height
    # and a survey answers its own visit, 0.2 to 3 days after it
    surveys = pl.read_csv(tmp_path / "surveys/surveys.csv", infer_schema=False)
    at = pl.coalesce(
        pl.col("visit_at").str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S", strict=False),
        pl.col("visit_at").str.strptime(pl.Datetime, "%d.%m.%Y %H:%M:%S", strict=False),
    )
    answered = surveys.join(visits.select("visit_id", at.alias("at")), on="visit_id").select(
        (pl.col("answered_at").str.strptime(pl.Datetime) - pl.col("at")).dt.total_hours()
    )
    assert answered.height == surveys.height > 1000
    assert answered.to_series().is_between(4, 72).all()


def test_demo_writes_every_phone_form(tmp_path: Path) -> None:
    write_demo(tmp_path, seed=1, scale=0.5, settings=Settings(hash_secret="x"))
    phones = pl.concat(
        [pl.read_csv(p, infer_schema=False)["caller_phone"] for p in tmp_path.glob("calls/*.csv")]
    ).drop_nulls()
    patterns = [
        r"^\+7 \(\d{3}\) \d{3}-\d{2}-\d{2}$",
        r"^8 \d{3} \d{7}$",
        r"^9\d{9}$",
        r"^\+79\d{9}$",
        r"^8 \(\d{3}\) \d{3}-\d{2}-\d{2}$",
        r"^7 \d{3} \d{3} \d{2} \d{2}$",
        r"^89\d{9}$",
        r"^anonymous$",
    ]
    for pattern in patterns:
        assert phones.str.contains(pattern).any(), pattern


def test_demo_marts_reconcile(demo_warehouse: tuple[Settings, Path]) -> None:
    """Attribution adds up however it is cut, and every primary patient counts once."""
    _, warehouse = demo_warehouse
    with duckdb.connect(str(warehouse), read_only=True) as conn:

        def one(sql: str) -> object:
            return conn.execute(sql).fetchall()[0][0]

        converted = one("select count(*) from fct_leads where converted")
        assert converted > 100
        by_channel = one(
            "select sum(primary_patients) from mart_channel_weekly where channel <> 'No call'"
        )
        by_admin = one("select sum(primary_patients) from mart_admin_conversion")
        credited = one("select count(*) from fct_primary_patients where channel <> 'No call'")
        assert converted == by_channel == by_admin == credited
        # every patient with a completed visit is one primary patient
        assert one("select count(*) from fct_primary_patients") == one(
            "select count(distinct patient_id) from int_completed_visits"
        )
        assert one("select count(*) - count(distinct patient_id) from fct_primary_patients") == 0
        assert one("select sum(primary_patients) from mart_channel_weekly") == one(
            "select count(*) from fct_primary_patients"
        )
        # the weekly mart and the range macro agree over the whole period
        weekly = conn.execute(
            "select channel, sum(spend), sum(calls), sum(leads), sum(primary_patients), "
            "sum(revenue_to_date) from mart_channel_weekly group by 1 order by 1"
        ).fetchall()
        ranged = conn.execute(
            "select channel, spend, calls, leads, primary_patients, revenue_to_date "
            "from channel_economics(date '2000-01-01', date '2100-01-01') order by 1"
        ).fetchall()
        assert weekly == ranged
        # all calls are in the channel mart, and in the missed-calls mart
        calls = one("select count(*) from stg_calltracking__calls")
        assert one("select sum(calls) from mart_channel_weekly") == calls
        assert one("select sum(calls) from mart_missed_calls") == calls
        # the administrator with the most skill in the demo (A6, 0.66) is ranked first
        assert one("select admin_id from mart_admin_conversion where rank = 1") == "A6"
        # and the over-treating implantologist has the lowest NPS
        assert one("select doctor_id from mart_doctor_clv order by nps limit 1") == "D02"
