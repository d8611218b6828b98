"""Hand-written clinics for the tests: headers, one-row inputs, and a tiny clinic built by
the same model graph as every build (`pipelines.models.graph.build_all`)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipelines.ingest import staging
from pipelines.ingest.entities import ENTITIES, Entity
from pipelines.models.graph import build_all
from pipelines.settings import load_settings
from pipelines.warehouse import prepare_session

SECRET = "test-secret-not-for-production"

OPTIONAL_EXTRAS = {"vendor_lead_flag", "provider_kind", "free", "grain"}
"""Columns the hand-written fixtures leave out, as most exports do."""
HEADERS = {
    e.name: ",".join(c for c in e.columns if c not in OPTIONAL_EXTRAS)
    for e in ENTITIES
    if not e.single_file
}


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def minimal_input(root: Path) -> Path:
    """The smallest complete input folder: one row per entity, all valid."""
    write(root / "channels.csv", "source,medium,campaign,channel\nyandex,cpc,*,Yandex Direct\n")
    rows = {
        "calls": "C1,2025-03-03 10:00:00,+7 916 123-45-67,+7 495 100-00-01,yandex,cpc,brand,"
        "true,95,5,A1,B1,",
        "ad_spend": "2025-03-03,yandex,cpc,brand,1000.00,RUB,20,600",
        "patients": "P1,8 916 1234567,F,01.02.1990,2025-03-03 09:00:00,да",
        "visits": "V1,P1,D1,B1,2025-03-05 11:00:00,Консультация,completed,2500",
        "doctors": "D1,Анна Смирнова,therapist,B1",
        "administrators": "A1,Ирина Иванова,B1,ivanova",
        "surveys": "V1,9,2025-03-06 12:00:00",
    }
    for entity, row in rows.items():
        write(root / entity / f"{entity}.csv", f"{HEADERS[entity]}\n{row}\n")
    return root


TINY_CHANNEL_RULES = [
    ("yandex", "cpc", "*", "Yandex Direct", ""),
    ("google", "cpc", "brand*", "Google Brand", ""),
    ("google", "cpc", "*", "Google Ads", ""),
    ("*", "organic", "", "SEO", "yes"),  # organic search costs nothing: declared free
]
TINY_DOCTORS = [("D1", "Анна Смирнова", "therapist", "B1"), ("D2", "Игорь Волков", "surgeon", "B1")]
TINY_ADMINISTRATORS = [
    ("A1", "Ирина Иванова", "B1", "ivanova;I.Ivanova@clinic.ru"),
    ("A2", "Наталья Петрова", "B1", ""),
]


def phone(n: int) -> str:
    """A valid Russian mobile number, distinct per n, written as trackers write it."""
    return f"+7 916 {n:03d}-00-00"


def call(
    call_id: str,
    started_at: str,
    caller: str,
    *,
    source: str = "yandex",
    medium: str = "cpc",
    campaign: str = "brand",
    answered: bool = True,
    duration: int = 60,
    admin: str = "A1",
) -> tuple:
    return (
        call_id,
        started_at,
        caller,
        "",
        source,
        medium,
        campaign,
        "true" if answered else "false",
        duration if answered else 0,
        5,
        admin if answered else "",
        "B1",
        "",
    )


def visit(
    visit_id: str,
    patient_id: str,
    at: str,
    amount: int = 1000,
    *,
    doctor: str = "D1",
    status: str = "completed",
) -> tuple:
    return (visit_id, patient_id, doctor, "B1", at, "Консультация", status, amount)


def patient(patient_id: str, *phones: str, consent: bool = True) -> tuple:
    return (patient_id, ";".join(phones), "F", "1990-01-01", "", "да" if consent else "нет")


def build_clinic(
    root: Path,
    *,
    calls: list[tuple] = (),
    patients: list[tuple] = (),
    visits: list[tuple] = (),
    spend: list[tuple] = (),
    surveys: list[tuple] = (),
    **settings_overrides: object,
) -> duckdb.DuckDBPyConnection:
    """Write a clinic's input folder, build every model into root/build.duckdb, connect."""
    input_dir = root / "input"
    tables = {
        "calls": calls,
        "patients": patients,
        "visits": visits,
        "ad_spend": spend,
        "surveys": surveys,
        "doctors": TINY_DOCTORS,
        "administrators": TINY_ADMINISTRATORS,
    }
    for entity, rows in tables.items():
        body = "".join(",".join(str(v) for v in row) + "\n" for row in rows)
        write(input_dir / entity / f"{entity}.csv", HEADERS[entity] + "\n" + body)
    write(
        input_dir / "channels.csv",
        "source,medium,campaign,channel,free\n"
        + "".join(",".join(rule) + "\n" for rule in TINY_CHANNEL_RULES),
    )
    settings = load_settings(None, input_dir=input_dir, hash_secret=SECRET, **settings_overrides)
    conn = duckdb.connect(str(root / "build.duckdb"))
    prepare_session(conn, settings)
    build_all(conn, settings)
    return conn


def rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return conn.execute(sql).fetchall()


def returning_patients(n: int, priced: bool) -> tuple[list[tuple], list[tuple]]:
    """n patients with a first visit on consecutive days from 2025-01-06 and, for every
    other one, two returns 30 and 90 days later; priced 3,000 a visit, or left blank."""
    patients, visits = [], []
    amount = "3000" if priced else ""
    for i in range(n):
        first = date(2025, 1, 6) + timedelta(days=i)
        patients.append((f"P{i}", f"+7 916 {i:07d}", "F", "01.02.1990", f"{first} 09:00:00", "да"))
        days = (0, 30, 90) if i % 2 == 0 else (0,)
        for k, offset in enumerate(days):
            at = first + timedelta(days=offset)
            visits.append(
                (f"V{i}_{k}", f"P{i}", "D1", "B1", f"{at} 11:00:00", "Осмотр", "completed", amount)
            )
    return patients, visits


def gate_loading_visits_twice(
    conn: duckdb.DuckDBPyConnection, entity: Entity, incremental: bool = False
) -> staging.GateCounts:
    """The staging gate with a bug that loads the visits twice: for
    `pipelines.models.graph.run_staging_model`, so that the visits' unique_key check fails."""
    counts = staging.run_staging_model(conn, entity, incremental)
    if entity.name == "visits":
        conn.execute("insert into stg_mis__visits select * from stg_mis__visits")
    return counts
