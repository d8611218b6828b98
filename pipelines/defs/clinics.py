"""A chain of clinics as Dagster partitions: one partition of `clinic_warehouse` per clinic
folder under `chain_root` (a dynamic partition the sensor adds when a folder appears), and
`chain_view`, rebuilt from the clinics' warehouses after they change.

Parallel clinic builds are Dagster's to bound: `clinic_warehouse` is in the
`clinic_build` concurrency pool, whose limit (`concurrency: pools:` in the instance's
`dagster.yaml`, see deploy/) is how many clinics build at once under the daemon; each
build's DuckDB gets `chain_memory_budget` ÷ `chain_parallel` (pipelines/chain/clinics.py),
so the pool limit should equal `chain_parallel`.
"""

import hashlib
import json

import dagster as dg

from pipelines.build import CHAIN_GROUP, BuildError
from pipelines.chain.build import build_clinic
from pipelines.chain.clinics import chain_paths, find_clinics
from pipelines.chain.view import build_chain_view
from pipelines.defs.sensors import input_state
from pipelines.ingest.readers import InputError
from pipelines.settings import DEFAULT_SETTINGS_FILE, Settings, SettingsError, load_settings

clinic_partitions = dg.DynamicPartitionsDefinition(name="clinics")
CLINIC_POOL = "clinic_build"

condition = dg.AutomationCondition
AFTER_CLINIC_BUILDS = (
    (
        condition.any_deps_updated()
        | condition.any_deps_match(condition.execution_failed()).newly_true()
    ).since_last_handled()
    & ~condition.any_deps_in_progress()
    & ~condition.in_progress()
).with_label("after clinic builds")
"""`eager` without its wait for missing upstream partitions (a clinic never built must not
hold the chain back), and also after a failed clinic build (the view lists the failure)."""


@dg.asset(
    partitions_def=clinic_partitions,
    group_name=CHAIN_GROUP,
    kinds={"duckdb"},
    pool=CLINIC_POOL,
)
def clinic_warehouse(
    context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    """One clinic's warehouse, `<chain_out>/<clinic>/warehouse.duckdb`: the single-clinic
    build of `<chain_root>/<clinic>/` (the same graph, checks and atomic publish as
    `clinic-analytics build`). A failure leaves the clinic's last good warehouse."""
    clinic = context.partition_key
    try:
        result = build_clinic(settings, clinic)
    except (BuildError, InputError, SettingsError) as exc:
        raise dg.Failure(description=f"{clinic}: {exc}", allow_retries=False) from exc
    return dg.MaterializeResult(
        metadata={
            "path": str(result.warehouse),
            "seconds": round(result.seconds, 1),
            "warnings": len(result.warnings),
        }
    )


@dg.asset(
    group_name=CHAIN_GROUP,
    kinds={"duckdb"},
    deps=[clinic_warehouse],
    automation_condition=AFTER_CLINIC_BUILDS,
)
def chain_view(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    """`<chain_out>/chain.duckdb`: every clinic's weekly channel economics, totals,
    administrators and doctors with a `clinic` column, and each clinic's status (built,
    failed with its last good build time, or missing). Rebuilt once no clinic build is in
    progress after any has published or failed."""
    view = build_chain_view(settings)
    statuses = list(view.status.values())
    return dg.MaterializeResult(
        metadata={
            "path": str(view.path),
            "clinics": len(statuses),
            "built": statuses.count("built"),
            "failed": statuses.count("failed"),
            "missing": statuses.count("missing"),
        }
    )


build_clinic_job = dg.define_asset_job(
    "build_clinic",
    selection=dg.AssetSelection.assets(clinic_warehouse),
    partitions_def=clinic_partitions,
    description="One clinic of the chain: its input folder → its warehouse.",
)


def clinic_state(settings: Settings) -> dict[str, str]:
    """Clinic → a digest of every file its build reads (as `input_folder_sensor` watches
    one input folder) and of its own settings file."""
    root, _ = chain_paths(settings)
    state = {}
    for clinic, folder in find_clinics(root).clinics.items():
        files = input_state(folder)
        own = folder / DEFAULT_SETTINGS_FILE.name
        if own.is_file():
            files[own.name] = [own.stat().st_mtime_ns, own.stat().st_size]
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        state[clinic] = digest[:16]
    return state


@dg.sensor(
    job=build_clinic_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def clinic_folders_sensor(
    context: dg.SensorEvaluationContext, settings: dg.ResourceParam[Settings]
) -> dg.SensorResult:
    """A new clinic folder becomes a partition; a new or changed clinic (its exports or its
    settings file) gets one run of its partition. The cursor is clinic → digest."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = clinic_state(settings)
    known = set(context.instance.get_dynamic_partitions(clinic_partitions.name))
    new = sorted(set(current) - known)
    changed = sorted(c for c, digest in current.items() if seen.get(c) != digest)
    if not new and not changed:
        return dg.SensorResult(skip_reason="no new or changed clinic folders")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=c, run_key=f"{c}:{current[c]}") for c in changed],
        dynamic_partitions_requests=[clinic_partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(current, sort_keys=True),
    )


chain_automation = dg.AutomationConditionSensorDefinition(
    "chain_view_automation",
    target=dg.AssetSelection.assets(chain_view),
    default_status=dg.DefaultSensorStatus.RUNNING,
)


@dg.definitions
def clinics() -> dg.Definitions:
    """The chain's assets, job and sensors, in the code location when `chain_root` is set
    (a single clinic's graph shows nothing of a chain it is not in); `build_warehouse` and
    `run_build` leave the chain's group out either way."""
    if load_settings().chain_root is None:
        return dg.Definitions()
    return dg.Definitions(
        assets=[clinic_warehouse, chain_view],
        jobs=[build_clinic_job],
        sensors=[clinic_folders_sensor, chain_automation],
    )
