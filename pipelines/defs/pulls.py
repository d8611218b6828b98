"""The daily pulls: one asset per vendor API (group `pull`), each landing its files in the
input folder, a freshness check on each, and the schedule that runs the configured ones.

The assets are independent: one source failing (a refused token, an API down past its
retries) fails its own asset with its one line, and the others are pulled in the same
run. The weekly build does not pull; it reads whatever has landed (the input folder
sensor starts a build when new files arrive).
"""

from collections.abc import Iterator

import dagster as dg

from pipelines.build import PULL_GROUP
from pipelines.pull.landing import read_state
from pipelines.pull.run import SOURCES, enabled, freshness, pull_source
from pipelines.settings import Settings, load_settings


def _pull_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"pull_{name}",
        group_name=PULL_GROUP,
        kinds={"api"},
        description=f"The {name} API's answers for the days since the last pull (less the "
        "overlap), landed as files in the input folder (pipelines/pull/).",
        check_specs=[
            dg.AssetCheckSpec(
                "fresh",
                asset=f"pull_{name}",
                description="The last day with data is within `pull.freshness_days`.",
            )
        ],
    )
    def _pull(
        context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> Iterator[dg.Output[None] | dg.AssetCheckResult]:
        result = pull_source(settings, name)
        if result.error:
            raise dg.Failure(description=result.line())
        context.log.info(result.line())
        yield dg.Output(
            None,
            metadata={
                "files": len(result.files),
                "first_day": str(result.window.start) if result.window else "",
                "last_day": str(result.window.end) if result.window else "",
                "last_data_day": str(result.last_data_day or ""),
            },
        )
        yield freshness_check(settings, name)

    return _pull


def freshness_check(settings: Settings, name: str) -> dg.AssetCheckResult:
    """Fresh when the last day any answer held data for is at most `freshness_days` old
    (the rule of `mart_source_freshness`: `pipelines.pull.run.freshness`)."""
    fresh = freshness(settings, name, read_state(settings.input_dir))
    return dg.AssetCheckResult(
        check_name="fresh",
        asset_key=f"pull_{name}",
        passed=not fresh.stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "last_data_day": str(fresh.last_data_day or "never"),
            "freshness_days": settings.pull.freshness_days,
        },
    )


pull_assets = [_pull_asset(name) for name in SOURCES]


@dg.definitions
def pull_definitions() -> dg.Definitions:
    """The six assets always (the graph shows what can be pulled); the schedule, at
    `pull.hour` clinic time, only over the sources the settings configure."""
    settings = load_settings()
    configured = enabled(settings)
    if not configured:
        return dg.Definitions(assets=pull_assets)
    job = dg.define_asset_job(
        "daily_pull",
        selection=dg.AssetSelection.assets(*(f"pull_{n}" for n in configured)),
        description="Every configured vendor API, pulled into the input folder.",
    )
    schedule = dg.ScheduleDefinition(
        name="daily_pull",
        job=job,
        cron_schedule=f"0 {settings.pull.hour} * * *",
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(assets=pull_assets, jobs=[job], schedules=[schedule])
