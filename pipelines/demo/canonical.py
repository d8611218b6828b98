"""The simulated clinic written as the canonical input folder, with every messy case.

Phones in every common Russian form, administrators reported by id, name, login or e-mail,
overlapping monthly exports (timestamps written differently in the overlap), corrected
visits re-exported later, a spend row in dollars and a handful of broken rows that must
land in quarantine.

How a fact is written (which phone form, which alias, a campaign, a service, the daily
noise on weekly spend) is drawn here from the simulation's generator, after the
simulation, in a fixed order: calls, spend, patients, visits. Reordering the writers
changes the files.

The rows come from the spool (pipelines/demo/spool.py) a month at a time (patients a
cohort at a time) and are formatted and written in pieces of PIECE_ROWS, so memory does
not grow with the scale. Each choice is still drawn for all rows before the next, as one
whole-array draw would have it (pipelines/demo/draws.py): how the files are chunked never
shows in them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.demo.cast import (
    BRANCHES,
    DEMO_ADMINISTRATORS,
    DEMO_CHANNEL_RULES,
    DEMO_CHANNELS,
    DEMO_DOCTORS,
    SERVICES,
    START,
    WEEKS,
)
from pipelines.demo.draws import Draw, chunked_draws
from pipelines.demo.simulation import VISIT_STATUSES, WeeklySpend, normalised
from pipelines.demo.spool import CALL_ROWS, PATIENT_ROWS, SURVEY_ROWS, VISIT_ROWS, Spool
from pipelines.ingest.entities import (
    AD_SPEND,
    ADMINISTRATORS,
    CALLS,
    CHANNEL_RULES,
    DOCTORS,
    PATIENTS,
    SURVEYS,
    VISITS,
)
from pipelines.settings import Settings


@dataclass(frozen=True)
class Written:
    """What the canonical folder holds, for the one-line summary."""

    calls: int
    patients: int
    visits: int
    spend_rows: int


def write_canonical(
    spend: tuple[WeeklySpend, ...],
    spool: Spool,
    rng: np.random.Generator,
    out: Path,
    settings: Settings,
) -> Written:
    """Write the spend and the spooled rows into the (prepared, empty) entity folders."""
    n_calls = _write_calls(spool, rng, out / CALLS.name, settings.timezone)
    n_spend = _write_spend(spend, rng, out / AD_SPEND.name, settings.currency)
    n_patients = _write_patients(spool, rng, out / PATIENTS.name)
    n_visits = _write_visits(spool, rng, out / VISITS.name)
    _write_reference(out)
    _write_surveys(spool, out / SURVEYS.name)
    return Written(n_calls, n_patients, n_visits, n_spend)


_CALL_DRAWS: tuple[Draw, ...] = (
    lambda g, n: g.random(n) < 0.5,  # a withheld number written "anonymous", else left empty
    lambda g, n: g.choice(3, n, p=[0.5, 0.25, 0.25]),  # an administrator by id, name, login
    lambda g, n: g.integers(0, 3, n),  # which of the channel's campaigns
    lambda g, n: g.integers(0, 7, n),  # the caller's phone form
    lambda g, n: g.random(n) < 0.3,  # an answered call tagged "первичный"
)
_TRACKING_PHONES = [f"+7 495 100-{i:02d}-{b}0" for i in range(len(DEMO_CHANNELS)) for b in (1, 2)]
"""The number each channel rings in each branch: [channel * 2 + branch]."""
_CAMPAIGNS = [c.campaigns[j % len(c.campaigns)] for c in DEMO_CHANNELS for j in range(3)]
"""A channel's campaigns, the first again where it has fewer than three: [channel * 3 + pick]."""
_ADMIN_TEXT = [
    *(a.id for a in DEMO_ADMINISTRATORS),
    *(a.name for a in DEMO_ADMINISTRATORS),
    *(a.aliases[-1] for a in DEMO_ADMINISTRATORS),
    "",
]
"""An administrator as the tracker reports them, [form * 6 + administrator]; "" for none."""


