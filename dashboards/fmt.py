"""How numbers read on screen: money with the deployment's currency, rates as percents."""

from __future__ import annotations

import math

import polars as pl

SYMBOLS = {"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸"}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: object, currency: str) -> str:
    """`1 234 567 ₽`: thousands separated, whole units (money is rounded only here)."""
    if _missing(value):
        return "—"
    text = f"{float(value):,.0f}".replace(",", "\u202f")
    return f"{text} {SYMBOLS.get(currency, currency)}"


def percent(value: object, digits: int = 1) -> str:
    return "—" if _missing(value) else f"{float(value) * 100:.{digits}f}%"


def number(value: object, digits: int = 0) -> str:
    return "—" if _missing(value) else f"{float(value):,.{digits}f}".replace(",", "\u202f")


def money_axis(currency: str) -> str:
    return f"{SYMBOLS.get(currency, currency)} ({currency})"


def column_config(currency: str, money_columns: list[str], percent_columns: list[str]) -> dict:
    """st.dataframe column formats: money with separators and the currency, rates as %."""
    import streamlit as st  # noqa: PLC0415  (fmt is also used by pure chart code)

    symbol = SYMBOLS.get(currency, currency)
    config: dict = {
        c: st.column_config.NumberColumn(c, format=f"%,.0f {symbol}") for c in money_columns
    }
    config |= {c: st.column_config.NumberColumn(c, format="percent") for c in percent_columns}
    return config


def to_float(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimals as floats, for charts and number columns (display only)."""
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))
