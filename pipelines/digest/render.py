"""The digest as a manager reads it: tables of formatted strings, built once and then laid
out three ways (an HTML e-mail with inline charts, a PDF, a Telegram message), so every
format shows the very same figures, in the dashboard's number format and labels
(dashboards/fmt.py, dashboards/tables.py)."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import polars as pl
from fpdf import FPDF
from fpdf.fonts import FontFace

from dashboards import fmt, tables
from pipelines.digest import charts
from pipelines.digest.content import Digest


@dataclass(frozen=True)
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    """Lines under the table: what is unknown, too thin, or absent."""


@dataclass(frozen=True)
class Chart:
    name: str
    """The file name (and the e-mail's content id)."""
    title: str
    png: bytes


@dataclass(frozen=True)
class Rendered:
    symbol: str
    """The currency's sign: table cells hold numbers, their unit is in the header."""
    subject: str
    headline: str
    alerts: list[str]
    tables: list[Table]
    charts: list[Chart]
    link: str


def render(digest: Digest, dashboard_url: str) -> Rendered:
    info, currency = digest.info, digest.info["currency"]
    words = tables.context(info)
    week = f"{digest.week:%d %b} – {digest.week_end:%d %b %Y}"
    figures = Table(
        "The week",
        ["Figure", "This week", "Previous week", f"{digest.average_weeks}-week average"],
        [
            [
                row["figure"],
                fmt.value(row["kind"], row["this_week"], currency),
                fmt.value(row["kind"], row["previous_week"], currency),
                fmt.value(row["kind"], row["average"], currency),
            ]
            for row in digest.figures.iter_rows(named=True)
        ],
        [
            "Cost per primary and ROMI count the primary patients from calls (a lead called, "
            "then came), not the walk-ins; the latest weeks are still converting (leads have "
            f"{digest.info['attribution_window_days']} days to come). The average of a ratio "
            "is the mean of the weeks' ratios, as on the Overview page."
        ]
        + (
            [
                f"No spend data this week for {digest.unknown_spend}: spend, costs, ROMI and "
                "primary patients from calls count only the channels whose spend is known "
                "(unknown is not zero)."
            ]
            if digest.unknown_spend
            else []
        ),
    )
    return Rendered(
        symbol=fmt.symbol(currency),
        subject=("PARTIAL " if digest.partial else "")
        + f"Clinic week {week}: {_headline_numbers(digest)}",
        headline=f"Week of {week} (last data day {info['as_of']:%d %b %Y})"
        + (
            f": PARTIAL WEEK, no data after {info['as_of']:%a %d %b}; its figures are not "
            "comparable with whole weeks"
            if digest.partial
            else ""
        ),
        alerts=[alert.message for alert in digest.alerts],
        tables=[
            figures,
            _frame_table(
                "Channels this week",
                digest.channels,
                info,
                [
                    "Revenue is what the week's new patients have paid so far; they are still "
                    "converting. No call: new patients without a lead call in the "
                    f"{info['attribution_window_days']} days before their first visit (walk-ins,"
                    " web bookings). Free channels cost 0; ROMI counts every channel whose spend "
                    "is known, free ones included."
                ],
            ),
            _admin_table(digest, words["mass"]),
            _doctor_table(digest, words["mass"]),
            Table(
                "Reactivation",
                [],
                [],
                [
                    f"{digest.reactivation:,} lapsed patients with consent to call are on the "
                    "reactivation list (Reactivation page)."
                ],
            ),
        ],
        charts=[
            Chart(
                "patients.png",
                "Leads and primary patients per week",
                charts.patients_per_week(digest.weekly),
            ),
            Chart(
                "costs.png",
                "Cost per lead and per primary patient",
                charts.cost_per_week(digest.weekly, currency),
            ),
            Chart(
                "channels.png",
                "Cost per lead by channel",
                charts.channel_costs(digest.channels, currency),
            ),
        ],
        link=dashboard_url,
    )


def _headline_numbers(digest: Digest) -> str:
    values = {r["column"]: r for r in digest.figures.iter_rows(named=True)}
    currency = digest.info["currency"]
    spend = values["spend"]["this_week"]
    return (
        f"{fmt.number(values['primary_patients']['this_week'])} primary patients, "
        f"{fmt.number(values['leads']['this_week'])} leads"
        + ("" if spend is None else f", {fmt.money(spend, currency)} spent")
    )


DIGITS = {"decimal": 2, "score": 1, "points": 0}
"""Decimal places of the kinds `fmt.value` does not format (tables.py's FORMATS)."""


def _cell(kind: str, value: object) -> str:
    """A cell as the dashboard's tables write it: the unit is in the header (money in whole
    units, rates ×100); None is "—" (unknown is not zero)."""
    if value is None:
        return "—"
    if kind in ("text", "date"):
        return str(value)
    if kind == "flag":
        return "yes" if value else ""
    if kind == "percent":
        return fmt.number(float(value) * 100, 1)  # type: ignore[arg-type]
    return fmt.number(value, DIGITS.get(kind, 0))


def _frame_table(title: str, frame: pl.DataFrame, info: dict, notes: list[str]) -> Table:
    words = tables.context(info)
    specs = [tables.column(name, dtype) for name, dtype in frame.schema.items()]
    return Table(
        title,
        [spec.label.format(**words) for spec in specs],
        [
            [_cell(spec.kind, value) for spec, value in zip(specs, row, strict=True)]
            for row in frame.iter_rows()
        ],
        notes,
    )


def _change(now: int | None, before: int | None) -> str:
    if now is None:
        return ""
    if before is None:
        return "new"
    return "=" if now == before else f"▲{before - now}" if now < before else f"▼{now - before}"


def _admin_table(digest: Digest, mass: str) -> Table:
    admins = digest.admins
    ranked = admins.filter(pl.col("rank").is_not_null())
    unranked = admins.filter(pl.col("rank").is_null())
    rows = [
        [
            str(row["rank"]),
            _change(row["rank"], row["previous_rank"]),
            row["admin_name"],
            fmt.number(row["leads"]),
            fmt.number(row["primary_patients"]),
            fmt.percent(row["conversion"]),
            fmt.percent(row["conversion_shrunk"]),
            f"{fmt.percent(row['ci_low'])} – {fmt.percent(row['ci_high'])}",
        ]
        for row in ranked.iter_rows(named=True)
    ]
    notes = [
        f"Every lead each one answered to {digest.week_end:%d %b %Y}, not this week's alone: a "
        "week is too few leads to rank anyone. Ordered by fair conversion (pulled toward the "
        "team's rate by an amount that shrinks as leads grow), not the raw rate; the change "
        "is against the ranking a week earlier."
    ]
    if unranked.height:
        notes.append(
            "Not ranked, too few leads to tell: "
            + ", ".join(f"{n} ({k})" for n, k in unranked.select("admin_name", "leads").rows())
        )
    return Table(
        "Administrators: converting leads into primary patients",
        [
            "Place",
            "Change",
            "Administrator",
            "Leads",
            "Primary patients",
            "Conversion",
            "Fair conversion",
            f"{mass} range",
        ],
        rows,
        notes,
    )


def _doctor_table(digest: Digest, mass: str) -> Table:
    weeks = digest.satisfaction_weeks
    rows = [
        [
            row["doctor_name"],
            fmt.number(row["recent_nps"]),
            fmt.number(row["recent_surveys"]),
            fmt.number(row["earlier_nps"]),
            fmt.number(row["earlier_surveys"]),
            f"{row['change_low']:+.0f} to {row['change_high']:+.0f}",
        ]
        for row in digest.doctors.iter_rows(named=True)
    ]
    notes = (
        []
        if rows
        else [
            f"No doctor's satisfaction over the last {weeks} weeks moved beyond the {mass} "
            "range of its change: nothing to tell apart from chance."
        ]
    )
    return Table(
        "Doctors whose patients' satisfaction moved",
        [
            "Doctor",
            f"NPS, last {weeks} weeks",
            "Surveys",
            "NPS before",
            "Surveys before",
            f"Change, {mass} range (points)",
        ],
        rows,
        notes,
    )


# --- layouts -----------------------------------------------------------------------------

CSS = (
    "body{font-family:Arial,Helvetica,sans-serif;color:#222;max-width:760px}"
    "table{border-collapse:collapse;margin:4px 0 4px}"
    "th,td{border-bottom:1px solid #ddd;padding:3px 8px;font-size:13px}"
    "th{text-align:left;background:#f3f3f3}td.n{text-align:right}"
    ".alert{background:#fdecea;border-left:4px solid #d93025;padding:6px 10px;margin:4px 0}"
    ".note{color:#555;font-size:12px;margin:2px 0 12px}"
)


def to_html(rendered: Rendered, *, inline: bool) -> str:
    """The e-mail's body; charts refer to inline parts by content id (`cid:<name>`), or,
    not `inline`, to PNG files of their name beside the HTML file (a dry run)."""
    e = html.escape
    parts = [
        f"<html><head><meta charset='utf-8'><style>{CSS}</style></head><body>",
        f"<h2>{e(rendered.headline)}</h2>",
    ]
    if rendered.alerts:
        parts.append("<h3>Alerts</h3>")
        parts += [f"<div class='alert'>{e(a)}</div>" for a in rendered.alerts]
    for table in rendered.tables:
        parts.append(f"<h3>{e(table.title)}</h3>")
        if table.rows:
            right = _numeric_columns(table)
            parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in table.header))
            for row in table.rows:
                cells = zip(row, right, strict=True)
                parts.append(
                    "<tr>"
                    + "".join(f"<td{' class=n' if r else ''}>{e(c)}</td>" for c, r in cells)
                    + "</tr>"
                )
            parts.append("</table>")
        parts += [f"<p class='note'>{e(n)}</p>" for n in table.notes]
    for chart in rendered.charts:
        source = f"cid:{chart.name}" if inline else chart.name
        parts.append(f"<p><img src='{e(source)}' alt='{e(chart.title)}' width='720'></p>")
    parts.append(
        f"<p><a href='{e(rendered.link)}'>Open the dashboard</a> for any other week, "
        "branch or channel.</p></body></html>"
    )
    return "\n".join(parts)


