"""The asset graph, run in-process by Dagster against temporary DuckDB files, and the
publishing around it: atomic, one build at a time, nothing left behind by a killed build.

Dagster runs only where it is the subject (the graph, a failing step or check); the rest
calls the publishing code directly on one warehouse built once for the module."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines import build as build_module
from pipelines.build import (
    BuildError,
    build_lock,
    clinic_graph,
    load_defs,
    remove_stale_files,
    run_build,
)
from pipelines.cli import main
from pipelines.defs.resources import build_resources
from pipelines.defs.sensors import input_folder_sensor
from pipelines.ingest.readers import InputError
from pipelines.models.graph import _sql, build, models
from pipelines.settings import Settings, SettingsError, load_settings
from pipelines.warehouse import (
    PythonModelMemory,
    attach_build_memory,
    prepare_session,
    publish,
    read_build_memory,
)
from tests.clinic import SECRET, gate_loading_visits_twice, minimal_input, write

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


def leftovers(folder: Path) -> list[str]:
    """What a build leaves beside the warehouse, besides the warehouse, its lock and logs."""
    return sorted(
        p.name for p in folder.iterdir() if p.name not in {".warehouse.duckdb.lock", "logs"}
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """The minimal clinic, built once through Dagster; tests copy what they change."""
    root = tmp_path_factory.mktemp("built")
    settings = load_settings(
        None,
        input_dir=minimal_input(root / "input"),
        warehouse_path=root / "out" / "warehouse.duckdb",
        hash_secret=SECRET,
    )
    result = run_build(settings)
    assert "published_warehouse" in result.materialized
    return settings, result.log  # type: ignore[return-value]


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


def test_materialize_the_graph_in_process(built: tuple[Settings, Path]) -> None:
    settings, log = built
    assert counts(settings.warehouse_path) == dict.fromkeys(STAGING, 1)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        # the one call converts to the one patient: 1 lead, 1 primary patient, on Yandex Direct
        assert conn.execute(
            "select channel, leads, primary_patients, spend from mart_channel_weekly"
        ).fetchall() == [("Yandex Direct", 1, 1, Decimal("1000.00"))]
        assert conn.execute("select count(*) from mart_build_warnings").fetchall() == [(0,)]
    # the build file is gone; only the published warehouse remains, and the run's log
    assert leftovers(settings.warehouse_path.parent) == ["warehouse.duckdb"]
    assert log.parent == settings.warehouse_path.parent / "logs"
    assert "published_warehouse" in log.read_text()


def test_a_failed_build_leaves_the_last_good_warehouse(
    built: tuple[Settings, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, _ = built
    settings = good.model_copy(update={"warehouse_path": tmp_path / "out" / "warehouse.duckdb"})
    settings.warehouse_path.parent.mkdir()
    shutil.copy(good.warehouse_path, settings.warehouse_path)
    before = settings.warehouse_path.read_bytes()
    reader = duckdb.connect(str(settings.warehouse_path), read_only=True)

    def broken(conn: duckdb.DuckDBPyConnection, entity, incremental: bool) -> None:
        raise RuntimeError(f"disk full while staging {entity.name}")

    monkeypatch.setattr("pipelines.models.graph.run_staging_model", broken)
    with pytest.raises(BuildError, match="disk full while staging") as info:
        run_build(settings)
    # one line for the person, the whole trace in the log file the line names
    message = str(info.value)
    assert "\n" not in message
    log = Path(message.rsplit("(full log: ", 1)[1].rstrip(")"))
    text = log.read_text()
    assert "RuntimeError: disk full while staging calls" in text and 'File "' in text
    assert settings.warehouse_path.read_bytes() == before
    assert reader.execute("select count(*) from stg_calltracking__calls").fetchall() == [(1,)]
    reader.close()
    assert leftovers(settings.warehouse_path.parent) == ["warehouse.duckdb"]


@pytest.mark.parametrize("name", ["St Mary's.duckdb", 'a"b.duckdb', "build_memory.duckdb"])
def test_a_warehouse_named_with_quotes_or_like_the_build_memory_builds(
    built: tuple[Settings, Path], tmp_path: Path, name: str
) -> None:
    """DuckDB names a file's database after the file: the build quotes that name where it
    writes it in SQL, and its in-memory database for the `memory` models takes another
    name when the file's is `build_memory` (both broke every build, found by the hostile
    tester)."""
    good, _ = built
    settings = good.model_copy(update={"warehouse_path": tmp_path / name})
    run_build(settings)
    assert counts(settings.warehouse_path) == counts(good.warehouse_path)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        assert conn.execute("select count(*) from int_calls").fetchall() == [(1,)]


def test_a_memory_model_that_fails_leaves_the_files_view(tmp_path: Path) -> None:
    """`dagster dev` keeps its build file between runs: a `memory` model whose query
    fails must leave the file's view of it (from the last run) for the models that read
    it, as a table's `create or replace` leaves the old table (hostile tester)."""
    conn = duckdb.connect(str(tmp_path / "build.duckdb"))
    conn.execute("create table calls as select 1 as call_id")
    conn.execute("create view int_calls as select call_id from calls")
    attach_build_memory(conn)
    read_build_memory(conn)
    broken = _sql("int_calls", "intermediate", "-- materialized: memory\nselect error('boom')", ())
    with pytest.raises(duckdb.Error, match="boom"):
        broken.run(conn, Settings(hash_secret=SECRET))
    assert conn.execute("select * from int_calls").fetchall() == [(1,)]
    working = _sql("int_calls", "intermediate", "-- materialized: memory\nselect 2 as id", ())
    assert working.run(conn, Settings(hash_secret=SECRET))["dagster/row_count"] == 1
    assert conn.execute("select * from int_calls").fetchall() == [(2,)]  # the memory table
    conn.close()


