"""`clinic-analytics build`: the whole asset graph, in-process, into a fresh build file.

The run writes a new DuckDB file next to the warehouse; only when every asset and every
blocking check has passed does the graph's last asset publish it (atomic rename). A
failed run deletes its build file and leaves the published warehouse as it was.

A person sees one line: the warehouse published (with what to look at), or why not. The
whole Dagster log, stack traces included, goes to a log file that line names. One build
runs at a time per warehouse (a lock file), and files left by a build that was killed
(`kill -9`, a power cut) are removed by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.defs.resources import build_resources
from pipelines.ingest.entities import ENTITIES
from pipelines.ingest.files import entity_files
from pipelines.ingest.readers import InputError
from pipelines.settings import Settings
from pipelines.warehouse import (
    WarehousePathError,
    ensure_replaceable,
    remove_database,
    run_build_file,
)


class BuildError(Exception):
    """The build did not publish; the message is one line a person can act on."""


@dataclass
class BuildResult:
    warehouse: Path
    seconds: float
    materialized: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What a person should know before trusting the figures (`mart_build_warnings`)."""
    log: Path | None = None
    seconds_by_asset: dict[str, float] = field(default_factory=dict)
    """Where the time went: each model's own seconds, as its materialization reports them."""
    models_seconds: float = 0.0
    """The models' step from its start to its end: the models, several at once, and
    their checks."""


def precheck(settings: Settings) -> None:
    """Fail in a second, naming the folder or file, rather than minutes into a run: the
    input's required files, the secret, a warehouse path that is ours to replace, and
    folders the build can write in."""
    for entity in ENTITIES:
        entity_files(settings.input_dir, entity)
    settings.secret_key()
    try:
        ensure_replaceable(settings.warehouse_path)
    except WarehousePathError as exc:
        raise InputError(str(exc)) from exc
    for folder in (settings.warehouse_path.parent, settings.resolved_log_dir):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise InputError(f"cannot write in {folder}: {exc.strerror or exc}") from exc


CHAIN_GROUP = "chain"
"""The Dagster group of a chain's own assets (pipelines/defs/clinics.py), which a
clinic's build leaves out."""
PULL_GROUP = "pull"
"""The vendor APIs' pulls (pipelines/defs/pulls.py): a build reads what they landed and
never pulls itself."""
DIGEST_GROUP = "digest"
"""The Monday digest and the alerts (pipelines/defs/digest.py): they read a published
warehouse, after a build, never within one."""
OUTSIDE_BUILD = (CHAIN_GROUP, PULL_GROUP, DIGEST_GROUP)
"""The groups a clinic's build leaves out."""


def load_defs() -> dg.Definitions:
    from pipelines.definitions import defs  # noqa: PLC0415  (loading defs reads the settings)

    return defs()


def clinic_graph(defs: dg.Definitions | None = None) -> dg.Definitions:
    """The single-clinic asset graph and its checks: the code location without the
    chain's own assets (a chain's code location holds both), the pulls and the digest."""
    defs = defs or load_defs()
    assets = [
        asset
        for asset in defs.assets or ()
        if not isinstance(asset, dg.AssetsDefinition)
        or not set(OUTSIDE_BUILD) & set(asset.group_names_by_key.values())
    ]
    return dg.Definitions(assets=assets, asset_checks=defs.asset_checks)


