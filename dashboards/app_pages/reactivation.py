"""Reactivation: lapsed patients who agreed to be contacted, by patient id only."""

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
st.caption("Patients are listed by their MIS id; look the contact up in the MIS.")
tables.show(
    shown,
    info,
    download="reactivation.csv",
    # the label names what the file holds, so nobody (nor a test) takes a stale button
    download_label=f"Download the list ({fmt.number(shown.height)} "
    f"{'patient' if shown.height == 1 else 'patients'}, CSV)",
)
