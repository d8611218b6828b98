"""The simulated clinic written as the canonical input folder, with every messy case.

Phones in every common Russian form, administrators reported by id, name, login or e-mail,
overlapping monthly exports (timestamps written differently in the overlap), corrected
visits re-exported later, a spend row in dollars and a handful of broken rows that must
land in quarantine.

How a fact is written (which phone form, which alias, a campaign, a service, the daily
noise on weekly spend) is drawn here from the simulation's generator, after the
simulation, in a fixed order: calls, spend, patients, visits. Reordering the writers
changes the files.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
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
from pipelines.demo.simulation import (
    VISIT_STATUSES,
    CallBatch,
    Patients,
    Simulation,
    Surveys,
    Visits,
    WeeklySpend,
    normalised,
)
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
    sim: Simulation, rng: np.random.Generator, out: Path, settings: Settings
) -> Written:
    """Write `sim` into the (prepared, empty) entity folders under `out`."""
    n_calls = _write_calls(sim.calls, rng, out / CALLS.name, settings.timezone)
    n_spend = _write_spend(sim.spend, rng, out / AD_SPEND.name, settings.currency)
    _write_patients(sim.patients, rng, out / PATIENTS.name)
    _write_visits(sim.visits, rng, out / VISITS.name)
    _write_reference(out)
    _write_surveys(sim.surveys, out / SURVEYS.name)
    return Written(n_calls, sim.patients.n, sim.visits.n, n_spend)


def _write_calls(
    batches: tuple[CallBatch, ...], rng: np.random.Generator, folder: Path, timezone: str
) -> int:
    """Monthly exports, each re-pulling the previous month's last two days."""
    parts = {
        f.name: np.concatenate([getattr(batch, f.name) for batch in batches])
        for f in fields(CallBatch)
    }
    order = np.argsort(parts["t"], kind="stable")
    parts = {k: v[order] for k, v in parts.items()}
    n = len(order)
    phone = pl.Series(parts["phone"]).cast(pl.String)
    hidden_form = np.where(rng.random(n) < 0.5, "anonymous", "")
    admin = parts["admin"]
    admin_form = rng.choice(3, n, p=[0.5, 0.25, 0.25])
    admin_text = np.array(
        [
            [a.id for a in DEMO_ADMINISTRATORS],
            [a.name for a in DEMO_ADMINISTRATORS],
            [a.aliases[-1] for a in DEMO_ADMINISTRATORS],
        ]
    )
    admin_col = np.where(admin >= 0, admin_text[admin_form, np.maximum(admin, 0)], "")
    ch = DEMO_CHANNELS
    camp_pick = rng.integers(0, 3, n)
    frame = pl.DataFrame(
        {
            "call_id": _ids("CT", np.arange(1, n + 1), 8),
            "t": parts["t"].astype("datetime64[ms]"),
            "caller_phone": _phone_forms(phone, rng.integers(0, 7, n)),
            "tracking_phone": np.array(
                [f"+7 495 100-{i:02d}-{b}0" for i in range(len(ch)) for b in (1, 2)]
            )[parts["channel"] * 2 + parts["branch"]],
            "source": np.array([c.source for c in ch])[parts["channel"]],
            "medium": np.array([c.medium for c in ch])[parts["channel"]],
            "campaign": np.array(
                [[c.campaigns[j % len(c.campaigns)] for j in range(3)] for c in ch]
            )[parts["channel"], camp_pick],
            "answered": np.where(parts["answered"], "true", "false"),
            "duration_s": parts["duration"],
            "wait_s": parts["wait"],
            "admin_id": admin_col,
            "branch_id": np.array(BRANCHES)[parts["branch"]],
            "tags": np.where(
                parts["duration"] > 0,
                np.where(rng.random(n) < 0.3, "первичный", ""),
                "пропущенный",
            ),
        }
    ).with_columns(
        caller_phone=pl.when(pl.Series(parts["phone"]) < 0)
        .then(pl.Series(hidden_form))
        .otherwise(pl.col("caller_phone"))
    )
    frame = frame.with_columns(month=pl.col("t").dt.strftime("%Y-%m"))
    months = frame["month"].unique().sort().to_list()
    for i, month in enumerate(months):
        part = frame.filter(pl.col("month") == month)
        if i > 0:  # the export re-pulls the last two days of the previous month
            prev = frame.filter(pl.col("month") == months[i - 1])
            cut = prev["t"].max() - timedelta(days=2)
            part = pl.concat([prev.filter(pl.col("t") > cut), part])
        # every other export writes times with the clinic's UTC offset, not naive
        out = part.with_columns(
            started_at=pl.col("t")
            .dt.replace_time_zone(timezone)
            .dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
            if i % 2 == 0
            else pl.col("t").dt.strftime("%Y-%m-%d %H:%M:%S")
        ).select(
            "call_id",
            "started_at",
            *[c for c in frame.columns if c not in ("call_id", "t", "month")],
        )
        if i == 3:
            out = pl.concat([out, _broken_calls(out)])
        out.write_csv(folder / f"calls_{month}.csv")
    return n


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


