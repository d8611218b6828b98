"""Plotly figures, one pure function each (data in, figure out), so tests can read them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.colors import qualitative

from dashboards.fmt import interval, money, money_axis, number

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
PALETTE = qualitative.D3
BAR_GREY = "rgba(90, 90, 90, 0.5)"


def channel_colours(channels: list[str]) -> dict[str, str]:
    """One colour per channel, the same in every chart of a page."""
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(channels))}


def error_bars(
    centre: list[float | None], low: list[float | None], high: list[float | None], colour: str
) -> dict:
    """Plotly error bars from an interval's ends (a missing end draws no bar)."""

    def gap(a: list[float | None], b: list[float | None]) -> list[float | None]:
        return [None if u is None or v is None else u - v for u, v in zip(a, b, strict=True)]

    return {
        "type": "data",
        "symmetric": False,
        "array": gap(high, centre),
        "arrayminus": gap(centre, low),
        "color": colour,
        "thickness": 1,
    }


def _range_bars(rows: pl.DataFrame, colour: str) -> dict:
    """Error bars from cost_per_primary_low/high (the Poisson range of a small count)."""
    return error_bars(
        rows["cost_per_primary"].to_list(),
        rows["cost_per_primary_low"].to_list(),
        rows["cost_per_primary_high"].to_list(),
        colour,
    )


