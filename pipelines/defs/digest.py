"""The Monday digest and the alerts under Dagster (group `digest`).

* `weekly_digest`: the week before the run's (clinic time) to every recipient; the
  `monday_digest` schedule runs it at `digest.hour` on Mondays, after the weekly build.
* `build_alerts`: the alerts the published warehouse shows; the `alerts_after_build`
  sensor runs it after each materialization of `published_warehouse`, so a mid-week
  build that finds a broken tracking number says so the same day.

Both fail their run when a send failed (after its retries), with one line per failure;
a rerun sends only what did not go out (the delivery ledger). The schedule and the
sensor exist only once recipients and a way to reach them are configured.
"""

from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from pipelines.build import DIGEST_GROUP
from pipelines.digest.week import digest_week_of, last_full_week
from pipelines.settings import Settings, load_settings

if TYPE_CHECKING:
    from pipelines.digest.run import Report

SENDING = {
    "group_name": DIGEST_GROUP,
    "kinds": {"email", "telegram"},
    "deps": ["published_warehouse"],
    "retry_policy": dg.RetryPolicy(max_retries=3, delay=600),
}
"""Both assets read the published warehouse and talk to the outside: a run whose send
failed because a server was down is retried three times, ten minutes apart."""
WEEK_TAG = "digest_week"
"""A run tag naming the week's Monday (YYYY-MM-DD); absent, the week before the run's."""


def _outcome(context: dg.AssetExecutionContext, report: "Report") -> dg.MaterializeResult:
    for line, failed in report.lines:
        (context.log.error if failed else context.log.info)(line)
    if report.failed:  # retried by the policy only when a later try may succeed
        raise dg.Failure(
            description="; ".join(line for line, failed in report.lines if failed),
            allow_retries=report.retry,
        )
    return dg.MaterializeResult(metadata={"sends": len(report.lines)})


@dg.asset(**SENDING)
def weekly_digest(
    context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    """The week's figures, channels, administrators, doctors and charts, by e-mail (with
    the PDF) and Telegram, once per week and recipient."""
    from pipelines.digest.run import send_digest  # noqa: PLC0415  (charts, PDF: at run time)

    tagged = context.run.tags.get(WEEK_TAG)
    week = date.fromisoformat(tagged) if tagged else last_full_week(settings)
    return _outcome(context, send_digest(settings, week))


@dg.asset(**SENDING)
def build_alerts(
    context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    """Broken tracking numbers, costly leads, missed calls, stale sources, refused rows:
    each sent once a week to the recipients who take alerts."""
    from pipelines.digest.run import send_alerts  # noqa: PLC0415

    return _outcome(context, send_alerts(settings))


digest_job = dg.define_asset_job("send_digest", selection=dg.AssetSelection.assets(weekly_digest))
alerts_job = dg.define_asset_job("send_alerts", selection=dg.AssetSelection.assets(build_alerts))


@dg.asset_sensor(
    asset_key=dg.AssetKey("published_warehouse"),
    job=alerts_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alerts_after_build(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"alerts-{asset_event.run_id}")


@dg.definitions
def digest_definitions() -> dg.Definitions:
    settings = load_settings()
    assets = [weekly_digest, build_alerts]
    if not settings.digest.configured:
        return dg.Definitions(assets=assets)

    @dg.schedule(
        name="monday_digest",
        job=digest_job,
        cron_schedule=f"0 {settings.digest.hour} * * 1",
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def monday_digest(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """The week before the tick's, named on the run: a run started late, or retried on
        Tuesday, still sends the week the tick was for."""
        week = digest_week_of(context.scheduled_execution_time.date())
        return dg.RunRequest(run_key=f"digest-{week}", tags={WEEK_TAG: str(week)})

    return dg.Definitions(
        assets=assets,
        jobs=[digest_job, alerts_job],
        schedules=[monday_digest],
        sensors=[alerts_after_build],
    )
