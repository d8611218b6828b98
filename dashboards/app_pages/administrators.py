"""Administrators: who turns calls into primary patients, ranked fairly; when calls are missed."""

import polars as pl
import streamlit as st

from dashboards import charts, data, fmt

version = data.warehouse_version()
st.title("Administrators")

ranking = data.admin_ranking(version)
st.info(
    "The order is by **shrunk conversion**, not the raw rate: an administrator's rate is "
    "pulled toward the team's typical rate by an amount that shrinks as their leads grow "
    "(empirical-Bayes beta-binomial). Five lucky calls cannot top the table; a thousand "
    "leads speak for themselves. The bar is the 90% credible interval."
)
st.plotly_chart(charts.admin_ranking(ranking), width="stretch")
st.dataframe(
    ranking.select(
        "rank",
        "admin_name",
        "leads",
        "primary_patients",
        "conversion",
        "conversion_shrunk",
        "ci_low",
        "ci_high",
        "admin_id",
    ),
    hide_index=True,
    width="stretch",
    column_config=fmt.column_config(
        "", [], ["conversion", "conversion_shrunk", "ci_low", "ci_high"]
    ),
)

st.subheader("Missed calls")
missed = data.missed_calls(version)
totals = missed.select(pl.col("calls", "missed", "recovered", "lost").sum()).row(0, named=True)
a, b, c = st.columns(3)
a.metric(
    "Missed rate", fmt.percent(totals["missed"] / totals["calls"] if totals["calls"] else None)
)
b.metric("Recovered within 24 h", fmt.number(totals["recovered"]))
c.metric("Lost", fmt.number(totals["lost"]))
st.plotly_chart(charts.missed_heatmap(missed), width="stretch")
