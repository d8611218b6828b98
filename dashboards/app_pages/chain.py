"""Chain: the clinics side by side, from chain.duckdb (pipelines/chain/view.py)."""

import duckdb
import polars as pl
import streamlit as st

from dashboards import charts, data, fmt, tables

st.title("Chain")
version = data.chain_version()
if version is None:
    st.info(
        f"No chain view in `{data.chain_out()}` yet. Build it with "
        "`clinic-analytics chain --root CHAIN_ROOT --out CHAIN_OUT`."
    )
    st.stop()
try:
    totals = fmt.to_float(data.chain_totals(version))
except duckdb.Error:
    st.info("The chain view holds no clinic's figures yet: rebuild it once a clinic has built.")
    st.stop()
info = data.build_info(data.warehouse_version())

st.caption(
    "Each clinic over all its data, from its first day to its last data day, from its last "
    "good build. Spend, costs and ROMI count the channels whose spend is known (the others "
    "are named under *Unknown spend*); cost per primary and ROMI count patients from calls."
)
for row in totals.filter(pl.col("status") != "built").iter_rows(named=True):
    if row["status"] == "failed" and row["last_good_build_at"] is not None:
        st.warning(
            f"**{row['clinic']}**: the last build failed ({row['last_attempt']}). Its figures "
            f"are from its last good build, {row['last_good_build_at']:%d %b %Y %H:%M} UTC."
        )
    else:
        st.warning(f"**{row['clinic']}**: no figures yet ({row['last_attempt'] or 'not built'}).")
currencies = sorted(c for c in totals["currency"].unique().to_list() if c is not None)
if len(currencies) > 1:
    st.warning(
        f"The clinics report in different currencies ({', '.join(currencies)}): money is in "
        "each clinic's own currency, the headers name the selected clinic's."
    )

SHOWN = [
    "clinic",
    "status",
    "first_day",
    "as_of",
    "spend",
    "calls",
    "leads",
    "primary_patients",
    "cost_per_lead",
    "cost_per_primary",
    "romi",
    "missed_rate",
    "unknown_spend",
]
tables.show(totals.select(SHOWN), info, download="chain-clinics.csv")


for currency in currencies:
    rows = totals.filter(pl.col("currency") == currency)
    st.plotly_chart(charts.cost_per_primary_by_clinic(rows, currency), width="stretch")
    unpriced = rows.filter(pl.col("cost_per_primary").is_null())["clinic"].to_list()
    if unpriced:
        st.caption(
            f"No cost per primary patient for {', '.join(unpriced)}: no spend data, no "
            "primary patients, or no figures yet."
        )
