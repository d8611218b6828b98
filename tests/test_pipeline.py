"""The asset graph, run in-process by Dagster against temporary DuckDB files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines import build as build_module
from pipelines import staging
from pipelines.build import BuildError, load_defs, run_build
from pipelines.cli import main
from pipelines.defs.sensors import input_folder_sensor
from pipelines.settings import Settings
from tests.conftest import minimal_input, write

STAGING = [
    "stg_calltracking__calls",
    "stg_ads__ad_spend",
    "stg_mis__patients",
    "stg_mis__visits",
    "stg_mis__doctors",
    "stg_clinic__administrators",
    "stg_surveys__surveys",
    "stg_clinic__channel_rules",
]


def counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchall()[0][0] for t in STAGING}


def test_definitions_have_the_graph_job_schedule_and_sensor() -> None:
    defs = load_defs()
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {f"raw_{e}" for e in ("calls", "visits", "patients")} <= keys
    assert set(STAGING) <= keys and "published_warehouse" in keys
    assert defs.resolve_job_def("build_warehouse").executor_def.name == "in_process"
    schedule = defs.resolve_schedule_def("weekly_build")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * 1", "Europe/Moscow")
    assert defs.resolve_sensor_def("input_folder_sensor") is not None
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {"unique_key", "rows_reconcile", "no_negative_money"} <= checks


def test_materialize_the_graph_in_process(settings: Settings) -> None:
    minimal_input(settings.input_dir)
    result = run_build(settings)
    assert "published_warehouse" in result.materialized
    assert counts(settings.warehouse_path) == dict.fromkeys(STAGING, 1)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        # the one call converts to the one patient: 1 lead, 1 primary patient, on Yandex Direct
        assert conn.execute(
            "select channel, leads, primary_patients, spend from mart_channel_weekly"
        ).fetchall() == [("Yandex Direct", 1, 1, Decimal("1000.00"))]
    # the build file is gone; only the published warehouse remains
    assert [p.name for p in settings.warehouse_path.parent.iterdir()] == ["warehouse.duckdb"]


def test_a_failed_build_leaves_the_last_good_warehouse(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal_input(settings.input_dir)
    run_build(settings)
    before = settings.warehouse_path.read_bytes()
    reader = duckdb.connect(str(settings.warehouse_path), read_only=True)

    # more data arrives, and the build breaks after the raw layer was written
    write(
        settings.input_dir / "calls" / "calls_2.csv",
        "call_id,started_at,answered\nC2,2025-03-04 10:00,true\n",
    )

    def broken(conn: duckdb.DuckDBPyConnection, entity) -> None:
        raise RuntimeError(f"disk full while staging {entity.name}")

    monkeypatch.setattr("pipelines.defs.models.run_staging_model", broken)
    with pytest.raises(BuildError, match="disk full while staging"):
        run_build(settings)
    assert settings.warehouse_path.read_bytes() == before
    assert reader.execute("select count(*) from stg_calltracking__calls").fetchall() == [(1,)]
    reader.close()
    assert [p.name for p in settings.warehouse_path.parent.iterdir()] == ["warehouse.duckdb"]


def test_a_crash_while_publishing_leaves_the_old_file(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal_input(settings.input_dir)
    run_build(settings)
    before = settings.warehouse_path.read_bytes()

    def half_copy(src: Path, dst: Path) -> None:
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise OSError("power cut")

    monkeypatch.setattr("pipelines.warehouse.shutil.copyfile", half_copy)
    with pytest.raises(BuildError, match="power cut"):
        run_build(settings)
    assert settings.warehouse_path.read_bytes() == before
    assert [p.name for p in settings.warehouse_path.parent.iterdir()] == ["warehouse.duckdb"]


def test_new_build_is_seen_by_new_readers_without_lock_errors(settings: Settings) -> None:
    minimal_input(settings.input_dir)
    run_build(settings)
    old_reader = duckdb.connect(str(settings.warehouse_path), read_only=True)
    write(settings.input_dir / "doctors" / "more.csv", "doctor_id,name\nD2,Олег Попов\n")
    run_build(settings)  # publishes while a reader is open: no lock error
    assert old_reader.execute("select count(*) from stg_mis__doctors").fetchall() == [(1,)]
    old_reader.close()
    assert counts(settings.warehouse_path)["stg_mis__doctors"] == 2


def test_cli_build_exits_non_zero_with_one_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    minimal_input(settings.input_dir)
    (settings.input_dir / "visits" / "visits.csv").unlink()
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    settings_file = write(tmp_path / "s.toml", f'hash_secret_file = "{secret}"\n')
    code = main(
        [
            "build",
            "--input",
            str(settings.input_dir),
            "--warehouse",
            str(settings.warehouse_path),
            "--settings",
            str(settings_file),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert (
        err == f"clinic-analytics: required input folder {settings.input_dir}/visits has no "
        "export files (.csv, .json, .tsv, .txt, .xlsm, .xlsx)"
    )
    assert not settings.warehouse_path.exists()


def test_cli_build_without_secret_is_refused(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    minimal_input(settings.input_dir)
    code = main(
        ["build", "--input", str(settings.input_dir), "--warehouse", str(settings.warehouse_path)]
    )
    assert code == 2
    assert "no phone hash secret" in capsys.readouterr().err


def test_step_failure_reason_is_one_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal_input(settings.input_dir)
    monkeypatch.setattr(build_module, "precheck", lambda s: None)
    (settings.input_dir / "channels.csv").unlink()
    with pytest.raises(BuildError) as info:
        run_build(settings)
    assert str(info.value) == f"required input file {settings.input_dir}/channels.csv is missing"


def test_sensor_requests_one_run_per_change(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal_input(settings.input_dir)
    monkeypatch.setenv("CLINIC_INPUT_DIR", str(settings.input_dir))
    first = input_folder_sensor(dg.build_sensor_context(cursor=None))
    assert len(first.run_requests) == 1
    again = input_folder_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert not again.run_requests
    write(settings.input_dir / "calls" / "calls_2.csv", "call_id,started_at\n")
    later = input_folder_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert len(later.run_requests) == 1
    assert later.run_requests[0].run_key != first.run_requests[0].run_key
    assert "calls/calls_2.csv" in json.loads(later.cursor)


def test_a_failing_check_blocks_publishing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal_input(settings.input_dir)

    def gate_with_a_bug(conn: duckdb.DuckDBPyConnection, entity):
        counts = staging.run_staging_model(conn, entity)
        if entity.name == "visits":  # a bug that loads one row twice
            conn.execute("insert into stg_mis__visits select * from stg_mis__visits")
        return counts

    monkeypatch.setattr("pipelines.defs.models.run_staging_model", gate_with_a_bug)
    with pytest.raises(BuildError) as info:
        run_build(settings)
    message = str(info.value)
    assert message.startswith("check ")
    assert "stg_mis__visits" in message and "the warehouse was not replaced" in message
    assert not settings.warehouse_path.exists()