def test_a_crash_while_publishing_leaves_the_old_file(
    built: tuple[Settings, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built[0].warehouse_path, warehouse)
    before = warehouse.read_bytes()
    new_build = tmp_path / "new.duckdb"
    duckdb.connect(str(new_build)).close()

    def half_copy(src: Path, dst: Path) -> None:
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise OSError("power cut")

    monkeypatch.setattr("pipelines.warehouse.shutil.copyfile", half_copy)
    with pytest.raises(OSError, match="power cut"):
        publish(new_build, warehouse)
    assert warehouse.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.duckdb", "warehouse.duckdb"]


def test_the_shared_build_file_stays_after_publishing(
    built: tuple[Settings, Path], tmp_path: Path
) -> None:
    """Under `dagster dev` the build file is the settings' own: the graph materialized
    in-process publishes a copy and keeps it, so a later run of a few selected assets
    finds the tables they read."""
    settings = built[0].model_copy(update={"warehouse_path": tmp_path / "warehouse.duckdb"})
    graph = clinic_graph()
    result = dg.materialize(
        [*graph.assets, *graph.asset_checks],  # type: ignore[list-item]
        resources=build_resources(settings),
    )
    assert result.success
    assert settings.resolved_build_path.is_file()
    assert counts(settings.resolved_build_path) == counts(settings.warehouse_path)
    # publishing alone from a build file that is not there (another database configured
    # for the run) fails; it does not publish the empty database a checkpoint would make
    before = settings.warehouse_path.read_bytes()
    gone = tmp_path / "elsewhere.duckdb"
    alone = dg.materialize(
        [*graph.assets, *graph.asset_checks],  # type: ignore[list-item]
        selection=["published_warehouse"],
        resources=build_resources(settings, database=str(gone)),
        raise_on_error=False,
    )
    assert not alone.success and not gone.exists()
    assert settings.warehouse_path.read_bytes() == before


def test_duckdb_lets_go_of_its_cache_while_a_python_model_runs(
    built: tuple[Settings, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forecast's arrays and DuckDB's page cache are not held at once: while a model
    computed in Python runs, DuckDB's limit is `duckdb_memory_while_python`, never above
    the session's own (however it was given: "80%" is DuckDB's too), and the session's
    own limit is back after it. Too small a cap is refused with the settings."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built[0].warehouse_path, warehouse)
    model = models()["mart_source_freshness"]
    seen: list[str] = []

    def limit(conn: duckdb.DuckDBPyConnection) -> str:
        return conn.execute("select current_setting('memory_limit')").fetchall()[0][0]

    def spy(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
        seen.append(limit(conn))
        return model.run(conn, settings)

    monkeypatch.setitem(models(), model.name, dataclasses.replace(model, run=spy))
    # as when DuckDB holds more than the cap (a chain's year), not a few MB as here
    monkeypatch.setattr(PythonModelMemory, "needed", lambda self: self._caps)
    # the session's own limit, the cap, the limit the model sees (None: the session's)
    for own, cap, during in (
        ("3GiB", 256 * 2**20, "256.0 MiB"),
        ("512MiB", 2**30, None),  # a cap above the limit does not raise it
        ("80%", 256 * 2**20, "256.0 MiB"),  # of the machine's memory, several GiB
        (None, 256 * 2**20, "256.0 MiB"),  # DuckDB's default, 80% too
        (None, 2**50, None),
        ("-1", 256 * 2**20, "256.0 MiB"),  # no limit at all: printed as 16383.9 PiB
    ):
        settings = built[0].model_copy(
            update={"duckdb_memory_limit": own, "duckdb_memory_while_python": cap}
        )
        with duckdb.connect(str(warehouse)) as conn:
            prepare_session(conn, settings)
            before = limit(conn)
            list(build(conn, settings, ["int_parameters", model.name]))
            assert (seen.pop(), limit(conn)) == (during or before, before)
    with pytest.raises(SettingsError) as refused:
        load_settings(None, duckdb_memory_while_python="8MiB")
    assert "duckdb_memory_while_python" in str(refused.value) and "\n" not in str(refused.value)


def test_a_build_file_on_another_file_system_is_copied(
    built: tuple[Settings, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename across file systems (or bind mounts of one, which share a device number)
    fails with EXDEV: the build is then copied and renamed as any build, not lost."""
    warehouse = tmp_path / "warehouse.duckdb"
    new_build = tmp_path / ".warehouse.duckdb.build-1"
    shutil.copy(built[0].warehouse_path, new_build)
    rename = os.replace

    def across(src: Path, dst: Path) -> None:
        if Path(src) == new_build:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        rename(src, dst)

    monkeypatch.setattr("pipelines.warehouse.os.replace", across)
    publish(new_build, warehouse, move=True)
    assert new_build.is_file() and counts(warehouse) == counts(new_build)


@pytest.mark.parametrize("move", [False, True])
def test_new_build_is_seen_by_new_readers_without_lock_errors(
    built: tuple[Settings, Path], tmp_path: Path, move: bool
) -> None:
    """Published while a reader holds the old warehouse: no lock error, the reader keeps
    its snapshot, new readers see the new build. With `move` (the CLI's own build file)
    the build file itself becomes the warehouse, the same inode: a scale-700 warehouse of
    3.6 GB is not written a second time."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built[0].warehouse_path, warehouse)
    old_reader = duckdb.connect(str(warehouse), read_only=True)
    new_build = tmp_path / ".warehouse.duckdb.build-1"
    shutil.copy(warehouse, new_build)
    with duckdb.connect(str(new_build)) as conn:
        conn.execute("insert into stg_mis__doctors (doctor_id, name) values ('D2', 'Олег Попов')")
    inode = new_build.stat().st_ino
    publish(new_build, warehouse, move=move)
    assert new_build.exists() is not move
    assert (warehouse.stat().st_ino == inode) is move
    assert old_reader.execute("select count(*) from stg_mis__doctors").fetchall() == [(1,)]
    old_reader.close()
    assert counts(warehouse)["stg_mis__doctors"] == 2


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
        "export files (.csv, .json, .ods, .tsv, .txt, .xls, .xlsb, .xlsm, .xlsx)"
    )
    assert not settings.warehouse_path.exists()


def test_output_nobody_reads_is_not_an_internal_error(settings: Settings, tmp_path: Path) -> None:
    """`clinic-analytics build | head -1`: once what reads the output has gone, the build
    (published all the same) exits 1 quietly, without an "internal error" or a crash log.
    The pipe is closed before the command writes a byte, so its first write fails."""
    minimal_input(settings.input_dir)
    warehouse = tmp_path / "w.duckdb"
    command = [sys.executable, "-m", "pipelines.cli", "build", "--timings"]
    command += ["--input", str(settings.input_dir), "--warehouse", str(warehouse)]
    crashes = tmp_path / "tmp"  # the child's temp folder, where a crash log would go
    crashes.mkdir()
    env = {**os.environ, "CLINIC_HASH_SECRET": SECRET, "TMPDIR": str(crashes)}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    child.stdout.close()  # type: ignore[union-attr]
    errors = child.stderr.read().decode()  # type: ignore[union-attr]
    assert child.wait(timeout=600) == 1
    assert "internal error" not in errors and not list(crashes.glob("*crash*"))
    assert warehouse.is_file()


def test_cli_build_without_secret_is_refused(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    minimal_input(settings.input_dir)
    code = main(
        ["build", "--input", str(settings.input_dir), "--warehouse", str(settings.warehouse_path)]
    )
    assert code == 2
    assert "no phone hash secret" in capsys.readouterr().err


def test_input_error_inside_a_step_is_one_line_and_exit_2(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal_input(settings.input_dir)
    monkeypatch.setattr(build_module, "precheck", lambda s: None)
    (settings.input_dir / "channels.csv").unlink()
    with pytest.raises(InputError) as info:
        run_build(settings)
    assert str(info.value).startswith(
        f"required input file {settings.input_dir}/channels.csv is missing (full log: "
    )


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
    # a mapping file or an input format changes what the build makes: a new run too
    write(settings.input_dir / "visits" / "_mapping.yaml", "columns: {visit_id: Номер}\n")
    mapped = input_folder_sensor(dg.build_sensor_context(cursor=later.cursor))
    assert len(mapped.run_requests) == 1
    write(settings.input_dir / "formats" / "mine.yaml", "name: mine\n")
    own = input_folder_sensor(dg.build_sensor_context(cursor=mapped.cursor))
    assert len(own.run_requests) == 1
    assert {"visits/_mapping.yaml", "formats/mine.yaml"} <= set(json.loads(own.cursor))


def test_a_failing_check_blocks_publishing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    minimal_input(settings.input_dir)
    monkeypatch.setattr("pipelines.models.graph.run_staging_model", gate_loading_visits_twice)
    with pytest.raises(BuildError) as info:
        run_build(settings)
    message = str(info.value)
    assert message.startswith("check ")
    assert "stg_mis__visits" in message and "the warehouse was not replaced" in message
    assert not settings.warehouse_path.exists()


def test_one_build_at_a_time(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    second = [
        sys.executable,
        "-c",
        "import sys\nfrom pathlib import Path\nfrom pipelines.build import build_lock\n"
        "with build_lock(Path(sys.argv[1])): print('started')",
        str(warehouse),
    ]
    with build_lock(warehouse):
        refused = subprocess.run(second, capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "started" not in refused.stdout
    assert (
        f"another build of {warehouse} is running (pid {os.getpid()}); "
        "run again when it has finished" in refused.stderr
    )
    # released: the next build may start
    again = subprocess.run(second, capture_output=True, text=True, check=False)
    assert again.stdout == "started\n"


def test_files_of_a_killed_build_are_removed_by_the_next(
    built: tuple[Settings, Path], tmp_path: Path
) -> None:
    """kill -9 in the middle of a build: the warehouse stays, the leftovers go next time."""
    input_dir = built[0].input_dir
    warehouse = tmp_path / "out" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copy(built[0].warehouse_path, warehouse)
    env = {**os.environ, "CLINIC_HASH_SECRET": SECRET}
    cli = [sys.executable, "-m", "pipelines.cli", "build", "--input", str(input_dir)]
    before = warehouse.read_bytes()
    child = subprocess.Popen(
        [*cli, "--warehouse", str(warehouse)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # the child's first (and only) run's build file
    build_file = warehouse.with_name(f".warehouse.duckdb.build-{child.pid}-1")
    deadline = time.monotonic() + 120
    while not build_file.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # polling for the file the kill must catch, not a fixed wait
    assert build_file.exists(), "the build finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert warehouse.read_bytes() == before
    # and DuckDB's spill folder, which a build killed while it spilled leaves too
    (warehouse.parent / f"{build_file.name}.tmp").mkdir(exist_ok=True)
    (warehouse.parent / f"{build_file.name}.tmp" / "duckdb_temp_block-1.block").write_bytes(b"x")
    stale = [p.name for p in warehouse.parent.iterdir() if str(child.pid) in p.name]
    assert stale  # what kill -9 leaves behind
    removed = remove_stale_files(warehouse)
    assert sorted(p.name for p in removed) == sorted(stale)
    assert leftovers(warehouse.parent) == ["warehouse.duckdb"]


def test_a_warehouse_path_that_is_not_ours_is_never_replaced(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    minimal_input(settings.input_dir)
    precious = write(tmp_path / "precious.csv", "keep me\n")
    link = tmp_path / "link.duckdb"
    link.symlink_to(precious)
    cli = ["build", "--input", str(settings.input_dir), "--warehouse"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLINIC_HASH_SECRET", SECRET)
        assert main([*cli, str(precious)]) == 2
        assert main([*cli, str(link)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"clinic-analytics: {precious} exists and is not a DuckDB warehouse: refusing to "
        "replace it",
        f"clinic-analytics: warehouse {link} is a symbolic link: give the real path",
    ]
    assert precious.read_text() == "keep me\n" and link.is_symlink()


def test_cli_timings_say_where_the_time_went(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`build --timings`: every model once, slowest first; the models' step against the
    whole run, so what is not the models' (Dagster, publishing) is a number too; and
    the models' own seconds added up (more than the step when they ran at once)."""
    minimal_input(settings.input_dir)
    cli = ["build", "--input", str(settings.input_dir), "--warehouse", str(tmp_path / "w")]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLINIC_HASH_SECRET", SECRET)
        assert main([*cli, "--timings"]) == 0
    published, total, *lines = capsys.readouterr().out.splitlines()
    run = float(published.split(" published in ")[1].split(" s")[0])
    step, spent, rest = (float(n) for n in re.findall(r"(\d+\.\d+) s", total))
    seconds = [float(line.split()[0]) for line in lines]
    assert sorted(line.split()[-1] for line in lines) == sorted(models())
    assert seconds == sorted(seconds, reverse=True)
    assert spent == pytest.approx(sum(seconds), abs=0.005 * len(seconds))
    assert 0 < step < run and max(seconds) <= step
    assert step + rest == pytest.approx(run, abs=0.06)


def test_settings_errors_are_one_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    minimal_input(settings.input_dir)
    cli = ["build", "--input", str(settings.input_dir), "--warehouse", str(tmp_path / "w")]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLINIC_HASH_SECRET", SECRET)
        env.setenv("CLINIC_ATTRIBUTION_WINDOW_DAYS", "abc")
        assert main(cli) == 2
        env.delenv("CLINIC_ATTRIBUTION_WINDOW_DAYS")
        future = write(tmp_path / "s.toml", 'min_plausible_date = "2099-01-01"\n')
        assert main([*cli, "--settings", str(future)]) == 2
        assert main([*cli, "--settings", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "clinic-analytics: invalid settings (environment): attribution_window_days: Input "
        "should be a valid integer, unable to parse string as an integer (got 'abc')",
        f"clinic-analytics: invalid settings ({future}): settings: min_plausible_date "
        "2099-01-01 is in the future: every timestamp would be refused",
        f"clinic-analytics: settings file {tmp_path} is a folder, not a file",
    ]


def test_an_entity_entirely_quarantined_is_not_published(
    built: tuple[Settings, Path], tmp_path: Path
) -> None:
    """A column renamed upstream refuses every call: the build stops, the last good
    warehouse stays (rather than empty marts published over it)."""
    good, _ = built
    settings = good.model_copy(
        update={
            "input_dir": minimal_input(tmp_path / "input"),
            "warehouse_path": tmp_path / "out" / "warehouse.duckdb",
        }
    )
    settings.warehouse_path.parent.mkdir()
    shutil.copy(good.warehouse_path, settings.warehouse_path)
    before = settings.warehouse_path.read_bytes()
    calls = settings.input_dir / "calls" / "calls.csv"
    calls.write_text(calls.read_text().replace("started_at", "start_time"))
    with pytest.raises(
        BuildError, match="check some_rows_load failed on stg_calltracking__calls"
    ) as failed:
        run_build(settings)
    # what the check found, as numbers
    assert "({'everything_quarantined': 1, 'rows_read': 1, 'rows_loaded': 0});" in str(failed.value)
    assert settings.warehouse_path.read_bytes() == before
