"""`clinic-analytics build`: the whole asset graph, in-process, into a fresh build file.

The run writes a new DuckDB file next to the warehouse; only when every asset and every
blocking check has passed does the graph's last asset publish it (atomic rename). A
failed run deletes its build file and leaves the published warehouse as it was.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pipelines.defs.resources import build_resources
from pipelines.entities import ENTITIES
from pipelines.ingest import entity_files
from pipelines.readers import InputError
from pipelines.settings import Settings


class BuildError(Exception):
    """The build did not publish; the message is one line a person can act on."""


@dataclass
class BuildResult:
    warehouse: Path
    seconds: float
    materialized: list[str] = field(default_factory=list)


def precheck(settings: Settings) -> None:
    """Fail in a second, with the folder's name, rather than minutes into a run."""
    if not settings.input_dir.is_dir():
        raise InputError(f"input folder {settings.input_dir} does not exist")
    for entity in ENTITIES:
        entity_files(settings.input_dir, entity)
    settings.secret_key()


def load_defs() -> dg.Definitions:
    from pipelines.definitions import defs  # noqa: PLC0415  (loading defs reads the settings)

    return defs()


def run_build(settings: Settings, defs: dg.Definitions | None = None) -> BuildResult:
    precheck(settings)
    started = time.perf_counter()
    warehouse = settings.warehouse_path
    build_path = warehouse.with_name(f".{warehouse.name}.build-{os.getpid()}")
    _remove_database(build_path)
    defs = defs or load_defs()
    resources = build_resources(settings, database=str(build_path))
    try:
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],  # type: ignore[list-item]
            resources=resources,
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        if not result.success:
            raise BuildError(_failure_reason(result))
        materialized = [
            event.asset_key.to_user_string()
            for event in result.get_asset_materialization_events()
            if event.asset_key is not None
        ]
        if "published_warehouse" not in materialized:
            raise BuildError("the build finished without publishing the warehouse")
    finally:
        _remove_database(build_path)
    return BuildResult(warehouse, time.perf_counter() - started, materialized)


def _failure_reason(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data  # type: ignore[union-attr]
            if not data.passed:
                return (
                    f"check {data.check_name} failed on {data.asset_key.to_user_string()} "
                    f"({dict(data.metadata)}); the warehouse was not replaced"
                )
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error  # type: ignore[union-attr]
            while error is not None and error.cause is not None:
                error = error.cause
            if error is None:
                return "unknown error"
            first = error.message.strip().splitlines()[0] if error.message.strip() else ""
            prefix = f"{error.cls_name}: "
            if error.cls_name in {"InputError", "SettingsError"} and prefix in first:
                return first.split(prefix, 1)[1]
            return first or error.cls_name or "unknown error"
    return "the run failed"


def _remove_database(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)