def to_text(rendered: Rendered) -> str:
    """The plain-text alternative of the e-mail."""
    lines = [rendered.headline, ""]
    if rendered.alerts:
        lines += ["ALERTS", *(f"! {a}" for a in rendered.alerts), ""]
    for table in rendered.tables:
        lines.append(table.title.upper())
        if table.header:
            lines.append(" | ".join(table.header))
            lines += [" | ".join(row) for row in table.rows]
        lines += [*table.notes, ""]
    lines.append(f"Dashboard: {rendered.link}")
    return "\n".join(lines)


def to_telegram(rendered: Rendered) -> str:
    """Telegram's HTML subset (no tables): the week's figures and the short lists."""
    e = html.escape
    figures, channels, admins, doctors, reactivation = rendered.tables
    lines = [f"<b>{e(rendered.headline)}</b>"]
    if rendered.alerts:
        lines += ["", "<b>Alerts</b>", *(f"⚠️ {e(a)}" for a in rendered.alerts)]
    lines += ["", f"<b>{e(figures.title)}</b> (previous week; {e(figures.header[3])})"]
    lines += [f"{e(r[0])}: <b>{e(r[1])}</b> ({e(r[2])}; {e(r[3])})" for r in figures.rows]
    lines += [e(n) for n in figures.notes]
    lines += ["", f"<b>{e(channels.title)}</b>"]
    lines += [
        f"{e(r[0])}: {e(r[3])} {'lead' if r[3] == '1' else 'leads'}, {e(r[4])} primary, "
        f"cost per lead {e(r[5])}{'' if r[5] == '—' else ' ' + e(rendered.symbol)}"
        for r in channels.rows
    ]
    lines += ["", f"<b>{e(admins.title)}</b>"]
    lines += [  # a place unchanged says nothing: only a move (▲2, ▼1, new) is shown
        f"{e(r[0])}. {e(r[2])} {e(r[6])} ({e(r[7])}){'' if r[1] == '=' else ' ' + e(r[1])}"
        for r in admins.rows
    ]
    lines += ["", f"<b>{e(doctors.title)}</b>"]
    lines += [
        f"{e(r[0])}: NPS {e(r[1])} (before {e(r[3])}), change {e(r[5])}" for r in doctors.rows
    ]
    lines += [e(n) for n in doctors.notes]
    lines += [
        "",
        *(e(n) for n in reactivation.notes),
        "",
        f"<a href='{e(rendered.link)}'>Dashboard</a>",
    ]
    return "\n".join(lines)