def cost_per_primary_trend(weekly: pl.DataFrame, currency: str, mass: str) -> go.Figure:
    """One line per paid channel with each week's range as an error bar (two patients in a
    week are not a fact); weeks whose conversions can still grow are hollow, so nobody
    reads an unfinished week as a cheap or an expensive one."""
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
                error_y=_range_bars(closed, colour),
                customdata=closed.select("primary_patients").to_numpy(),
                hovertemplate="%{x|%d %b %Y}: %{y:,.0f} from %{customdata[0]} patients<extra>"
                + channel
                + "</extra>",
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
                    error_y=_range_bars(open_, colour),
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
    # a week with one patient has a range up to twenty times its cost: the axis follows
    # the costs themselves, and such a bar runs off the top (no upper bound worth drawing)
    top = paid["cost_per_primary"].max()
    if top is not None and top > 0:
        fig.update_yaxes(range=[0, 1.6 * float(top)])
    fig.update_layout(
        title=f"Cost per primary patient, by week of the call (bars: {mass} ranges)",
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


def admin_ranking(ranking: pl.DataFrame, mass: str) -> go.Figure:
    """Per administrator, top to bottom in rank order: the fair (shrunk) conversion with
    its interval, the conversion on the team's lead mix with its interval, and the raw
    rate. Administrators with too few leads to rank are listed last, in grey."""
    rows = ranking.sort(["rank", "leads"], descending=[False, True], nulls_last=True)
    labels = [
        f"{'#' + str(place) if place is not None else 'not ranked'} {name} ({leads} leads)"
        for place, name, leads in rows.select("rank", "admin_name", "leads").iter_rows()
    ]
    position = list(range(rows.height, 0, -1))
    fig = go.Figure()
    for offset, (column, low, high, name, colour) in zip(
        (0.15, -0.15),
        (
            ("conversion_shrunk", "ci_low", "ci_high", "Fair conversion", PALETTE[0]),
            ("mix_adjusted", "mix_ci_low", "mix_ci_high", "On the team's lead mix", PALETTE[1]),
        ),
        strict=True,
    ):
        centre = rows[column].cast(pl.Float64).fill_null(float("nan"))
        ranked = rows["ranked"].to_list()
        fig.add_trace(
            go.Scatter(
                x=(centre * 100).to_list(),
                y=[p + offset for p in position],
                mode="markers",
                name=f"{name} ({mass} range)",
                marker={
                    "size": 11,
                    "color": [colour if r else "lightgrey" for r in ranked],
                    "line": {"color": colour, "width": 1.5},
                },
                error_x=error_bars(
                    (centre * 100).to_list(),
                    (rows[low] * 100).to_list(),
                    (rows[high] * 100).to_list(),
                    colour,
                ),
                hovertemplate="%{x:.1f}%<extra>" + name + "</extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=(rows["conversion"] * 100).to_list(),
            y=position,
            mode="markers",
            name="Raw rate",
            marker={"symbol": "x", "size": 9, "color": "dimgrey"},
            hovertemplate="%{x:.1f}%<extra>raw rate</extra>",
        )
    )
    fig.update_layout(
        title=f"Administrators: leads converted into primary patients ({mass} ranges)",
        xaxis_title="Conversion, %",
        yaxis={"tickvals": position, "ticktext": labels, "title": "Administrator"},
        height=max(360, 56 * rows.height + 140),
        legend={"orientation": "h", "y": -0.15},
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


LABEL_FONT_PX = 12
CHAR_PX = 7.4
"""Width of an average character of a 12 px sans-serif label, rounded up, so an estimated
box is never narrower than the drawn one."""
LINE_PX = 18


@dataclass(frozen=True)
class Canvas:
    """A figure of fixed size and margins, so data positions map to pixels exactly."""

    width: int = 960
    height: int = 620
    left: int = 90
    right: int = 30
    top: int = 80
    bottom: int = 70

    def to_px(
        self, x: float, y: float, x_range: tuple[float, float], y_range: tuple[float, float]
    ) -> tuple[float, float]:
        """Plot-area pixels, y downward like the screen."""
        plot_w = self.width - self.left - self.right
        plot_h = self.height - self.top - self.bottom
        px = (x - x_range[0]) / (x_range[1] - x_range[0]) * plot_w
        py = (y_range[1] - y) / (y_range[1] - y_range[0]) * plot_h
        return px, py


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in plot-area pixels


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _spots(x: float, y: float, w: float, h: float, r: float) -> Iterator[Box]:
    """Label boxes around a marker at (x, y), nearest first: rings of growing distance,
    eight directions on the first rings, sixteen after, starting above, clockwise."""
    for ring in range(1, 24):
        distance = r + 4 + ring * (h * 0.9)
        steps = 8 if ring < 4 else 16
        for step in range(steps):
            angle = -np.pi / 2 + 2 * np.pi * step / steps
            cx = x + np.cos(angle) * (distance + w / 2 * abs(np.cos(angle)))
            cy = y + np.sin(angle) * distance
            yield (float(cx - w / 2), float(cy - h / 2), float(cx + w / 2), float(cy + h / 2))


def place_labels(
    points: list[tuple[float, float]],
    sizes: list[tuple[float, float]],
    radii: list[float],
    area: tuple[float, float],
    obstacles: tuple[Box, ...] = (),
    soft: tuple[Box, ...] = (),
) -> list[tuple[float, float]]:
    """Offsets (dx, dy, pixels, y downward) of one label per point. A label box never
    overlaps another label, a marker or an obstacle (a caption drawn on the plot), and
    stays inside the plot area; it keeps off `soft` boxes (error bars, median lines) when
    a spot allows. Greedy: the most crowded points first, each taking the nearest spot
    that is free. A label with no free spot among 300 keeps the farthest tried (not seen:
    the tests place 30 labels on one spot)."""
    hard = [(x - r, y - r, x + r, y + r) for (x, y), r in zip(points, radii, strict=True)]
    hard += obstacles

    def crowding(i: int) -> float:
        x, y = points[i]
        return -sum(1 / (1 + abs(x - u) + abs(y - v)) for u, v in points)

    def fits(box: Box, placed: list[Box], avoid: list[Box] | tuple[Box, ...]) -> bool:
        inside = box[0] >= 0 and box[1] >= 0 and box[2] <= area[0] and box[3] <= area[1]
        return inside and not any(overlaps(box, other) for other in (*placed, *avoid))

    placed: dict[int, Box] = {}
    for i in sorted(range(len(points)), key=crowding):
        (x, y), (w, h) = points[i], sizes[i]
        taken = list(placed.values())
        spots = list(_spots(x, y, w, h, radii[i]))
        placed[i] = next(
            (b for b in spots if fits(b, taken, [*hard, *soft])),
            next((b for b in spots if fits(b, taken, hard)), spots[-1]),
        )
    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in map(placed.get, range(len(points)))]
    return [(cx - x, cy - y) for (cx, cy), (x, y) in zip(centres, points, strict=True)]


def doctor_scatter(
    clv: pl.DataFrame, currency: str, horizon_days: int, mass: str, canvas: Canvas = Canvas()
) -> go.Figure:
    """Value of the first {horizon} days against NPS, each with its interval as error bars,
    the clinic's medians as dashed lines. A doctor is drawn red, in the shaded "valuable
    but unhappy patients" quadrant, only when both intervals sit clear of the medians
    (`valuable_but_unhappy` in the mart): noise is not read as over-treatment. Doctors with
    too few patients or surveys to tell are hollow. Labels never overlap (place_labels)."""
    rows = clv.filter(pl.col("clv_365").is_not_null() & pl.col("nps").is_not_null())
    fig = go.Figure()
    if rows.is_empty():
        fig.update_layout(title="Doctors: no doctor has both mature patients and surveys yet")
        return fig
    x = rows["nps"].to_list()
    y = rows["clv_365"].to_list()
    x_low = rows["nps_low"].fill_null(rows["nps"]).to_list()
    x_high = rows["nps_high"].fill_null(rows["nps"]).to_list()
    y_low = rows["clv_365_low"].fill_null(rows["clv_365"]).to_list()
    # an unbounded top (NULL) runs to the top of the plot
    y_top = max(rows["clv_365_high"].max() or 0.0, rows["clv_365"].max()) * 1.15
    y_high = rows["clv_365_high"].fill_null(y_top).to_list()

    def padded(low: list[float], high: list[float], share: float) -> tuple[float, float]:
        span = max(max(high) - min(low), 1e-9)
        return min(low) - share * span, max(high) + share * span

    x_range, y_range = padded(x_low, x_high, 0.12), padded(y_low, y_high, 0.12)
    x_mid, y_mid = float(rows["median_nps"][0]), float(rows["median_clv_365"][0])
    fig.add_shape(
        type="rect",
        x0=x_range[0],
        x1=x_mid,
        y0=y_mid,
        y1=y_range[1],
        fillcolor="rgba(214, 39, 40, 0.07)",
        line_width=0,
        layer="below",
    )
    caption = "valuable but unhappy patients: check for over-treatment"
    fig.add_annotation(
        x=x_range[0],
        y=y_range[1],
        xanchor="left",
        yanchor="top",
        showarrow=False,
        text=caption,
        font={"color": "rgb(214, 39, 40)", "size": LABEL_FONT_PX},
    )
    flagged = rows["valuable_but_unhappy"].to_list()
    thin = (rows["thin_patients"] | rows["thin_surveys"]).to_list()
    colour = ["rgb(214, 39, 40)" if f else PALETTE[0] for f in flagged]
    hover = [
        f"<b>{r['doctor_name']}</b><br>{horizon_days}-day value {number(r['clv_365'])} "
        f"({mass}: {interval(r['clv_365_low'], r['clv_365_high'])}), "
        f"median {number(r['clv_365_median'])}, {r['clv_365_patients']} patients<br>"
        f"NPS {number(r['nps'])} ({mass}: {interval(r['nps_low'], r['nps_high'])}), "
        f"{r['surveys']} surveys, mean score {number(r['score_mean'], 2)}"
        for r in rows.iter_rows(named=True)
    ]
    radius = 7
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="markers",
            marker={
                "size": 2 * radius,
                "color": ["white" if t else c for t, c in zip(thin, colour, strict=True)],
                "line": {"color": colour, "width": 2},
            },
            error_x=error_bars(x, x_low, x_high, BAR_GREY),
            error_y=error_bars(y, y_low, y_high, BAR_GREY),
            hovertext=hover,
            hoverinfo="text",
            name="Doctors",
        )
    )
    names = rows["doctor_name"].to_list()
    points = [canvas.to_px(a, b, x_range, y_range) for a, b in zip(x, y, strict=True)]
    sizes = [(len(n) * CHAR_PX + 6, float(LINE_PX)) for n in names]
    area = (
        canvas.width - canvas.left - canvas.right,
        canvas.height - canvas.top - canvas.bottom,
    )
    caption_box = (0.0, 0.0, len(caption) * CHAR_PX + 6, float(LINE_PX))
    bars: list[Box] = []  # error bars and the median lines: labels keep off them if they can
    for i, (px, py) in enumerate(points):
        left, top = canvas.to_px(x_low[i], y_high[i], x_range, y_range)
        right, bottom = canvas.to_px(x_high[i], y_low[i], x_range, y_range)
        bars += [(px - 3, top, px + 3, bottom), (left, py - 3, right, py + 3)]
    mid_x, mid_y = canvas.to_px(x_mid, y_mid, x_range, y_range)
    bars += [(mid_x - 2, 0.0, mid_x + 2, area[1]), (0.0, mid_y - 2, area[0], mid_y + 2)]
    offsets = place_labels(points, sizes, [radius + 1.0] * len(points), area, (caption_box, *bars))
    for name, a, b, (dx, dy) in zip(names, x, y, offsets, strict=True):
        fig.add_annotation(
            x=a,
            y=b,
            ax=dx,
            ay=dy,
            text=name,
            showarrow=True,
            arrowhead=0,
            arrowwidth=0.7,
            arrowcolor="rgba(90, 90, 90, 0.6)",
            xanchor="center",
            yanchor="middle",
            font={"size": LABEL_FONT_PX},
            name="doctor label",
        )
    fig.add_vline(x=x_mid, line_dash="dash", line_color="grey")
    fig.add_hline(y=y_mid, line_dash="dash", line_color="grey")
    fig.update_layout(
        title=f"Doctors: {horizon_days}-day value of their primary patients against NPS "
        f"({mass} ranges; dashed: the clinic's medians)",
        xaxis={"title": "NPS of the doctor's visits, points", "range": list(x_range)},
        yaxis={
            "title": f"Value per patient, first {horizon_days} days, {money_axis(currency)}",
            "range": list(y_range),
        },
        width=canvas.width,
        height=canvas.height,
        margin={"l": canvas.left, "r": canvas.right, "t": canvas.top, "b": canvas.bottom},
        autosize=False,
        showlegend=False,
    )
    return fig


