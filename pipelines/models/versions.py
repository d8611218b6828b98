"""Data versions of the models computed in Python, so a build carries what cannot change.

The forecast refits and redraws every patient: most of a weekly build at a chain's
scale, for a result fixed by its inputs. So such a model digests everything that shapes
its tables (a digest of the rows it reads from the warehouse, the settings it reads, its own
code and the libraries' versions) into a *data version*, kept in `model_versions`. An
incremental build starts as a copy of the last published warehouse; when it holds the
same version of the model, its tables are kept as they are instead of computed again:
the same tables, row for row, that computing them would give. A different version, no
previous warehouse, or `incremental = false` (`build --full`) computes them. Dagster
shows the version as the asset's data version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from pipelines.settings import Settings
from pipelines.warehouse import library_versions, table_exists

VERSIONS_DDL = "create table if not exists model_versions (model varchar, version varchar)"


def create_versions_table(conn: duckdb.DuckDBPyConnection) -> None:
    """Created once before the models run at once: two transactions creating one table
    conflict."""
    conn.execute(VERSIONS_DDL)


def data_version(code: Iterable[Path], settings: dict[str, object], inputs: object) -> str:
    """One digest of a model's inputs: its code (source files and the libraries'
    versions), the settings it reads, and a digest of the rows it computes from
    (`rows_digest`)."""
    digest = hashlib.sha256()
    for path in code:
        digest.update(path.read_bytes())
    for library, version in library_versions():
        digest.update(f"{library}={version}\n".encode())
    digest.update(repr(sorted(settings.items())).encode())
    digest.update(repr(inputs).encode())
    return digest.hexdigest()[:16]


def rows_digest(conn: duckdb.DuckDBPyConnection, query: str, params: dict) -> tuple:
    """How many rows `query` gives and the sum of their rows' hashes (each row's columns
    hashed together, so values swapped between rows change it): the same rows in any
    order give the same digest, a changed cell, row or type another (but for a 64-bit
    coincidence). DuckDB computes it where the rows are, without handing them to Python."""
    return tuple(
        conn.execute(
            f"select count(*), sum(hash(*columns(*)))::varchar from ({query})", params
        ).fetchall()[0]
    )


def versioned(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    model: str,
    version: str,
    tables: tuple[str, ...],
    compute: Callable[[], object],
) -> dict[str, object]:
    """`model` and the tables written beside it, at `version`: kept as they are when the
    build file (a copy of the last published warehouse: pipelines/warehouse.py
    `start_build_file`) holds that version, else computed (`compute` writes them) and the
    version recorded. The old version is withdrawn before computing, so a build stopped
    half-way never leaves a version that promises tables it did not finish. Returns the
    model's Dagster metadata."""
    conn.execute(VERSIONS_DDL)  # a model computed alone, outside a build
    carried_over = settings.incremental and _holds(conn, model, version, tables)
    if not carried_over:
        conn.execute("delete from model_versions where model = ?", [model])
        compute()
        conn.execute("insert into model_versions values (?, ?)", [model, version])
    rows = conn.execute(f"select count(*) from {model}").fetchall()[0][0]
    return {"dagster/row_count": rows, "carried_over": carried_over, "data_version": version}


def _holds(
    conn: duckdb.DuckDBPyConnection, model: str, version: str, tables: tuple[str, ...]
) -> bool:
    """Whether the build file holds `version` of `model` and every table written with it."""
    found = conn.execute("select version from model_versions where model = ?", [model]).fetchall()
    return found == [(version,)] and all(table_exists(conn, table) for table in tables)
