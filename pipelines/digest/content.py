"""What one week's digest says, read from a published warehouse (read-only).

Every figure comes from the macro or mart the dashboard shows it from (`channel_totals`
through `pipelines.digest.week`, `channel_economics`, `mart_admin_conversion`,
`mart_reactivation`), so the digest and the dashboard agree to the rouble. What the
dashboard has no page for is computed here from the same tables: the administrators'
places a week earlier, and which doctors' satisfaction moved beyond its interval.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import polars as pl

from dashboards.fmt import to_float
from pipelines.digest.alerts import Alert, find_alerts
from pipelines.digest.week import WEEKLY_TOTALS, comparison, monday
from pipelines.models.admin_conversion import admin_conversion
from pipelines.models.doctor_intervals import nps_draws, observed_nps
from pipelines.settings import Settings

CHANNEL_COLUMNS = (
    "channel",
    "spend",
    "calls",
    "leads",
    "primary_patients",
    "cost_per_lead",
    "cost_per_primary",
    "revenue_to_date",
    "romi",
)
"""The Channels page's table, less its interval columns (a digest row must fit a phone)."""


class DigestError(Exception):
    """A digest that cannot be written (no warehouse, a week it does not cover): one line."""


@dataclass(frozen=True)
class Digest:
    week: date
    """The ISO week's Monday."""
    info: dict
    """`mart_build_info`: as_of, currency, the settings of the build."""
    figures: pl.DataFrame
    """`pipelines.digest.week.comparison`: this week, the previous one, the average."""
    weekly: pl.DataFrame
    """`channel_totals` per week, the `trend_weeks` up to this one (the charts)."""
    channels: pl.DataFrame
    """`channel_economics` over the week, by spend."""
    admins: pl.DataFrame
    """`mart_admin_conversion` (or its figures at the week's end) with `previous_rank`."""
    doctors: pl.DataFrame
    """Doctors whose recent NPS moved beyond its interval."""
    reactivation: int
    """Patients on the reactivation list."""
    unknown_spend: str | None
    """Channels whose spend this week is unknown (not counted as zero)."""
    alerts: list[Alert]
    average_weeks: int
    satisfaction_weeks: int

    @property
    def week_end(self) -> date:
        return self.week + timedelta(days=6)

    @property
    def partial(self) -> bool:
        """The data stops inside the week (a missing export, or the week read before it
        ended): its figures are a part of a week, against whole ones."""
        return self.info["as_of"] < self.week_end


def read_digest(conn: duckdb.DuckDBPyConnection, settings: Settings, week: date) -> Digest:
    """The digest of the ISO week holding `week`, from the warehouse open on `conn`. The
    alerts (of the 7 days to the last data day) come with it when those days reach into
    the week: a digest of an older week is a record of it, not news."""
    if week < settings.min_plausible_date:
        raise DigestError(f"the week of {week} is before min_plausible_date: not a week of data")
    week = monday(week)
    info = conn.sql("select * from mart_build_info").pl().row(0, named=True)
    zone = ZoneInfo(info["timezone"])
    built_local = info["built_at"].astimezone(zone).date()
    if week > built_local:
        raise DigestError(
            f"the week of {week} has not begun (the warehouse was built {built_local})"
        )
    if built_local <= week + timedelta(days=6):
        raise DigestError(
            f"the warehouse was built on {built_local} (last data day {info['as_of']}), "
            f"before the week of {week} ended: run the weekly build first"
        )
    if info["as_of"] < week:
        raise DigestError(
            f"the warehouse's last data day is {info['as_of']}, before the week of {week}: "
            "nothing to report (is an export missing?)"
        )
    digest = settings.digest
    weekly = conn.sql(WEEKLY_TOTALS).pl()
    figures = comparison(weekly, week, digest.average_weeks)
    current = weekly.filter(pl.col("week_start") == week)
    if current.is_empty():
        raise DigestError(
            f"no call, spend or new patient in the week of {week} (the data runs to "
            f"{info['as_of']}): nothing to report"
        )
    channels = (
        conn.sql(
            "select * from channel_economics(?::date, ?::date)",
            params=[week, week + timedelta(days=6)],
        )
        .pl()
        .select(CHANNEL_COLUMNS)
        .sort(["spend", "calls"], descending=True, nulls_last=True)
    )
    (reactivation,) = conn.execute("select count(*)::bigint from mart_reactivation").fetchall()
    return Digest(
        week=week,
        info=info,
        figures=figures,
        weekly=weekly.filter(
            pl.col("week_start").is_between(week - timedelta(weeks=digest.trend_weeks - 1), week)
        ).pipe(to_float),
        channels=to_float(channels),
        admins=admin_places(conn, settings, week, zone, info["as_of"]),
        doctors=satisfaction_moves(conn, settings, week, zone),
        reactivation=int(reactivation[0]),
        unknown_spend=current["unknown_spend"][0] if current.height else None,
        alerts=find_alerts(conn, settings)
        if info["as_of"] - timedelta(days=6) <= week + timedelta(days=6)
        else [],
        average_weeks=digest.average_weeks,
        satisfaction_weeks=digest.satisfaction_weeks,
    )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


