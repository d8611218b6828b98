"""A chain of clinics: three demo clinics and a broken one built as partitions of the
chain's Dagster asset (in-process), each warehouse equal to a single-clinic build of its
folder, chain.duckdb equal to the clinics' own marts, a failure that stays one clinic's,
the sensor that finds clinic folders, the Parquet copy, the instance config of deploy/,
and the dashboard's clinic selector and Chain page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from dashboards import data, fmt
from pipelines.build import load_defs, run_build
from pipelines.chain.clinics import CHAIN_FILE, build_limits, clinic_settings, clinic_warehouse
from pipelines.chain.run import ChainRun, build_chain, materialize_clinic
from pipelines.chain.view import build_chain_view
from pipelines.defs.clinics import (
    CLINIC_POOL,
    chain_view,
    clinic_folders_sensor,
    clinic_partitions,
)
from pipelines.defs.clinics import (
    clinic_warehouse as clinic_asset,
)
from pipelines.demo import write_demo
from pipelines.settings import Settings, SettingsError, load_settings
from tests.clinic import SECRET, minimal_input, write

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "dashboards" / "streamlit_app.py")
CLINICS = {"east": 21, "north": 22, "south": 23}
"""Demo clinics (name → seed) at scale 0.05: a few hundred calls each, built in seconds."""
OWN_ZONE = "Asia/Yekaterinburg"
"""`east` has its own clinic-analytics.toml with this time zone."""
MARTS = ["mart_channel_weekly", "mart_admin_conversion", "mart_doctor_clv", "fct_leads"]


def sql(path: Path, query: str) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.sql(query).pl()


def chain_settings(root: Path, out: Path, **overrides: object) -> Settings:
    return Settings(
        chain_root=root,
        chain_out=out,
        hash_secret=SECRET,
        hash_secret_file=root.parent / "no-such-secret",
        **overrides,
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, ChainRun]:
    """Three demo clinics and one without its calls folder, built once for the module."""
    base = tmp_path_factory.mktemp("chain")
    settings = chain_settings(
        base / "root",
        base / "out",
        chain_memory_budget="1GiB",
        chain_parquet_dir=str(base / "parquet"),
    )
    for name, seed in CLINICS.items():
        write_demo(base / "root" / name, seed=seed, scale=0.05, settings=settings)
    write(base / "root" / "east" / "clinic-analytics.toml", f'timezone = "{OWN_ZONE}"\n')
    broken = shutil.copytree(base / "root" / "north", base / "root" / "broken")
    shutil.rmtree(broken / "calls")
    return settings, build_chain(settings)


def test_every_clinic_builds_as_a_partition_and_the_broken_one_fails_alone(chain) -> None:
    settings, run = chain
    assert [(o.clinic, o.ok) for o in run.outcomes] == [
        ("broken", False),
        ("east", True),
        ("north", True),
        ("south", True),
    ]
    assert [o.clinic for o in run.failed] == ["broken"]
    assert "calls is missing" in run.failed[0].message and "\n" not in run.failed[0].message
    out = settings.chain_out
    assert not clinic_warehouse(out, "broken").exists()
    assert run.view is not None
    assert run.view.status == {
        "broken": "failed",
        "east": "built",
        "north": "built",
        "south": "built",
    }
    clinics = sql(out / CHAIN_FILE, "select * from clinics order by clinic")
    assert clinics.filter(pl.col("clinic") == "broken")["last_good_build_at"].to_list() == [None]
    assert clinics.filter(pl.col("clinic") == "east")["timezone"].to_list() == [OWN_ZONE]


@pytest.mark.parametrize("clinic", sorted(CLINICS))
def test_a_clinic_warehouse_equals_a_single_build_of_its_folder(
    chain, clinic: str, tmp_path: Path
) -> None:
    settings, _ = chain
    single = clinic_settings(settings, clinic).model_copy(
        update={"warehouse_path": tmp_path / "single.duckdb"}
    )
    run_build(single)
    in_chain = clinic_warehouse(settings.chain_out, clinic)
    for mart in MARTS:
        expected = sql(single.warehouse_path, f"select * from {mart} order by all")
        assert expected.height > 0, mart
        assert_frame_equal(sql(in_chain, f"select * from {mart} order by all"), expected)
    zone = OWN_ZONE if clinic == "east" else "Europe/Moscow"
    assert sql(in_chain, "select timezone from mart_build_info")["timezone"].to_list() == [zone]


def test_chain_totals_are_each_clinics_own_figures(chain) -> None:
    settings, _ = chain
    view = settings.chain_out / CHAIN_FILE
    for clinic in CLINICS:
        own = clinic_warehouse(settings.chain_out, clinic)
        expected = sql(
            own,
            "select * exclude (period_start, period_end) "
            "from channel_totals('-infinity'::date, 'infinity'::date)",
        )
        shown = sql(view, f"select * from clinic_totals where clinic = '{clinic}'")
        assert_frame_equal(shown.select(expected.columns), expected)
        assert shown["leads"][0] > 0 and shown["cost_per_primary"][0] > 0
        for mart in ("mart_channel_weekly", "mart_admin_conversion", "mart_doctor_clv"):
            mine = sql(view, f"select * exclude (clinic) from {mart} where clinic = '{clinic}'")
            assert_frame_equal(
                mine.sort(mine.columns), sql(own, f"select * from {mart}").sort(mine.columns)
            )
        # unknown spend stays unknown in the chain: NULL, never 0
        nulls = "select count(*) filter (where spend is null) as n from mart_channel_weekly"
        unknown = sql(own, nulls)["n"][0]
        assert unknown > 0
        assert sql(view, f"{nulls} where clinic = '{clinic}'")["n"][0] == unknown


def test_the_chain_view_as_parquet_partitioned_by_clinic(chain) -> None:
    """A local folder stands in for S3: the same files, read back by DuckDB with hive
    partitioning, hold the chain's rows, NULL spend included."""
    settings, _ = chain
    folder = Path(settings.chain_parquet_dir)
    assert sorted(p.name for p in (folder / "clinic_totals").iterdir()) == [
        f"clinic={c}" for c in sorted(CLINICS)
    ]
    for table in ("clinic_totals", "mart_channel_weekly", "clinics"):
        read = sql(
            settings.chain_out / CHAIN_FILE,
            f"select * from read_parquet('{folder}/{table}/*/*.parquet', "
            "hive_partitioning = true, hive_types = {'clinic': varchar})",
        )
        expected = sql(settings.chain_out / CHAIN_FILE, f"select * from {table}")
        assert_frame_equal(
            read.select(expected.columns).sort(expected.columns),
            expected.sort(expected.columns),
        )


