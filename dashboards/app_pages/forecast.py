"""Forecast: what the clinic's patients will still bring, and whether the model can be
trusted (its own test on the last weeks)."""

import polars as pl
import streamlit as st

from dashboards import charts, data, fmt, tables

version = data.warehouse_version()
info = data.build_info(version)
words = tables.context(info)
mass, currency = words["mass"], info["currency"]
st.title("Forecast")

cutoff = info["forecast_cutoff"]
known = f"by {cutoff:%d %b %Y}" if cutoff else "yet"
fitted = (
    "the forecast is fitted on complete months, up to the last one's end, and refitted when "
    "the next ends (or when a visit before then changes)"
    if info["forecast_refit"] == "monthly"
    else "the forecast is fitted up to the last data day, and refitted at every build"
)
forecast = fmt.to_float(data.clv_forecast(version))
if forecast.is_empty():
    if not data.patients_known_to_forecast(version):
        st.info(
            f"No forecast yet: {fitted}, and no patient had come {known}. The first "
            "forecast comes once a month of the clinic's visits is complete.",
            icon=":material/hourglass_empty:",
        )
    else:
        st.info(
            f"Too thin to tell: fewer than {info['forecast_min_repeaters']} patients had "
            f"come back after their first visit {known}, and a forecast from fewer would be "
            f"a guess ({fitted}).",
            icon=":material/hourglass_empty:",
        )
    st.stop()

horizons = sorted(forecast["horizon_weeks"].unique().to_list())
horizon = st.segmented_control(
    "Horizon", horizons, default=horizons[-1], format_func=lambda w: f"{w} weeks"
)
horizon = horizon or horizons[-1]
shown = forecast.filter(pl.col("horizon_weeks") == horizon)
clinic = shown.filter(pl.col("dimension") == "clinic").row(0, named=True)
revenue = (
    f"{fmt.money(clinic['revenue'], currency)} "
    f"({mass}: {fmt.interval(clinic['revenue_low'], clinic['revenue_high'])})"
    if clinic["revenue"] is not None
    else "unknown (visits with no price)"
)
st.markdown(
    f"The **{fmt.number(clinic['patients'])}** primary patients known {known} are expected "
    f"to make **{fmt.number(clinic['visits'])}** visit days in the {horizon} weeks after that "
    f"({mass}: {fmt.interval(clinic['visits_low'], clinic['visits_high'])}), paying "
    f"**{revenue}**."
)
st.caption(
    "Each patient's own history (how often they came back, how long ago they last came) "
    "in a buy-till-you-die model fitted per primary doctor: MBG/NBD for the visits (a "
    "patient may leave for good after any visit, the first included), Gamma-Gamma for what "
    f"a visit pays. Ranges are {mass}: they hold both what the model does not know about "
    f"its parameters and the luck of a few patients. Revenue is not discounted. As set, "
    f"{fitted}."
)

for dimension, noun in (("doctor", "primary doctor"), ("channel", "channel")):
    st.subheader(f"Per {noun}")
    part = shown.filter(pl.col("dimension") == dimension)
    st.plotly_chart(
        charts.forecast_per_patient(part, currency, horizon, mass, noun), width="stretch"
    )
    tables.show(
        part.select(
            "name",
            "patients",
            "p_alive_mean",
            "revenue_per_patient",
            "revenue_per_patient_low",
            "revenue_per_patient_high",
            "visits",
            "visits_low",
            "visits_high",
            "revenue",
            "revenue_low",
            "revenue_high",
            "too_thin",
        ),
        info,
        download=f"forecast_{dimension}_{horizon}w.csv",
    )

holdout = fmt.to_float(data.clv_holdout(version))
if not holdout.is_empty():
    weeks = int(holdout["holdout_weeks"][0])
    total = holdout.filter(pl.col("dimension") == "clinic").row(0, named=True)
    st.subheader(f"Its own test: the last {weeks} weeks")
    verdict = "inside" if total["visits_covered"] else "outside"
    st.markdown(
        f"Fitted on the visits up to {total['cutoff']:%d %b %Y} only, the model expected "
        f"**{fmt.number(total['visits'])}** visit days in the {weeks} weeks after "
        f"({mass}: {fmt.interval(total['visits_low'], total['visits_high'])}); the patients "
        f"made **{fmt.number(total['actual_visits'])}**, {verdict} the range"
        + (f" ({total['visits_error']:+.0%})." if total["visits_error"] is not None else ".")
    )
    st.plotly_chart(charts.holdout(holdout, weeks, mass), width="stretch")
    tables.show(
        holdout.select(
            "dimension",
            "name",
            "patients",
            "visits",
            "visits_low",
            "visits_high",
            "actual_visits",
            "visits_error",
            "visits_covered",
            "revenue",
            "revenue_low",
            "revenue_high",
            "actual_revenue",
            "revenue_error",
            "revenue_covered",
        ),
        info,
        download="forecast_test.csv",
    )