def _write_calls(spool: Spool, rng: np.random.Generator, folder: Path, timezone: str) -> int:
    """Monthly exports, each re-pulling the previous month's last two days."""
    months = spool.parts(CALL_ROWS)
    draws = chunked_draws(rng, _CALL_DRAWS, _piece_sizes(months.values()))
    tail, first_id = None, 1  # the previous month's last two days
    for i, month in enumerate(months):
        calls = spool.read(CALL_ROWS, month)
        cut = calls["t"].max() - timedelta(days=2)
        last_days = []
        with _Export(folder / f"calls_{month}.csv") as export:
            if tail is not None:  # the export re-pulls the last two days of the previous month
                export.write(_call_export(tail, i, timezone))
            for piece in _pieces(calls):
                frame = _call_rows(piece, next(draws), first_id)
                export.write(_call_export(frame, i, timezone))
                last_days.append(frame.filter(pl.col("t") > cut))
                first_id += frame.height
            if i == 3:
                export.write(_broken_calls(export.head))
        tail = pl.concat(last_days)
    return first_id - 1


def _call_export(frame: pl.DataFrame, i: int, timezone: str) -> pl.DataFrame:
    """Calls as the i-th monthly export writes them: every other one with the clinic's UTC
    offset, not naive."""
    return frame.with_columns(
        started_at=pl.col("t").dt.replace_time_zone(timezone).dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
        if i % 2 == 0
        else pl.col("t").dt.strftime("%Y-%m-%d %H:%M:%S")
    ).select("call_id", "started_at", *[c for c in frame.columns if c not in ("call_id", "t")])


def _call_rows(calls: pl.DataFrame, forms: list[np.ndarray], first_id: int) -> pl.DataFrame:
    """Calls (in time order) as the tracker writes them, ids from `first_id`."""
    anonymous, admin_form, campaign, phone_form, tagged = forms
    channel, branch = calls["channel"].to_numpy(), calls["branch"].to_numpy()
    admin, duration = calls["admin"].to_numpy(), calls["duration"].to_numpy()
    admin_text = np.where(admin >= 0, admin_form * len(DEMO_ADMINISTRATORS) + admin, -1)
    frame = pl.DataFrame(
        {
            "call_id": _ids("CT", np.arange(first_id, first_id + calls.height), 8),
            "t": calls["t"],
            "caller_phone": _phone_forms(calls["phone"].cast(pl.String), phone_form),
            "tracking_phone": _pick(_TRACKING_PHONES, channel * 2 + branch),
            "source": _pick([c.source for c in DEMO_CHANNELS], channel),
            "medium": _pick([c.medium for c in DEMO_CHANNELS], channel),
            "campaign": _pick(_CAMPAIGNS, channel * 3 + campaign),
            "answered": _pick(["false", "true"], calls["answered"].to_numpy()),
            "duration_s": calls["duration"],
            "wait_s": calls["wait"],
            "admin_id": _pick(_ADMIN_TEXT, admin_text),
            "branch_id": _pick(BRANCHES, branch),
            "tags": _pick(["", "первичный", "пропущенный"], np.where(duration > 0, tagged, 2)),
        }
    )
    return frame.with_columns(
        caller_phone=pl.when(calls["phone"] < 0)
        .then(_pick(["", "anonymous"], anonymous))
        .otherwise(pl.col("caller_phone"))
    )