def test_a_failed_build_keeps_the_last_good_warehouse(chain, tmp_path: Path) -> None:
    """A clinic that built once, then gets broken input: its partition fails, its
    warehouse stays byte for byte, and the chain view lists it with its last build."""
    settings, _ = chain
    mine = chain_settings(tmp_path / "root", tmp_path / "out")
    shutil.copytree(settings.chain_root / "north", tmp_path / "root" / "north")
    shutil.copytree(settings.chain_out / "north", tmp_path / "out" / "north")
    warehouse = clinic_warehouse(mine.chain_out, "north")
    before = warehouse.read_bytes()
    built_at = sql(warehouse, "select built_at from mart_build_info")["built_at"][0]
    shutil.rmtree(tmp_path / "root" / "north" / "patients")
    outcome = materialize_clinic(mine, "north")
    assert not outcome.ok and "patients is missing" in outcome.message
    assert warehouse.read_bytes() == before
    view = build_chain_view(mine)
    assert view.status == {"north": "failed"}
    row = sql(view.path, "select * from clinics").row(0, named=True)
    assert row["last_good_build_at"] == built_at
    assert "patients is missing" in row["last_attempt"]
    assert sql(view.path, "select count(*) as n from clinic_totals")["n"][0] == 1


def test_an_unreadable_warehouse_is_listed_missing_and_the_others_compared(
    chain, tmp_path: Path
) -> None:
    settings, _ = chain
    mine = chain_settings(tmp_path / "root", tmp_path / "out")
    for clinic in ("north", "south"):
        shutil.copytree(settings.chain_root / clinic, tmp_path / "root" / clinic)
        shutil.copytree(settings.chain_out / clinic, tmp_path / "out" / clinic)
    clinic_warehouse(mine.chain_out, "south").write_bytes(b"not a database" * 100)
    view = build_chain_view(mine)
    assert view.status == {"north": "built", "south": "missing"}
    row = sql(view.path, "select * from clinics where clinic = 'south'").row(0, named=True)
    assert row["last_attempt"].startswith("warehouse unreadable: ")
    assert sql(view.path, "select distinct clinic from clinic_weekly")["clinic"].to_list() == [
        "north"
    ]


