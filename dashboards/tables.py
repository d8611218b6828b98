"""Tables as a manager reads them: headers in words with their units, one number format.

Every column a page shows has one label and one kind here, so `cost_per_lead` reads
"Cost per lead, ₽" on every page, and money is `1,379,090` in every table as in every
metric (dashboards/fmt.py). The unit is in the header, the cell holds the number; a rate
is shown in percent (×100) with one decimal; a missing value is an empty cell, never
"None" (unknown is not zero, and not a word either). Labels take the build's settings
(`{symbol}`, `{mass}`, `{horizon}`, `{window}`), so a changed setting relabels the page.
A column not listed here is shown under its name in words ("rows_read" → "Rows read").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl
import streamlit as st

from dashboards import downloads
from dashboards.fmt import symbol, to_float


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "count"
    """count, money, percent, points, score, decimal, text, date, flag"""
    help: str = ""


COLUMNS: dict[str, Column] = {
    # channels
    "channel": Column("Channel", "text"),
    "spend": Column(
        "Spend, {symbol}",
        "money",
        "Empty where no spend export covers the dates: unknown, not zero.",
    ),
    "calls": Column("Calls"),
    "missed_calls": Column("Missed calls"),
    "leads": Column("Leads", help="The first target call of a phone that is not yet a patient."),
    "primary_patients": Column(
        "Primary patients",
        help="New patients (a first completed visit): a channel's are its leads who came "
        "within {window} days of the call; a doctor's, those who first saw that doctor.",
    ),
    "cost_per_lead": Column("Cost per lead, {symbol}", "money"),
    "cost_per_primary": Column("Cost per primary patient, {symbol}", "money"),
    "cost_per_primary_low": Column(
        "Cost per primary patient, {mass} low, {symbol}",
        "money",
        "Few patients are a noisy count: the cost is likely ({mass}) within this range.",
    ),
    "cost_per_primary_high": Column(
        "Cost per primary patient, {mass} high, {symbol}",
        "money",
        "Empty when no patient came: no upper bound yet.",
    ),
    "revenue_to_date": Column("Revenue to date, {symbol}", "money"),
    "romi": Column("ROMI, %", "percent", "(revenue to date − spend) / spend"),
    "missed_rate": Column("Missed rate, %", "percent", "Missed calls / all calls."),
    # a chain of clinics
    "clinic": Column("Clinic", "text"),
    "status": Column(
        "Status", "text", "built; failed (its last good figures are shown); missing (none yet)"
    ),
    "first_day": Column("First data day", "date"),
    "as_of": Column("Last data day", "date"),
    "unknown_spend": Column(
        "Unknown spend", "text", "Channels whose spend is not known: left out of spend and costs."
    ),
    "primary_first_touch": Column(
        "Primary patients, first call credited",
        help="The contract's figure: the patient's first target call (their lead) is credited.",
    ),
    "primary_last_touch": Column(
        "Primary patients, last call credited",
        help="The last target call before the first visit, within {window} days, is credited.",
    ),
    "switched": Column(
        "Credited elsewhere by last call",
        help="Of this channel's first-call patients, how many the last call credits to another.",
    ),
    "revenue_first_visit": Column("Revenue of first visits, {symbol}", "money"),
    "revenue_repeat": Column("Revenue of later visits, {symbol}", "money"),
    # administrators
    "rank": Column("Rank", help="Only administrators with enough leads are ranked."),
    "admin_name": Column("Administrator", "text"),
    "admin_id": Column("Administrator id", "text"),
    "conversion": Column("Conversion (raw), %", "percent"),
    "conversion_shrunk": Column(
        "Conversion (fair), %",
        "percent",
        "The raw rate pulled toward the team's, the more so the fewer the leads.",
    ),
    "ci_low": Column("Fair conversion, {mass} low, %", "percent"),
    "ci_high": Column("Fair conversion, {mass} high, %", "percent"),
    "p_best": Column("Chance of being the best, %", "percent"),
    "p_top3": Column("Chance of being in the top 3, %", "percent"),
    "expected_conversion": Column(
        "Expected for their leads, %",
        "percent",
        "What the team's typical administrator converts on this one's channels, branches "
        "and hours.",
    ),
    "mix_adjusted": Column(
        "Conversion on the team's lead mix, %",
        "percent",
        "Skill on equal footing: this administrator's rate if they answered the team's mix "
        "of channels, branches and hours.",
    ),
    "mix_ci_low": Column("On the team's lead mix, {mass} low, %", "percent"),
    "mix_ci_high": Column("On the team's lead mix, {mass} high, %", "percent"),
    # doctors
    "doctor_name": Column("Doctor", "text"),
    "clv_to_date": Column("Revenue per patient to date, {symbol}", "money"),
    "clv_to_date_low": Column("Revenue per patient to date, {mass} low, {symbol}", "money"),
    "clv_to_date_high": Column("Revenue per patient to date, {mass} high, {symbol}", "money"),
    "clv_365": Column(
        "Value per patient, first {horizon} days, {symbol}",
        "money",
        "Mean revenue in the first {horizon} days, over patients first seen at least "
        "{horizon} days ago.",
    ),
    "clv_365_low": Column("Value per patient, {horizon} days, {mass} low, {symbol}", "money"),
    "clv_365_high": Column("Value per patient, {horizon} days, {mass} high, {symbol}", "money"),
    "clv_365_median": Column(
        "Median patient, first {horizon} days, {symbol}",
        "money",
        "Half the patients bring less: revenue is skewed by a few large treatment plans.",
    ),
    "clv_365_patients": Column("Patients seen {horizon}+ days ago"),
    "repeat_visits_per_primary": Column("Repeat visits per patient", "decimal"),
    "return_rate": Column("Came back, %", "percent"),
    "surveys": Column("Surveys"),
    "score_mean": Column("Mean score, 0–10", "score"),
    "nps": Column("NPS, points", "points", "% promoters (9–10) − % detractors (0–6)."),
    "nps_low": Column("NPS, {mass} low, points", "points"),
    "nps_high": Column("NPS, {mass} high, points", "points"),
    "thin_patients": Column("Too few patients to tell", "flag"),
    "thin_surveys": Column("Too few surveys to tell", "flag"),
    # reactivation
    "patient_id": Column("Patient id (MIS)", "text"),
    "last_visit_local": Column("Last visit", "date"),
    "months_since": Column("Months since"),
    "primary_doctor": Column("Primary doctor", "text"),
    "primary_doctor_id": Column("Primary doctor id", "text"),
    "primary_doctor_name": Column("Primary doctor", "text"),
    "last_service": Column("Last service", "text"),
    "p_alive": Column(
        "Still a patient, %",
        "percent",
        "The forecast's chance, from their visits so far, that they have not left for good.",
    ),
    "expected_value": Column(
        "Expected value, {symbol}",
        "money",
        "The revenue the forecast expects from them over its longest horizon: the chance "
        "they are still a patient times what they would then bring.",
    ),
    "listed": Column("On the list then"),
    "came_back": Column("Came back since"),
    "came_back_share": Column("Came back, %", "percent"),
    "revenue_since": Column("Revenue since, {symbol}", "money"),
    # budget
    "weeks": Column("Weeks"),
    "verdict": Column(
        "Curve", "text", "fitted, or why the data cannot tell how leads answer to spend"
    ),
    "elasticity": Column(
        "Elasticity",
        "decimal",
        "A budget 10% larger brings this × 10% more leads; below 1, each new rouble brings "
        "fewer calls. Pooled across channels where one alone is thin.",
    ),
    "elasticity_low": Column("Elasticity, {mass} low", "decimal"),
    "elasticity_high": Column("Elasticity, {mass} high", "decimal"),
    "current_weekly_spend": Column("Spend a week now, {symbol}", "money"),
    "current_weekly_leads": Column("Leads a week now", "decimal"),
    "marginal_cost_per_lead": Column(
        "Cost of the next lead, {symbol}",
        "money",
        "What one more lead a week costs at today's spend: cost per lead ÷ elasticity.",
    ),
    "marginal_cost_per_lead_low": Column("Cost of the next lead, {mass} low, {symbol}", "money"),
    "marginal_cost_per_lead_high": Column("Cost of the next lead, {mass} high, {symbol}", "money"),
    "suggested_weekly_spend": Column("Suggested spend a week, {symbol}", "money"),
    "leads_gain": Column("Leads a week gained", "decimal"),
    # forecast
    "revenue_to_date_per_patient": Column("Paid to date per patient, {symbol}", "money"),
    "forecast_per_patient": Column("Forecast per patient, {symbol}", "money"),
    "value_per_patient": Column(
        "Value per patient, {symbol}",
        "money",
        "Paid up to the forecast's cut-off plus the forecast over its longest horizon from "
        "there, per patient known by the cut-off.",
    ),
    "value_per_patient_low": Column("Value per patient, {mass} low, {symbol}", "money"),
    "value_per_patient_high": Column("Value per patient, {mass} high, {symbol}", "money"),
    "ltv_to_cac": Column(
        "Value ÷ cost", "decimal", "Value per patient ÷ cost per primary patient."
    ),
    "ltv_to_cac_low": Column("Value ÷ cost, low", "decimal"),
    "ltv_to_cac_high": Column("Value ÷ cost, high", "decimal"),
    "paid_back_share": Column(
        "Spend paid back, %", "percent", "Of the spend, the share in weeks already paid back."
    ),
    "median_payback_weeks": Column(
        "Weeks to pay back (median)", "decimal", "Over the weeks already paid back."
    ),
    "pays_back_within_weeks": Column(
        "Pays back within, weeks (forecast)",
        help="0: already paid back; empty: not within the forecast's longest horizon.",
    ),
    "name": Column("Name", "text"),
    "patients": Column("Patients", help="Primary patients whose future is forecast."),
    "p_alive_mean": Column(
        "Still patients, %",
        "percent",
        "The mean chance, from each patient's visits so far, that they have not left for good.",
    ),
    "visits": Column("Visit days expected", "decimal"),
    "visits_low": Column("Visit days, {mass} low", "decimal"),
    "visits_high": Column("Visit days, {mass} high", "decimal"),
    "revenue": Column("Revenue expected, {symbol}", "money"),
    "revenue_low": Column("Revenue, {mass} low, {symbol}", "money"),
    "revenue_high": Column("Revenue, {mass} high, {symbol}", "money"),
    "revenue_per_patient": Column("Value per patient, {symbol}", "money"),
    "revenue_per_patient_low": Column("Value per patient, {mass} low, {symbol}", "money"),
    "revenue_per_patient_high": Column("Value per patient, {mass} high, {symbol}", "money"),
    "too_thin": Column("Too few patients to tell", "flag"),
    "actual_visits": Column("Visit days, actual"),
    "actual_revenue": Column("Revenue, actual, {symbol}", "money"),
    "visits_error": Column("Visits: forecast off by, %", "percent"),
    "revenue_error": Column("Revenue: forecast off by, %", "percent"),
    "visits_covered": Column("Visits within the range", "flag"),
    "revenue_covered": Column("Revenue within the range", "flag"),
    # data quality
    "share": Column("Share, %", "percent"),
    "source": Column("Source", "text"),
    "configured": Column("Configured", "flag", "Its account and secret are in the settings."),
    "last_day_pulled": Column("Pulled up to", "date"),
    "last_data_day": Column("Last day with data", "date"),
    "pulled_at": Column("Last pull (UTC)", "text"),
    "days_old": Column("Days since data"),
    "freshness_days": Column("Limit, days"),
    "stale": Column("Stale", "flag", "Older than its limit, or never any data: unknown."),
}

LAZY_ABOVE = 1_000
"""A table longer than this sends the browser only the rows on screen, and the rest as the
reader scrolls or sorts (Streamlit's lazy loading), not the whole list on every visit: a
reactivation list of 100,000 patients is megabytes. Its download still holds every row."""

FORMATS = {
    "count": "%,.0f",
    "money": "%,.0f",
    "percent": "%.1f",
    "points": "%.1f",
    "score": "%.2f",
    "decimal": "%.2f",
}


def context(info: Mapping[str, object]) -> dict[str, str]:
    """What labels may name, from the build's settings (mart_build_info)."""
    return {
        "symbol": symbol(str(info["currency"])),
        "mass": f"{float(info['credible_mass']):.0%}",  # type: ignore[arg-type]
        "horizon": str(info["clv_horizon_days"]),
        "window": str(info["attribution_window_days"]),
    }


def column(name: str, dtype: pl.DataType) -> Column:
    """The column's label and kind; one not listed reads as its name in words, a count if
    it holds whole numbers, two decimals if fractions."""
    if name in COLUMNS:
        return COLUMNS[name]
    kind = "count" if dtype.is_integer() else "decimal" if dtype.is_numeric() else "text"
    return Column(name.replace("_", " ").capitalize(), kind)


def for_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimals as floats and rates ×100, the values the cells show."""
    frame = to_float(frame)
    percent = [c for c, t in frame.schema.items() if column(c, t).kind == "percent"]
    return frame.with_columns(pl.col(percent).cast(pl.Float64) * 100)


def labelled(frame: pl.DataFrame, info: Mapping[str, object]) -> pl.DataFrame:
    """The frame as shown, with the headers in words: what a download holds."""
    words = context(info)
    shown = for_display(frame)
    return shown.rename({c: column(c, t).label.format(**words) for c, t in shown.schema.items()})


def show(
    frame: pl.DataFrame,
    info: Mapping[str, object],
    *,
    download: str | None = None,
    download_label: str = "Download this table (CSV)",
) -> None:
    """`frame` as a table: headers in words, one format per kind, empty for missing; with
    `download` (a file name), a button for the same table as CSV, written when clicked
    (not on every run of the page)."""
    words = context(info)
    config: dict[str, object] = {}
    for name, dtype in frame.schema.items():
        spec = column(name, dtype)
        label, help_text = spec.label.format(**words), spec.help.format(**words) or None
        if spec.kind in FORMATS:
            config[name] = st.column_config.NumberColumn(
                label, format=FORMATS[spec.kind], help=help_text
            )
        elif spec.kind == "flag":
            config[name] = st.column_config.CheckboxColumn(label, help=help_text)
        elif spec.kind == "date":
            config[name] = st.column_config.DatetimeColumn(
                label, format="DD.MM.YYYY", help=help_text
            )
        else:
            config[name] = st.column_config.Column(label, help=help_text)
    shown = for_display(frame)
    long = frame.height > LAZY_ABOVE
    st.dataframe(
        # a LazyFrame: Streamlit reads the rows on screen from it, never the whole list
        shown.lazy() if long else shown,
        hide_index=True,
        width="stretch",
        column_config=config,
        placeholder="",
        lazy=long,
    )
    if download:
        downloads.button(download_label, lambda: labelled(frame, info), download)
