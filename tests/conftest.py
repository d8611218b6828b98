"""Shared fixtures: settings in a temp folder, a connection that speaks them, a demo
warehouse built once per session. Helpers the tests import live in tests/clinic.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import Settings, load_settings
from pipelines.warehouse import prepare_session
from tests.clinic import SECRET


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
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    prepare_session(connection, settings)
    yield connection
    connection.close()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer's CLINIC_* variables or settings file leak into a test."""
    for name in list(os.environ):
        if name.startswith("CLINIC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def _streamlit_options() -> None:
    """AppTest runs with the options every real server gets (pipelines/cli.py)."""
    from streamlit import config  # noqa: PLC0415

    from pipelines.cli import STREAMLIT_OPTIONS  # noqa: PLC0415

    for name, value in STREAMLIT_OPTIONS.items():
        config.set_option(name, value)


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """A demo clinic (scale 0.3) built once through Dagster, for tests that read a whole
    warehouse: privacy, invariants, dashboard pages, the browser."""
    from pipelines.build import run_build  # noqa: PLC0415  (loads the Dagster definitions)
    from pipelines.demo import write_demo  # noqa: PLC0415

    root = tmp_path_factory.mktemp("demo")
    settings = Settings(
        input_dir=root / "input",
        warehouse_path=root / "warehouse.duckdb",
        hash_secret="demo-test-secret",
    )
    write_demo(settings.input_dir, seed=3, scale=0.3, settings=settings)
    run_build(settings)
    return settings, settings.warehouse_path
