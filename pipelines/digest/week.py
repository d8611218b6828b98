"""The week against the previous week and the mean of the weeks before it: the Overview
page and the digest read these figures from one place, so the two never disagree. Light
on purpose (Polars only): the dashboard and Dagster's definitions import it, and the
digest's charts and PDF (Matplotlib, fpdf2) load only when a digest is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from dashboards.fmt import to_float
from pipelines.settings import Settings
from pipelines.warehouse import clinic_today


@dataclass(frozen=True)
class Figure:
    label: str
    column: str
    """A column of `channel_totals` (sql/marts/channel_totals.sql)."""
    kind: str
    """money, number or percent (dashboards/fmt.py `value`)."""
    lower_is_better: bool


FIGURES = (
    Figure("Spend", "spend", "money", True),
    Figure("Calls", "calls", "number", False),
    Figure("Leads", "leads", "number", False),
    Figure("Primary patients", "primary_patients", "number", False),
    Figure("Primary patients from calls", "priced_primary", "number", False),
    Figure("Cost per lead", "cost_per_lead", "money", True),
    Figure("Cost per primary", "cost_per_primary", "money", True),
    Figure("ROMI", "romi", "percent", False),
    Figure("Missed rate", "missed_rate", "percent", True),
    Figure("Missed calls", "missed_calls", "number", True),
    Figure("Lost calls", "lost_calls", "number", True),
)

WEEKLY_TOTALS = (
    "select *, period_start as week_start "
    "from channel_totals('-infinity'::date, 'infinity'::date, by_week := true)"
)
"""All channels together per ISO week: the warehouse's `channel_totals` macro."""


def monday(day: date) -> date:
    """The ISO week's first day (definition 7)."""
    return day - timedelta(days=day.weekday())


def digest_week_of(day: date) -> date:
    """The Monday of the week before `day`'s: on a Monday morning, the week that just ended."""
    return monday(day) - timedelta(weeks=1)


def last_full_week(settings: Settings) -> date:
    """The digest's week by default: the week before today's, clinic time."""
    return digest_week_of(clinic_today(settings))


def alert_week(settings: Settings) -> str:
    """The ledger's period of an alert: today's ISO week (clinic time), so an alert goes to
    a recipient once a week however many builds find it."""
    return str(monday(clinic_today(settings)))


def comparison(weeks: pl.DataFrame, week: date, average_weeks: int) -> pl.DataFrame:
    """One row per figure: `this_week`, `previous_week` and `average` (the mean over the
    `average_weeks` weeks before this one that hold data), as floats; None where unknown
    (no row for the week, or an unknown spend)."""
    weeks = to_float(weeks)
    current = weeks.filter(pl.col("week_start") == week)
    previous = weeks.filter(pl.col("week_start") == week - timedelta(weeks=1))
    history = weeks.filter(
        pl.col("week_start").is_between(
            week - timedelta(weeks=average_weeks), week - timedelta(weeks=1)
        )
    )

    def first(frame: pl.DataFrame, column: str) -> float | None:
        return frame[column][0] if frame.height else None

    return pl.DataFrame(
        [
            {
                "figure": f.label,
                "column": f.column,
                "kind": f.kind,
                "lower_is_better": f.lower_is_better,
                "this_week": first(current, f.column),
                "previous_week": first(previous, f.column),
                "average": history[f.column].mean() if history.height else None,
            }
            for f in FIGURES
        ],
        schema_overrides={
            "this_week": pl.Float64,
            "previous_week": pl.Float64,
            "average": pl.Float64,
        },
    )
