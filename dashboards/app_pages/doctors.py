"""Doctors: the value of the patients they first saw, against those patients' satisfaction."""

import streamlit as st

from dashboards import charts, data, fmt

version = data.warehouse_version()
info = data.build_info(version)
currency = info["currency"]
st.title("Doctors")

clv = fmt.to_float(data.doctor_clv(version))
axis = st.radio("Satisfaction axis", ["NPS", "Mean score"], horizontal=True, key="doctor_axis")
st.caption(
    "Top right: valuable and liked. Top left: valuable but unhappy patients — check for "
    "over-treatment before rewarding the revenue. Lines are the medians; bubble size is "
    "the number of primary patients."
)
st.plotly_chart(
    charts.doctor_scatter(
        clv, "nps" if axis == "NPS" else "score_mean", currency, info["clv_horizon_days"]
    ),
    width="stretch",
)
st.dataframe(
    clv,
    hide_index=True,
    width="stretch",
    column_config=fmt.column_config(currency, ["clv_to_date", "clv_365"], ["return_rate"]),
)