def _write_spend(
    spend: tuple[WeeklySpend, ...], rng: np.random.Generator, folder: Path, currency: str
) -> int:
    """Daily spend per campaign in quarterly files; returns the number of rows."""
    frames = []
    days = np.arange(WEEKS * 7)
    for channel_spend in spend:
        ch = channel_spend.channel
        daily = np.repeat(channel_spend.cost / 7, 7) * rng.uniform(0.8, 1.2, len(days))
        shares = (
            normalised(range(len(ch.campaigns), 0, -1))
            if len(ch.campaigns) > 1
            else np.array([1.0])
        )
        for camp, share in zip(ch.campaigns, shares, strict=True):
            cost = np.round(daily * share, 2)
            cpc = 45 if ch.medium == "cpc" else 0
            clicks = (cost / cpc).astype(int) if cpc else np.zeros(len(days), int)
            frames.append(
                pl.DataFrame(
                    {
                        "date": [(START + timedelta(days=int(d))).isoformat() for d in days],
                        "source": ch.source,
                        "medium": ch.medium,
                        "campaign": camp,
                        "cost": cost,
                        "currency": currency,
                        "clicks": clicks,
                        "impressions": clicks * 30,
                    }
                ).filter(pl.col("cost") > 0)
            )
    rows = pl.concat(frames).with_columns(
        quarter=pl.col("date").str.slice(0, 4)
        + "-Q"
        + ((pl.col("date").str.slice(5, 2).cast(pl.Int32) - 1) // 3 + 1).cast(pl.String)
    )
    for i, quarter in enumerate(rows["quarter"].unique().sort().to_list()):
        part = (
            rows.filter(pl.col("quarter") == quarter)
            .drop("quarter")
            .with_columns(pl.col("cost").cast(pl.String))
        )
        if i == 1:  # a spend row in dollars and one with a bad amount
            extra = part.head(2).with_columns(
                campaign=pl.Series(["usd_test", "typo_row"]),
                currency=pl.Series(["USD", currency]),
                cost=pl.Series(["120.00", "12O0"]),
            )
            part = pl.concat([part, extra])
        part.write_csv(folder / f"spend_{quarter}.csv")
    return rows.height


_PATIENT_DRAWS: tuple[Draw, ...] = (
    lambda g, n: g.integers(0, 7, n),  # the phone form
    lambda g, n: g.integers(2010, 2021, n),  # a child's year of birth
    lambda g, n: g.integers(1950, 2005, n),  # an adult's
    lambda g, n: g.choice(["F", "M", "ж", "м"], n, p=[0.45, 0.35, 0.12, 0.08]),
    lambda g, n: g.integers(1, 13, n),  # month of birth
    lambda g, n: g.integers(1, 29, n),  # day of birth
)


def _write_patients(spool: Spool, rng: np.random.Generator, folder: Path) -> int:
    """One file, written piece by piece; returns the number of patients."""
    cohorts = spool.parts(PATIENT_ROWS)
    draws = chunked_draws(rng, _PATIENT_DRAWS, _piece_sizes(cohorts.values()))
    first_id = 1
    with _Export(folder / "patients.csv") as export:
        for cohort in cohorts:
            for piece in _pieces(spool.read(PATIENT_ROWS, cohort)):
                export.write(_patient_rows(piece, next(draws), first_id))
                first_id += piece.height
    return first_id - 1


def _patient_rows(patients: pl.DataFrame, forms: list[np.ndarray], first_id: int) -> pl.DataFrame:
    phone_form, child_year, adult_year, sex, birth_month, birth_day = forms
    n = patients.height
    phones = _phone_forms(patients["phone"].cast(pl.String), phone_form)
    land = _phone_forms(patients["landline"].cast(pl.String), np.full(n, 4))
    phone = pl.when(patients["landline"] >= 0).then(phones + "; " + land).otherwise(phones)
    birth = np.where(patients["child"].to_numpy(), child_year, adult_year)
    frame = pl.DataFrame(
        {
            "patient_id": _ids("P", np.arange(first_id, first_id + n), 7),
            "registered_at": patients["registered"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "sex": sex,
            "birth_date": pl.select(
                pl.date(birth, birth_month, birth_day).dt.strftime("%d.%m.%Y")
            ).to_series(),
            "contact_consent": _pick(["нет", "да"], patients["consent"].to_numpy()),
        }
    ).with_columns(phone=phone)
    return frame.select(
        "patient_id", "phone", "sex", "birth_date", "registered_at", "contact_consent"
    )


_VISIT_DRAWS: tuple[Draw, ...] = (lambda g, n: g.integers(0, 3, n),)  # which service
_SERVICES = [s[j % len(s)] for s in (SERVICES[d.specialty] for d in DEMO_DOCTORS) for j in range(3)]
"""A doctor's services, the first again where there are fewer than three: [doctor * 3 + pick]."""


def _write_visits(spool: Spool, rng: np.random.Generator, folder: Path) -> int:
    """Monthly exports overlapping by a day, with corrections re-exported the month after."""
    months = spool.parts(VISIT_ROWS)
    draws = chunked_draws(rng, _VISIT_DRAWS, _piece_sizes(months.values()))
    tail = fixed = None  # the previous month's last day, and three of its visits corrected
    for i, (month, visits) in enumerate(_visit_months(spool)):
        cut = visits["t"].max() - timedelta(days=1)
        last_day, completed = [], []
        with _Export(folder / f"visits_{month}.csv") as export:
            if tail is not None:  # overlap: the last day of the previous month again, as it was
                export.write(_visit_export(tail, i))
            for piece in _pieces(visits):
                frame = _visit_rows(piece, *next(draws))
                export.write(_visit_export(frame, i))
                last_day.append(frame.filter(pl.col("t") > cut))
                completed.append(frame.filter(pl.col("status") == "completed").head(3))
            if fixed is not None:  # and a correction: earlier visits with a new amount
                export.write(_visit_export(fixed, i))
            if i == 5:
                export.write(_broken_visits(export.head))
        tail = pl.concat(last_day)
        fixed = (
            pl.concat(completed)
            .head(3)
            .with_columns(amount=(pl.col("amount").cast(pl.Int64) + 500).cast(pl.String))
        )
    return spool.total(VISIT_ROWS)


def _visit_export(frame: pl.DataFrame, i: int) -> pl.DataFrame:
    """Visits as the i-th monthly export writes them: every third one with dd.mm.yyyy."""
    visit_at = pl.col("visit_at")
    if i % 3 == 1:
        visit_at = visit_at.str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S").dt.strftime(
            "%d.%m.%Y %H:%M:%S"
        )
    return frame.select(VISITS.columns).with_columns(visit_at)


def _visit_months(spool: Spool) -> Iterator[tuple[str, pl.DataFrame]]:
    """Each month's visits in time order, numbered on from the months before (`id`)."""
    first_id = 1
    for month, rows in spool.parts(VISIT_ROWS).items():
        visits = spool.read(VISIT_ROWS, month)
        yield month, visits.with_columns(id=pl.int_range(first_id, first_id + rows))
        first_id += rows


def _visit_rows(visits: pl.DataFrame, service: np.ndarray) -> pl.DataFrame:
    doctor = visits["doctor"].to_numpy()
    frame = pl.DataFrame(
        {
            "visit_id": _ids("V", visits["id"].to_numpy(), 8),
            "patient_id": _ids("P", visits["patient"].to_numpy() + 1, 7),
            "doctor_id": _pick([d.id for d in DEMO_DOCTORS], doctor),
            "branch_id": _pick([d.branch for d in DEMO_DOCTORS], doctor),
            "t": visits["t"],
            "service": _pick(_SERVICES, doctor * 3 + service),
            "status": _pick(VISIT_STATUSES, visits["status"].to_numpy()),
            "amount": visits["amount"],
        }
    )
    return frame.with_columns(
        visit_at=pl.col("t").dt.strftime("%Y-%m-%d %H:%M:%S"),
        amount=pl.col("amount").cast(pl.Int64).cast(pl.String),
    )


def _write_reference(out: Path) -> None:
    """The cast: doctors (an Excel sheet), administrators and the channel rules."""
    pl.DataFrame(
        [(d.id, d.name, d.specialty, d.branch) for d in DEMO_DOCTORS],
        schema=["doctor_id", "name", "specialty", "branch_id"],
        orient="row",
    ).write_excel(out / DOCTORS.name / "doctors.xlsx", autofit=True)
    pl.DataFrame(
        [(a.id, a.name, a.branch, ";".join(a.aliases)) for a in DEMO_ADMINISTRATORS],
        schema=["admin_id", "name", "branch_id", "aliases"],
        orient="row",
    ).write_csv(out / ADMINISTRATORS.name / "administrators.csv")
    free = {c.name for c in DEMO_CHANNELS if not c.weekly_spend}  # organic and direct calls
    pl.DataFrame(
        [
            (r.source, r.medium, r.campaign, r.channel, "yes" if r.channel in free else "")
            for r in DEMO_CHANNEL_RULES
        ],
        schema=["source", "medium", "campaign", "channel", "free"],
        orient="row",
    ).write_csv(out / CHANNEL_RULES.location)


def _write_surveys(spool: Spool, folder: Path) -> None:
    """One file, in the order of the visits answered, written month of visit by month."""
    surveyed = spool.parts(SURVEY_ROWS)
    with (folder / "surveys.csv").open("wb") as file:
        for i, (month, visits) in enumerate(_visit_months(spool)):
            surveys = (
                spool.read(SURVEY_ROWS, month)
                .join(visits.select("seq", "id"), left_on="visit", right_on="seq")
                .sort("id")
                if month in surveyed
                else pl.DataFrame(schema={"id": pl.Int64, "score": pl.Int64, "t": pl.Datetime})
            )
            pl.DataFrame(
                {
                    "visit_id": _ids("V", surveys["id"].to_numpy(), 8),
                    "score": surveys["score"],
                    "answered_at": surveys["t"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                }
            ).write_csv(file, include_header=i == 0)


PIECE_ROWS = 100_000
"""Rows formatted at a time: a month of a large demo is written in pieces, so memory holds
one piece of text whatever the scale; the files are the same whatever the piece size."""


def _pieces(frame: pl.DataFrame) -> list[pl.DataFrame]:
    """`frame` in slices of PIECE_ROWS (none for an empty frame), as `_piece_sizes` counts."""
    return [frame.slice(start, PIECE_ROWS) for start in range(0, frame.height, PIECE_ROWS)]


def _piece_sizes(parts: Iterable[int]) -> list[int]:
    """The rows of each piece of parts of these sizes, in order: the chunks of the draws."""
    return [min(PIECE_ROWS, rows - start) for rows in parts for start in range(0, rows, PIECE_ROWS)]


class _Export:
    """One export file, written piece by piece: the header before the first piece, and the
    first rows kept (`head`), which the planted broken rows copy."""

    HEAD = 4

    def __init__(self, path: Path) -> None:
        self.path = path
        self.head: pl.DataFrame | None = None

    def __enter__(self) -> _Export:
        self.file = self.path.open("wb")
        return self

    def __exit__(self, *_: object) -> None:
        self.file.close()

    def write(self, frame: pl.DataFrame) -> None:
        frame.write_csv(self.file, include_header=self.head is None)
        if self.head is None:
            self.head = frame.head(self.HEAD)
        elif self.head.height < self.HEAD:
            self.head = pl.concat([self.head, frame.head(self.HEAD)]).head(self.HEAD)


def _phone_forms(national: pl.Series, form: np.ndarray) -> pl.Series:
    """A 10-digit national number written the ways Russian clinics and trackers write it."""
    s = pl.DataFrame({"n": national, "f": form})
    a, b, c, d = (
        pl.col("n").str.slice(0, 3),
        pl.col("n").str.slice(3, 3),
        pl.col("n").str.slice(6, 2),
        pl.col("n").str.slice(8, 2),
    )
    forms = [
        pl.concat_str([pl.lit("+7 ("), a, pl.lit(") "), b, pl.lit("-"), c, pl.lit("-"), d]),
        pl.concat_str([pl.lit("8 "), a, pl.lit(" "), b, c, d]),
        pl.col("n"),
        pl.concat_str([pl.lit("+7"), pl.col("n")]),
        pl.concat_str([pl.lit("8 ("), a, pl.lit(") "), b, pl.lit("-"), c, pl.lit("-"), d]),
        pl.concat_str([pl.lit("7 "), a, pl.lit(" "), b, pl.lit(" "), c, pl.lit(" "), d]),
        pl.concat_str([pl.lit("8"), pl.col("n")]),
    ]
    expr = pl.when(pl.col("f") == 0).then(forms[0])
    for i, f in enumerate(forms[1:], start=1):
        expr = expr.when(pl.col("f") == i).then(f)
    return s.select(expr.alias("phone"))["phone"]


def _broken_calls(sample: pl.DataFrame) -> pl.DataFrame:
    """Rows any real export contains now and then; each must land in quarantine."""
    base = sample.head(4).with_columns(call_id=pl.Series([f"BAD{i}" for i in range(4)]))
    return base.with_columns(
        started_at=pl.Series(
            ["31.02.2025 10:00", base["started_at"][1], base["started_at"][2], "вчера"]
        ),
        duration_s=pl.Series([45, -12, 60, 30]),
        answered=pl.Series(["true", "true", "maybe", "true"]),
    )


def _broken_visits(sample: pl.DataFrame) -> pl.DataFrame:
    """Visits with an unknown status, a text amount and a negative one: quarantined."""
    base = sample.head(3).with_columns(visit_id=pl.Series(["VBAD1", "VBAD2", "VBAD3"]))
    return base.with_columns(
        status=pl.Series(["moved", "completed", "completed"]),
        amount=pl.Series(["1500", "бесплатно", "-300"]),
    )


def _pick(values: Sequence[str], index: np.ndarray) -> pl.Series:
    """values[index] (index -1: the last), gathered by Polars: no numpy string array, whose
    every row would take the longest value's width in UTF-32."""
    return pl.Series(values, dtype=pl.String).gather(index.astype(np.int64) % len(values))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """`P0000042`-style identifiers, built column-wise."""
    digits = pl.Series(numbers).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit(prefix) + digits).to_series()
