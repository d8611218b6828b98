"""A sensor on the input folder: a new or changed export file starts a build."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from pipelines.defs.schedules import build_warehouse_job
from pipelines.ingest.files import watched_files
from pipelines.settings import load_settings


def input_state(input_dir: Path) -> dict[str, list[int]]:
    """Every file a build reads (pipelines/ingest/files.py) → [modification time ns, size]."""
    return {
        p.relative_to(input_dir).as_posix(): [p.stat().st_mtime_ns, p.stat().st_size]
        for p in watched_files(input_dir)
    }


@dg.sensor(
    job=build_warehouse_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def input_folder_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Compares the folder with the cursor (file → mtime, size); one run per change set."""
    seen: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
    current = input_state(load_settings().input_dir)
    changed = sorted(name for name, state in current.items() if seen.get(name) != state)
    if not changed:
        return dg.SensorResult(skip_reason="no new or changed export files")
    digest = hashlib.sha256(
        json.dumps({name: current[name] for name in changed}, sort_keys=True).encode()
    ).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"input-{digest}", tags={"changed_files": str(len(changed))})
        ],
        cursor=json.dumps(current, sort_keys=True),
    )
