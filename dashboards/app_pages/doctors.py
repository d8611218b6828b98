"""Doctors: the value of the patients they first saw, against those patients' satisfaction."""

import polars as pl
import streamlit as st

from dashboards import charts, data, fmt, tables

version = data.warehouse_version()
info = data.build_info(version)
words = tables.context(info)
horizon, mass = info["clv_horizon_days"], words["mass"]
st.title("Doctors")

clv = fmt.to_float(data.doctor_clv(version))
st.caption(
    f"Each doctor's primary patients (first visit with them): their mean revenue in the first "
    f"{horizon} days, against the NPS of the doctor's own visits. Bars are {mass} ranges; "
    "dashed lines the clinic's medians. A doctor is marked red in the shaded corner (high "
    "value, unhappy patients: check for over-treatment before rewarding the revenue) only "
    "when both ranges sit clear of the medians. Hollow: too few patients or surveys to tell."
)
st.plotly_chart(charts.doctor_scatter(clv, info["currency"], horizon, mass), width="content")

flagged = clv.filter(pl.col("valuable_but_unhappy"))["doctor_name"].to_list()
if flagged:
    st.warning(
        "Valuable but unhappy patients, clear of noise: " + ", ".join(flagged) + ".",
        icon=":material/report:",
    )
thin = clv.filter(pl.col("thin_patients") | pl.col("thin_surveys"))
if thin.height:
    st.info(
        f"Too thin to tell (fewer than {info['min_mature_patients']} patients seen "
        f"{horizon}+ days ago, or fewer than {info['min_surveys']} surveys): "
        + ", ".join(thin["doctor_name"].to_list())
        + ". Their ranges are wide; read their figures as provisional.",
        icon=":material/hourglass_empty:",
    )

tables.show(
    clv.select(
        "doctor_name",
        "primary_patients",
        "clv_365",
        "clv_365_low",
        "clv_365_high",
        "clv_365_median",
        "clv_365_patients",
        "clv_to_date",
        "clv_to_date_low",
        "clv_to_date_high",
        "repeat_visits_per_primary",
        "return_rate",
        "surveys",
        "nps",
        "nps_low",
        "nps_high",
        "score_mean",
        "thin_patients",
        "thin_surveys",
    ),
    info,
    download="doctors.csv",
)

st.subheader("Revenue of first visits and of later ones")
st.caption(
    "Completed revenue of the primary patients' first visits against all their later "
    "visits (with any doctor), to the last data day: a doctor whose patients come back "
    "earns the clinic most of their value after the first visit."
)
st.plotly_chart(
    charts.revenue_split(clv, "doctor_name", info["currency"], "doctor"), width="stretch"
)
