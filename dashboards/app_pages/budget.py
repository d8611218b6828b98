"""Budget: how each paid channel's leads answer to its spend, what the next rouble buys,
and a shift of the same budget that the data say would bring more."""

import polars as pl
import streamlit as st

from dashboards import charts, data, fmt, tables

version = data.warehouse_version()
info = data.build_info(version)
words = tables.context(info)
mass, currency = words["mass"], info["currency"]
st.title("Budget")

response = fmt.to_float(data.spend_response(version))
curves = fmt.to_float(data.spend_curves(version))
shift = data.budget_shift(version)
fitted = response.filter(pl.col("elasticity").is_not_null())
if fitted.is_empty():
    st.info(
        "Too thin to tell: no paid channel has enough weeks of known spend that varied "
        f"(at least {info['response_min_weeks']} weeks), so no curve can be drawn.",
        icon=":material/hourglass_empty:",
    )
    st.stop()

row = shift.row(0, named=True)
st.markdown(
    f"Moving this week's budget of **{fmt.money(row['weekly_budget'], currency)}** between "
    f"the {row['channels_moved']} channels below as suggested would bring "
    f"**{row['leads_gain']:+.1f} leads a week** ({mass}: "
    f"{fmt.interval(row['leads_gain_low'], row['leads_gain_high'], 1)}), about "
    f"**{row['patients_gain']:+.1f} primary patients** a week "
    f"({mass}: {fmt.interval(row['patients_gain_low'], row['patients_gain_high'], 1)}); the "
    f"chance it brings more at all: {row['gain_probability']:.0%}."
)
st.caption(
    "Weekly leads against weekly spend per paid channel, an average week of the year (the "
    "season is taken out, from the channels that cost nothing): each new rouble brings fewer "
    "calls than the last. Each channel is moved only within the weekly spend it has "
    f"actually had. Bands and ranges are {mass}; a channel whose spend barely varied says "
    "“cannot tell” and keeps its budget."
)
st.plotly_chart(charts.spend_curves(curves, fitted, currency, mass), width="stretch")
tables.show(
    response.select(
        "channel",
        "verdict",
        "weeks",
        "elasticity",
        "elasticity_low",
        "elasticity_high",
        "current_weekly_spend",
        "current_weekly_leads",
        "marginal_cost_per_lead",
        "marginal_cost_per_lead_low",
        "marginal_cost_per_lead_high",
        "suggested_weekly_spend",
        "leads_gain",
    ),
    info,
    download="budget.csv",
)