def run_build(settings: Settings, defs: dg.Definitions | None = None) -> BuildResult:
    precheck(settings)
    started = time.perf_counter()
    warehouse = settings.warehouse_path
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(warehouse):
        remove_stale_files(warehouse)
        build_path = run_build_file(warehouse)
        remove_database(build_path)
        log = new_log_path(settings)
        defs = clinic_graph(defs)
        resources = build_resources(settings, database=str(build_path))
        instance = dg.DagsterInstance.ephemeral()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = dg.materialize(
                    [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
                    resources=resources,
                    instance=instance,
                    raise_on_error=False,
                    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                )
            models_seconds = write_log(log, instance, result.run_id)
            if not result.success:
                raise _failure(result, log, incremental=settings.incremental)
            events = result.get_asset_materialization_events()
            materialized = [e.asset_key.to_user_string() for e in events if e.asset_key]
            seconds = {
                e.asset_key.to_user_string(): float(e.materialization.metadata["seconds"].value)
                for e in events
                if e.asset_key and "seconds" in e.materialization.metadata
            }
            if "published_warehouse" not in materialized:
                raise BuildError(f"the build finished without publishing (full log: {log})")
        finally:
            remove_database(build_path)
    return BuildResult(
        warehouse,
        time.perf_counter() - started,
        materialized,
        build_warnings(warehouse),
        log,
        seconds,
        models_seconds,
    )


def build_warnings(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute("select message from mart_build_warnings").fetchall()
    return [row[0] for row in rows]


@contextlib.contextmanager
def build_lock(warehouse: Path) -> Iterator[None]:
    """One build at a time per warehouse: two would race for the same rename."""
    path = warehouse.with_name(f".{warehouse.name}.lock")
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise BuildError(
                f"another build of {warehouse} is running (pid {holder}); "
                "run again when it has finished"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_LEFTOVER = re.compile(
    r"^\.(?P<name>.+)\.(?:build-(?P<b>\d+)(?:-\d+)?(?:\.wal|\.tmp)?|(?P<t>\d+)\.tmp)$"
)
"""A build file (with its log and spill folder) or a half-copied warehouse, named after
the warehouse and the process that made it."""


def remove_stale_files(warehouse: Path) -> list[Path]:
    """Build files and half-copied warehouses whose process is gone (killed mid-build)."""
    removed = []
    for path in warehouse.parent.glob(f".{warehouse.name}.*"):
        match = _LEFTOVER.match(path.name)
        if match is None or match["name"] != warehouse.name:
            continue
        pid = int(match["b"] or match["t"])
        if pid != os.getpid() and not _alive(pid):
            if path.is_dir() and not path.is_symlink():  # a build file's spill folder
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_log_path(settings: Settings) -> Path:
    """A fresh log file name; only the newest `log_files_kept` logs are kept."""
    folder = settings.resolved_log_dir
    folder.mkdir(parents=True, exist_ok=True)
    old = sorted(folder.glob("build-*.log"))
    for stale in old[: max(0, len(old) - settings.log_files_kept + 1)]:
        stale.unlink(missing_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return folder / f"build-{stamp}-{os.getpid()}.log"


def write_log(path: Path, instance: dg.DagsterInstance, run_id: str) -> float:
    """Every event of the run, with the full error and stack trace of any failure; returns
    the seconds from the start of the models' step to its end."""
    span: dict[bool, float] = {}
    with path.open("w", encoding="utf-8") as out:
        for entry in instance.all_logs(run_id):
            if entry.step_key == "models" and entry.dagster_event:
                kind = entry.dagster_event.event_type
                if kind in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS):
                    span[kind == dg.DagsterEventType.STEP_START] = entry.timestamp
            stamp = datetime.fromtimestamp(entry.timestamp, UTC).isoformat(timespec="seconds")
            level = entry.level
            if isinstance(level, int):
                level = logging.getLevelName(level)
            out.write(f"{stamp} {level:<7} {entry.step_key or '-'}: {entry.message}\n")
            event = entry.dagster_event
            error = getattr(getattr(event, "event_specific_data", None), "error", None)
            if error is not None:
                out.write(error.to_string() + "\n")
    return span.get(False, 0.0) - span.get(True, 0.0)


_INPUT_ERRORS = {"InputError", "FileRejectedError", "SettingsError"}
_DUCKDB_ERRORS = {name for name in dir(duckdb) if name.endswith(("Error", "Exception"))}


def _failure(result: dg.ExecuteInProcessResult, log: Path, *, incremental: bool) -> Exception:
    """One line on why the run failed: an `InputError` when the input or settings are at
    fault (the CLI exits 2), else a `BuildError` (a failed check or step, exit 1). An
    incremental build that DuckDB failed may have started from a damaged warehouse (a
    block that fails its checksum, a table dropped by hand): the line says how to build
    from nothing."""
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data  # type: ignore[union-attr]
            if not data.passed:
                found = {name: value.value for name, value in data.metadata.items()}
                return BuildError(
                    f"check {data.check_name} failed on {data.asset_key.to_user_string()} "
                    f"({found}); the warehouse was not replaced (full log: {log})"
                )
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error  # type: ignore[union-attr]
            while error is not None and error.cause is not None:
                error = error.cause
            if error is None:
                break
            first = error.message.strip().splitlines()[0] if error.message.strip() else ""
            prefix = f"{error.cls_name}: "
            if error.cls_name == "DagsterExecutionInterruptedError":
                return BuildError(
                    f"interrupted (Ctrl-C or a stop signal); the warehouse was not replaced "
                    f"(full log: {log})"
                )
            if error.cls_name in _INPUT_ERRORS and prefix in first:
                return InputError(f"{first.split(prefix, 1)[1]} (full log: {log})")
            hint = ""
            if incremental and error.cls_name in _DUCKDB_ERRORS:
                hint = (
                    "; the build started from the last warehouse: if that is damaged, "
                    "`build --full` builds from nothing"
                )
            return BuildError(f"{first or error.cls_name}{hint} (full log: {log})")
    return BuildError(f"the run failed (full log: {log})")
