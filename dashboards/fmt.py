"""How numbers read on screen: money with the deployment's currency, rates as percents.

One format everywhere: thousands separated by commas, money in whole units, as the tables
show them (dashboards/tables.py uses the same printf patterns).
"""

from __future__ import annotations

import math

import polars as pl

SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸"}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency, currency)


def money(value: object, currency: str) -> str:
    """`1,234,567 ₽`: thousands separated, whole units (money is rounded only here)."""
    if _missing(value):
        return "—"
    return f"{float(value):,.0f} {symbol(currency)}"


def percent(value: object, digits: int = 1) -> str:
    return "—" if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def number(value: object, digits: int = 0) -> str:
    return "—" if _missing(value) else f"{float(value):,.{digits}f}"


def counted(count: int, noun: str) -> str:
    """`1 lead`, `2 leads`, `1,204 leads`."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def interval(low: object, high: object, digits: int = 0) -> str:
    """`1,200 to 3,400`; an interval with a low end and no high end has no upper bound
    (the data cannot bound it); with neither, it is unknown."""
    if _missing(low):
        return "unknown"
    return (
        f"{number(low, digits)} to {'no upper bound' if _missing(high) else number(high, digits)}"
    )


def value(kind: str, figure: object, currency: str) -> str:
    """A figure by its kind: `money`, `percent`, else a whole number."""
    if kind == "money":
        return money(figure, currency)
    if kind == "percent":
        return percent(figure)
    return number(figure)


def money_axis(currency: str) -> str:
    return f"{symbol(currency)} ({currency})"


def to_float(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimals as floats, for charts and number columns (display only)."""
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))