def test_the_command_builds_in_parallel_and_exits_1_on_a_failed_clinic(
    chain, tmp_path: Path
) -> None:
    """Two clinics in two processes: `south` rebuilds over its last warehouse, `broken`
    fails with its one line; hidden and unusable folder names are left out. The command
    runs as a person runs it, in its own process (a spawned worker re-imports the
    parent's main module, which inside pytest may be a page an AppTest ran)."""
    settings, _ = chain
    root = tmp_path / "root"
    shutil.copytree(settings.chain_root / "south", root / "south")
    shutil.copytree(settings.chain_out / "south", tmp_path / "out" / "south")
    shutil.copytree(settings.chain_root / "broken", root / "broken")
    (root / ".git").mkdir()
    (root / "two words").mkdir()
    printed = subprocess.run(
        [
            str(Path(sys.executable).with_name("clinic-analytics")),
            "chain",
            "--root",
            str(root),
            "--out",
            str(tmp_path / "out"),
            "--parallel",
            "2",
        ],
        env={**os.environ, "CLINIC_HASH_SECRET": SECRET},
        capture_output=True,
        text=True,
        check=False,
    )
    assert printed.returncode == 1, printed.stderr
    assert "clinic south: published in" in printed.stdout
    assert "2 clinic(s), 1 built, 1 failed, 0 missing" in printed.stdout
    errors = printed.stderr.strip().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("clinic-analytics: clinic broken: build failed: required input")
    assert errors[0].endswith("it has no warehouse yet")
    assert "folder 'two words' left out" in errors[1]
    assert clinic_warehouse(tmp_path / "out", "south").is_file()


def test_the_sensor_adds_a_partition_for_a_new_clinic_folder(tmp_path: Path) -> None:
    settings = chain_settings(tmp_path / "root", tmp_path / "out")
    for name in ("a", "b"):
        minimal_input(tmp_path / "root" / name)
    instance = dg.DagsterInstance.ephemeral()

    def evaluate(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"settings": settings}
        )
        result = clinic_folders_sensor(context)
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        return result

    first = evaluate(None)
    assert [r.partition_keys for r in first.dynamic_partitions_requests] == [["a", "b"]]
    assert [r.partition_key for r in first.run_requests] == ["a", "b"]
    assert evaluate(first.cursor).skip_reason is not None
    minimal_input(tmp_path / "root" / "c")
    second = evaluate(first.cursor)
    assert [r.partition_keys for r in second.dynamic_partitions_requests] == [["c"]]
    assert [r.partition_key for r in second.run_requests] == ["c"]
    assert instance.get_dynamic_partitions(clinic_partitions.name) == ["a", "b", "c"]
    # a changed export (or clinic settings file) asks for a run, not a partition
    write(tmp_path / "root" / "a" / "calls" / "more.csv", "call_id\n")
    third = evaluate(second.cursor)
    assert third.dynamic_partitions_requests == []
    assert [r.partition_key for r in third.run_requests] == ["a"]
    assert third.run_requests[0].run_key != first.run_requests[0].run_key


