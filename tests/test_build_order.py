"""The build runs its models several at a time (pipelines/models/graph.py `build`): what
may run at once does, what must wait does, the tables come out as they would one at a
time, and a failure stops the others at once.

No test here depends on timing: the stamps recorded are only compared for order (one
monotonic clock for every thread), and concurrency is proved by a barrier that two
models can only pass together."""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pytest

from pipelines.ingest.entities import ENTITIES
from pipelines.models.checks import Check, checks
from pipelines.models.clv_forecast import materialize_clv_forecast
from pipelines.models.graph import (
    PYTHON_MODELS,
    SIDE_TABLES,
    Model,
    Runner,
    _plan,
    build,
    models,
    tables_named,
)
from pipelines.models.stopping import BuildStoppedError, checkpoint, under
from pipelines.settings import Settings, load_settings
from pipelines.warehouse import PythonModelMemory, prepare_session
from tests.clinic import SECRET, gate_loading_visits_twice, minimal_input
from tests.golden.fingerprints import fingerprint

TWO_CORES = {"duckdb_threads": 2}
"""Two models at a time whatever the machine (`Settings.cores`)."""


@pytest.fixture
def two_cores(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        input_dir=minimal_input(tmp_path / "input"),
        warehouse_path=tmp_path / "out" / "warehouse.duckdb",
        hash_secret=SECRET,
        **TWO_CORES,
    )


def record_spans(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[float, float]]:
    """Every model's and check's (start, end) on the one monotonic clock, by step name
    (a check as `table:name`)."""
    spans: dict[str, tuple[float, float]] = {}

    def timed(name: str, work):
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return work(*args, **kwargs)
            finally:
                spans[name] = (started, time.perf_counter())

        return run

    for name, model in list(models().items()):
        monkeypatch.setitem(models(), name, dataclasses.replace(model, run=timed(name, model.run)))
    evaluate = Check.evaluate

    def check_evaluate(self: Check, conn: duckdb.DuckDBPyConnection):
        return timed(f"{self.table}:{self.name}", evaluate)(self, conn)

    monkeypatch.setattr(Check, "evaluate", check_evaluate)
    return spans


