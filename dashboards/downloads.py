"""CSV downloads that a spreadsheet opens as data, never as formulas.

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` (or
a tab or carriage return before one) as a formula, so a doctor named
`=HYPERLINK("http://…")` in the MIS would become a live link in the clinic's workbook
(OWASP "CSV Injection"). Text cells starting with any of these get a leading `'`, which
spreadsheets read as "this is text". Number columns stay numbers: -5 is a value.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import polars.selectors as cs
import streamlit as st

FORMULA_START = r"^[=+\-@\t\r]"
"""OWASP's list of characters that make a spreadsheet cell a formula."""


def neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text cell that a spreadsheet would evaluate prefixed by `'`."""
    text = cs.string(include_categorical=True)
    return frame.with_columns(
        pl.when(text.cast(pl.String).str.contains(FORMULA_START))
        .then(pl.lit("'") + text.cast(pl.String))
        .otherwise(text.cast(pl.String))
        .name.keep()
    )


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as UTF-8 CSV for `st.download_button`, safe to open in a spreadsheet."""
    return neutralised(frame).write_csv().encode()


def button(label: str, frame: Callable[[], pl.DataFrame], file_name: str) -> None:
    """A download button whose CSV is made when clicked, not on every run of the page, and
    whose click does not rerun the page: a rerun would replace the button (and the file it
    promised) while the browser is still fetching it, and under load the file was lost."""
    st.download_button(
        label,
        lambda: csv_bytes(frame()),
        file_name=file_name,
        mime="text/csv",
        on_click="ignore",
    )