def test_the_chain_view_follows_clinic_builds_and_failures(tmp_path: Path) -> None:
    """Declarative automation: after a clinic publishes, or fails, the view is requested
    once; a clinic never built does not hold it back."""
    settings = chain_settings(tmp_path / "root", tmp_path / "out")
    minimal_input(tmp_path / "root" / "a")
    (tmp_path / "root" / "b").mkdir()
    defs = dg.Definitions(assets=[clinic_asset, chain_view], resources={"settings": settings})
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(clinic_partitions.name, ["a", "b", "c"])

    def requested(cursor: object) -> tuple[int, object]:
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        return result.total_requested, result.cursor

    count, cursor = requested(None)
    assert count == 0
    instance.report_runless_asset_event(dg.AssetMaterialization("clinic_warehouse", partition="a"))
    count, cursor = requested(cursor)
    assert count == 1
    count, cursor = requested(cursor)
    assert count == 0
    failed = dg.materialize(
        [clinic_asset],
        partition_key="b",
        instance=instance,
        resources={"settings": settings},
        raise_on_error=False,
    )
    assert not failed.success
    count, cursor = requested(cursor)
    assert count == 1


def test_the_definitions_hold_the_chain_only_for_a_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINIC_HASH_SECRET", "x")
    single = load_defs()
    assert "clinic_warehouse" not in {k.to_user_string() for k in single.resolve_all_asset_keys()}
    monkeypatch.setenv("CLINIC_CHAIN_ROOT", str(tmp_path / "root"))
    monkeypatch.setenv("CLINIC_CHAIN_OUT", str(tmp_path / "out"))
    defs = load_defs()
    job = defs.resolve_job_def("build_clinic")
    assert job.partitions_def == clinic_partitions
    assert defs.resolve_sensor_def("clinic_folders_sensor").job_name == "build_clinic"
    assert defs.resolve_sensor_def("chain_view_automation") is not None
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("clinic_warehouse")).pools == {CLINIC_POOL}
    assert graph.get(dg.AssetKey("chain_view")).automation_condition is not None
    # the single-clinic job, schedule and sensor are all still there
    assert defs.resolve_job_def("build_warehouse").executor_def.name == "in_process"
    assert defs.resolve_schedule_def("weekly_build").cron_schedule == "0 6 * * 1"
    assert defs.resolve_sensor_def("input_folder_sensor") is not None


def test_chain_settings_are_validated_and_split_between_builds(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="must not be inside chain_root"):
        load_settings(None, chain_root=tmp_path, chain_out=tmp_path / "out")
    with pytest.raises(SettingsError, match="chain_out is not"):
        load_settings(None, chain_root=tmp_path)
    with pytest.raises(SettingsError, match="leaves each build under 256"):
        load_settings(None, chain_memory_budget="1GiB", chain_parallel=8)
    load_settings(None, duckdb_memory_limit="100MB")  # one clinic: its own business
    settings = chain_settings(tmp_path / "root", tmp_path / "out", chain_parallel=2)
    limits = build_limits(settings.model_copy(update={"chain_memory_budget": 2**31}))
    assert limits["duckdb_memory_limit"] == "1024MiB"
    assert limits["duckdb_threads"] >= 1
    # without a chain budget, the one-build limit is split between the parallel builds
    unset = settings.model_copy(update={"duckdb_memory_limit": "3GiB"})
    assert build_limits(unset)["duckdb_memory_limit"] == "1536MiB"
    own = clinic_settings(unset, "north")
    assert (own.duckdb_memory_limit, own.chain_root, own.chain_parallel) == ("1536MiB", None, 1)
    write(tmp_path / "root" / "x" / "clinic-analytics.toml", 'timezone = "Mars/Olympus"\n')
    with pytest.raises(SettingsError, match=r"clinic-analytics\.toml.*unknown IANA time zone"):
        clinic_settings(settings, "x")


