"""Data versions of the models computed in Python, so a build carries what cannot change.

The forecast refits and redraws every patient: most of a weekly build at a chain's
scale, for a result fixed by its inputs. So such a model digests everything that shapes
its tables (the input frames it reads from the warehouse, the settings it reads, its own
code and the libraries' versions) into a *data version*, kept in `model_versions`. When
the last published warehouse holds the same version of the model, its tables are copied
across unchanged instead of computed again: the same tables, row for row, that computing
them would give. A different version, no previous warehouse, or `incremental = false`
(`build --full`) computes them. Dagster shows the version as the asset's data version.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

import duckdb
import polars as pl

from pipelines.settings import Settings
from pipelines.warehouse import attach_last_published

VERSIONS_DDL = "create table if not exists model_versions (model varchar, version varchar)"
_LIBRARIES = ("duckdb", "numpy", "polars", "scipy")


def create_versions_table(conn: duckdb.DuckDBPyConnection) -> None:
    """Created once before the models run at once: two transactions creating one table
    conflict."""
    conn.execute(VERSIONS_DDL)


def data_version(
    code: Iterable[Path], settings: dict[str, object], frames: Iterable[pl.DataFrame]
) -> str:
    """One digest of a model's inputs: its code (source files and the libraries'
    versions), the settings it reads, and the frames it computes from (their exact
    bytes: a single changed cell, row or column type makes another version)."""
    digest = hashlib.sha256()
    for path in code:
        digest.update(path.read_bytes())
    for library in _LIBRARIES:
        digest.update(f"{library}={metadata.version(library)}\n".encode())
    digest.update(repr(sorted(settings.items())).encode())
    for frame in frames:
        buffer = io.BytesIO()
        # one chunk, no compression: the bytes depend on the values alone
        frame.rechunk().write_ipc(buffer, compression="uncompressed")
        digest.update(buffer.getvalue())
    return digest.hexdigest()[:16]


def versioned(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    model: str,
    version: str,
    tables: tuple[str, ...],
    compute: Callable[[], object],
) -> dict[str, object]:
    """`model` and the tables written beside it, at `version`: copied from the last
    published warehouse when it holds that version, else computed (`compute` writes
    them); the version recorded either way. Returns the model's Dagster metadata."""
    carried_over = _carry(conn, settings, model, version, tables)
    if not carried_over:
        compute()
    conn.execute(VERSIONS_DDL)  # a model computed alone, outside a build
    conn.execute("delete from model_versions where model = ?", [model])
    conn.execute("insert into model_versions values (?, ?)", [model, version])
    rows = conn.execute(f"select count(*) from {model}").fetchall()[0][0]
    return {"dagster/row_count": rows, "carried_over": carried_over, "data_version": version}


def _carry(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    model: str,
    version: str,
    tables: tuple[str, ...],
) -> bool:
    """Copy `tables` from the last published warehouse when it holds `version` of
    `model`; False (nothing copied) when it does not, or cannot say. The warehouse is
    attached under a name of the model's own, so models (and the loaders, which attach
    it too) can do this at once."""
    alias = f"previous_{model}"
    try:
        if not attach_last_published(conn, settings, alias):
            return False
        found = conn.execute(
            f"select version from {alias}.model_versions where model = ?", [model]
        ).fetchall()
        if found != [(version,)]:
            return False
        for table in tables:
            conn.execute(f"create or replace table {table} as select * from {alias}.{table}")
    except duckdb.InterruptException:
        raise  # the build is stopping
    except duckdb.Error:
        return False  # not ours, or from a version without these tables: computed anew
    finally:
        conn.execute(f"detach database if exists {alias}")
    return True
