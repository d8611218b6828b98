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

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter
from queue import SimpleQueue
from threading import Event, Thread
from typing import Any

import duckdb

from pipelines.ingest.entities import ENTITIES, Entity
from pipelines.ingest.lineage import create_lineage_table
from pipelines.ingest.loader import load_entity
from pipelines.ingest.staging import create_gate_tables, run_staging_model
from pipelines.models.admin_conversion import materialize_admin_conversion
from pipelines.models.checks import Check
from pipelines.models.clv_forecast import materialize_clv_forecast, materialize_clv_holdout
from pipelines.models.doctor_intervals import materialize_doctor_intervals
from pipelines.models.poisson_limits import materialize_poisson_limits
from pipelines.models.source_freshness import materialize_source_freshness
from pipelines.models.spend_response import materialize_spend_response
from pipelines.models.stopping import BuildStoppedError, under
from pipelines.models.versions import create_versions_table
from pipelines.settings import Settings
from pipelines.warehouse import (
    SQL_DIR,
    PythonModelMemory,
    attach_build_memory,
    build_memory,
    drop_relation,
    read_build_memory,
    relation_kind,
    session_cursors,
)

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
        "Predicted visits and revenue of the primary patients over each horizon from the "
        "forecast's cut-off, per clinic, primary doctor and channel, with intervals (BG/NBD "
        "and Gamma-Gamma); per patient in `fct_patient_forecast`; carried from the last "
        "warehouse while its inputs are unchanged (pipelines/models/clv_forecast.py).",
    ),
    "mart_clv_holdout": (
        "marts",
        ("int_primary_patients", "int_completed_visits", "int_parameters"),
        materialize_clv_holdout,
        "The forecast's test: fitted up to the forecast's cut-off minus holdout_weeks, its "
        "prediction of those weeks against what the patients did "
        "(pipelines/models/clv_forecast.py).",
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
    "model_versions": ("mart_clv_forecast", "mart_clv_holdout"),
    "mart_spend_curve": ("mart_spend_response",),
    "mart_budget_shift": ("mart_spend_response",),
}
"""Tables the loaders and the gate write beside their models: a model reading one
depends on every model that writes it."""
_COMMENT = re.compile(r"--[^\n]*")
_MATERIALIZED = re.compile(r"^-- materialized: (view|memory)$", re.MULTILINE)
"""How a SQL model is kept, said in one line of its file as dbt's `materialized=` says it
(a table by default):

* `view`: a model that only selects from another (a `fct_` of an `int_`), or that one
  model alone reads: a view, not a copy of its rows written to disk and read back once
  (some 1 CPU-second per million rows);
* `memory`: a large intermediate step that only later models read: a table in the
  build's memory (`warehouse.build_memory`), which they read as they read any table,
  and in the warehouse a view of the same SQL (`publish_memory_models`), so an analyst
  still finds it. Its rows are not compressed and written to the file only to be read
  back by the next model: at scale 100, six such steps cost 3 CPU-seconds of writing.
  Only for SQL whose result does not depend on the reading session (no day arithmetic
  on zoned timestamps, which follows the session's time zone)."""


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    deps: tuple[str, ...]
    description: str
    run: Runner
    published_view: str | None = None
    """A `memory` model's SQL, published as a view at the end of the build."""


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
        counts = run_staging_model(conn, entity, settings.incremental)
        return {
            "dagster/row_count": counts.rows_loaded,
            "rows_read": counts.rows_read,
            "rows_quarantined": counts.rows_quarantined,
            "rows_duplicate": counts.rows_duplicate,
            "gated_only_new_rows": counts.only_new_rows,
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
    found = _MATERIALIZED.search(sql)
    kind = found.group(1) if found else "table"

    def run(conn: duckdb.DuckDBPyConnection, settings: Settings) -> Metadata:
        if statement:
            conn.execute(sql)
            return {}
        if kind == "memory":
            target = f"{build_memory(conn)}.main.{name}"
            conn.execute(f"create or replace table {target} as\n{sql}")
            # then the last warehouse's view of it goes (the models after it read the
            # table in memory, which the file's own name would hide); not before: a
            # failed query leaves the view, and the file (`dagster dev`'s) stays whole
            drop_relation(conn, name)
        else:
            target = name
            conn.execute(f"create or replace {kind} {name} as\n{sql}")
        return {
            "dagster/row_count": conn.execute(f"select count(*) from {target}").fetchall()[0][0]
        }

    first_line = sql.strip().splitlines()[0].lstrip("- ").strip()
    kept = "; in memory during the build, a view in the warehouse" if kind == "memory" else ""
    description = f"{first_line} (sql/{layer}/{name}.sql{kept})"
    return Model(name, layer, deps, description, run, sql if kind == "memory" else None)


@cache
def models() -> dict[str, Model]:
    """Every model by name, in dependency order."""
    found: list[Model] = [_raw(e) for e in ENTITIES] + [_staging(e) for e in ENTITIES]
    files = [(layer, p) for layer in SQL_LAYERS for p in sorted((SQL_DIR / layer).glob("*.sql"))]
    known = {e.staging_model for e in ENTITIES} | {p.stem for _, p in files} | set(PYTHON_MODELS)
    for layer, path in files:
        sql = path.read_text(encoding="utf-8")
        deps = tables_named(sql, known) - {path.stem}
        found.append(_sql(path.stem, layer, sql, tuple(sorted(deps))))
    for name, (layer, deps, run, description) in PYTHON_MODELS.items():
        found.append(Model(name, layer, deps, description, run))
    by_name = {m.name: m for m in found}
    order = TopologicalSorter({m.name: set(m.deps) for m in found}).static_order()
    return {name: by_name[name] for name in order}


@dataclass(frozen=True)
class Done:
    """A model built (its metadata: row counts, seconds) or a check evaluated (what it
    found, and whether it passed)."""

    step: Model | Check
    metadata: Metadata
    passed: bool = True


def tables_named(sql: str, known: Iterable[str], own: str | None = None) -> set[str]:
    """The models a piece of SQL reads: every known table it names (word match, comments
    left out), a side table standing for every model that writes it; but for the SQL of
    a check on `own`, a side table `own` writes stands for `own` alone: a check reads
    only its own table's rows there (a staging model's rows of `quarantine`, `where
    entity = ...`), so it does not wait for every other entity's gate."""
    names = set(_names_pattern(frozenset({*known, *SIDE_TABLES})).findall(_COMMENT.sub("", sql)))
    return {
        model
        for n in names
        for model in ((own,) if own in SIDE_TABLES.get(n, ()) else SIDE_TABLES.get(n, (n,)))
    }


@cache
def _names_pattern(names: frozenset[str]) -> re.Pattern[str]:
    """Any of `names` as a whole word, in one pattern (the longest first, so a name that
    begins another is not taken for it): one scan of a model's SQL, not one per name."""
    return re.compile(rf"\b({'|'.join(sorted(names, key=lambda n: (-len(n), n)))})\b")


def build(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    names: Iterable[str] | None = None,
    checks: Iterable[Check] = (),
) -> Iterator[Done]:
    """Run the named models (all by default) and the `checks` on them, as they finish.

    A model starts once the models it reads are built and every check on them passed, so
    nothing reads a table a check found wrong. Models and checks run `settings.cores` at
    a time, each on a connection of its own to `conn`'s database (DuckDB runs their
    queries at once, each writing its own table): a clinic's sixty small models do not
    wait in a line for one core. A failed check starts nothing more and stops what runs
    (their queries interrupted, a model computing in Python at its next checkpoint), and
    the build ends; so does a model that raised, and the build raises its error. The
    models a selection reads but leaves out must already be built."""
    steps, after = _plan(set(models()) if names is None else set(names), checks)
    if any(step.layer == "staging" for step in steps.values() if isinstance(step, Model)):
        create_gate_tables(conn)
    create_versions_table(conn)
    create_lineage_table(conn)
    memory = PythonModelMemory(conn, settings)
    attach_build_memory(conn)
    try:
        with (
            session_cursors(conn, settings, settings.cores) as cursors,
            ThreadPoolExecutor(settings.cores) as pool,
        ):
            for cursor in cursors:
                read_build_memory(cursor)
            yield from _Schedule(steps, after, settings, memory, cursors, pool).run()
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # the run's own error is the one to tell
            publish_memory_models(conn)
        raise
    publish_memory_models(conn)


def publish_memory_models(conn: duckdb.DuckDBPyConnection) -> None:
    """Every `memory` model this build made becomes a view of its SQL in the build file,
    in dependency order (a view is checked against what it reads when it is made), and
    its table in memory is let go. Also after a failed run: under `dagster dev` the
    build file stays, and a later run reads the view."""
    memory = build_memory(conn)
    for model in models().values():
        if model.published_view is not None and relation_kind(conn, model.name, memory):
            conn.execute(f"create or replace view {model.name} as\n{model.published_view}")
            conn.execute(f"drop table {memory}.main.{model.name}")


class _Schedule:
    """One build's steps on its threads: which start when, and what stops them."""

    def __init__(
        self,
        steps: dict[str, Model | Check],
        after: dict[str, set[str]],
        settings: Settings,
        memory: PythonModelMemory,
        cursors: list[duckdb.DuckDBPyConnection],
        pool: ThreadPoolExecutor,
    ) -> None:
        self.steps, self.after, self.settings = steps, after, settings
        self.memory, self.cursors, self.pool = memory, cursors, pool
        self.idle: SimpleQueue[duckdb.DuckDBPyConnection] = SimpleQueue()
        for cursor in cursors:
            self.idle.put(cursor)
        self.stop = Event()
        self.running: dict[Future[Done], str] = {}
        self.finished: set[str] = set()
        self.failed = False
        self.computing = 0  # models computed in Python among those running
        self.loading = False  # a loader among them

    def run(self) -> Iterator[Done]:
        """The steps as they end. The schedule itself runs on a thread of its own, so a
        step starts the moment the steps it waits for end, not once the caller has
        recorded them (Dagster takes 20-30 ms for each result, a hundred a build)."""
        told: SimpleQueue[Done | BaseException | None] = SimpleQueue()
        thread = Thread(target=self._schedule, args=(told,), name="build-schedule")
        thread.start()
        try:
            while (item := told.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        except BaseException:  # a model that raised, Ctrl-C, the caller stopped the run
            self._halt()
            raise
        finally:
            thread.join()

    def _schedule(self, told: SimpleQueue[Done | BaseException | None]) -> None:
        """Start what is ready, tell what ends, until nothing runs: then None, or the
        error that ended the build."""
        try:
            try:
                while True:
                    if not self.failed and not self.stop.is_set():
                        self._start_ready()
                    if not self.running:
                        break
                    for done in self._collect():
                        told.put(done)
            finally:
                self.memory.restore()
        except BaseException as error:  # a model that raised, or the limit not restored
            self._halt()
            told.put(error)  # always an end, so the caller never waits for nothing
        else:
            told.put(None)

    def _start_ready(self) -> None:
        """Start the ready steps, in their order, as far as threads allow. Models computed
        in Python under the memory cap run with no other query beside them (one would
        run out of memory under the cap), so the first of them waits for the queries
        running to end, and other steps for them; the loaders run one at a time."""
        needed: bool | None = None  # asked once a pass, and only when it matters
        for key in [k for k in self.steps if self.after[k] <= self.finished]:
            if len(self.running) == self.settings.cores:
                return
            step = self.steps[key]
            python = key in PYTHON_MODELS
            if python and not self.computing:
                needed = self.memory.needed() if needed is None else needed
                if needed and self.running:
                    continue
                if needed:
                    self.memory.lower()
            elif not python and self.computing and self.memory.lowered:
                continue
            if _loader(step) and self.loading:
                continue
            self.loading |= _loader(step)
            self.computing += python
            self.running[self.pool.submit(under, self.stop, self._on_a_cursor, step)] = key
            del self.steps[key]

    def _collect(self) -> Iterator[Done]:
        ended, _ = wait(self.running, return_when=FIRST_COMPLETED)
        for future in sorted(ended, key=self.running.__getitem__):
            key = self.running.pop(future)
            self.computing -= key in PYTHON_MODELS
            if not self.computing:
                self.memory.restore()  # the last model computed in Python has ended
            try:
                done = future.result()
            except (duckdb.InterruptException, BuildStoppedError):
                if self.failed:  # stopped by the failed check: the check's failure it is
                    continue
                raise
            self.finished.add(key)
            self.loading &= not _loader(done.step)
            if not done.passed and not self.failed:
                self.failed = True
                self._halt()
            yield done

    def _halt(self) -> None:
        """The steps running end now, not minutes later: their queries interrupted, a
        model computing in Python at its next checkpoint (pipelines/models/stopping.py)."""
        self.stop.set()
        for cursor in self.cursors:
            cursor.interrupt()

    def _on_a_cursor(self, step: Model | Check) -> Done:
        cursor = self.idle.get()
        started = time.perf_counter()
        try:
            if isinstance(step, Check):
                passed, found = step.evaluate(cursor)
                return Done(step, dict(found), passed)
            metadata = step.run(cursor, self.settings)
        finally:
            self.idle.put(cursor)
        return Done(step, metadata | {"seconds": round(time.perf_counter() - started, 3)})


def _plan(
    wanted: set[str], checks: Iterable[Check]
) -> tuple[dict[str, Model | Check], dict[str, set[str]]]:
    """The steps (in the order those ready start: checks, then models in dependency
    order) and what each waits for. A check waits for its table and every selected table
    its SQL names; a model for the models it reads and the checks on them."""
    every = models()
    on_table: dict[str, list[str]] = {}
    after: dict[str, set[str]] = {}
    steps: dict[str, Model | Check] = {}
    for check in (c for c in checks if c.table in wanted):
        key = f"{check.table}:{check.name}"
        steps[key] = check
        after[key] = ({check.table} | tables_named(check.sql, every, check.table)) & wanted
        on_table.setdefault(check.table, []).append(key)
    chosen = [n for n in every if n in wanted]
    for name in chosen:
        steps[name] = every[name]
        after[name] = set(every[name].deps) & wanted
    for name in chosen:
        for key in (k for dep in sorted(after[name]) for k in on_table.get(dep, ())):
            # a check that reads what this model feeds cannot gate it (it would wait for
            # itself): it runs when that exists, and a failure still stops the build
            if not _waits_on(after, key, name):
                after[name].add(key)
    first = _critical_first(steps, after)
    return {key: steps[key] for key in first}, after


def _critical_first(steps: dict[str, Model | Check], after: dict[str, set[str]]) -> list[str]:
    """The steps in the order those ready start: the models computed in Python first
    (a chain's forecast runs for minutes), then the steps with the longest chain of
    steps waiting on them, as a critical-path scheduler does: at scale 100 a leaf mart
    started before `int_calls` held the chain to the last mart back by a second."""
    waiting: dict[str, set[str]] = {key: set() for key in steps}
    for key, needs in after.items():
        for need in needs:
            waiting[need].add(key)
    height: dict[str, int] = {}
    for key in reversed(list(TopologicalSorter(after).static_order())):
        height[key] = 1 + max((height[k] for k in waiting[key]), default=0)
    return sorted(steps, key=lambda k: (k not in PYTHON_MODELS, -height[k]))


def _loader(step: Model | Check) -> bool:
    """Whether a step reads export files. The loaders run one at a time: they create,
    and delete rows of, the side tables they share (pipelines/ingest/ledger.py)."""
    return isinstance(step, Model) and step.layer == "raw"


def _waits_on(after: dict[str, set[str]], start: str, target: str) -> bool:
    """Whether `start` waits, directly or through what it waits on, for `target`."""
    seen, stack = set(), [start]
    while stack:
        key = stack.pop()
        if key == target:
            return True
        if key not in seen:
            seen.add(key)
            stack.extend(after.get(key, ()))
    return False


def build_all(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Every model, for a caller that needs only the tables (tests, benchmarks)."""
    for _ in build(conn, settings):
        pass
