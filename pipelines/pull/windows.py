"""Days: windows cut to a vendor's limit, and the last day a page holds data for."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from pipelines.pull.landing import Window


def chunks(window: Window, days: int) -> Iterator[Window]:
    """The window in consecutive pieces of at most `days` days."""
    start = window.start
    while start <= window.end:
        end = min(window.end, start + timedelta(days=days - 1))
        yield Window(start, end)
        start = end + timedelta(days=1)


def last_day(values: Iterable[object], *formats: str, within: Window) -> date | None:
    """The latest date among `values` read with the first of `formats` that fits (the
    first ten characters of an ISO date-time are its day), counting only days `within`
    the window asked for: a record dated 2099 is the vendor's typo, not fresh data.
    None if no value is such a date."""
    latest = None
    for value in values:
        text = str(value or "").strip()
        for form in formats:
            try:
                day = datetime.strptime(text if "%H" in form else text[:10], form).date()
            except ValueError:
                continue
            if within.start <= day <= within.end:
                latest = day if latest is None else max(latest, day)
            break
    return latest
