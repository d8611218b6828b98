"""Overview: this week against the previous one and the mean of the weeks before it."""

import polars as pl
import streamlit as st

from dashboards import data, fmt, tables
from pipelines.digest.week import comparison, monday

version = data.warehouse_version()
info = data.build_info(version)
currency = info["currency"]
average_weeks = data.settings().digest.average_weeks
st.title("Overview")

weeks = data.weekly_totals(version)
this_week = monday(info["as_of"])
st.caption(
    f"Week of {this_week:%d %b %Y} (the week of the last data day, {info['as_of']:%d %b}) "
    f"against the week before and the average of the {average_weeks} weeks before it. Cost "
    "per primary and ROMI count patients from that week's calls (recent weeks are still "
    "converting)."
)

figures = comparison(weeks, this_week, average_weeks)
columns = st.columns(5)
table = []
for index, row in enumerate(figures.iter_rows(named=True)):
    now, before = row["this_week"], row["previous_week"]
    delta = None if now is None or before is None else now - before
    with columns[index % 5]:
        st.metric(
            row["figure"],
            fmt.value(row["kind"], now, currency),
            delta=None
            if delta is None
            else f"{fmt.value(row['kind'], delta, currency)} vs previous week",
            delta_color="inverse" if row["lower_is_better"] else "normal",
        )
    table.append(
        {
            "figure": row["figure"],
            "this week": fmt.value(row["kind"], now, currency),
            "previous week": fmt.value(row["kind"], before, currency),
            f"{average_weeks}-week average": fmt.value(row["kind"], row["average"], currency),
        }
    )
tables.show(pl.DataFrame(table), info)
current = weeks.filter(pl.col("week_start") == this_week)
unknown = current["unknown_spend"][0] if current.height else None
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
