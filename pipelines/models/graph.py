"""The SQL models of `sql/intermediate/` and `sql/marts/`: discovery, dependencies, runs.

A model is one file; its name is the table's (and the Dagster asset's). Its dependencies
are the other tables its SQL names, found by word match against every known table, so no
templating language is needed. A file that starts with `create` (after comments) defines
something other than a table, e.g. the `channel_economics` macro, and runs as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter

import duckdb

from pipelines.ingest.entities import ENTITIES
from pipelines.warehouse import SQL_DIR

LAYERS = ("intermediate", "marts")
PYTHON_MODELS = {"mart_admin_conversion": ("int_admin_leads",)}
"""Models computed in Python (Polars, SciPy), with the tables they read."""
LOADER_TABLES = {
    "ingest_files": tuple(e.raw_table for e in ENTITIES),
    "phone_quality": tuple(e.raw_table for e in ENTITIES if e.personal_phone_columns),
}
"""Tables the loaders write beside the raw tables: a model reading one depends on them."""
_COMMENT = re.compile(r"--[^\n]*")


@dataclass(frozen=True)
class SqlModel:
    name: str
    layer: str
    sql: str
    deps: tuple[str, ...]

    @property
    def is_statement(self) -> bool:
        return _COMMENT.sub("", self.sql).lstrip().lower().startswith("create")


@cache
def discover() -> tuple[SqlModel, ...]:
    files = [(layer, path) for layer in LAYERS for path in sorted((SQL_DIR / layer).glob("*.sql"))]
    known = {e.staging_model for e in ENTITIES} | {p.stem for _, p in files} | set(PYTHON_MODELS)
    models = []
    for layer, path in files:
        sql = path.read_text(encoding="utf-8")
        code = _COMMENT.sub("", sql)
        names = {n for n in known | set(LOADER_TABLES) if re.search(rf"\b{n}\b", code)}
        deps = {LOADER_TABLES.get(n, (n,)) for n in names - {path.stem}}
        deps = tuple(sorted({d for group in deps for d in group}))
        models.append(SqlModel(path.stem, layer, sql, deps))
    return tuple(models)


def run_order() -> list[str]:
    """Every model (SQL and Python) after the models it reads; source tables excluded."""
    graph = {m.name: set(m.deps) for m in discover()} | {
        name: set(deps) for name, deps in PYTHON_MODELS.items()
    }
    return [n for n in TopologicalSorter(graph).static_order() if n in graph]


def materialize(conn: duckdb.DuckDBPyConnection, model: SqlModel) -> int | None:
    """Build one model; the row count of a table, None for a statement model."""
    if model.is_statement:
        conn.execute(model.sql)
        return None
    conn.execute(f"create or replace table {model.name} as\n{model.sql}")
    return conn.execute(f"select count(*) from {model.name}").fetchall()[0][0]
