"""Shared fixtures: settings in a temp folder, tiny hand-written input folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.entities import ENTITIES
from pipelines.settings import Settings, load_settings
from pipelines.warehouse import connect

SECRET = "test-secret-not-for-production"

HEADERS = {e.name: ",".join(e.columns) for e in ENTITIES if not e.single_file}


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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        input_dir=tmp_path / "input",
        warehouse_path=tmp_path / "out" / "warehouse.duckdb",
        hash_secret=SECRET,
        hash_secret_file=tmp_path / "no-such-secret",
    )


@pytest.fixture
def conn(tmp_path: Path, settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    with connect(tmp_path / "build.duckdb", settings) as connection:
        yield connection


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's CLINIC_* variables or settings file leak into a test."""
    for name in list(os.environ):
        if name.startswith("CLINIC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
