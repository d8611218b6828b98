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
BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#9e9e9e"


def _png(draw: Callable[[Figure], None]) -> bytes:
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
    """The week's cost per lead by channel; a channel of unknown spend or without leads is
    named with why it has no bar."""
    rows = channels.filter(pl.col("channel") != "No call").sort(
        "cost_per_lead", descending=False, nulls_last=False
    )

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        names = rows["channel"].to_list()
        values = rows["cost_per_lead"].to_list()
        ax.barh(names, [v or 0 for v in values], color=[BLUE if v else GREY for v in values])
        for i, (value, spend, leads) in enumerate(
            zip(values, rows["spend"].to_list(), rows["leads"].to_list(), strict=True)
        ):
            text = (
                fmt.money(value, currency)
                if value
                else "spend unknown"
                if spend is None
                else "no lead"
                if spend
                else "free"
            )
            count = f"{leads} lead" if leads == 1 else f"{leads} leads"
            ax.text(value or 0, i, f" {text} ({count})", va="center", fontsize=8)
        ax.set_title(f"Cost per lead by channel this week, {fmt.money_axis(currency)}")
        ax.title.set_fontsize(11)
        ax.tick_params(axis="y", labelsize=8)
        _thousands(ax.xaxis)
        ax.margins(x=0.35)
        ax.grid(axis="x", alpha=0.3)

    return _png(draw)
