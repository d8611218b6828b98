"""The digest's charts as PNG images, for an e-mail, a PDF and a Telegram photo.

Drawn with Matplotlib (Agg, no screen, no browser): the dashboard's Plotly figures would
need Kaleido and a Chrome on the server at send time, and a mail client shows images, not
scripts. Each chart has a title with its unit, and a week whose figure is unknown (no
spend export) is a gap, never a zero.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from dashboards import fmt

SIZE = (7.2, 3.0)
DPI = 120
BLUE, ORANGE, RED = "#1f77b4", "#ff7f0e", "#d62728"


def _png(draw: Callable[[Figure], None]) -> bytes:
    """The figure `draw` fills, as PNG bytes. Text is text: a channel named "Promo $5 off
    $10" must not be read as a formula (Matplotlib's mathtext, which fails on "$\\frac{1$")."""
    with plt.rc_context({"text.parse_math": False}):
        return _drawn(draw)


def _drawn(draw: Callable[[Figure], None]) -> bytes:
    figure = plt.figure(figsize=SIZE, dpi=DPI)
    try:
        draw(figure)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(figure)


def _thousands(axis: object) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))  # type: ignore[attr-defined]


def patients_per_week(weekly: pl.DataFrame) -> bytes:
    """Leads and primary patients per week: is the funnel filling?"""

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        labels = [f"{d:%d.%m}" for d in weekly["week_start"]]
        x = range(len(labels))
        ax.bar([i - 0.2 for i in x], weekly["leads"].to_list(), 0.4, label="Leads", color=BLUE)
        ax.bar(
            [i + 0.2 for i in x],
            weekly["primary_patients"].to_list(),
            0.4,
            label="Primary patients",
            color=ORANGE,
        )
        ax.set_xticks(list(x), labels, fontsize=8)
        ax.set_title("Leads and primary patients per week (count)", fontsize=11)
        ax.set_xlabel("Week starting (dd.mm); recent weeks are still converting", fontsize=8)
        _thousands(ax.yaxis)
        ax.set_ylim(0, max([1, *weekly["leads"].to_list()]) * 1.3)
        ax.legend(fontsize=8, frameon=False, loc="upper left", ncols=2)
        ax.grid(axis="y", alpha=0.3)

    return _png(draw)


def cost_per_week(weekly: pl.DataFrame, currency: str) -> bytes:
    """Cost per lead and per primary patient per week; a week of unknown spend is a gap."""

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        labels = [f"{d:%d.%m}" for d in weekly["week_start"]]
        x = list(range(len(labels)))
        for column, name, colour in (
            ("cost_per_lead", "Cost per lead", BLUE),
            ("cost_per_primary", "Cost per primary patient", ORANGE),
        ):
            values = [float("nan") if v is None else v for v in weekly[column].to_list()]
            ax.plot(x, values, marker="o", label=name, color=colour)
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_title(f"Cost per lead and per primary patient, {fmt.money_axis(currency)}")
        ax.title.set_fontsize(11)
        ax.set_xlabel("Week starting (dd.mm); recent weeks are still converting", fontsize=8)
        _thousands(ax.yaxis)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8, frameon=False, loc="best")
        ax.grid(axis="y", alpha=0.3)

    return _png(draw)


def channel_costs(channels: pl.DataFrame, currency: str) -> bytes:
    """The week's cost per lead by channel, the dearest on top; above them, in red, a
    channel that spent and brought no lead (its bar is its spend: the next lead costs at
    least that); at the foot, free channels and those whose spend is unknown, named so."""
    spent_for_nothing = (pl.col("leads") == 0) & (pl.col("spend") > 0)
    rows = (
        channels.filter(pl.col("channel") != "No call")
        .with_columns(
            order=pl.when(spent_for_nothing)
            .then(pl.col("spend") + 1e12)
            .otherwise(pl.col("cost_per_lead").fill_null(-1))
        )
        .sort("order")
    )

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        names = rows["channel"].to_list()
        cells = zip(rows["cost_per_lead"], rows["spend"], rows["leads"], strict=True)
        for i, (value, spend, leads) in enumerate(cells):
            if spend and not leads:
                length, colour, text = spend, RED, f" {fmt.money(spend, currency)} spent, no lead"
            else:
                shown = (
                    fmt.money(value, currency)
                    if value
                    else "spend unknown"
                    if spend is None
                    else "free"
                )
                length, colour = value or 0, BLUE
                text = f" {shown} ({fmt.counted(leads, 'lead')})"
            ax.barh(i, length, color=colour)
            ax.text(length, i, text, va="center", fontsize=8, color=colour)
        ax.set_yticks(range(len(names)), names)
        ax.set_title(f"Cost per lead by channel this week, {fmt.money_axis(currency)}")
        ax.title.set_fontsize(11)
        ax.tick_params(axis="y", labelsize=8)
        _thousands(ax.xaxis)
        ax.margins(x=0.35)
        ax.grid(axis="x", alpha=0.3)

    return _png(draw)
