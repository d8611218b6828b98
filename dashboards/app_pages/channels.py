"""Channels: what each channel costs per lead and per primary patient, and what it earns."""

from datetime import timedelta

import polars as pl
import streamlit as st

from dashboards import charts, data, fmt, tables

version = data.warehouse_version()
info = data.build_info(version)
currency = info["currency"]
st.title("Channels")

as_of = info["as_of"]
last_full_day = as_of if as_of.weekday() == 6 else as_of - timedelta(days=as_of.weekday() + 1)
default_range = (last_full_day - timedelta(weeks=12) + timedelta(days=1), last_full_day)
left, right = st.columns([2, 1])
picked = left.date_input(
    "Dates (calls and spend in this range)",
    value=default_range,
    max_value=as_of,
    format="DD.MM.YYYY",
    key="channel_dates",
)
first_day, last_day = picked if isinstance(picked, tuple) and len(picked) == 2 else default_range
branch_names = ["All branches", *data.branches(version)]
branch_choice = right.selectbox("Branch", branch_names, key="channel_branch")
branch = None if branch_choice == "All branches" else branch_choice

economics = fmt.to_float(data.channel_range(version, first_day, last_day, branch))
if branch is not None:
    st.caption(
        "Ad platforms do not split spend by branch, so spend, costs and ROMI are shown for "
        "all branches only."
    )
window = info["attribution_window_days"]
open_note = (
    f" Leads of the last {window} days (the attribution window) can still convert: "
    "the figures are incomplete."
    if economics.height and economics["window_open"].any()
    else ""
)
st.caption(
    f"{first_day:%d %b %Y} – {last_day:%d %b %Y}. Leads and primary patients count in the "
    f"period of the call; revenue is what those patients have paid to {as_of:%d %b %Y}." + open_note
)
unknown = economics.filter(
    pl.col("spend").is_null() & (pl.col("channel") != "No call") & (pl.col("calls") > 0)
)["channel"].to_list()
if unknown and branch is None:
    st.warning(
        "No spend data for " + ", ".join(unknown) + " over some of these dates: their spend, "
        "costs and ROMI are unknown, not zero. Add their spend exports, or declare them "
        "free in channels.csv (`free = yes`) if they cost nothing.",
        icon=":material/money_off:",
    )
mass = tables.context(info)["mass"]
st.caption(
    f"A cost per primary patient from a handful of patients is a noisy figure: the {mass} "
    "range beside it is what the count can tell (exact Poisson limits)."
)
tables.show(
    economics.select(
        "channel",
        "spend",
        "calls",
        "leads",
        "primary_patients",
        "cost_per_lead",
        "cost_per_primary",
        "cost_per_primary_low",
        "cost_per_primary_high",
        "revenue_to_date",
        "romi",
    ).sort("spend", descending=True, nulls_last=True),
    info,
    download=f"channels_{first_day}_{last_day}.csv",
)

first_week = first_day - timedelta(days=first_day.weekday())
weekly = fmt.to_float(data.channel_weekly(version, first_week, last_day))
st.plotly_chart(charts.cost_per_primary_trend(weekly, currency, mass), width="stretch")
st.plotly_chart(charts.spend_vs_leads(weekly, currency), width="stretch")

st.subheader("First call or last call: who gets the credit")
attribution = fmt.to_float(data.channel_attribution(version, first_day, last_day, branch))
patients = int(attribution["primary_first_touch"].sum())
moved = int(attribution["switched"].sum())
st.caption(
    "The figures above credit a primary patient to the channel of their first target call "
    "(their lead: the contract's rule). Crediting the last target call before the first "
    f"visit (within {window} days) instead moves **{fmt.number(moved)} of "
    f"{fmt.number(patients)}** primary patients of these dates to another channel. A channel "
    "that gains under the last call is where callers come back to book; one that loses is "
    "where they first heard of the clinic."
)
tables.show(
    attribution.select(
        "channel",
        "primary_first_touch",
        "primary_last_touch",
        "switched",
        "revenue_first_visit",
        "revenue_repeat",
    ).sort("primary_first_touch", descending=True),
    info,
    download=f"attribution_{first_day}_{last_day}.csv",
)
st.plotly_chart(charts.first_vs_last_touch(attribution), width="stretch")
st.plotly_chart(
    charts.revenue_split(attribution, "channel", currency, "channel (first call)"),
    width="stretch",
)

st.subheader("Does a new patient pay back what it cost?")
ltv = fmt.to_float(data.channel_ltv(version))
paid = ltv.filter(pl.col("cost_per_primary") > 0)
if paid.is_empty():
    st.info("No channel with a known, paid spend: nothing to weigh a patient's value against.")
else:
    weeks = paid["forecast_weeks"].drop_nulls()
    horizon = int(weeks[0]) if len(weeks) else None
    forecast_words = (
        f"plus the revenue the forecast expects from them over the {horizon} weeks after "
        "its cut-off (value per patient: what the patients known by then paid up to it, "
        "plus the forecast)"
        if horizon
        else "(no forecast: too few returning patients)"
    )
    st.caption(
        "All the data, every channel whose spend is known: what a primary patient cost, "
        f"against what the patients it brought have paid to date {forecast_words}. Ranges "
        f"are {mass} on each side; the ratio's range joins their ends. Payback: a week's "
        "spend has paid back once the patients its leads converted have paid as much "
        "(realised); the forecast says within how many weeks the whole spend will be "
        "(predicted, 0 = already)."
    )
    st.plotly_chart(charts.value_against_cost(paid, currency, mass), width="stretch")
    tables.show(
        paid.select(
            "channel",
            "spend",
            "primary_patients",
            "cost_per_primary",
            "revenue_to_date_per_patient",
            "forecast_per_patient",
            "value_per_patient",
            "value_per_patient_low",
            "value_per_patient_high",
            "ltv_to_cac",
            "ltv_to_cac_low",
            "ltv_to_cac_high",
            "paid_back_share",
            "median_payback_weeks",
            "pays_back_within_weeks",
        ),
        info,
        download="channel_value_against_cost.csv",
    )
