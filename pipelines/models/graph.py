"""The model graph: every table a build makes, in one registry, built by one function.

A model is a table (and a Dagster asset of the same name) with the models it reads:

* `raw_<entity>`: the entity's export files as read (pipelines/ingest/loader.py);
* `stg_<source>__<entity>`: typed and validated through the gate (pipelines/ingest/staging.py);
* the SQL files of `sql/intermediate/` and `sql/marts/`, one model per file, whose
  dependencies are the other tables each file names (found by word match against every
  known table, so no templating language is needed); a file that starts with `create`
  defines something other than a table (the `channel_economics` macro) and runs as written;
* models computed in Python (Polars, SciPy), declared in `PYTHON_MODELS`.

`build(conn, settings)` runs any selection in dependency order. The Dagster assets (one
multi-asset per layer, pipelines/defs/models.py) and the tests both call it, so there is
one build order, not two.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter
from typing import Any

import duckdb

from pipelines.ingest.entities import ENTITIES, Entity
from pipelines.ingest.loader import load_entity
from pipelines.ingest.staging import run_staging_model
from pipelines.models.admin_conversion import materialize_admin_conversion
from pipelines.models.clv_forecast import materialize_clv_forecast, materialize_clv_holdout
from pipelines.models.doctor_intervals import materialize_doctor_intervals
from pipelines.models.poisson_limits import materialize_poisson_limits
from pipelines.models.source_freshness import materialize_source_freshness
from pipelines.models.spend_response import materialize_spend_response
from pipelines.settings import Settings
from pipelines.warehouse import SQL_DIR, python_model_memory

LAYERS = ("raw", "staging", "intermediate", "marts")
SQL_LAYERS = ("intermediate", "marts")
Metadata = dict[str, Any]
Runner = Callable[[duckdb.DuckDBPyConnection, Settings], Metadata]
PYTHON_MODELS: dict[str, tuple[str, tuple[str, ...], Runner, str]] = {
    "mart_admin_conversion": (
        "marts",
        ("int_admin_leads", "int_lead_conversions"),
        materialize_admin_conversion,
        "Administrators ranked by a hierarchical beta-binomial (BDA3 5.3) with 90% intervals, "
        "P(best) and P(top 3), and a mix-adjusted rate from a hierarchical logistic model "
        "(pipelines/models/admin_conversion.py).",
    ),
    "mart_clv_forecast": (
        "marts",
        ("int_primary_patients", "int_completed_visits", "int_parameters"),
        materialize_clv_forecast,
        "Predicted visits and revenue of the primary patients over each horizon, per clinic, "
        "primary doctor and channel, with intervals (BG/NBD and Gamma-Gamma); per patient in "
        "`fct_patient_forecast` (pipelines/models/clv_forecast.py).",
    ),
    "mart_clv_holdout": (
        "marts",
        ("int_primary_patients", "int_completed_visits", "int_parameters"),
        materialize_clv_holdout,
        "The forecast's test: fitted up to as_of minus holdout_weeks, its prediction of those "
        "weeks against what the patients did (pipelines/models/clv_forecast.py).",
    ),
    "mart_spend_response": (
        "marts",
        ("mart_channel_weekly", "int_parameters"),
        materialize_spend_response,
        "Per paid channel, weekly spend to leads with diminishing returns (Poisson log-log, "
        "the season as an offset, pooled across channels): elasticity and marginal cost per "
        "lead with intervals, or 'cannot tell'; the curves in `mart_spend_curve` and the "
        "budget shift in `mart_budget_shift` (pipelines/models/spend_response.py).",
    ),
    "mart_source_freshness": (
        "marts",
        ("int_parameters",),
        materialize_source_freshness,
        "Per vendor API: the last day pulled, the last day with data, and whether that is "
        "older than pull.freshness_days (pipelines/models/source_freshness.py).",
    ),
    "int_doctor_intervals": (
        "intermediate",
        ("int_patient_values", "int_survey_scores"),
        materialize_doctor_intervals,
        "90% intervals of each doctor's CLV (Bayesian bootstrap over patients), NPS (Dirichlet "
        "posterior) and mean score, and the median CLV (pipelines/models/doctor_intervals.py).",
    ),
    "int_poisson_limits": (
        "intermediate",
        ("int_primary_patients",),
        materialize_poisson_limits,
        "For every count of primary patients a channel reaches, the interval of the Poisson "
        "rate behind it: the range of a cost per primary patient "
        "(pipelines/models/poisson_limits.py).",
    ),
}
"""Models computed in Python: layer, the tables they read, how to run, what they are."""
SIDE_TABLES = {
    "ingest_files": tuple(e.raw_table for e in ENTITIES),
    "phone_quality": tuple(e.raw_table for e in ENTITIES if e.personal_phone_columns),
    "quarantine": tuple(e.staging_model for e in ENTITIES),
    "load_reconciliation": tuple(e.staging_model for e in ENTITIES),
    "fct_patient_forecast": ("mart_clv_forecast",),
    "int_forecast_fits": ("mart_clv_forecast",),
    "mart_spend_curve": ("mart_spend_response",),
    "mart_budget_shift": ("mart_spend_response",),
}
"""Tables the loaders and the gate write beside their models: a model reading one
depends on every model that writes it."""
_COMMENT = re.compile(r"--[^\n]*")


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    deps: tuple[str, ...]
    description: str
    run: Runner


def _raw(entity: Entity) -> Model:
    def run(conn: duckdb.DuckDBPyConnection, settings: Settings) -> Metadata:
        report = load_entity(conn, settings, entity)
        rows = conn.execute(f"select count(*) from {entity.raw_table}").fetchall()[0][0]
        return {
            "dagster/row_count": rows,
            "files_read": len(report.files),
            "files_carried_over": report.reused,
            "files_gone_or_changed": report.removed,
            "data_version": report.data_version,
            "files_not_read": len(report.rejected),
            "unreadable_rows": report.malformed,
        }

    return Model(
        entity.raw_table,
        "raw",
        (),
        f"Every file under `{entity.location}` of the input folder, as text, one row per "
        "record with its file and line; patient phones replaced by their keyed hash.",
        run,
    )


def _staging(entity: Entity) -> Model:
    def run(conn: duckdb.DuckDBPyConnection, settings: Settings) -> Metadata:
        counts = run_staging_model(conn, entity)
        return {
            "dagster/row_count": counts.rows_loaded,
            "rows_read": counts.rows_read,
            "rows_quarantined": counts.rows_quarantined,
            "rows_duplicate": counts.rows_duplicate,
        }

    return Model(
        entity.staging_model,
        "staging",
        (entity.raw_table,),
        f"{entity.name}: typed and validated (sql/staging/{entity.staging_model}.sql), exact "
        "repeats dropped, superseded versions and unreadable rows sent to `quarantine`, "
        "counts written to `load_reconciliation`.",
        run,
    )


def _sql(name: str, layer: str, sql: str, deps: tuple[str, ...]) -> Model:
    statement = _COMMENT.sub("", sql).lstrip().lower().startswith("create")

    def run(conn: duckdb.DuckDBPyConnection, settings: Settings) -> Metadata:
        if statement:
            conn.execute(sql)
            return {}
        conn.execute(f"create or replace table {name} as\n{sql}")
        return {"dagster/row_count": conn.execute(f"select count(*) from {name}").fetchall()[0][0]}

    first_line = sql.strip().splitlines()[0].lstrip("- ").strip()
    return Model(name, layer, deps, f"{first_line} (sql/{layer}/{name}.sql)", run)


@cache
def models() -> dict[str, Model]:
    """Every model by name, in dependency order."""
    found: list[Model] = [_raw(e) for e in ENTITIES] + [_staging(e) for e in ENTITIES]
    files = [(layer, p) for layer in SQL_LAYERS for p in sorted((SQL_DIR / layer).glob("*.sql"))]
    known = {e.staging_model for e in ENTITIES} | {p.stem for _, p in files} | set(PYTHON_MODELS)
    for layer, path in files:
        sql = path.read_text(encoding="utf-8")
        code = _COMMENT.sub("", sql)
        names = {n for n in known | set(SIDE_TABLES) if re.search(rf"\b{n}\b", code)}
        deps = {SIDE_TABLES.get(n, (n,)) for n in names - {path.stem}}
        found.append(_sql(path.stem, layer, sql, tuple(sorted({d for g in deps for d in g}))))
    for name, (layer, deps, run, description) in PYTHON_MODELS.items():
        found.append(Model(name, layer, deps, description, run))
    by_name = {m.name: m for m in found}
    order = TopologicalSorter({m.name: set(m.deps) for m in found}).static_order()
    return {name: by_name[name] for name in order}


def build(
    conn: duckdb.DuckDBPyConnection, settings: Settings, names: Iterable[str] | None = None
) -> Iterator[tuple[Model, Metadata]]:
    """Run the named models (all by default) in dependency order; yields each with what
    it reports (row counts, seconds). The models a selection reads must already be built."""
    wanted = None if names is None else set(names)
    for model in models().values():
        if wanted is None or model.name in wanted:
            started = time.perf_counter()
            if model.name in PYTHON_MODELS:
                with python_model_memory(conn, settings):
                    metadata = model.run(conn, settings)
            else:
                metadata = model.run(conn, settings)
            yield model, metadata | {"seconds": round(time.perf_counter() - started, 3)}


def build_all(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Every model, for a caller that needs only the tables (tests, benchmarks)."""
    for _ in build(conn, settings):
        pass
