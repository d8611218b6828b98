"""Overview: this week against the previous one and the 8-week average."""

from datetime import timedelta

import polars as pl
import streamlit as st

from dashboards import data, fmt, tables

version = data.warehouse_version()
info = data.build_info(version)
currency = info["currency"]
st.title("Overview")

weeks = fmt.to_float(data.weekly_totals(version))
this_week = info["as_of"] - timedelta(days=info["as_of"].weekday())
current = weeks.filter(pl.col("week_start") == this_week)
previous = weeks.filter(pl.col("week_start") == this_week - timedelta(weeks=1))
history = weeks.filter(
    pl.col("week_start").is_between(this_week - timedelta(weeks=8), this_week - timedelta(weeks=1))
)
st.caption(
    f"Week of {this_week:%d %b %Y} (the week of the last data day, {info['as_of']:%d %b}) "
    "against the week before and the average of the 8 weeks before it. Cost per primary "
    "and ROMI count patients from that week's calls (recent weeks are still converting)."
)

FIGURES = [
    ("Spend", "spend", "money", True),
    ("Calls", "calls", "number", False),
    ("Leads", "leads", "number", False),
    ("Primary patients", "primary_patients", "number", False),
    ("Cost per lead", "cost_per_lead", "money", True),
    ("Cost per primary", "cost_per_primary", "money", True),
    ("ROMI", "romi", "percent", False),
    ("Missed rate", "missed_rate", "percent", True),
]


def value(frame: pl.DataFrame, column: str) -> float | None:
    return frame[column][0] if frame.height else None


def show(kind: str, number: float | None) -> str:
    if kind == "money":
        return fmt.money(number, currency)
    if kind == "percent":
        return fmt.percent(number)
    return fmt.number(number)


columns = st.columns(4)
table = []
for index, (label, column, kind, lower_is_better) in enumerate(FIGURES):
    now, before = value(current, column), value(previous, column)
    average = history[column].mean() if history.height else None
    delta = None if now is None or before is None else now - before
    with columns[index % 4]:
        st.metric(
            label,
            show(kind, now),
            delta=None if delta is None else f"{show(kind, delta)} vs previous week",
            delta_color="inverse" if lower_is_better else "normal",
        )
    table.append(
        {
            "figure": label,
            "this week": show(kind, now),
            "previous week": show(kind, before),
            "8-week average": show(kind, average),
        }
    )
tables.show(pl.DataFrame(table), info)
unknown = value(current, "unknown_spend")
if unknown:
    st.caption(
        f"No spend data this week for {unknown}: spend, costs and ROMI above count only the "
        "channels whose spend is known (unknown is not zero)."
    )

quarantined = int(data.load_reconciliation(version)["rows_quarantined"].sum())
st.subheader("Data")
left, right = st.columns(2)
left.markdown(
    f"Last data day **{info['as_of']:%d %b %Y}**, built **{info['built_at']:%d %b %Y %H:%M}** UTC."
)
right.markdown(f"**{fmt.number(quarantined)}** rows quarantined.")
right.page_link(
    "app_pages/data_quality.py", label="See the quarantined rows", icon=":material/rule:"
)
left.page_link("app_pages/channels.py", label="Channel economics", icon=":material/campaign:")
