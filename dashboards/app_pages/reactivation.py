"""Reactivation: lapsed patients who agreed to be contacted, the most valuable first, by
patient id only; and whether the list as it stood a while ago brought anyone back."""

import polars as pl
import streamlit as st

from dashboards import data, fmt, tables

version = data.warehouse_version()
info = data.build_info(version)
st.title("Reactivation")

patients = fmt.to_float(data.reactivation(version))
doctors = sorted(patients["primary_doctor"].drop_nulls().unique().to_list())
left, right = st.columns(2)
chosen = left.multiselect("Primary doctor", doctors, key="reactivation_doctors")
low, high = (int(patients["months_since"].min() or 0), int(patients["months_since"].max() or 0))
months = right.slider(
    "Months since the last visit",
    low,
    max(high, low + 1),
    (low, max(high, low + 1)),
    key="reactivation_months",
)
shown = patients.filter(pl.col("months_since").is_between(*months))
if chosen:
    shown = shown.filter(pl.col("primary_doctor").is_in(chosen))
st.metric("Patients to call", fmt.number(shown.height))
cutoff = info["forecast_cutoff"]
st.caption(
    "Patients are listed by their MIS id (look the contact up in the MIS), the most "
    "valuable to call first: by the revenue the forecast expects from each, their chance of "
    "still being a patient times what they would then bring"
    + (f" (as of the forecast's cut-off, {cutoff:%d %b %Y})." if cutoff else ".")
)
tables.show(
    shown,
    info,
    download="reactivation.csv",
    # the label names what the file holds, so nobody (nor a test) takes a stale button
    download_label=f"Download the list ({fmt.number(shown.height)} "
    f"{'patient' if shown.height == 1 else 'patients'}, CSV)",
)

outcome = fmt.to_float(data.reactivation_outcome(version))
total = outcome.filter(pl.col("primary_doctor_id").is_null())
if total.height and total["listed"][0]:
    row = total.row(0, named=True)
    st.subheader("Did the list bring patients back?")
    st.markdown(
        f"Of the **{fmt.number(row['listed'])}** patients on the list as it stood on "
        f"{row['list_day']:%d %b %Y}, **{fmt.number(row['came_back'])}** have had a "
        f"completed visit since, bringing {fmt.money(row['revenue_since'], info['currency'])}."
    )
    st.caption(
        f"The list is re-drawn for the day {info['reactivation_lookback_weeks']} weeks before "
        "the last data day; compare doctors, and this figure before and after a calling "
        "campaign."
    )
    tables.show(
        outcome.select(
            "primary_doctor_name",
            "listed",
            "came_back",
            "came_back_share",
            "revenue_since",
        ),
        info,
    )