def test_a_model_waits_for_what_it_reads_and_the_checks_on_it(
    two_cores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every model starts after the models it reads and every check on them ended; every
    check after the tables its SQL names; the loaders one at a time (they share the
    previous build's attachment); and, under the memory cap, no other step beside a
    model computed in Python (a query beside it would run under its cap)."""
    spans = record_spans(monkeypatch)
    # as when DuckDB holds more than the cap (a chain's year), not a few MB as here
    monkeypatch.setattr(PythonModelMemory, "needed", lambda self: True)
    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_session(conn, two_cores)
        done = list(build(conn, two_cores, None, checks()))
    assert all(d.passed for d in done) and len(done) == len(models()) + len(checks())
    for name, model in models().items():
        start = spans[name][0]
        for dep in model.deps:
            assert spans[dep][1] <= start, (dep, name)
            for check in (c for c in checks() if c.table == dep):
                reads = tables_named(check.sql, models(), check.table)
                if name not in reads:  # a check reading this model cannot wait for it
                    assert spans[f"{dep}:{check.name}"][1] <= start, (check.name, dep, name)
    for check in checks():
        start = spans[f"{check.table}:{check.name}"][0]
        for table in {check.table} | tables_named(check.sql, models(), check.table):
            assert spans[table][1] <= start, (table, check.name)
    loads = sorted(spans[m.name] for m in models().values() if m.layer == "raw")
    assert all(first[1] <= second[0] for first, second in itertools.pairwise(loads))
    # under the memory cap, no query beside a model computed in Python
    computed = [spans[name] for name in PYTHON_MODELS]
    others = [span for name, span in spans.items() if name not in PYTHON_MODELS]
    assert not [(a, b) for a in computed for b in others if a[0] < b[1] and b[0] < a[1]]


def test_a_gate_check_waits_for_its_own_entity_alone() -> None:
    """`rows_reconcile` and `some_rows_load` read `quarantine` and `load_reconciliation`,
    which every staging model writes, but only their own entity's rows there: the
    checks on the calls wait for the calls' load and gate, not for the visits' (which
    held the calls' models back by a second at scale 100), while a model reading the
    quarantine still waits for every gate."""
    _, after = _plan(set(models()), checks())
    assert after["stg_calltracking__calls:rows_reconcile"] == {
        "raw_calls",
        "stg_calltracking__calls",
    }
    assert after["stg_calltracking__calls:some_rows_load"] == {"stg_calltracking__calls"}
    gates = {e.staging_model for e in ENTITIES}
    assert gates <= after["mart_build_warnings"]
    assert "stg_mis__visits" not in after["int_calls"]
    # the rule holds only while every such check reads its own entity's rows alone: a
    # check added later that reads a shared side table whole must not be scheduled early
    entity_of = {e.staging_model: e.name for e in ENTITIES}
    for check in checks():
        for side, writers in SIDE_TABLES.items():
            shared = check.table in writers and len(writers) > 1
            if shared and re.search(rf"\b{side}\b", check.sql):
                own_rows = rf"\b{side}\b\s+where\s+entity\s*=\s*'{entity_of[check.table]}'"
                assert len(re.findall(rf"\b{side}\b", check.sql)) == len(
                    re.findall(own_rows, check.sql)
                ), (check.table, check.name, side)


def test_two_python_models_run_at_once_under_one_memory_cap(
    two_cores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two models computed in Python, neither reading the other, run together: each waits
    at a barrier for the other, which only a second thread can bring. DuckDB's memory
    limit (the database's, shared) stays capped until the last of them ends, then is
    the session's again."""
    settings = two_cores.model_copy(
        update={"duckdb_memory_limit": "3GiB", "duckdb_memory_while_python": 256 * 2**20}
    )
    pair = ("mart_source_freshness", "int_poisson_limits")
    assert all(name in PYTHON_MODELS for name in pair)
    # as when DuckDB holds more than the cap (a chain's year), not a few MB as here
    monkeypatch.setattr(PythonModelMemory, "needed", lambda self: True)
    meet = threading.Barrier(len(pair), timeout=120)  # broken (and failing) if run in turn
    seen: dict[str, list[str]] = {}

    def limit(conn: duckdb.DuckDBPyConnection) -> str:
        return conn.execute("select current_setting('memory_limit')").fetchall()[0][0]

    def together(model: Model):
        def run(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
            before = limit(conn)
            meet.wait()  # both running now
            result = model.run(conn, settings)
            meet.wait()  # neither has ended yet
            seen[model.name] = [before, limit(conn)]
            return result

        return run

    for name in pair:
        model = models()[name]
        monkeypatch.setitem(models(), name, dataclasses.replace(model, run=together(model)))
    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_session(conn, settings)
        build_what_they_read(conn, settings, pair)
        session = limit(conn)
        list(build(conn, settings, pair))
        after = limit(conn)
    assert session == "3.0 GiB" and after == session
    assert seen == {key: ["256.0 MiB", "256.0 MiB"] for key in pair}


SLOW = "mart_source_freshness"
STARTED = threading.Event()


@pytest.fixture(autouse=True)
def _not_started() -> None:
    STARTED.clear()


def build_what_they_read(
    conn: duckdb.DuckDBPyConnection, settings: Settings, names: Iterable[str]
) -> None:
    """Every model the named ones read, directly or not: what they need built first."""
    found: set[str] = set()
    stack = [dep for name in names for dep in models()[name].deps]
    while stack:
        dep = stack.pop()
        if dep not in found:
            found.add(dep)
            stack.extend(models()[dep].deps)
    list(build(conn, settings, found))


def checkpointed_work(seen: list[str]) -> Runner:
    """A model computing in Python (a minute of steps, `STARTED` set first) that asks for
    the build's stop between steps, and notes in `seen` how it ended."""

    def run(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
        STARTED.set()
        try:
            for _ in range(600):
                checkpoint()
                threading.Event().wait(0.1)  # a step of work
        except BuildStoppedError:
            seen.append("stopped")
            raise
        seen.append("ran its course")
        return {}

    return run


def test_a_failed_check_starts_nothing_more(
    two_cores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that fails on a staging table stops the build: no model reading that
    table starts, and the build ends without error once what was running has ended."""

    monkeypatch.setattr("pipelines.models.graph.run_staging_model", gate_loading_visits_twice)
    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_session(conn, two_cores)
        done = list(build(conn, two_cores, None, checks()))
    failed = [d.step for d in done if not d.passed]
    assert [(c.table, c.name) for c in failed] == [("stg_mis__visits", "unique_key")]
    built = {d.step.name for d in done if isinstance(d.step, Model)}
    readers = {n for n, m in models().items() if "stg_mis__visits" in m.deps}
    assert readers and not built & readers
    assert {"raw_visits", "stg_mis__visits"} <= built


def test_the_tables_are_those_of_one_model_at_a_time(tmp_path: Path) -> None:
    """The demo built with two models at a time and with one: every mart of the golden
    fingerprints (tests/golden) row for row, the forecast's tables too."""
    from pipelines.demo import write_demo  # noqa: PLC0415

    input_dir = tmp_path / "input"
    base = load_settings(None, input_dir=input_dir, hash_secret=SECRET)
    write_demo(input_dir, seed=3, scale=0.3, settings=base)
    prints = []
    for threads in (1, 2):
        run = base.model_copy(update={"duckdb_threads": threads})
        path = tmp_path / f"cores-{threads}.duckdb"
        with duckdb.connect(str(path)) as conn:
            prepare_session(conn, run)
            list(build(conn, run, None, checks()))
            forecast = [
                conn.sql(f"select * from {t} order by all").pl()
                for t in ("mart_clv_forecast", "fct_patient_forecast", "mart_clv_holdout")
            ]
        prints.append((fingerprint(path), forecast))
    (one, one_forecast), (two, two_forecast) = prints
    assert one == two
    assert all(a.equals(b) for a, b in zip(one_forecast, two_forecast, strict=True))


def fail_beside(
    settings: Settings, path: Path, monkeypatch: pytest.MonkeyPatch, slow: Runner
) -> duckdb.DuckDBPyConnection:
    """Build `slow` (in place of `SLOW`) beside a model that raises once `slow` has set
    `STARTED`; the build must raise that error. Returns the open build connection."""
    failing = "int_poisson_limits"

    def raises(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
        assert STARTED.wait(timeout=120)
        raise RuntimeError("disk full")

    for name, run in ((SLOW, slow), (failing, raises)):
        monkeypatch.setitem(models(), name, dataclasses.replace(models()[name], run=run))
    conn = duckdb.connect(str(path))
    prepare_session(conn, settings)
    build_what_they_read(conn, settings, [SLOW, failing, "mart_clv_forecast"])
    with pytest.raises(RuntimeError, match="disk full"):
        list(build(conn, settings, [SLOW, failing]))
    return conn


def test_a_model_that_raises_interrupts_the_queries_of_the_others(
    two_cores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One model fails while another's query runs: that query is interrupted rather than
    left to run its course (about a minute here, a Python function called on every one
    of 100 million rows), and the build raises the first model's error. The failing
    model raises only once the other's query has called that function: it is running."""
    seen: list[str] = []

    def long_query(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
        def started(value: int) -> int:
            STARTED.set()
            return value

        conn.create_function("started", started, ["BIGINT"], "BIGINT")
        try:
            conn.execute("select count(*) from range(100000000) where started(range) % 7 = 0")
        except duckdb.InterruptException:
            seen.append("interrupted")
            raise
        return {}

    fail_beside(two_cores, tmp_path / "build.duckdb", monkeypatch, long_query).close()
    assert seen == ["interrupted"]


def test_a_model_computing_in_python_stops_at_its_next_checkpoint(
    two_cores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model with no query running (NumPy work) ends at its next `checkpoint()` once
    another has failed, instead of running its course (here a minute of steps); the
    forecast checks between its fits and its chunks of patients."""
    seen: list[str] = []
    work = checkpointed_work(seen)
    with fail_beside(two_cores, tmp_path / "build.duckdb", monkeypatch, work) as conn:
        stopped = threading.Event()
        stopped.set()
        with pytest.raises(BuildStoppedError):
            under(stopped, materialize_clv_forecast, conn, two_cores)
    assert seen == ["stopped"]


def test_a_failed_check_stops_what_runs(
    two_cores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check fails while a model computed in Python runs beside it (no memory cap: DuckDB
    holds a few MB here, so they may): that model ends at its next checkpoint, and the
    build ends without error, the failed check its last word, not the stopped model's."""
    seen: list[str] = []

    class FailsOnceStarted(Check):
        def evaluate(self, conn: duckdb.DuckDBPyConnection) -> tuple[bool, dict[str, int]]:
            assert STARTED.wait(timeout=120)
            return False, {"offending": 1}

    failing = FailsOnceStarted("int_poisson_limits", "fails", "", "select 1", ("offending",))
    work = checkpointed_work(seen)
    monkeypatch.setitem(models(), SLOW, dataclasses.replace(models()[SLOW], run=work))
    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_session(conn, two_cores)
        build_what_they_read(conn, two_cores, [SLOW, "int_poisson_limits"])
        done = list(build(conn, two_cores, [SLOW, "int_poisson_limits"], [failing]))
    assert [(d.step.name, d.passed) for d in done] == [
        ("int_poisson_limits", True),
        ("fails", False),
    ]
    assert seen == ["stopped"]


def test_the_cap_is_taken_when_duckdb_holds_more_than_it(
    two_cores: Settings, tmp_path: Path
) -> None:
    """`needed`: only when the cap is below the session's limit and DuckDB holds more than
    the cap (here a temporary table of 40 million numbers, about 360 MB, against 256 MiB)."""
    capped = two_cores.model_copy(
        update={"duckdb_memory_limit": "3GiB", "duckdb_memory_while_python": 256 * 2**20}
    )
    above = capped.model_copy(update={"duckdb_memory_limit": "200MiB"})
    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_session(conn, capped)
        before = PythonModelMemory(conn, capped).needed()
        conn.execute("create temp table held as select * from range(40000000)")
        after = PythonModelMemory(conn, capped).needed()
        conn.execute("set memory_limit = '200MiB'")
        assert not PythonModelMemory(conn, above).needed()  # the cap would be a raise
    assert (before, after) == (False, True)


def test_the_next_step_starts_while_the_caller_records_the_last(
    two_cores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schedule does not wait for its caller: Dagster takes 20-30 ms to record each
    result, a hundred results a build, and a step that waited for that would start late.
    Here the caller holds the loaded calls' result until the calls' gate, which waits for
    that load, has started; were the schedule to wait for the caller, the gate would never
    start (the wait gives up after two minutes, and the test fails)."""
    gate = "stg_calltracking__calls"
    model = models()[gate]
    assert model.deps == ("raw_calls",)
    started = threading.Event()

    def run(conn: duckdb.DuckDBPyConnection, settings: Settings) -> dict:
        started.set()
        return model.run(conn, settings)

    monkeypatch.setitem(models(), gate, dataclasses.replace(model, run=run))
    held = []
    with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
        prepare_session(conn, two_cores)
        for done in build(conn, two_cores, {"raw_calls", gate}):
            if done.step.name == "raw_calls":
                held.append(started.wait(timeout=120))
    assert held == [True]


def test_a_limit_that_cannot_be_restored_ends_the_build_with_its_error(
    two_cores: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schedule's thread always tells its caller how it ended: when DuckDB's memory
    limit cannot be set back once the steps have ended, the build raises that error
    rather than leaving the caller waiting for a result that never comes (the build runs
    on a thread here, so that such a hang fails the test after two minutes instead of
    stalling it)."""
    calls = itertools.count(1)

    def fails(self: PythonModelMemory) -> None:
        # the first call, as the one step ends, passes; the last, once nothing runs, fails
        if next(calls) > 1:
            raise duckdb.InvalidInputException("memory limit not restored")

    monkeypatch.setattr(PythonModelMemory, "restore", fails)
    raised: list[BaseException] = []

    def run() -> None:
        with duckdb.connect(str(tmp_path / "build.duckdb")) as conn:
            prepare_session(conn, two_cores)
            try:
                list(build(conn, two_cores, {"raw_calls"}))
            except duckdb.InvalidInputException as error:
                raised.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert [str(e) for e in raised] == ["memory limit not restored"]
