"""What is worth a message before Monday: the warehouse's last days read against the rules
of the settings (`digest.alert_*`). Each alert names what broke, by how much, and over
which days; the figures come from the macros the dashboard uses (`channel_economics`,
`channel_totals`) and the marts of the data-quality page.

The window is the 7 days to the last data day (`as_of`), not the ISO week, so a build on
Wednesday compares a whole week with whole weeks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import polars as pl

from dashboards import fmt
from pipelines.models.poisson_limits import poisson_limits
from pipelines.settings import Settings

WINDOW_DAYS = 7


@dataclass(frozen=True)
class Alert:
    rule: str
    """zero_calls, cost_per_lead, missed_rate, stale_source, quarantine"""
    subject: str
    """What the rule found wrong: a channel, a source, an entity, or the clinic."""
    message: str

    @property
    def key(self) -> str:
        """One alert per rule and subject in the delivery ledger (sent once a week)."""
        return f"alert:{self.rule}:{self.subject}"


def find_alerts(conn: duckdb.DuckDBPyConnection, settings: Settings) -> list[Alert]:
    info = conn.sql("select as_of, currency from mart_build_info").pl().row(0, named=True)
    as_of, currency = info["as_of"], info["currency"]
    return [
        *zero_calls(conn, settings, as_of, currency),
        *cost_per_lead(conn, settings, as_of, currency),
        *missed_rate(conn, settings, as_of),
        *stale_sources(conn),
        *quarantine(conn, settings),
    ]


def zero_calls(
    conn: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, currency: str
) -> list[Alert]:
    """A channel with known spend above zero and no call on each of the last
    `alert_zero_call_days` days or more, to the last data day: its tracking number (or the
    ad's phone) is likely broken. Free channels spend 0 and unknown spend is not spend,
    so neither alerts."""
    days = settings.digest.alert_zero_call_days
    reach = max(days, WINDOW_DAYS) * 4
    daily = conn.sql(
        """
        select channel, day, sum(spend)::double as spend, sum(calls)::bigint as calls
        from fct_channel_daily
        where day > $as_of::date - $reach and day <= $as_of::date and channel <> 'No call'
        group by channel, day
        """,
        params={"as_of": as_of, "reach": reach},
    ).pl()
    alerts = []
    for channel in sorted(daily["channel"].unique().to_list()):
        by_day = {
            row["day"]: row
            for row in daily.filter(pl.col("channel") == channel).iter_rows(named=True)
        }
        streak, spent = 0, 0.0
        day = as_of
        while streak < reach:
            row = by_day.get(day)
            if row is None or not row["spend"] or row["calls"]:
                break
            streak, spent, day = streak + 1, spent + row["spend"], day - timedelta(days=1)
        if streak >= days:
            alerts.append(
                Alert(
                    "zero_calls",
                    channel,
                    f"{channel}: {fmt.money(spent, currency)} spent over the last {streak} "
                    f"days ({day + timedelta(days=1):%d %b} to {as_of:%d %b}) with no call: "
                    "check its tracking number and the ad's phone.",
                )
            )
    return alerts


def cost_per_lead(
    conn: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, currency: str
) -> list[Alert]:
    """Cost per lead of the last 7 days above `alert_cost_per_lead_ratio` × its median over
    the `average_weeks` 7-day windows before, beyond chance: a week's leads are a Poisson
    count, so the cost is also above the limit at the low end of its `credible_mass`
    range (spend ÷ the highest lead rate the count allows: `poisson_limits`, the
    Channels page's rule). One lead at 2× the median is noise, not news. A channel whose
    cost per lead is known in fewer than half of the windows has no median to speak of."""
    weeks = settings.digest.average_weeks
    windows = " union all ".join(
        f"select {k} as lag_weeks, * from channel_economics($as_of::date - {7 * k + 6}, "
        f"$as_of::date - {7 * k})"
        for k in range(weeks + 1)
    )
    frame = conn.sql(
        f"select lag_weeks, channel, spend::double as spend, leads, cost_per_lead::double as cpl "
        f"from ({windows})",
        params={"as_of": as_of},
    ).pl()
    ratio = settings.digest.alert_cost_per_lead_ratio
    alerts = []
    for channel in sorted(frame["channel"].unique().to_list()):
        rows = frame.filter(pl.col("channel") == channel)
        now = rows.filter(pl.col("lag_weeks") == 0)
        past = rows.filter((pl.col("lag_weeks") > 0) & pl.col("cpl").is_not_null())["cpl"]
        if now.is_empty() or now["cpl"][0] is None or past.len() * 2 < weeks:
            continue
        current, median = now["cpl"][0], past.median()
        leads, spend = int(now["leads"][0]), now["spend"][0]
        rate_high = poisson_limits(leads, settings.credible_mass)["rate_high"][leads]
        low = spend / rate_high
        if median and low > ratio * median:
            alerts.append(
                Alert(
                    "cost_per_lead",
                    channel,
                    f"{channel}: cost per lead {fmt.money(current, currency)} over the last "
                    f"7 days ({fmt.counted(leads, 'lead')}, {fmt.money(spend, currency)}), "
                    f"{current / median:.1f}× its median of {fmt.money(median, currency)} over "
                    f"the previous {weeks} weeks ({past.len()} with leads); above "
                    f"{ratio:g}× even at the low end of its {settings.credible_mass:.0%} "
                    f"range ({fmt.money(low, currency)}).",
                )
            )
    return alerts


def missed_rate(conn: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> list[Alert]:
    """Share of the last 7 days' calls not answered above `alert_missed_rate`, once there
    are `alert_missed_min_calls` calls to tell."""
    rows = conn.execute(
        "select calls, missed_calls, lost_calls from channel_totals($start::date, $end::date)",
        {"start": as_of - timedelta(days=WINDOW_DAYS - 1), "end": as_of},
    ).fetchall()
    row = rows[0] if rows else None
    if row is None or not row[0]:
        return []
    calls, missed, lost = (int(v or 0) for v in row)
    rate = missed / calls
    threshold = settings.digest.alert_missed_rate
    if calls < settings.digest.alert_missed_min_calls or rate <= threshold:
        return []
    return [
        Alert(
            "missed_rate",
            "clinic",
            f"{fmt.percent(rate)} of the last 7 days' calls were missed ({missed} of {calls}; "
            f"{lost} never called back within 24 h), above the {fmt.percent(threshold)} limit.",
        )
    ]


def stale_sources(conn: duckdb.DuckDBPyConnection) -> list[Alert]:
    """A configured vendor API whose last day with data is older than its limit
    (`mart_source_freshness`, the rule of `pipelines.pull.run.freshness`)."""
    frame = conn.sql(
        "select source, last_data_day, days_old, freshness_days from mart_source_freshness "
        "where configured and stale order by source"
    ).pl()
    return [
        Alert(
            "stale_source",
            row["source"],
            f"{row['source']}: "
            + (
                "never pulled any data"
                if row["last_data_day"] is None
                else f"last data from {row['last_data_day']:%d %b %Y}, {row['days_old']} days "
                f"old (limit {row['freshness_days']})"
            )
            + ": the figures after it are incomplete.",
        )
        for row in frame.iter_rows(named=True)
    ]


def quarantine(conn: duckdb.DuckDBPyConnection, settings: Settings) -> list[Alert]:
    """An entity with more than `alert_quarantine_share` of its rows refused as invalid
    (superseded versions of a record are the normal overlap of exports, not an error)."""
    frame = conn.sql(
        """
        select
            loads.entity,
            loads.rows_read,
            count(quarantine.entity)::bigint as refused,
            min(quarantine.reason) as example
        from load_reconciliation as loads
        left join quarantine
            on quarantine.entity = loads.entity and quarantine.kind <> 'superseded'
        group by loads.entity, loads.rows_read
        order by loads.entity
        """
    ).pl()
    share = settings.digest.alert_quarantine_share
    return [
        Alert(
            "quarantine",
            row["entity"],
            f"{row['entity']}: {row['refused']:,} of {row['rows_read']:,} rows "
            f"({fmt.percent(row['refused'] / row['rows_read'])}) refused as invalid, above "
            f"the {fmt.percent(share)} limit (one reason: {row['example']}); see the "
            "data-quality page.",
        )
        for row in frame.iter_rows(named=True)
        if row["rows_read"] and row["refused"] / row["rows_read"] > share
    ]
