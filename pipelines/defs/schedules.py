"""The weekly build: Monday morning, clinic-local time, before the managers' meeting."""

from __future__ import annotations

import dagster as dg

from pipelines.build import OUTSIDE_BUILD
from pipelines.settings import load_settings

build_warehouse_job = dg.define_asset_job(
    "build_warehouse",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(*OUTSIDE_BUILD),
    description="Every asset of the clinic: raw → staging → published warehouse.",
)

weekly_build_schedule = dg.ScheduleDefinition(
    name="weekly_build",
    job=build_warehouse_job,
    cron_schedule="0 6 * * 1",
    execution_timezone=load_settings().timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