def first_vs_last_touch(attribution: pl.DataFrame) -> go.Figure:
    """Primary patients per channel credited by the first call and by the last call."""
    rows = attribution.sort("primary_first_touch", descending=True)
    fig = go.Figure(
        [
            go.Bar(
                x=rows["channel"].to_list(),
                y=rows["primary_first_touch"].to_list(),
                name="First call credited (the contract's figures)",
                marker_color=PALETTE[0],
            ),
            go.Bar(
                x=rows["channel"].to_list(),
                y=rows["primary_last_touch"].to_list(),
                name="Last call credited",
                marker_color=PALETTE[1],
            ),
        ]
    )
    fig.update_layout(
        barmode="group",
        title="Primary patients per channel: first-call and last-call attribution",
        xaxis_title="Channel",
        yaxis_title="Primary patients",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def revenue_split(frame: pl.DataFrame, by: str, currency: str, noun: str) -> go.Figure:
    """Stacked bars: revenue of first visits and of later visits per `by` (a doctor or a
    channel), with the later share written on each bar."""
    rows = frame.with_columns(
        pl.col("revenue_first_visit", "revenue_repeat").cast(pl.Float64).fill_null(0)
    ).filter((pl.col("revenue_first_visit") + pl.col("revenue_repeat")) > 0)
    rows = rows.sort(pl.col("revenue_first_visit") + pl.col("revenue_repeat"), descending=True)
    total = rows["revenue_first_visit"] + rows["revenue_repeat"]
    later = [f"{share:.0%} later" for share in (rows["revenue_repeat"] / total).to_list()]
    fig = go.Figure(
        [
            go.Bar(
                x=rows[by].to_list(),
                y=rows["revenue_first_visit"].to_list(),
                name="First visits",
                marker_color=PALETTE[0],
                hovertemplate="%{x}: %{y:,.0f}<extra>first visits</extra>",
            ),
            go.Bar(
                x=rows[by].to_list(),
                y=rows["revenue_repeat"].to_list(),
                name="Later visits",
                marker_color=PALETTE[2],
                text=later,
                textposition="outside",
                hovertemplate="%{x}: %{y:,.0f}<extra>later visits</extra>",
            ),
        ]
    )
    fig.update_layout(
        barmode="stack",
        title=f"Revenue of primary patients per {noun}: first visits and later visits",
        xaxis_title=noun.capitalize(),
        yaxis_title=f"Revenue to date, {money_axis(currency)}",
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


def cost_per_primary_by_clinic(frame: pl.DataFrame, currency: str) -> go.Figure:
    """One bar per clinic: what a new patient costs each, on the same axis."""
    priced = frame.filter(pl.col("cost_per_primary").is_not_null())
    fig = go.Figure(
        go.Bar(
            x=priced["clinic"].to_list(),
            y=priced["cost_per_primary"].to_list(),
            text=[money(v, currency) for v in priced["cost_per_primary"].to_list()],
            hovertemplate="%{x}: %{text} per primary patient<extra></extra>",
        )
    )
    fig.update_layout(
        title="Cost per primary patient by clinic, all data to each clinic's last data day",
        xaxis_title="Clinic",
        yaxis_title=f"Cost per primary patient, {money_axis(currency)}",
    )
    return fig


def forecast_per_patient(
    frame: pl.DataFrame, currency: str, horizon_weeks: int, mass: str, noun: str
) -> go.Figure:
    """Predicted value per patient over the horizon, one dot per doctor or channel with its
    interval, widest first; a doctor's realised value of their first year (`clv_365`,
    when the frame holds it) as a hollow diamond beside it. A group whose revenue is
    unknown (visits with no price) has no dot."""
    rows = frame.filter(pl.col("revenue_per_patient").is_not_null()).sort("revenue_per_patient")
    names = rows["name"].to_list()
    # the forecast starts at its cut-off (the end of the last complete month), not today
    span = f"{horizon_weeks} weeks after {frame['cutoff'][0]:%d %b %Y}"
    fig = go.Figure(
        go.Scatter(
            x=rows["revenue_per_patient"].to_list(),
            y=names,
            mode="markers",
            name=f"Forecast, {span}",
            marker={"color": PALETTE[0], "size": 9},
            error_x=error_bars(
                rows["revenue_per_patient"].to_list(),
                rows["revenue_per_patient_low"].to_list(),
                rows["revenue_per_patient_high"].to_list(),
                PALETTE[0],
            ),
            customdata=[
                interval(low, high)
                for low, high in zip(
                    rows["revenue_per_patient_low"].to_list(),
                    rows["revenue_per_patient_high"].to_list(),
                    strict=True,
                )
            ],
            hovertemplate=f"%{{y}}: %{{x:,.0f}} ({mass}: %{{customdata}})<extra>forecast</extra>",
        )
    )
    if "clv_365" in rows.columns and rows["clv_365"].is_not_null().any():
        fig.add_trace(
            go.Scatter(
                x=rows["clv_365"].cast(pl.Float64).to_list(),
                y=names,
                mode="markers",
                name="Realised, first year of mature patients",
                marker={"color": PALETTE[1], "size": 9, "symbol": "diamond-open"},
                hovertemplate="%{y}: %{x:,.0f}<extra>realised</extra>",
            )
        )
    fig.update_layout(
        title=f"Predicted value per primary patient by {noun}, {span} ({mass} ranges)",
        xaxis_title=f"Revenue per patient, {money_axis(currency)}",
        yaxis_title=noun.capitalize(),
        height=max(320, 40 * len(names) + 140),
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


def holdout(frame: pl.DataFrame, weeks: int, mass: str) -> go.Figure:
    """The forecast's test per doctor: the visit days it predicted for the last `weeks`
    weeks (with its range) against the ones the patients made (a cross)."""
    rows = frame.filter(pl.col("dimension") == "doctor").sort("actual_visits")
    names = rows["name"].to_list()
    fig = go.Figure(
        [
            go.Scatter(
                x=rows["visits"].to_list(),
                y=names,
                mode="markers",
                name="Forecast",
                marker={"color": PALETTE[0], "size": 9},
                error_x=error_bars(
                    rows["visits"].to_list(),
                    rows["visits_low"].to_list(),
                    rows["visits_high"].to_list(),
                    PALETTE[0],
                ),
                hovertemplate="%{y}: %{x:,.0f}<extra>forecast</extra>",
            ),
            go.Scatter(
                x=rows["actual_visits"].to_list(),
                y=names,
                mode="markers",
                name="Actual",
                marker={"color": PALETTE[3], "size": 11, "symbol": "x-thin", "line_width": 2},
                hovertemplate="%{y}: %{x:,.0f}<extra>actual</extra>",
            ),
        ]
    )
    fig.update_layout(
        title=f"Visit days in the last {weeks} weeks: forecast without them ({mass} ranges) "
        "and actual, per primary doctor",
        xaxis_title="Visit days",
        yaxis_title="Primary doctor",
        height=max(320, 40 * len(names) + 140),
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


def value_against_cost(frame: pl.DataFrame, currency: str, mass: str) -> go.Figure:
    """Per channel with a known spend, two dots on one money axis: what a primary patient
    cost (with the range of a small count) and what they are worth (paid to date plus the
    forecast, with its range). A channel whose value dot sits right of its cost pays back."""
    rows = frame.sort("ltv_to_cac", nulls_last=False)
    names = rows["channel"].to_list()
    fig = go.Figure(
        [
            go.Scatter(
                x=rows["cost_per_primary"].to_list(),
                y=names,
                mode="markers",
                name="Cost per primary patient",
                marker={"color": PALETTE[3], "size": 10, "symbol": "diamond"},
                error_x=error_bars(
                    rows["cost_per_primary"].to_list(),
                    rows["cost_per_primary_low"].to_list(),
                    rows["cost_per_primary_high"].to_list(),
                    PALETTE[3],
                ),
                hovertemplate="%{y}: %{x:,.0f}<extra>cost per primary patient</extra>",
            ),
            go.Scatter(
                x=rows["value_per_patient"].to_list(),
                y=names,
                mode="markers",
                name="Value per patient (paid + forecast)",
                marker={"color": PALETTE[0], "size": 10},
                error_x=error_bars(
                    rows["value_per_patient"].to_list(),
                    rows["value_per_patient_low"].to_list(),
                    rows["value_per_patient_high"].to_list(),
                    PALETTE[0],
                ),
                hovertemplate="%{y}: %{x:,.0f}<extra>value per patient</extra>",
            ),
        ]
    )
    fig.update_layout(
        title=f"Cost of a primary patient against their value, by channel ({mass} ranges)",
        xaxis_title=f"Per primary patient, {money_axis(currency)}",
        yaxis_title="Channel",
        height=max(320, 40 * len(names) + 140),
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    return fig


def spend_curves(
    curves: pl.DataFrame, response: pl.DataFrame, currency: str, mass: str
) -> go.Figure:
    """Each fitted channel's weekly leads against weekly spend across the spend it has had,
    with its band; a dot at this period's spend and a ring at the suggested one."""
    fig = go.Figure()
    colours = channel_colours(response["channel"].to_list())
    for row in response.sort("channel").iter_rows(named=True):
        channel, colour = row["channel"], colours[row["channel"]]
        own = curves.filter(pl.col("channel") == channel).sort("spend")
        spend = own["spend"].to_list()
        fig.add_trace(
            go.Scatter(
                x=spend + spend[::-1],
                y=own["leads_high"].to_list() + own["leads_low"].to_list()[::-1],
                fill="toself",
                fillcolor=colour,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=channel,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=spend,
                y=own["leads"].to_list(),
                mode="lines",
                name=channel,
                line={"color": colour},
                legendgroup=channel,
                hovertemplate=f"{channel}: %{{x:,.0f}} → %{{y:.1f}} leads<extra></extra>",
            )
        )
        for key, symbol, label in (
            ("current_weekly_spend", "circle", "now"),
            ("suggested_weekly_spend", "circle-open", "suggested"),
        ):
            at = own.filter(pl.col("spend") <= row[key]).tail(1)
            if at.is_empty() or row[key] is None:
                continue
            ratio = row[key] / at["spend"][0]
            fig.add_trace(
                go.Scatter(
                    x=[row[key]],
                    y=[at["leads"][0] * ratio ** row["elasticity"]],
                    mode="markers",
                    marker={"color": colour, "size": 11, "symbol": symbol, "line_width": 2},
                    legendgroup=channel,
                    showlegend=False,
                    hovertemplate=f"{channel} {label}: %{{x:,.0f}} → %{{y:.1f}} leads"
                    "<extra></extra>",
                )
            )
    fig.update_layout(
        title=f"Weekly leads against weekly spend, by channel ({mass} bands; dot: now, "
        "ring: suggested)",
        xaxis_title=f"Spend a week, {money_axis(currency)}",
        yaxis_title="Leads a week",
        xaxis_type="log",
    )
    return fig
