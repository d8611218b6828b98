"""Plotly figures, one pure function each (data in, figure out), so tests can read them."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.colors import qualitative

from dashboards.fmt import money_axis

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
PALETTE = qualitative.D3


def channel_colours(channels: list[str]) -> dict[str, str]:
    """One colour per channel, the same in every chart of a page."""
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(channels))}


def cost_per_primary_trend(weekly: pl.DataFrame, currency: str) -> go.Figure:
    """One line per paid channel; weeks whose conversions can still grow are hollow and
    dotted, so nobody reads an unfinished week as a cheap or an expensive one."""
    fig = go.Figure()
    paid = weekly.filter(pl.col("spend") > 0)
    colours = channel_colours(weekly["channel"].unique().to_list())
    for channel in sorted(paid["channel"].unique().to_list()):
        colour = colours[channel]
        rows = paid.filter(pl.col("channel") == channel).sort("week_start")
        closed = rows.filter(~pl.col("window_open"))
        open_ = rows.filter(pl.col("window_open"))
        fig.add_trace(
            go.Scatter(
                x=closed["week_start"].to_list(),
                y=closed["cost_per_primary"].to_list(),
                mode="lines+markers",
                name=channel,
                legendgroup=channel,
                line={"color": colour},
                marker={"color": colour},
            )
        )
        if open_.height:
            fig.add_trace(
                go.Scatter(
                    x=open_["week_start"].to_list(),
                    y=open_["cost_per_primary"].to_list(),
                    mode="markers",
                    name=f"{channel} (window open)",
                    legendgroup=channel,
                    marker={"symbol": "circle-open", "size": 9, "color": colour},
                    showlegend=False,
                    hovertemplate="%{x|%d %b %Y}: %{y:,.0f} — incomplete, conversions still "
                    "coming<extra>" + channel + "</extra>",
                )
            )
    if weekly.filter(pl.col("window_open")).height:
        first_open = weekly.filter(pl.col("window_open"))["week_start"].min()
        fig.add_vrect(
            x0=first_open,
            x1=weekly["week_start"].max(),
            fillcolor="grey",
            opacity=0.12,
            line_width=0,
            annotation_text="window open: incomplete",
            annotation_position="top left",
        )
    fig.update_layout(
        title="Cost per primary patient, by week of the call",
        xaxis_title="Week (Monday)",
        yaxis_title=f"Cost per primary patient, {money_axis(currency)}",
        hovermode="x unified",
        legend_title="Channel",
    )
    return fig


def spend_vs_leads(weekly: pl.DataFrame, currency: str) -> go.Figure:
    """Each point a week of one channel: a flattening cloud is diminishing returns."""
    fig = go.Figure()
    paid = weekly.filter(pl.col("spend") > 0)
    colours = channel_colours(weekly["channel"].unique().to_list())
    for channel in sorted(paid["channel"].unique().to_list()):
        rows = paid.filter(pl.col("channel") == channel)
        fig.add_trace(
            go.Scatter(
                x=rows["spend"].to_list(),
                y=rows["leads"].to_list(),
                mode="markers",
                name=channel,
                marker={"color": colours[channel]},
                text=[str(w) for w in rows["week_start"].to_list()],
                hovertemplate="week %{text}<br>spend %{x:,.0f}<br>leads %{y}<extra>"
                + channel
                + "</extra>",
            )
        )
    fig.update_layout(
        title="Weekly spend against leads, per channel",
        xaxis_title=f"Spend per week, {money_axis(currency)}",
        yaxis_title="Leads per week",
        legend_title="Channel",
    )
    return fig


def admin_ranking(ranking: pl.DataFrame) -> go.Figure:
    """Shrunk conversion with its 90% interval, and the raw rate beside it."""
    rows = ranking.sort("rank", descending=True)
    labels = [
        f"{name} ({leads} leads)"
        for name, leads in zip(rows["admin_name"].to_list(), rows["leads"].to_list(), strict=True)
    ]
    shrunk = rows["conversion_shrunk"]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=(shrunk * 100).to_list(),
            y=labels,
            mode="markers",
            name="Conversion (shrunk)",
            marker={"size": 12},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": ((rows["ci_high"] - shrunk) * 100).to_list(),
                "arrayminus": ((shrunk - rows["ci_low"]) * 100).to_list(),
            },
        )
    )
    fig.add_trace(
        go.Scatter(
            x=(rows["conversion"] * 100).to_list(),
            y=labels,
            mode="markers",
            name="Raw rate",
            marker={"symbol": "x", "size": 9, "color": "grey"},
        )
    )
    fig.update_layout(
        title="Administrators: leads converted into primary patients (90% credible interval)",
        xaxis_title="Conversion, %",
        yaxis_title="Administrator",
        height=max(320, 60 * rows.height + 120),
    )
    return fig


def missed_heatmap(missed: pl.DataFrame) -> go.Figure:
    """Weekday × hour: colour is the missed rate, the hover also tells lost calls."""
    grid = missed.sort(["weekday", "hour"])
    hours = list(range(24))
    rate = [[None] * 24 for _ in range(7)]
    text = [[""] * 24 for _ in range(7)]
    for row in grid.iter_rows(named=True):
        w, h = row["weekday"] - 1, row["hour"]
        if row["missed_rate"] is not None:
            rate[w][h] = row["missed_rate"] * 100
        text[w][h] = f"{row['calls']} calls, {row['missed']} missed, {row['lost']} lost"
    fig = go.Figure(
        go.Heatmap(
            z=rate,
            x=hours,
            y=WEEKDAYS,
            text=text,
            colorscale="Reds",
            colorbar={"title": "Missed, %"},
            hovertemplate="%{y} %{x}:00 — missed %{z:.1f}%<br>%{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Missed calls by hour of the week (clinic time)",
        xaxis_title="Hour of day",
        yaxis_title="Weekday",
        yaxis_autorange="reversed",
    )
    return fig


def doctor_scatter(clv: pl.DataFrame, x_column: str, currency: str, horizon_days: int) -> go.Figure:
    """CLV against satisfaction; quadrant lines at the medians. High CLV with unhappy
    patients (top left: above the CLV median, left of the satisfaction median) is the
    over-treatment warning."""
    rows = clv.filter(pl.col("clv_365").is_not_null() & pl.col(x_column).is_not_null())
    x_label = "NPS, points" if x_column == "nps" else "Mean survey score, 0–10"
    sizes = rows["primary_patients"].cast(pl.Float64)
    scale = 50 / max(float(sizes.max() or 1), 1.0)
    hover = [
        f"<b>{r['doctor_name']}</b><br>primary patients {r['primary_patients']}<br>"
        f"CLV to date {r['clv_to_date']:,.0f}<br>CLV {horizon_days} d {r['clv_365']:,.0f} "
        f"({r['clv_365_patients']} mature)<br>repeat visits {r['repeat_visits_per_primary']:.2f}"
        f"<br>return rate {(r['return_rate'] or 0) * 100:.1f}%<br>surveys {r['surveys']}, "
        f"mean {r['score_mean']:.2f}, NPS {r['nps']:.1f}"
        for r in rows.iter_rows(named=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=rows[x_column].to_list(),
            y=rows["clv_365"].to_list(),
            mode="markers+text",
            text=rows["doctor_name"].to_list(),
            textposition="top center",
            marker={"size": (sizes * scale + 10).to_list(), "opacity": 0.7},
            hovertext=hover,
            hoverinfo="text",
            name="Doctors",
        )
    )
    if rows.height:
        fig.add_vline(x=float(rows[x_column].median()), line_dash="dash", line_color="grey")
        fig.add_hline(y=float(rows["clv_365"].median()), line_dash="dash", line_color="grey")
    fig.update_layout(
        title=f"Doctors: {horizon_days}-day value of their primary patients against satisfaction",
        xaxis_title=x_label,
        yaxis_title=f"CLV over {horizon_days} days, {money_axis(currency)}",
        showlegend=False,
    )
    return fig