def test_the_deploy_instance_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/dagster.yaml is a valid instance config (Postgres and all); with SQLite in
    place of Postgres it makes an instance with the queue and the pool limit it says."""
    from dagster._core.instance.config import dagster_instance_config  # noqa: PLC0415

    for name in ("HOST", "DB", "USER", "PASSWORD"):
        monkeypatch.setenv(f"DAGSTER_PG_{name}", "x")
    config, _ = dagster_instance_config(str(REPO / "deploy"))
    assert "postgres" in config["storage"]
    text = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    text["storage"] = {"sqlite": {"base_dir": str(tmp_path)}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(text))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 2
        assert concurrency.pool_config.pool_granularity.value == "run"
        assert concurrency.run_queue_config.max_concurrent_runs == 4
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"


def test_the_dashboard_selects_a_clinic_and_compares_them(
    chain, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    settings, _ = chain
    monkeypatch.setenv("CLINIC_CHAIN_OUT", str(settings.chain_out))
    # the dashboard's settings are cached for the process: read them with this
    # environment, and let no later test see them
    data.settings.clear()
    request.addfinalizer(data.settings.clear)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    selector = at.sidebar.selectbox[0]
    assert selector.label == "Clinic" and selector.options == sorted(CLINICS)
    selector.select("south").run()
    assert not at.exception, at.exception
    south = clinic_warehouse(settings.chain_out, "south")
    as_of = sql(south, "select as_of from mart_build_info")["as_of"][0]
    monday = as_of - timedelta(days=as_of.weekday())
    calls = sql(
        south,
        "select sum(calls)::bigint as n from fct_channel_daily "
        f"where date_trunc('week', day) = date '{monday}'",
    )["n"][0]
    assert {m.label: m.value for m in at.metric}["Calls"] == fmt.number(calls)

    at.switch_page("app_pages/chain.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Chain"
    assert at.sidebar.selectbox[0].value == "south"
    shown = at.dataframe[0].value.sort_values("clinic")
    totals = sql(settings.chain_out / CHAIN_FILE, "select * from clinic_totals order by clinic")
    assert list(shown["clinic"]) == ["broken", *sorted(CLINICS)]
    built = shown[shown["status"] == "built"]
    assert list(built["leads"]) == totals["leads"].to_list()
    assert list(built["cost_per_primary"].round(2)) == [
        round(float(v), 2) for v in totals["cost_per_primary"]
    ]
    assert any("broken" in w.value and "no figures yet" in w.value for w in at.warning)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert figure["layout"]["title"]["text"].startswith("Cost per primary patient by clinic")
    assert figure["layout"]["yaxis"]["title"]["text"] == "Cost per primary patient, ₽ (RUB)"
    assert figure["data"][0]["x"] == sorted(CLINICS)
    assert [round(v, 2) for v in figure["data"][0]["y"]] == [
        round(float(v), 2) for v in totals["cost_per_primary"]
    ]


def test_the_clinics_chart_draws_only_known_costs() -> None:
    """A clinic with no cost per primary patient (unknown spend) gets no bar, never 0."""
    from dashboards import charts  # noqa: PLC0415

    frame = pl.DataFrame(
        {"clinic": ["north", "south"], "cost_per_primary": [2500.0, None]},
    )
    fig = charts.cost_per_primary_by_clinic(frame, "RUB")
    assert list(fig.data[0].x) == ["north"]
    assert list(fig.data[0].y) == [2500.0]
    assert fig.layout.title.text.startswith("Cost per primary patient by clinic")
    assert "Cost per primary patient" in fig.layout.yaxis.title.text