def admin_places(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: date, zone: ZoneInfo, as_of: date
) -> pl.DataFrame:
    """The ranking the Administrators page shows, with each one's place a week earlier.

    The mart ranks every lead to the last data day; when the week ends before it, the
    ranking is computed as it stood at the week's end, by the mart's own function
    (`admin_conversion`) over the leads called, and the conversions made, by then."""
    mart = conn.sql("select * from mart_admin_conversion").pl()
    end = week + timedelta(days=7)
    current = mart if end > as_of else _ranking_at(conn, settings, _midnight(end, zone), mart)
    before = _ranking_at(conn, settings, _midnight(week, zone), mart)
    return (
        current.join(before.select("admin_id", previous_rank="rank"), on="admin_id", how="left")
        .select(
            "rank",
            "previous_rank",
            "admin_name",
            "leads",
            "primary_patients",
            "conversion",
            "conversion_shrunk",
            "ci_low",
            "ci_high",
        )
        .sort("rank", "leads", descending=[False, True], nulls_last=True)
    )


def _ranking_at(
    conn: duckdb.DuckDBPyConnection, settings: Settings, cutoff: datetime, mart: pl.DataFrame
) -> pl.DataFrame:
    leads = conn.sql(
        """
        select
            admin_id, channel, branch_id, started_local,
            coalesce(converted and first_visit_at < $cutoff, false) as converted
        from int_lead_conversions
        where admin_id is not null and started_at < $cutoff
        """,
        params={"cutoff": cutoff},
    ).pl()
    names = mart.select("admin_id", "admin_name")
    counts = (
        leads.group_by("admin_id")
        .agg(leads=pl.len(), primary_patients=pl.col("converted").sum())
        .join(names, on="admin_id", how="left")
        .with_columns(pl.col("admin_name").fill_null(pl.col("admin_id")))
        .select("admin_id", "admin_name", "leads", "primary_patients")
        .sort("admin_id")
    )
    return admin_conversion(counts, leads, settings)


def satisfaction_moves(
    conn: duckdb.DuckDBPyConnection, settings: Settings, week: date, zone: ZoneInfo
) -> pl.DataFrame:
    """Doctors whose NPS over the last `satisfaction_weeks` to the week's end differs from
    their NPS before it by more than chance: the `credible_mass` interval of the
    difference (each NPS from the posterior of its three shares, as on the Doctors page)
    holds no zero. A doctor with no earlier or no recent survey cannot have moved."""
    end = _midnight(week + timedelta(days=7), zone)
    start = end - timedelta(weeks=settings.digest.satisfaction_weeks)
    surveys = conn.sql(
        """
        select
            scores.doctor_id,
            coalesce(doctors.name, scores.doctor_id) as doctor_name,
            scores.score,
            coalesce(surveys.answered_at, visits.visit_at) >= $start as recent
        from int_survey_scores as scores
        left join stg_surveys__surveys as surveys using (visit_id)
        left join stg_mis__visits as visits using (visit_id)
        left join stg_mis__doctors as doctors on scores.doctor_id = doctors.doctor_id
        where coalesce(surveys.answered_at, visits.visit_at) < $end
        """,
        params={"start": start, "end": end},
    ).pl()
    tail = (1 - settings.credible_mass) / 2
    rows = []
    for (doctor_id, name), group in surveys.group_by("doctor_id", "doctor_name"):
        recent = group.filter(pl.col("recent"))["score"].to_numpy()
        earlier = group.filter(~pl.col("recent"))["score"].to_numpy()
        if recent.size == 0 or earlier.size == 0:
            continue
        rng = np.random.default_rng([settings.random_seed, zlib.crc32(str(doctor_id).encode())])
        change = nps_draws(recent, rng) - nps_draws(earlier, rng)
        low, high = np.quantile(change, [tail, 1 - tail])
        if low <= 0 <= high:
            continue
        rows.append(
            {
                "doctor_name": name,
                "recent_nps": observed_nps(recent),
                "recent_surveys": int(recent.size),
                "earlier_nps": observed_nps(earlier),
                "earlier_surveys": int(earlier.size),
                "change_low": float(low),
                "change_high": float(high),
            }
        )
    schema = {
        "doctor_name": pl.String,
        "recent_nps": pl.Float64,
        "recent_surveys": pl.Int64,
        "earlier_nps": pl.Float64,
        "earlier_surveys": pl.Int64,
        "change_low": pl.Float64,
        "change_high": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema).sort("change_low")
