"""Administrators: who turns calls into primary patients, ranked fairly; when calls are missed."""

import polars as pl
import streamlit as st

from dashboards import charts, data, fmt, tables

version = data.warehouse_version()
info = data.build_info(version)
mass = tables.context(info)["mass"]
st.title("Administrators")

ranking = data.admin_ranking(version)
st.info(
    "The order is by **fair conversion**, not the raw rate: each administrator's rate is "
    "pulled toward the team's by an amount that shrinks as their leads grow, with how "
    "different the team's administrators really are estimated from the data (a "
    f"hierarchical model). Five lucky calls cannot top the table. Bars are {mass} ranges; "
    "**chance of being the best** says how sure the order is.  \n"
    "**On the team's lead mix**: some administrators answer easier leads (a directory, "
    "the morning hours). This is each one's conversion had they answered the team's mix "
    "of channels, branches and hours; beside it, what the team's typical administrator "
    "converts on their own leads."
)
adjusted_for = ranking["mix_adjusted_for"].drop_nulls().first() if ranking.height else None
if adjusted_for == "":
    st.caption(
        "The lead mix: nothing to adjust for (one channel, one part of the week and one "
        "branch, or none the data can tell apart from the administrators)."
    )
elif adjusted_for is not None:
    st.caption(
        f"The lead mix covers: {adjusted_for}."
        + (
            ""
            if "branch" in adjusted_for or len(data.branches(version)) < 2
            else " Not the branch: each administrator answers one branch's calls, so a "
            "branch's own pull cannot be told apart from its administrators' skill."
        )
    )
unranked = ranking.filter(~pl.col("ranked"))
if unranked.height:
    st.caption(
        f"Not ranked, fewer than {info['admin_min_leads']} leads (too few to tell): "
        + ", ".join(
            f"{name} ({leads})" for name, leads in unranked.select("admin_name", "leads").rows()
        )
        + ". Their range is shown; their place is not."
    )
ranked = ranking.filter(pl.col("ranked"))
if ranked.height >= 2:
    likeliest = ranked.sort("p_best", descending=True).head(2).rows(named=True)
    st.caption(
        "Chance of truly being the best: "
        + ", ".join(f"{r['admin_name']} {fmt.percent(r['p_best'], 0)}" for r in likeliest)
        + (", the rest shared among the others." if ranked.height > len(likeliest) else ".")
    )
st.plotly_chart(charts.admin_ranking(ranking, mass), width="stretch")
tables.show(
    ranking.select(
        "rank",
        "admin_name",
        "leads",
        "primary_patients",
        "conversion",
        "conversion_shrunk",
        "ci_low",
        "ci_high",
        "p_best",
        "p_top3",
        "expected_conversion",
        "mix_adjusted",
        "mix_ci_low",
        "mix_ci_high",
    ),
    info,
    download="administrators.csv",
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