def _font_dir() -> Path:
    """DejaVu Sans, shipped with Matplotlib: Cyrillic names need a Unicode font, and the
    PDF's core fonts are Latin-1 only."""
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def to_pdf(rendered: Rendered) -> bytes:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_font("DejaVu", "", str(_font_dir() / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(_font_dir() / "DejaVuSans-Bold.ttf"))
    pdf.set_title(rendered.subject)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 7, rendered.headline, new_x="LMARGIN", new_y="NEXT")
    if rendered.alerts:
        _pdf_heading(pdf, "Alerts")
        pdf.set_font("DejaVu", "", 9)
        pdf.set_text_color(170, 30, 30)
        for alert in rendered.alerts:
            pdf.multi_cell(0, 5, f"• {alert}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    for index, table in enumerate(rendered.tables):
        _pdf_heading(pdf, table.title)
        if table.rows:
            pdf.set_font("DejaVu", "", 7 if len(table.header) > 6 else 8)
            with pdf.table(
                headings_style=FontFace(emphasis="BOLD", fill_color=(240, 240, 240)),
                line_height=4.5,
                text_align=["RIGHT" if r else "LEFT" for r in _numeric_columns(table)],
                col_widths=_widths(table),
            ) as grid:
                for row in [table.header, *table.rows]:
                    cells = grid.row()
                    for cell in row:
                        cells.cell(_fits(cell))
        pdf.set_font("DejaVu", "", 8)
        pdf.set_text_color(90, 90, 90)
        for note in table.notes:
            pdf.multi_cell(0, 4, note, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        if index == 1:  # the charts after the week and its channels
            for chart in rendered.charts:
                if pdf.get_y() > 190:
                    pdf.add_page()
                pdf.image(io.BytesIO(chart.png), w=180)
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(0, 5, f"Dashboard: {rendered.link}", link=rendered.link)
    return bytes(pdf.output())


NUMBER = re.compile(
    r"^[-+▲▼=]?[\d,.]*\d%?( \S{1,3})?$"  # 1,584 · -100.0 · 14.9% · 63,392 ₽ · ▲2
    r"|^[—=]$|^new$"
    r"|^[-+\d,.]+% – [-+\d,.]+%$|^[-+]\d+ to [-+]\d+$"  # ranges
)
"""A cell that is a figure (a count, an amount, a rate, a place's change, a range)."""


def _numeric_columns(table: Table) -> list[bool]:
    """Columns whose every cell is a figure: right-aligned, as numbers are read."""
    return [all(NUMBER.match(row[i]) for row in table.rows) for i in range(len(table.header))]


def _widths(table: Table) -> tuple[float, ...]:
    """Columns as wide as their longest cell, a long header wrapping instead (its longest
    word counts); so a name is never broken over lines while a number has room to spare."""
    columns = zip(table.header, *table.rows, strict=True)
    return tuple(
        float(max(*map(len, header.split()), *(len(_fits(c)) for c in cells), 3))
        for header, *cells in columns
    )


PDF_CELL_CHARS = 60
"""A cell longer than this is cut with "…" in the PDF (a page has no room for a 200-letter
campaign name; the e-mail's HTML shows it whole)."""


def _fits(cell: str) -> str:
    return cell if len(cell) <= PDF_CELL_CHARS else cell[: PDF_CELL_CHARS - 1] + "…"


def _pdf_heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