def _write_patients(patients: Patients, rng: np.random.Generator, folder: Path) -> None:
    n = patients.n
    phones = _phone_forms(pl.Series(patients.phone).cast(pl.String), rng.integers(0, 7, n))
    landline = pl.Series(patients.landline).cast(pl.String)
    land = _phone_forms(landline, np.full(n, 4))
    phone = pl.when(pl.Series(patients.landline) >= 0).then(phones + "; " + land).otherwise(phones)
    birth = np.where(patients.child, rng.integers(2010, 2021, n), rng.integers(1950, 2005, n))
    frame = pl.DataFrame(
        {
            "patient_id": _ids("P", np.arange(1, n + 1), 7),
            "registered_at": patients.registered.astype("datetime64[ms]"),
            "sex": rng.choice(["F", "M", "ж", "м"], n, p=[0.45, 0.35, 0.12, 0.08]),
            "birth_date": pl.select(
                pl.date(birth, rng.integers(1, 13, n), rng.integers(1, 29, n)).dt.strftime(
                    "%d.%m.%Y"
                )
            ).to_series(),
            "contact_consent": np.where(patients.consent, "да", "нет"),
        }
    ).with_columns(phone=phone)
    frame = frame.with_columns(
        registered_at=pl.col("registered_at").dt.strftime("%Y-%m-%d %H:%M:%S")
    )
    frame.select(
        "patient_id", "phone", "sex", "birth_date", "registered_at", "contact_consent"
    ).write_csv(folder / "patients.csv")


def _write_visits(visits: Visits, rng: np.random.Generator, folder: Path) -> None:
    """Monthly exports overlapping by a day, with corrections re-exported the month after."""
    spec = np.array([d.specialty for d in DEMO_DOCTORS])[visits.doctor]
    service = np.array(
        [
            SERVICES[s][j % len(SERVICES[s])]
            for s, j in zip(spec, rng.integers(0, 3, visits.n), strict=True)
        ]
    )
    frame = pl.DataFrame(
        {
            "visit_id": _ids("V", np.arange(1, visits.n + 1), 8),
            "patient_id": _ids("P", visits.patient + 1, 7),
            "doctor_id": np.array([d.id for d in DEMO_DOCTORS])[visits.doctor],
            "branch_id": np.array([d.branch for d in DEMO_DOCTORS])[visits.doctor],
            "t": visits.t.astype("datetime64[ms]"),
            "service": service,
            "status": np.array(VISIT_STATUSES)[visits.status],
            "amount": visits.amount,
        }
    )
    frame = frame.with_columns(
        visit_at=pl.col("t").dt.strftime("%Y-%m-%d %H:%M:%S"),
        month=pl.col("t").dt.strftime("%Y-%m"),
        amount=pl.col("amount").cast(pl.Int64).cast(pl.String),
    )
    months = frame["month"].unique().sort().to_list()
    for i, month in enumerate(months):
        part = frame.filter(pl.col("month") == month)
        if i > 0:  # overlap: the last day of the previous month again, as it was
            prev = frame.filter(pl.col("month") == months[i - 1])
            part = pl.concat([prev.filter(pl.col("t") > prev["t"].max() - timedelta(days=1)), part])
            # and a correction: three earlier visits re-exported with a new amount
            fixed = (
                prev.filter(pl.col("status") == "completed")
                .head(3)
                .with_columns(amount=(pl.col("amount").cast(pl.Int64) + 500).cast(pl.String))
            )
            part = pl.concat([part, fixed])
        out = part.select(VISITS.columns).with_columns(
            pl.when(pl.lit(i % 3 == 1))
            .then(
                pl.col("visit_at")
                .str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S")
                .dt.strftime("%d.%m.%Y %H:%M:%S")
            )
            .otherwise(pl.col("visit_at"))
            .alias("visit_at")
        )
        if i == 5:
            out = pl.concat([out, _broken_visits(out)])
        out.write_csv(folder / f"visits_{month}.csv")


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


def _write_surveys(surveys: Surveys, folder: Path) -> None:
    frame = pl.DataFrame(
        {
            "visit_id": _ids("V", surveys.visit + 1, 8),
            "score": surveys.score,
            "answered_at": surveys.t.astype("datetime64[ms]"),
        }
    )
    answered_at = pl.col("answered_at").dt.strftime("%Y-%m-%d %H:%M:%S")
    frame.with_columns(answered_at=answered_at).write_csv(folder / "surveys.csv")


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


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """`P0000042`-style identifiers, built column-wise."""
    digits = pl.Series(numbers).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit(prefix) + digits).to_series()
